/* vhd_resize.c — Resize-VHD: grow or shrink fixed, dynamic and differencing disks. */
#include "vhd_modify.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "crashpoint.h"
#include "endian.h"
#include "vhd.h"
#include "vhd_modify_int.h"

/* The footer in use with a new size and the spec's floor geometry. */
static void footer_with_size(const uint8_t in[VHD_FOOTER_SIZE], uint64_t size,
			     uint8_t out[VHD_FOOTER_SIZE])
{
	uint16_t c;
	uint8_t h, s;

	memcpy(out, in, VHD_FOOTER_SIZE);
	put_be64(out + 48, size);
	vhd_geometry(size, &c, &h, &s);
	put_be16(out + 56, c);
	out[58] = h;
	out[59] = s;
	vm_footer_resum(out);
}

static int resize_fixed(struct vm_file *f, uint64_t size, struct vhd_resize_result *r,
			struct error *err)
{
	struct vhd *v = f->v;
	uint64_t old = v->footer.current_size, first;
	uint8_t nf[VHD_FOOTER_SIZE], cur[VHD_FOOTER_SIZE];
	static const uint8_t zeros[VHD_FOOTER_SIZE];

	footer_with_size(v->footer_raw, size, nf);
	if (size > old) {
		struct stat st;
		/* a preallocated disk stays so: allocate past the end, size unchanged */
		if (fstat(f->fd, &st) == 0 && (uint64_t)st.st_blocks * 512 >= v->file_size &&
		    fallocate(f->fd, FALLOC_FL_KEEP_SIZE, (off_t)(old + VHD_FOOTER_SIZE),
			      (off_t)(size - old)) < 0 && errno != EOPNOTSUPP)
			return error_errno(err, errno, "cannot allocate %llu bytes for '%s'",
					   (unsigned long long)(size - old), f->path);
		/*
		 * The new footer first, marked with the old footer's offset: from
		 * here on a valid image of the new size, which reads that sector
		 * as zeros until it is (vhd.h, vhd_finish_grow); then the zeros;
		 * then the footer without the mark.
		 */
		memcpy(nf + VHD_GROW_MAGIC_OFF, VHD_GROW_MAGIC, 8);
		put_be64(nf + VHD_GROW_SECTOR_OFF, old);
		vm_footer_resum(nf);
		if (vm_write(f, nf, sizeof(nf), size, err) < 0)
			return -1;
		crashpoint("resize-fixed-footer");
		if (vm_datasync(f, err) < 0)
			return -1;
		/* the old footer's bytes are now disk data past the old end: zeros */
		if (vm_write(f, zeros, sizeof(zeros), old, err) < 0)
			return -1;
		crashpoint("resize-fixed-zero");
		if (vm_datasync(f, err) < 0)
			return -1;
		memset(nf + VHD_GROW_MAGIC_OFF, 0, 16);
		vm_footer_resum(nf);
		if (vm_write(f, nf, sizeof(nf), size, err) < 0)
			return -1;
		crashpoint("resize-fixed-unmark");
		if (vm_datasync(f, err) < 0)
			return -1;
	} else {
		/* past the new end: only zeros (or, after a kill, our new footer) */
		uint64_t from = size;
		if (vm_read(f, cur, sizeof(cur), size, err) < 0)
			return -1;
		if (memcmp(cur, nf, sizeof(nf)) == 0)
			from += VHD_FOOTER_SIZE;
		if (vm_range_zero(f, from, old - from, &first, err) < 0)
			return -1;
		if (first < old)
			return error_set(err, EXIT_FAIL, "cannot shrink '%s' to %llu bytes: disk "
					 "offset %llu past the new end holds data", f->path,
					 (unsigned long long)size, (unsigned long long)first);
		/* the old footer marks the sector the new one goes to: until the
		 * truncation the old disk reads it as the zeros it held (vhd.h) */
		memcpy(cur, v->footer_raw, sizeof(cur));
		memcpy(cur + VHD_GROW_MAGIC_OFF, VHD_GROW_MAGIC, 8);
		put_be64(cur + VHD_GROW_SECTOR_OFF, size);
		vm_footer_resum(cur);
		if (vm_write(f, cur, sizeof(cur), old, err) < 0)
			return -1;
		crashpoint("resize-fixed-mark");
		if (vm_datasync(f, err) < 0)
			return -1;
		if (vm_write(f, nf, sizeof(nf), size, err) < 0)
			return -1;
		crashpoint("resize-fixed-footer");
		if (vm_datasync(f, err) < 0 || vm_truncate(f, size + VHD_FOOTER_SIZE, err) < 0)
			return -1;
	}
	r->changed = true;
	return 0;
}

