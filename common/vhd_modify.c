/* vhd_modify.c — shared helpers for in-place changes, and set-parent. */
#include "vhd_modify.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crashpoint.h"
#include "endian.h"
#include "safeio.h"
#include "uuid.h"
#include "vhd.h"
#include "vhd_modify_int.h"

/* ---- the file being changed ---- */

/* vhd.c tells readers to use --force; for a writer the cure is repair. */
static void suggest_repair(struct error *err)
{
	static const char force_hint[] = " (--force reads it anyway)";
	size_t n = strlen(err->msg), k = sizeof(force_hint) - 1;

	if (n >= k && strcmp(err->msg + n - k, force_hint) == 0)
		snprintf(err->msg + n - k, sizeof(err->msg) - (n - k),
			 " (vhdtool repair fixes it)");
}

int vm_open(struct vm_file *f, const char *path, bool write, unsigned vflags,
	    struct error *err)
{
	struct stat st;

	memset(f, 0, sizeof(*f));
	f->path = path;
	f->write = write;
	f->fd = open(path, (write ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (f->fd < 0)
		return error_errno(err, errno, "cannot open '%s'", path);
	if (fstat(f->fd, &st) < 0) {
		error_errno(err, errno, "cannot stat '%s'", path);
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		error_set(err, EXIT_DATAERR, "'%s' is not a regular file", path);
		goto fail;
	}
	if (flock(f->fd, (write ? LOCK_EX : LOCK_SH) | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			error_set(err, EXIT_TEMPFAIL, "'%s' is in use by another process", path);
		else
			error_errno(err, errno, "cannot lock '%s'", path);
		goto fail;
	}
	f->v = vhd_open(path, DISK_RDONLY | DISK_NOLOCK | VHD_NOPARENT | vflags, err);
	if (!f->v) {
		suggest_repair(err);
		goto fail;
	}
	if (f->v->dev != st.st_dev || f->v->ino != st.st_ino) {
		error_set(err, EXIT_TEMPFAIL, "'%s' was replaced while it was being opened", path);
		goto fail;
	}
	if (write && vhd_finish_grow(f->v, f->fd, err) < 0)
		goto fail;
	return 0;
fail:
	vm_close(f);
	return -1;
}

void vm_close(struct vm_file *f)
{
	vhd_close(f->v);
	f->v = NULL;
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}

int vm_read(struct vm_file *f, void *buf, size_t n, uint64_t off, struct error *err)
{
	ssize_t got = io_pread_full(f->fd, buf, n, off);

	if (got < 0)
		return error_errno(err, errno, "cannot read '%s'", f->path);
	if ((size_t)got < n)
		return error_set(err, EXIT_DATAERR, "'%s': %zu bytes at offset %llu lie past end "
				 "of file", f->path, n, (unsigned long long)off);
	return 0;
}

int vm_write(struct vm_file *f, const void *buf, size_t n, uint64_t off, struct error *err)
{
	if (io_pwrite_full(f->fd, buf, n, off) < 0)
		return error_errno(err, errno, "cannot write '%s'", f->path);
	return 0;
}

int vm_datasync(struct vm_file *f, struct error *err)
{
	if (fdatasync(f->fd) < 0)
		return error_errno(err, errno, "cannot sync '%s'", f->path);
	return 0;
}

int vm_truncate(struct vm_file *f, uint64_t size, struct error *err)
{
	if (ftruncate(f->fd, (off_t)size) < 0 || fsync(f->fd) < 0)
		return error_errno(err, errno, "cannot truncate '%s'", f->path);
	return 0;
}

int vm_read_bat(struct vm_file *f, uint32_t first, uint32_t count, uint32_t *out,
		struct error *err)
{
	uint8_t *raw;

	if (!count)
		return 0;
	raw = malloc((size_t)count * 4);
	if (!raw)
		return error_set(err, EXIT_FAIL, "out of memory");
	if (vm_read(f, raw, (size_t)count * 4, f->v->header.table_offset + (uint64_t)first * 4,
		    err) < 0) {
		free(raw);
		return -1;
	}
	for (uint32_t i = 0; i < count; i++)
		out[i] = get_be32(raw + 4 * (size_t)i);
	free(raw);
	return 0;
}

int vm_write_bat_entry(struct vm_file *f, uint32_t blk, uint32_t val, struct error *err)
{
	uint8_t ent[4];

	put_be32(ent, val);
	if (io_pwrite_full(f->fd, ent, 4, f->v->header.table_offset + (uint64_t)blk * 4) < 0)
		return error_errno(err, errno, "cannot write the block table of '%s'", f->path);
	return 0;
}

void vm_footer_resum(uint8_t b[VHD_FOOTER_SIZE])
{
	put_be32(b + 64, vhd_checksum(b, VHD_FOOTER_SIZE, 64));
}

void vm_header_resum(uint8_t b[VHD_HEADER_SIZE])
{
	put_be32(b + 36, vhd_checksum(b, VHD_HEADER_SIZE, 36));
}

int vm_range_zero(struct vm_file *f, uint64_t off, uint64_t len, uint64_t *first,
		  struct error *err)
{
	uint64_t end = off + len, pos = off;
	uint8_t *buf = malloc(VM_CHUNK);

	if (!buf)
		return error_set(err, EXIT_FAIL, "out of memory");
	*first = end;
	while (pos < end) {
		off_t d = lseek(f->fd, (off_t)pos, SEEK_DATA);
		if (d < 0 && errno == ENXIO)
			break;                  /* a hole up to the end of file */
		if (d > (off_t)pos) {
			pos = (uint64_t)d;      /* [pos, d) is a hole: zeros */
			if (pos >= end)
				break;
		}
		size_t n = end - pos < VM_CHUNK ? (size_t)(end - pos) : VM_CHUNK;
		ssize_t got = io_pread_full(f->fd, buf, n, pos);
		if (got < 0) {
			free(buf);
			return error_errno(err, errno, "cannot read '%s'", f->path);
		}
		for (ssize_t i = 0; i < got; i++)
			if (buf[i]) {
				*first = pos + (uint64_t)i;
				free(buf);
				return 0;
			}
		if ((size_t)got < n)
			break;                  /* end of file: the rest reads as zeros */
		pos += n;
	}
	free(buf);
	return 0;
}

int vm_first_stored_data(struct vm_file *f, uint64_t boff, const uint8_t *bm, uint64_t from,
			 uint64_t to, uint64_t *sector, struct error *err)
{
	uint64_t start = boff + f->v->bitmap_bytes, pos = start + from * VHD_SECTOR;
	uint64_t end = start + to * VHD_SECTOR, nz;

	while (pos < end) {
		if (vm_range_zero(f, pos, end - pos, &nz, err) < 0)
			return -1;
		if (nz >= end)
			break;
		uint64_t s = (nz - start) / VHD_SECTOR;
		if (bm[s >> 3] & (0x80u >> (s & 7))) {
			*sector = s;
			return 0;
		}
		pos = start + (s + 1) * VHD_SECTOR;   /* bit clear: not this layer's data */
	}
	*sector = to;
	return 0;
}

static int cmp_region(const void *a, const void *b)
{
	const struct vm_region *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->end < y->end ? -1 : x->end > y->end;
}

int vm_regions(const struct vhd *v, const uint32_t *bat, struct vm_region **out, size_t *n,
	       struct error *err)
{
	size_t cap = 3 + VHD_NUM_LOCATORS + (bat ? v->bat_entries : 0), k = 0;
	uint64_t span = (uint64_t)v->bitmap_bytes + v->block_size;
	struct vm_region *r = malloc(cap * sizeof(*r));

	if (!r)
		return error_set(err, EXIT_FAIL, "out of memory");
	r[k++] = (struct vm_region){ 0, VHD_FOOTER_SIZE, VM_R_FOOTER, 0 };
	r[k++] = (struct vm_region){ v->footer.data_offset, v->footer.data_offset + VHD_HEADER_SIZE,
				     VM_R_HEADER, 0 };
	r[k++] = (struct vm_region){ v->header.table_offset, v->header.table_offset +
				     VM_ALIGN_UP((uint64_t)v->header.max_entries * 4, VHD_SECTOR),
				     VM_R_BAT, 0 };
	for (int i = 0; v->footer.type == VHD_TYPE_DIFF && i < VHD_NUM_LOCATORS; i++) {
		const struct vhd_locator *l = &v->header.loc[i];
		uint64_t sp = vhd_locator_space_bytes(l), end;
		if (l->code == VHD_PLAT_NONE || l->offset >= v->file_size)
			continue;
		end = sp > v->file_size - l->offset ? v->file_size : l->offset + sp;
		if (end > l->offset)
			r[k++] = (struct vm_region){ l->offset, end, VM_R_LOCATOR, (uint32_t)i };
	}
	for (uint32_t b = 0; bat && b < v->bat_entries; b++)
		if (bat[b] != VHD_BAT_UNUSED)
			r[k++] = (struct vm_region){ (uint64_t)bat[b] * VHD_SECTOR,
						     (uint64_t)bat[b] * VHD_SECTOR + span,
						     VM_R_BLOCK, b };
	qsort(r, k, sizeof(*r), cmp_region);
	*out = r;
	*n = k;
	return 0;
}

int vm_fix_tail(struct vm_file *f, struct error *err)
{
	struct vhd *v = f->v;
	uint64_t at = v->ref_end;

	if (v->footer.type == VHD_TYPE_FIXED || (v->tail_ok && v->next_free <= v->ref_end))
		return 0;
	if (vm_write(f, v->footer_raw, VHD_FOOTER_SIZE, at, err) < 0 || vm_datasync(f, err) < 0)
		return -1;
	if (v->file_size > at + VHD_FOOTER_SIZE && vm_truncate(f, at + VHD_FOOTER_SIZE, err) < 0)
		return -1;
	error_warn("'%s': %s; reclaimed %llu bytes left by an interrupted write", f->path,
		   v->tail_ok ? "unreferenced space before the footer" : "footer restored at the end",
		   (unsigned long long)(v->file_size > at + VHD_FOOTER_SIZE ?
					v->file_size - at - VHD_FOOTER_SIZE : 0));
	v->next_free = at;
	v->file_size = at + VHD_FOOTER_SIZE;
	v->tail_ok = v->tail_checksum_ok = true;
	return 0;
}

/* ---- set-parent ---- */


/*
 * Bytes locator idx may use from its offset: its declared space, cut at the
 * next structure or other locator's data (and at the trailing footer); 0 if
 * one of them covers its start.
 */
static uint64_t locator_room(const struct vhd *v, const struct vm_region *rg, size_t n, int idx)
{
	const struct vhd_locator *l = &v->header.loc[idx];
	uint64_t start = l->offset, end, sp = vhd_locator_space_bytes(l);

	if (start >= v->next_free)
		return 0;
	end = sp > v->next_free - start ? v->next_free : start + sp;
	for (size_t i = 0; i < n; i++) {
		uint64_t s = rg[i].start, e = rg[i].end;
		if (rg[i].kind == VM_R_LOCATOR) {
			/* another locator: its data counts, not the space it claims */
			if (rg[i].idx == (uint32_t)idx)
				continue;
			e = s + v->header.loc[rg[i].idx].length;
		}
		if (e <= start || s >= end)
			continue;
		if (s <= start)
			return 0;
		end = s;
	}
	return end - start;
}

static bool is_below(const struct vhd *chain, const struct vhd *v)
{
	for (const struct vhd *l = chain; l; l = l->parent)
		if (l->dev == v->dev && l->ino == v->ino)
			return true;
	return false;
}

struct new_loc {
	int idx;
	uint8_t *data;     /* UTF-16LE path, zero padded to wlen */
	uint32_t len;
	uint64_t wlen, room;
};

int vhd_set_parent(const char *child, const char *parent, bool force,
		   struct vhd_setparent_result *r, struct error *err)
{
	char dir[PATH_MAX], dir_abs[PATH_MAX], rel[PATH_MAX], want[UUID_STR_LEN], got[UUID_STR_LEN];
	struct new_loc nl[VHD_NUM_LOCATORS];
	uint8_t hb[VHD_HEADER_SIZE];
	struct vm_region *rg = NULL;
	struct vm_file f;
	struct vhd *v, *p = NULL;
	size_t nrg = 0;
	int nnl = 0, rc = -1;
	bool have_ku = false, have_ru = false;

	memset(r, 0, sizeof(*r));
	memset(nl, 0, sizeof(nl));
	if (vm_open(&f, child, true, 0, err) < 0)
		return -1;
	v = f.v;
	if (v->footer.type != VHD_TYPE_DIFF) {
		error_set(err, EXIT_DATAERR, "'%s' is a %s disk, not a differencing child", child,
			  vhd_type_name(v->footer.type));
		goto out;
	}
	p = vhd_open(parent, DISK_RDONLY | DISK_NOLOCK, err);
	if (!p)
		goto out;
	if (is_below(p, v)) {
		error_set(err, EXIT_DATAERR, "'%s' cannot be the parent of '%s': %s", parent, child,
			  p->dev == v->dev && p->ino == v->ino ? "it is the same file"
							       : "it lies below it (a loop)");
		goto out;
	}
	memcpy(r->old_parent_uuid, v->header.parent_uuid, 16);
	memcpy(r->parent_uuid, p->footer.uuid, 16);
	if (memcmp(p->footer.uuid, v->header.parent_uuid, 16) != 0) {
		if (!force) {
			error_set(err, EXIT_DATAERR, "'%s' has UUID %s, but '%s' expects its parent "
				  "to be %s (--force makes it the parent anyway)", parent,
				  uuid_format(p->footer.uuid, got), child,
				  uuid_format(v->header.parent_uuid, want));
			goto out;
		}
		r->uuid_changed = true;
	}
	if (!realpath(parent, r->parent_abs)) {
		error_errno(err, errno, "cannot resolve '%s'", parent);
		goto out;
	}
	io_dirname(child, dir, sizeof(dir));
	if (!realpath(dir, dir_abs)) {
		error_errno(err, errno, "cannot resolve the folder of '%s'", child);
		goto out;
	}
	if (vhd_relative_path(dir_abs, r->parent_abs, rel, sizeof(rel)) < 0) {
		error_set(err, EXIT_USAGE, "parent path '%s' is too long", r->parent_abs);
		goto out;
	}
	if (vm_regions(v, v->bat, &rg, &nrg, err) < 0)
		goto out;

	/* every W2ku and W2ru locator, each inside its own space */
	for (int i = 0; i < VHD_NUM_LOCATORS; i++) {
		const struct vhd_locator *l = &v->header.loc[i];
		const char *path;
		struct new_loc *n = &nl[nnl];
		uint32_t old_len;
		int len;

		if (l->code != VHD_PLAT_W2KU && l->code != VHD_PLAT_W2RU)
			continue;
		path = l->code == VHD_PLAT_W2KU ? r->parent_abs : rel;
		have_ku |= l->code == VHD_PLAT_W2KU;
		have_ru |= l->code == VHD_PLAT_W2RU;
		n->idx = i;
		n->room = locator_room(v, rg, nrg, i);
		/* room for any path, and for zeros over the old one (readers stop at 64 KiB) */
		old_len = l->length > 65536 ? 65536 : l->length;
		n->wlen = VM_ALIGN_UP((uint64_t)old_len, VHD_SECTOR);
		if (n->wlen < 4 * PATH_MAX)
			n->wlen = 4 * PATH_MAX;
		n->data = calloc(1, n->wlen);
		if (!n->data) {
			error_set(err, EXIT_FAIL, "out of memory");
			goto out;
		}
		nnl++;
		len = vhd_utf8_to_utf16(path, false, n->data, n->wlen);
		if (len <= 0) {
			error_set(err, EXIT_USAGE, "parent path '%s' is too long or not UTF-8", path);
			goto out;
		}
		n->len = (uint32_t)len;
		if (n->len > n->room) {
			char nm[5];
			error_set(err, EXIT_FAIL, "'%s': the new %s parent locator needs %u bytes, "
				  "its data space at offset %llu holds %llu; nothing changed (path "
				  "'%s')", child, vhd_platform_name(l->code, nm), n->len,
				  (unsigned long long)l->offset, (unsigned long long)n->room, path);
			goto out;
		}
		/* overwrite the old path too, within the room */
		n->wlen = VM_ALIGN_UP(n->len > old_len ? n->len : old_len, VHD_SECTOR);
		if (n->wlen > n->room)
			n->wlen = n->room;
	}
	if (!have_ku || !have_ru) {
		error_set(err, EXIT_FAIL, "'%s' has no %s parent locator; set-parent rewrites the "
			  "W2ku and W2ru locators in their existing space and adds none; nothing "
			  "changed", child, have_ku ? "W2ru" : "W2ku");
		goto out;
	}

	/* the new header, patched field by field (reserved bytes kept) */
	if (vm_read(&f, hb, sizeof(hb), v->footer.data_offset, err) < 0)
		goto out;
	memcpy(hb + 40, p->footer.uuid, 16);
	r->parent_timestamp = vhd_time_from_unix(p->mtime);
	put_be32(hb + 56, r->parent_timestamp);
	memset(hb + 64, 0, 512);
	if (vhd_utf8_to_utf16(r->parent_abs, true, hb + 64, 512) >= 0) {
		snprintf(r->parent_name, sizeof(r->parent_name), "%s", r->parent_abs);
	} else {
		memset(hb + 64, 0, 512);
		if (vhd_utf8_to_utf16(io_basename(r->parent_abs), true, hb + 64, 512) < 0) {
			error_set(err, EXIT_USAGE, "parent file name '%s' is too long",
				  io_basename(r->parent_abs));
			goto out;
		}
		snprintf(r->parent_name, sizeof(r->parent_name), "%s", io_basename(r->parent_abs));
	}
	for (int k = 0; k < nnl; k++) {
		const struct vhd_locator *l = &v->header.loc[nl[k].idx];
		uint64_t sp = vhd_locator_space_bytes(l);
		uint8_t *e = hb + 576 + 24 * nl[k].idx;
		struct vhd_setparent_locator *o = &r->loc[r->nloc++];

		if (sp > nl[k].room)
			sp = nl[k].room;         /* never claim more than is free */
		put_be32(e + 4, (uint32_t)sp);  /* bytes, as Windows and vhd_create write */
		put_be32(e + 8, nl[k].len);
		o->index = nl[k].idx;
		o->code = l->code;
		snprintf(o->path, sizeof(o->path), "%s",
			 l->code == VHD_PLAT_W2KU ? r->parent_abs : rel);
		o->length = nl[k].len;
		o->space = sp;
		o->offset = l->offset;
	}
	vm_header_resum(hb);
	r->parent_size = p->disk.size;
	r->child_size = v->disk.size;

	/* locator data first, durable, then the header that describes it */
	for (int k = 0; k < nnl; k++) {
		if (vm_write(&f, nl[k].data, nl[k].wlen, v->header.loc[nl[k].idx].offset, err) < 0)
			goto out;
		crashpoint("setparent-locator");
	}
	if (vm_datasync(&f, err) < 0)
		goto out;
	if (vm_write(&f, hb, sizeof(hb), v->footer.data_offset, err) < 0)
		goto out;
	crashpoint("setparent-header");
	if (vm_datasync(&f, err) < 0)
		goto out;
	rc = 0;
out:
	for (int k = 0; k < nnl; k++)
		free(nl[k].data);
	free(rg);
	vhd_close(p);
	vm_close(&f);
	return rc;
}
