/* vhd_compact.c — Optimize-VHD: drop blocks that hold nothing, pack, truncate. */
#include "vhd_modify.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crashpoint.h"
#include "vhd.h"
#include "vhd_modify_int.h"

struct move {
	uint32_t blk;
	uint64_t from, to;
};

struct gap {
	uint64_t start, end;
};

static inline bool bit_set(const uint8_t *bm, uint64_t s)
{
	return bm[s >> 3] & (0x80u >> (s & 7));
}

/*
 * Does block b hold nothing of its own? Dynamic: every sector of it inside
 * the disk that has its bit set holds zeros. Differencing: no bit set.
 */
static int block_empty(struct vm_file *f, uint32_t b, uint8_t *bm, bool *empty,
		       struct error *err)
{
	struct vhd *v = f->v;
	uint64_t boff = (uint64_t)v->bat[b] * VHD_SECTOR, first = (uint64_t)b * v->block_size;
	uint64_t in_disk = v->disk.size - first < v->block_size ? v->disk.size - first
								: v->block_size;
	uint64_t nsec = in_disk / VHD_SECTOR, s;

	*empty = false;
	if (vm_read(f, bm, v->bitmap_bytes, boff, err) < 0)
		return -1;
	for (s = 0; v->footer.type == VHD_TYPE_DIFF && s < nsec; s++)
		if (bit_set(bm, s))
			return 0;
	if (v->footer.type == VHD_TYPE_DYNAMIC) {
		if (vm_first_stored_data(f, boff, bm, 0, nsec, &s, err) < 0)
			return -1;
		if (s < nsec)
			return 0;
	}
	*empty = true;
	return 0;
}

/* Copy a block's bitmap and data to a free slot; zero stretches become holes. */
static int copy_block(struct vm_file *f, uint64_t from, uint64_t to, uint64_t span,
		      uint8_t *buf, struct error *err)
{
	for (uint64_t done = 0; done < span;) {
		size_t n = span - done < VM_CHUNK ? (size_t)(span - done) : VM_CHUNK;
		if (vm_read(f, buf, n, from + done, err) < 0)
			return -1;
		bool zero = true;
		for (size_t i = 0; i < n && zero; i++)
			zero = buf[i] == 0;
		if (!zero || fallocate(f->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				       (off_t)(to + done), (off_t)n) < 0) {
			if (vm_write(f, buf, n, to + done, err) < 0)
				return -1;
		}
		done += n;
	}
	return 0;
}

/* Lowest place in gap g for a block of `span` bytes, data 4 KiB aligned when
 * the gap allows it; UINT64_MAX if it does not fit. */
static uint64_t slot_in(const struct gap *g, uint64_t bm_bytes, uint64_t span)
{
	uint64_t s = VM_ALIGN_UP(g->start, VHD_SECTOR), p = VM_ALIGN_UP(s + bm_bytes, 4096) - bm_bytes;

	if (p + span <= g->end)
		return p;
	if (s + span <= g->end)
		return s;
	return UINT64_MAX;
}

/*
 * Plan the packing: the free gaps between the structures that stay (with the
 * kept blocks), and, from the last block down, a move into the lowest slot
 * below it. Returns the new end of the last structure in *end.
 */