/* Refuse a shrink that would drop data: name the first block in the way. */
static int check_shrink(struct vm_file *f, uint64_t size, struct error *err)
{
	struct vhd *v = f->v;
	uint64_t bs = v->block_size, old = v->footer.current_size;
	uint32_t first = (uint32_t)((size + bs - 1) / bs), k = (uint32_t)(size / bs);

	for (uint32_t b = first; b < v->bat_entries; b++)
		if (v->bat[b] != VHD_BAT_UNUSED)
			return error_set(err, EXIT_FAIL, "cannot shrink '%s' to %llu bytes: block %u "
					 "(disk offset %llu) past the new end is allocated (compact "
					 "drops blocks that hold only zeros)", f->path,
					 (unsigned long long)size, b, (unsigned long long)(b * bs));
	if (size % bs && v->bat[k] != VHD_BAT_UNUSED) {
		/* the block cut in two: its sectors past the new end must hold zeros */
		uint64_t boff = (uint64_t)v->bat[k] * VHD_SECTOR, in = size - k * bs;
		uint64_t lim = old - k * bs < bs ? old - k * bs : bs;
		uint8_t *bm = malloc(v->bitmap_bytes);
		int rc = 0;

		if (!bm)
			return error_set(err, EXIT_FAIL, "out of memory");
		if (vm_read(f, bm, v->bitmap_bytes, boff, err) < 0) {
			free(bm);
			return -1;
		}
		uint64_t s;
		if (vm_first_stored_data(f, boff, bm, in / VHD_SECTOR, lim / VHD_SECTOR, &s, err) < 0)
			rc = -1;
		else if (s < lim / VHD_SECTOR)
			rc = error_set(err, EXIT_FAIL, "cannot shrink '%s' to %llu bytes: block %u "
				       "holds data past the new end (disk offset %llu)", f->path,
				       (unsigned long long)size, k,
				       (unsigned long long)(k * bs + s * VHD_SECTOR));
		free(bm);
		return rc;
	}
	return 0;
}

/*
 * Growing: what lies past the old end must read as zeros (dynamic) or as the
 * parent (differencing), whatever a former shrink left there. Invisible at
 * the old size, so it goes first.
 */
static int clear_past_end(struct vm_file *f, uint64_t size, struct error *err)
{
	struct vhd *v = f->v;
	uint64_t bs = v->block_size, old = v->footer.current_size;
	uint32_t k = (uint32_t)(old / bs), need = (uint32_t)((size + bs - 1) / bs);
	uint32_t lim = need < v->header.max_entries ? need : v->header.max_entries;
	bool wrote = false;

	if (old % bs && v->bat[k] != VHD_BAT_UNUSED) {
		uint64_t boff = (uint64_t)v->bat[k] * VHD_SECTOR, in = old - (uint64_t)k * bs;
		if (v->footer.type == VHD_TYPE_DIFF) {
			uint8_t *bm = malloc(v->bitmap_bytes);
			bool dirty = false;
			if (!bm)
				return error_set(err, EXIT_FAIL, "out of memory");
			if (vm_read(f, bm, v->bitmap_bytes, boff, err) < 0) {
				free(bm);
				return -1;
			}
			for (uint64_t s = in / VHD_SECTOR; s < bs / VHD_SECTOR; s++)
				if (bm[s >> 3] & (0x80u >> (s & 7))) {
					bm[s >> 3] &= (uint8_t)~(0x80u >> (s & 7));
					dirty = true;
				}
			if (dirty && vm_write(f, bm, v->bitmap_bytes, boff, err) < 0) {
				free(bm);
				return -1;
			}
			free(bm);
			wrote |= dirty;
		} else {
			uint64_t nz, pos = boff + v->bitmap_bytes + in, end = boff + v->bitmap_bytes + bs;
			uint8_t *zero = calloc(1, VM_CHUNK);
			if (!zero)
				return error_set(err, EXIT_FAIL, "out of memory");
			while (pos < end) {
				if (vm_range_zero(f, pos, end - pos, &nz, err) < 0) {
					free(zero);
					return -1;
				}
				if (nz >= end)
					break;
				pos = nz & ~(uint64_t)(VHD_SECTOR - 1);
				size_t n = end - pos < VM_CHUNK ? (size_t)(end - pos) : VM_CHUNK;
				if (vm_write(f, zero, n, pos, err) < 0) {
					free(zero);
					return -1;
				}
				pos += n;
				wrote = true;
			}
			free(zero);
		}
	}
	/* entries the new size covers (within the table) must be unused */
	if (lim > v->bat_entries) {
		uint32_t cnt = lim - v->bat_entries, *e = malloc((size_t)cnt * 4);
		if (!e)
			return error_set(err, EXIT_FAIL, "out of memory");
		if (vm_read_bat(f, v->bat_entries, cnt, e, err) < 0) {
			free(e);
			return -1;
		}
		for (uint32_t i = 0; i < cnt; i++)
			if (e[i] != VHD_BAT_UNUSED) {
				if (vm_write_bat_entry(f, v->bat_entries + i, VHD_BAT_UNUSED, err) < 0) {
					free(e);
					return -1;
				}
				wrote = true;
			}
		free(e);
	}
	if (wrote) {
		crashpoint("resize-block-tail");
		if (vm_datasync(f, err) < 0)
			return -1;
	}
	return 0;
}

