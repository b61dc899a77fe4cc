/* vhd_map.c — which layer of a chain serves a range of the disk. */
#include "vhd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "safeio.h"

#define MAX_RUNS 32

struct vhd_run {
	uint32_t start, len;   /* within the block */
	struct vhd *layer;     /* NULL: zeros */
	uint64_t file_off;
};

struct vhd_runs {
	int n;                 /* -1: too fragmented, use the slow path */
	struct vhd_run r[];
};

static inline bool bit_set(const uint8_t *bm, uint32_t s)
{
	return bm[s >> 3] & (0x80u >> (s & 7));
}

uint64_t vhd_bitmap_run(const uint8_t *bm, uint64_t pos, uint64_t end, bool *set)
{
	uint32_t s = (uint32_t)(pos / VHD_SECTOR);
	uint64_t run_end = (uint64_t)(s + 1) * VHD_SECTOR;

	*set = bit_set(bm, s);
	while (run_end < end) {
		uint32_t t = (uint32_t)(run_end / VHD_SECTOR);
		/* whole bytes of equal bits first */
		if ((t & 7) == 0 && run_end + 8 * VHD_SECTOR <= end &&
		    bm[t >> 3] == (*set ? 0xff : 0x00)) {
			run_end += 8 * VHD_SECTOR;
			continue;
		}
		if (bit_set(bm, t) != *set)
			break;
		run_end += VHD_SECTOR;
	}
	return run_end < end ? run_end : end;
}

int vhd_map_range(struct vhd *v, uint64_t off, uint64_t *len, struct vhd **layer,
		  uint64_t *file_off, struct error *err)
{
	for (;;) {
		if (!v || off >= v->disk.size) {
			*layer = NULL;
			*file_off = 0;
			return 0;
		}
		if (*len > v->disk.size - off)
			*len = v->disk.size - off;
		if (v->footer.type == VHD_TYPE_FIXED) {
			uint64_t gs = v->grow_sector;
			if (v->grow_pending && off >= gs && off < gs + VHD_SECTOR) {
				/* the sector an interrupted grow left reads as zeros (vhd.h) */
				if (*len > gs + VHD_SECTOR - off)
					*len = gs + VHD_SECTOR - off;
				*layer = NULL;
				*file_off = 0;
				return 0;
			}
			if (v->grow_pending && off < gs && *len > gs - off)
				*len = gs - off;
			*layer = v;
			*file_off = off;
			return 0;
		}
		uint32_t blk = (uint32_t)(off / v->block_size);
		uint64_t in = off % v->block_size, boff = vhd_block_offset(v, blk);
		if (*len > v->block_size - in)
			*len = v->block_size - in;
		if (!boff) {
			if (v->footer.type == VHD_TYPE_DIFF && !v->parent)
				return error_set(err, EXIT_NOINPUT,
						 "'%s': data lies in a parent that is not open", v->path);
			v = v->parent;
			continue;
		}
		const uint8_t *bm = vhd_bitmap(v, blk, err);
		if (!bm)
			return -1;
		bool set;
		uint64_t end = in + *len, run_end = vhd_bitmap_run(bm, in, end, &set);
		if (run_end < end)
			*len = run_end - in;
		if (set) {
			*layer = v;
			*file_off = boff + v->bitmap_bytes + in;
			return 0;
		}
		if (v->footer.type == VHD_TYPE_DIFF && !v->parent)
			return error_set(err, EXIT_NOINPUT, "'%s': data lies in a parent that is not open",
					 v->path);
		if (v->footer.type != VHD_TYPE_DIFF) {
			*layer = NULL;
			*file_off = 0;
			return 0;
		}
		v = v->parent;
	}
}

static struct vhd_runs *resolve_block(struct vhd *v, uint32_t blk, struct error *err)
{
	struct vhd_run tmp[MAX_RUNS];
	uint64_t start = (uint64_t)blk * v->block_size, end = start + v->block_size, off;
	struct vhd_runs *rs;
	int n = 0;

	if (end > v->disk.size)
		end = v->disk.size;
	for (off = start; off < end && n <= MAX_RUNS;) {
		uint64_t len = end - off, foff;
		struct vhd *layer;
		if (vhd_map_range(v, off, &len, &layer, &foff, err) < 0)
			return NULL;
		if (n > 0 && tmp[n - 1].layer == layer &&
		    (!layer || tmp[n - 1].file_off + tmp[n - 1].len == foff)) {
			tmp[n - 1].len += (uint32_t)len;
		} else if (n < MAX_RUNS) {
			tmp[n++] = (struct vhd_run){ (uint32_t)(off - start), (uint32_t)len, layer, foff };
		} else {
			n = MAX_RUNS + 1;
		}
		off += len;
	}
	if (n > MAX_RUNS) {
		rs = malloc(sizeof(*rs));
		if (rs)
			rs->n = -1;
	} else {
		rs = malloc(sizeof(*rs) + (size_t)n * sizeof(struct vhd_run));
		if (rs) {
			rs->n = n;
			memcpy(rs->r, tmp, (size_t)n * sizeof(struct vhd_run));
		}
	}
	if (!rs)
		error_set(err, EXIT_FAIL, "out of memory");
	return rs;
}

int vhd_read_resolved(struct vhd *v, uint32_t blk, uint8_t *buf, size_t n, uint64_t in,
		      struct error *err)
{
	struct vhd_runs *rs;

	if (!v->runs) {
		/* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
		v->runs = calloc(v->bat_entries ? v->bat_entries : 1, sizeof(*v->runs));
		if (!v->runs)
			return error_set(err, EXIT_FAIL, "out of memory");
	}
	rs = v->runs[blk];
	if (!rs) {
		rs = v->runs[blk] = resolve_block(v, blk, err);
		if (!rs)
			return -1;
	}
	if (rs->n < 0)
		return 0;
	for (int i = 0; i < rs->n && n > 0; i++) {
		const struct vhd_run *r = &rs->r[i];
		if (in >= (uint64_t)r->start + r->len)
			continue;
		size_t k = (size_t)(r->start + r->len - in) < n ? (size_t)(r->start + r->len - in) : n;
		if (!r->layer) {
			memset(buf, 0, k);
		} else {
			ssize_t got = io_pread_full(r->layer->fd, buf, k, r->file_off + (in - r->start));
			if (got < 0)
				return error_errno(err, errno, "cannot read '%s'", r->layer->path);
			memset(buf + got, 0, k - (size_t)got);
		}
		buf += k;
		in += k;
		n -= k;
	}
	return 1;
}

void vhd_runs_invalidate(struct vhd *v, uint32_t blk)
{
	if (v->runs && blk < v->bat_entries) {
		free(v->runs[blk]);
		v->runs[blk] = NULL;
	}
}

void vhd_runs_free(struct vhd *v)
{
	if (!v->runs)
		return;
	for (uint32_t i = 0; i < v->bat_entries; i++)
		free(v->runs[i]);
	free(v->runs);
	v->runs = NULL;
}