static int plan_moves(struct vhd *v, const uint32_t *bat, struct move **moves, uint32_t *nmoves,
		      uint64_t *end, struct error *err)
{
	uint64_t span = (uint64_t)v->bitmap_bytes + v->block_size, prev = 0;
	struct vm_region *rg;
	struct gap *gaps = NULL;
	struct move *mv = NULL;
	size_t n, ng = 0, gi = 0;
	uint32_t nm = 0;

	if (vm_regions(v, bat, &rg, &n, err) < 0)
		return -1;
	gaps = malloc((n + 1) * sizeof(*gaps));
	mv = malloc((n + 1) * sizeof(*mv));
	if (!gaps || !mv) {
		free(rg);
		free(gaps);
		free(mv);
		return error_set(err, EXIT_FAIL, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		if (rg[i].start > prev)
			gaps[ng++] = (struct gap){ prev, rg[i].start };
		if (rg[i].end > prev)
			prev = rg[i].end;
	}
	/* from the last block down: into the lowest slot below it, if any */
	for (size_t i = n; i-- > 0;) {
		uint64_t p = UINT64_MAX;
		if (rg[i].kind != VM_R_BLOCK)
			continue;
		while (gi < ng && (p = slot_in(&gaps[gi], v->bitmap_bytes, span)) == UINT64_MAX)
			gi++;
		if (gi == ng || p >= rg[i].start)
			break;
		mv[nm++] = (struct move){ rg[i].idx, rg[i].start, p };
		gaps[gi].start = p + span;
		rg[i].start = p;
		rg[i].end = p + span;
	}
	*end = 0;
	for (size_t i = 0; i < n; i++)
		if (rg[i].end > *end)
			*end = rg[i].end;
	free(rg);
	free(gaps);
	*moves = mv;
	*nmoves = nm;
	return 0;
}

int vhd_compact(const char *path, bool dry_run, struct vhd_compact_result *r,
		struct error *err)
{
	struct vm_file f;
	struct vhd *v;
	struct move *mv = NULL;
	uint32_t *bat = NULL, *dropped = NULL, ndrop = 0, nmv = 0;
	uint8_t *buf = NULL;
	uint64_t end = 0, span;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	r->dry_run = dry_run;
	if (vm_open(&f, path, !dry_run, 0, err) < 0)
		return -1;
	v = f.v;
	r->type = v->footer.type;
	r->file_size_before = r->file_size_after = v->file_size;
	if (v->footer.type == VHD_TYPE_FIXED) {
		error_set(err, EXIT_DATAERR, "'%s' is a fixed disk: compact applies to dynamic and "
			  "differencing disks", path);
		goto out;
	}
	r->blocks_before = v->allocated_blocks;
	span = (uint64_t)v->bitmap_bytes + v->block_size;
	if (!dry_run && vm_fix_tail(&f, err) < 0)
		goto out;
	bat = malloc(((size_t)v->bat_entries + 1) * 4);
	dropped = malloc(((size_t)v->bat_entries + 1) * 4);
	buf = malloc(VM_CHUNK > v->bitmap_bytes ? VM_CHUNK : v->bitmap_bytes);
	if (!bat || !dropped || !buf) {
		error_set(err, EXIT_FAIL, "out of memory");
		goto out;
	}
	memcpy(bat, v->bat, (size_t)v->bat_entries * 4);
	for (uint32_t b = 0; b < v->bat_entries; b++) {
		bool empty;
		if (bat[b] == VHD_BAT_UNUSED)
			continue;
		if (block_empty(&f, b, buf, &empty, err) < 0)
			goto out;
		if (empty) {
			bat[b] = VHD_BAT_UNUSED;
			dropped[ndrop++] = b;
		}
	}
	if (plan_moves(v, bat, &mv, &nmv, &end, err) < 0)
		goto out;
	r->blocks_freed = ndrop;
	r->blocks_moved = nmv;
	r->blocks_after = r->blocks_before - ndrop;
	/* like check and the writers, leave tail space shorter than a block alone */
	if (end + span > v->next_free)
		end = v->next_free;
	if (end + VHD_FOOTER_SIZE < v->file_size)
		r->file_size_after = end + VHD_FOOTER_SIZE;
	if (dry_run) {
		rc = 0;
		goto out;
	}

	/* 1. drop: each entry alone changes nothing a reader sees */
	for (uint32_t i = 0; i < ndrop; i++) {
		if (vm_write_bat_entry(&f, dropped[i], VHD_BAT_UNUSED, err) < 0)
			goto out;
		crashpoint("compact-drop");
	}
	if (ndrop && vm_datasync(&f, err) < 0)
		goto out;
	/* 2. pack: a durable copy, then the entry that points at it */
	for (uint32_t i = 0; i < nmv; i++) {
		if (copy_block(&f, mv[i].from, mv[i].to, span, buf, err) < 0)
			goto out;
		crashpoint("compact-copy");
		if (fsync(f.fd) < 0) {
			error_errno(err, errno, "cannot sync '%s'", path);
			goto out;
		}
		if (vm_write_bat_entry(&f, mv[i].blk, (uint32_t)(mv[i].to / VHD_SECTOR), err) < 0)
			goto out;
		crashpoint("compact-bat");
		if (vm_datasync(&f, err) < 0)
			goto out;
	}
	/* 3. the footer right after the last structure, then cut the rest */
	if (end < v->next_free) {
		if (vm_write(&f, v->footer_raw, VHD_FOOTER_SIZE, end, err) < 0)
			goto out;
		crashpoint("compact-footer");
		if (vm_datasync(&f, err) < 0 || vm_truncate(&f, end + VHD_FOOTER_SIZE, err) < 0)
			goto out;
	}
	r->file_size_after = end < v->next_free ? end + VHD_FOOTER_SIZE
						: v->next_free + VHD_FOOTER_SIZE;
	rc = 0;
out:
	free(bat);
	free(dropped);
	free(buf);
	free(mv);
	vm_close(&f);
	return rc;
}