static int write_header_bat(struct vm_file *f, uint64_t table_offset, uint32_t entries,
			    struct error *err)
{
	struct vhd *v = f->v;
	uint8_t hb[VHD_HEADER_SIZE];

	if (vm_read(f, hb, sizeof(hb), v->footer.data_offset, err) < 0)
		return -1;
	put_be64(hb + 16, table_offset);
	put_be32(hb + 28, entries);
	vm_header_resum(hb);
	if (vm_write(f, hb, sizeof(hb), v->footer.data_offset, err) < 0)
		return -1;
	crashpoint("resize-header");
	if (vm_datasync(f, err) < 0)
		return -1;
	v->header.table_offset = table_offset;
	v->header.max_entries = entries;
	return 0;
}

/*
 * A table growth that failed before the header named the new table (ENOSPC
 * while writing it, say): the footer goes back to where it was and the file
 * is cut there, so the image is as it was, not longer by a leak. The old
 * footer's sector is allocated, so this needs no new space. Best effort; the
 * caller's error stands (vm_fix_tail on the next open finishes it).
 */
static void grow_bat_undo(struct vm_file *f, uint64_t old_next_free)
{
	struct vhd *v = f->v;
	struct error ignored;

	error_init(&ignored);
	v->next_free = old_next_free;
	if (vm_write(f, v->footer_raw, VHD_FOOTER_SIZE, old_next_free, &ignored) == 0 &&
	    vm_truncate(f, old_next_free + VHD_FOOTER_SIZE, &ignored) == 0)
		(void)vm_datasync(f, &ignored);
}

/* The table needs `need` entries, more than max_entries: extend or move it. */
static int grow_bat(struct vm_file *f, uint32_t need, struct vhd_resize_result *r,
		    struct error *err)
{
	struct vhd *v = f->v;
	uint64_t tbl = v->header.table_offset, limit = UINT64_MAX;
	uint64_t old_bytes = VM_ALIGN_UP((uint64_t)v->header.max_entries * 4, VHD_SECTOR);
	uint64_t new_bytes = VM_ALIGN_UP((uint64_t)need * 4, VHD_SECTOR);
	uint64_t old_next_free = v->next_free;
	struct vm_region *rg;
	size_t n;
	uint8_t *t;

	if (vm_regions(v, v->bat, &rg, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (rg[i].kind != VM_R_BAT && rg[i].start > tbl && rg[i].start < limit)
			limit = rg[i].start;
	if (limit < tbl + old_bytes)
		limit = 0;              /* something inside the table: never extend it */
	free(rg);
	t = malloc(new_bytes);
	if (!t)
		return error_set(err, EXIT_FAIL, "out of memory");
	memset(t, 0xff, new_bytes);
	if (tbl + new_bytes <= limit) {
		/* in place: the space after the table is free (maybe the footer's) */
		uint64_t from = tbl + (uint64_t)v->header.max_entries * 4;
		if (tbl + new_bytes > v->next_free) {
			uint64_t at = tbl + new_bytes;
			if (vm_write(f, v->footer_raw, VHD_FOOTER_SIZE, at, err) < 0)
				goto fail;
			crashpoint("resize-bat-footer");
			if (vm_datasync(f, err) < 0)
				goto fail;
			v->next_free = at;
		}
		if (vm_write(f, t, tbl + new_bytes - from, from, err) < 0)
			goto fail;
		crashpoint("resize-bat-extend");
		if (vm_datasync(f, err) < 0)
			goto fail;
		if (write_header_bat(f, tbl, need, err) < 0)
			goto fail_header;
		r->bat = VHD_BAT_EXTENDED;
	} else {
		/* a new, larger table at the end of the file, the footer after it */
		uint64_t nt = VM_ALIGN_UP(v->next_free, VHD_SECTOR), at = nt + new_bytes;
		if (nt / VHD_SECTOR > UINT32_MAX - 1) {
			error_set(err, EXIT_IOERR, "'%s': no room for a larger block table: VHD "
				  "offsets end at 2 TiB", f->path);
			goto fail;
		}
		for (uint32_t i = 0; i < v->bat_entries; i++)
			put_be32(t + 4 * (size_t)i, v->bat[i]);
		if (vm_write(f, v->footer_raw, VHD_FOOTER_SIZE, at, err) < 0)
			goto fail;
		crashpoint("resize-bat-footer");
		if (vm_datasync(f, err) < 0)
			goto fail;
		v->next_free = at;
		if (vm_write(f, t, new_bytes, nt, err) < 0)
			goto fail;
		crashpoint("resize-bat-copy");
		if (vm_datasync(f, err) < 0)
			goto fail;
		if (write_header_bat(f, nt, need, err) < 0)
			goto fail_header;
		r->bat = VHD_BAT_MOVED;
	}
	free(t);
	return 0;
fail_header:
	/* the header may name the new table: undone only when it still reads
	 * as before (the new table must stay if the header reached the file) */
	{
		uint8_t hb[VHD_HEADER_SIZE];
		struct error e2;
		error_init(&e2);
		if (vm_read(f, hb, sizeof(hb), v->footer.data_offset, &e2) < 0 ||
		    get_be64(hb + 16) != v->header.table_offset ||
		    get_be32(hb + 28) != v->header.max_entries) {
			free(t);
			return -1;
		}
	}
fail:
	grow_bat_undo(f, old_next_free);
	free(t);
	return -1;
}

static int resize_dynamic(struct vm_file *f, uint64_t size, struct vhd_resize_result *r,
			  struct error *err)
{
	struct vhd *v = f->v;
	uint64_t old = v->footer.current_size, bs = v->block_size;
	uint32_t need = (uint32_t)((size + bs - 1) / bs);
	uint8_t nf[VHD_FOOTER_SIZE];

	if (size == old && v->tail_ok && v->tail_checksum_ok && v->head_present &&
	    v->head_checksum_ok && v->copies_equal)
		return 0;               /* nothing to do */
	if (size < old && check_shrink(f, size, err) < 0)
		return -1;
	if (vm_fix_tail(f, err) < 0)
		return -1;
	if (size > old) {
		if (clear_past_end(f, size, err) < 0)
			return -1;
		if (need > v->header.max_entries && grow_bat(f, need, r, err) < 0)
			return -1;
	}
	/* the footer readers use first, then its copy at 0 */
	footer_with_size(v->footer_raw, size, nf);
	if (vm_write(f, nf, sizeof(nf), v->next_free, err) < 0)
		return -1;
	crashpoint("resize-footer");
	if (vm_datasync(f, err) < 0)
		return -1;
	if (vm_write(f, nf, sizeof(nf), 0, err) < 0)
		return -1;
	crashpoint("resize-head");
	if (vm_datasync(f, err) < 0)
		return -1;
	r->changed = true;
	return 0;
}

int vhd_resize(const char *path, uint64_t size, bool shrink, struct vhd_resize_result *r,
	       struct error *err)
{
	struct vm_file f;
	struct stat st;
	struct vhd *v;
	int rc;

	memset(r, 0, sizeof(*r));
	if (size == 0 || size % VHD_SECTOR)
		return error_set(err, EXIT_USAGE, "size %llu is not a positive multiple of 512 bytes",
				 (unsigned long long)size);
	if (size > VHD_MAX_SIZE)
		return error_set(err, EXIT_USAGE, "size %llu bytes exceeds the VHD maximum of "
				 "2040 GiB", (unsigned long long)size);
	if (vm_open(&f, path, true, 0, err) < 0)
		return -1;
	v = f.v;
	r->type = v->footer.type;
	r->size_before = v->footer.current_size;
	r->size_after = size;
	r->file_size_before = v->file_size;
	if (v->footer.type != VHD_TYPE_FIXED) {
		r->bat_entries_before = v->header.max_entries;
		r->table_offset = v->header.table_offset;
	}
	if (size < v->footer.current_size && !shrink) {
		error_set(err, EXIT_USAGE, "'%s' is %llu bytes; making it smaller needs --shrink",
			  path, (unsigned long long)v->footer.current_size);
		vm_close(&f);
		return -1;
	}
	if (v->footer.type == VHD_TYPE_DIFF) {
		struct error pe;
		error_init(&pe);
		if (vhd_open_parent(v, DISK_RDONLY | DISK_NOLOCK, &pe) == 0) {
			r->parent_found = true;
			r->parent_size = v->parent->disk.size;
		}
	}
	if (v->footer.type == VHD_TYPE_FIXED)
		rc = size == v->footer.current_size ? 0 : resize_fixed(&f, size, r, err);
	else
		rc = resize_dynamic(&f, size, r, err);
	if (v->footer.type != VHD_TYPE_FIXED) {
		r->bat_entries_after = v->header.max_entries;
		r->table_offset = v->header.table_offset;
	}
	r->file_size_after = fstat(f.fd, &st) == 0 ? (uint64_t)st.st_size : 0;
	vm_close(&f);
	return rc;
}
