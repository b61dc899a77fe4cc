/* vhd.c — open, read and write one VHD layer and its chain. */
#include "vhd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crashpoint.h"
#include "endian.h"
#include "safeio.h"

static int vhd_disk_read(struct disk *d, void *buf, size_t len, uint64_t off, struct error *e)
{
	return vhd_read((struct vhd *)d, buf, len, off, e);
}

static int vhd_disk_write(struct disk *d, const void *buf, size_t len, uint64_t off,
			  struct error *e)
{
	return vhd_write((struct vhd *)d, buf, len, off, e);
}

static int vhd_disk_flush(struct disk *d, struct error *e)
{
	return vhd_flush((struct vhd *)d, e);
}

static void vhd_disk_close(struct disk *d)
{
	vhd_close((struct vhd *)d);
}

static const struct disk_ops vhd_ops = { vhd_disk_read, vhd_disk_write, vhd_disk_flush,
					 vhd_disk_close };

void vhd_add_problem(struct vhd *v, enum vhd_severity sev, const char *fmt, ...)
{
	struct vhd_problem *p;
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	p = realloc(v->problems, (size_t)(v->nproblems + 1) * sizeof(*p));
	if (!p)
		return;
	v->problems = p;
	p[v->nproblems].sev = sev;
	p[v->nproblems].msg = strdup(buf);
	if (p[v->nproblems].msg)
		v->nproblems++;
}

/*
 * A structural problem: fatal (EXIT_DATAERR) unless the layer is opened
 * lenient, where it is recorded and the open goes on. Returns -1 when fatal.
 */
static int problem(struct vhd *v, struct error *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int problem(struct vhd *v, struct error *err, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (v->flags & VHD_LENIENT) {
		vhd_add_problem(v, VHD_SEV_ERROR, "%s", buf);
		return 0;
	}
	return error_set(err, EXIT_DATAERR, "%s", buf);
}

/* Checksum problems: refused unless forced (then a warning) or lenient. */
static int checksum_problem(struct vhd *v, struct error *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int checksum_problem(struct vhd *v, struct error *err, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (v->flags & VHD_LENIENT) {
		vhd_add_problem(v, VHD_SEV_ERROR, "%s", buf);
		return 0;
	}
	if (v->flags & DISK_FORCE) {
		error_warn("%s (ignored: --force)", buf);
		return 0;
	}
	return error_set(err, EXIT_DATAERR, "%s (--force reads it anyway)", buf);
}

int vhd_probe(const char *path, struct error *err)
{
	uint8_t b[VHD_FOOTER_SIZE];
	struct stat st;
	int fd, found = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return error_errno(err, errno, "cannot open '%s'", path);
	if (fstat(fd, &st) < 0) {
		close(fd);
		return error_errno(err, errno, "cannot stat '%s'", path);
	}
	if (S_ISREG(st.st_mode) && st.st_size >= (off_t)VHD_FOOTER_SIZE) {
		if (io_pread_full(fd, b, sizeof(b), (uint64_t)st.st_size - VHD_FOOTER_SIZE) ==
			    (ssize_t)sizeof(b) && vhd_footer_cookie_ok(b))
			found = 1;
		else if (io_pread_full(fd, b, sizeof(b), 0) == (ssize_t)sizeof(b) &&
			 vhd_footer_cookie_ok(b))
			found = 1;
	}
	close(fd);
	return found;
}

/* Read and pick the footer: EOF-512 first, the copy at 0 as fallback. */
static int load_footer(struct vhd *v, struct error *err)
{
	uint8_t tail[VHD_FOOTER_SIZE], head[VHD_FOOTER_SIZE];
	bool head_ok = false;
	ssize_t n;

	n = io_pread_full(v->fd, tail, sizeof(tail), v->file_size - VHD_FOOTER_SIZE);
	if (n != (ssize_t)sizeof(tail))
		return error_errno(err, n < 0 ? errno : EIO, "cannot read '%s'", v->path);
	v->tail_ok = vhd_footer_cookie_ok(tail);
	v->tail_checksum_ok = v->tail_ok && vhd_footer_checksum_ok(tail);
	if (v->file_size >= 2 * VHD_FOOTER_SIZE) {
		n = io_pread_full(v->fd, head, sizeof(head), 0);
		if (n != (ssize_t)sizeof(head))
			return error_errno(err, n < 0 ? errno : EIO, "cannot read '%s'", v->path);
		head_ok = vhd_footer_cookie_ok(head) && get_be32(head + 60) != VHD_TYPE_FIXED;
	}
	v->head_present = head_ok;
	v->head_checksum_ok = head_ok && vhd_footer_checksum_ok(head);

	if (v->tail_ok && (v->tail_checksum_ok || !v->head_checksum_ok)) {
		memcpy(v->footer_raw, tail, sizeof(tail));
	} else if (head_ok) {
		memcpy(v->footer_raw, head, sizeof(head));
		if (v->flags & VHD_LENIENT)
			vhd_add_problem(v, VHD_SEV_ERROR, "'%s': %s; the copy at offset 0 is used",
					v->path, v->tail_ok ? "footer at end of file has a bad checksum"
							    : "no footer at end of file");
		else
			error_warn("'%s': %s; using the copy at offset 0 (vhdtool repair fixes it)",
				   v->path, v->tail_ok ? "footer at end of file has a bad checksum"
						       : "no footer at end of file");
	} else {
		return error_set(err, EXIT_DATAERR, "'%s' is not a VHD: no 'conectix' footer at "
				 "end of file or offset 0", v->path);
	}
	v->copies_equal = !head_ok || (v->tail_ok && memcmp(head, tail, sizeof(head)) == 0);
	vhd_footer_decode(&v->footer, v->footer_raw);
	v->footer_checksum_ok = vhd_footer_checksum_ok(v->footer_raw);
	if (vhd_footer_validate(&v->footer, v->path, err) < 0)
		return -1;
	if (!v->footer_checksum_ok &&
	    checksum_problem(v, err, "'%s': footer checksum mismatch (stored 0x%08x, computed 0x%08x)",
			     v->path, v->footer.checksum,
			     vhd_checksum(v->footer_raw, VHD_FOOTER_SIZE, 64)) < 0)
		return -1;
	if (head_ok && v->tail_ok && !v->copies_equal &&
	    v->tail_checksum_ok && v->head_checksum_ok) {
		if (v->flags & VHD_LENIENT)
			vhd_add_problem(v, VHD_SEV_ERROR,
					"'%s': footer copies at offset 0 and end of file differ",
					v->path);
		else
			error_warn("'%s': footer copies at offset 0 and end of file differ; using "
				   "the one at the end", v->path);
	}
	if (v->footer.type == VHD_TYPE_FIXED) {
		if (v->file_size - VHD_FOOTER_SIZE < v->footer.current_size)
			return error_set(err, EXIT_DATAERR,
					 "'%s' is truncated: a fixed disk of %llu bytes needs a file "
					 "of %llu bytes, it has %llu", v->path,
					 (unsigned long long)v->footer.current_size,
					 (unsigned long long)(v->footer.current_size + VHD_FOOTER_SIZE),
					 (unsigned long long)v->file_size);
		if (!v->tail_ok || v->file_size - VHD_FOOTER_SIZE != v->footer.current_size)
			if (problem(v, err, "'%s': fixed disk footer is not at offset %llu",
				    v->path, (unsigned long long)v->footer.current_size) < 0)
				return -1;
		if (v->tail_ok && v->file_size - VHD_FOOTER_SIZE == v->footer.current_size &&
		    !memcmp(v->footer_raw + VHD_GROW_MAGIC_OFF, VHD_GROW_MAGIC, 8)) {
			uint64_t s = get_be64(v->footer_raw + VHD_GROW_SECTOR_OFF);
			if (s % VHD_SECTOR == 0 && s < v->footer.current_size) {
				v->grow_pending = true;
				v->grow_sector = s;
			}
		}
	}
	if (!(v->footer.features & 0x2) &&
	    (v->flags & VHD_LENIENT))
		vhd_add_problem(v, VHD_SEV_WARNING, "'%s': features field lacks the reserved bit 0x2",
				v->path);
	return 0;
}

static int load_header(struct vhd *v, struct error *err)
{
	uint8_t b[VHD_HEADER_SIZE];
	uint64_t off = v->footer.data_offset, bat_bytes, need;
	ssize_t n;

	if (off > v->file_size || v->file_size - off < VHD_HEADER_SIZE)
		return error_set(err, EXIT_DATAERR,
				 "'%s': dynamic header at offset %llu lies past end of file "
				 "(%llu bytes)", v->path, (unsigned long long)off,
				 (unsigned long long)v->file_size);
	n = io_pread_full(v->fd, b, sizeof(b), off);
	if (n != (ssize_t)sizeof(b))
		return error_errno(err, n < 0 ? errno : EIO, "cannot read '%s'", v->path);
	vhd_header_decode(&v->header, b);
	v->header_checksum_ok = vhd_header_checksum_ok(b);
	if (vhd_header_validate(&v->header, v->footer.current_size, v->path, err) < 0)
		return -1;
	if (!v->header_checksum_ok &&
	    checksum_problem(v, err,
			     "'%s': dynamic header checksum mismatch (stored 0x%08x, computed 0x%08x)",
			     v->path, v->header.checksum, vhd_checksum(b, VHD_HEADER_SIZE, 36)) < 0)
		return -1;
	if (v->header.data_offset != VHD_NO_OFFSET &&
	    problem(v, err, "'%s': dynamic header data offset is 0x%llx, not all ones", v->path,
		    (unsigned long long)v->header.data_offset) < 0)
		return -1;

	v->block_size = v->header.block_size;
	v->bitmap_bytes = ((v->block_size / VHD_SECTOR / 8) + VHD_SECTOR - 1) & ~(VHD_SECTOR - 1);
	need = (v->footer.current_size + v->block_size - 1) / v->block_size;
	v->bat_entries = (uint32_t)need;
	bat_bytes = need * 4;
	if (v->header.table_offset > v->file_size ||
	    v->file_size - v->header.table_offset < bat_bytes)
		return error_set(err, EXIT_DATAERR,
				 "'%s': block table (%llu entries at offset %llu) lies past end of "
				 "file (%llu bytes)", v->path, (unsigned long long)need,
				 (unsigned long long)v->header.table_offset,
				 (unsigned long long)v->file_size);
	v->bat = malloc(bat_bytes ? bat_bytes : 1);
	v->bitmaps = calloc(need ? need : 1, sizeof(*v->bitmaps));
	if (!v->bat || !v->bitmaps)
		return error_set(err, EXIT_FAIL, "out of memory for the block table of '%s'",
				 v->path);
	n = io_pread_full(v->fd, v->bat, bat_bytes, v->header.table_offset);
	if (n != (ssize_t)bat_bytes)
		return error_errno(err, n < 0 ? errno : EIO, "cannot read '%s'", v->path);
	for (uint32_t i = 0; i < need; i++)
		v->bat[i] = get_be32((uint8_t *)&v->bat[i]);

	/* metadata end: header, whole table (max_entries) and locator data */
	v->meta_end = off + VHD_HEADER_SIZE;
	uint64_t t_end = v->header.table_offset +
			 (((uint64_t)v->header.max_entries * 4 + VHD_SECTOR - 1) & ~(uint64_t)(VHD_SECTOR - 1));
	if (t_end > v->meta_end)
		v->meta_end = t_end;
	if (v->footer.type == VHD_TYPE_DIFF) {
		for (int i = 0; i < VHD_NUM_LOCATORS; i++) {
			const struct vhd_locator *l = &v->header.loc[i];
			uint64_t sp;
			if (l->code == VHD_PLAT_NONE)
				continue;
			sp = vhd_locator_space_bytes(l);
			if (l->offset > v->file_size || v->file_size - l->offset < l->length ||
			    l->length > sp) {
				char nm[5];
				if (problem(v, err, "'%s': parent locator %d (%s) at offset %llu, "
					    "%u bytes, lies outside the file or its space", v->path, i,
					    vhd_platform_name(l->code, nm),
					    (unsigned long long)l->offset, l->length) < 0)
					return -1;
				continue;
			}
			if (l->offset + sp > v->meta_end && l->offset + sp <= v->file_size)
				v->meta_end = l->offset + sp;
		}
	}
	return 0;
}

static int check_bat(struct vhd *v, struct error *err)
{
	uint64_t limit = v->tail_ok ? v->file_size - VHD_FOOTER_SIZE : v->file_size;
	uint64_t span = (uint64_t)v->bitmap_bytes + v->block_size, end_max = v->meta_end;

	v->allocated_blocks = 0;
	for (uint32_t i = 0; i < v->bat_entries; i++) {
		uint64_t off;
		if (v->bat[i] == VHD_BAT_UNUSED)
			continue;
		off = (uint64_t)v->bat[i] * VHD_SECTOR;
		if (off < v->footer.data_offset + VHD_HEADER_SIZE) {
			if (problem(v, err, "'%s': block %u at offset %llu overlaps the headers",
				    v->path, i, (unsigned long long)off) < 0)
				return -1;
			v->bat[i] = VHD_BAT_UNUSED;
			continue;
		}
		if (off + span > limit) {
			if (problem(v, err, "'%s': block %u at offset %llu lies past end of file "
				    "(%llu bytes)", v->path, i, (unsigned long long)off,
				    (unsigned long long)v->file_size) < 0)
				return -1;
			v->bat[i] = VHD_BAT_UNUSED; /* lenient: treat as unallocated */
			continue;
		}
		v->allocated_blocks++;
		if (off + span > end_max)
			end_max = off + span;
	}
	v->ref_end = end_max;
	v->next_free = v->tail_ok ? v->file_size - VHD_FOOTER_SIZE : end_max;
	if (v->next_free < end_max)
		v->next_free = end_max;
	/* only a whole unreferenced block span counts as left behind */
	if (v->next_free - end_max < span)
		v->ref_end = v->next_free;
	return 0;
}

static int write_trailing_footer(struct vhd *v, uint64_t at, struct error *err)
{
	uint8_t b[VHD_FOOTER_SIZE];

	memcpy(b, v->footer_raw, sizeof(b));
	if (io_pwrite_full(v->fd, b, sizeof(b), at) < 0)
		return error_errno(err, errno, "cannot write the footer of '%s'", v->path);
	return 0;
}

/*
 * A writer that finds the end of the file unreferenced (a crash inside a
 * block allocation) or without a footer (another tool's crash between a
 * block and its footer) puts the footer right after the last referenced
 * structure and drops the rest: that space held nothing acknowledged.
 */
static int recover_tail(struct vhd *v, struct error *err)
{
	uint64_t at = v->ref_end, dropped = v->file_size - VHD_FOOTER_SIZE - at;

	if (write_trailing_footer(v, at, err) < 0)
		return -1;
	if (ftruncate(v->fd, (off_t)(at + VHD_FOOTER_SIZE)) < 0 || fsync(v->fd) < 0)
		return error_errno(err, errno, "cannot restore the footer of '%s'", v->path);
	error_warn("'%s': %s; reclaimed %llu bytes left by an interrupted write", v->path,
		   v->tail_ok ? "unreferenced space before the footer" : "footer restored at the end",
		   (unsigned long long)(v->file_size > at + VHD_FOOTER_SIZE ? dropped : 0));
	v->next_free = at;
	v->file_size = at + VHD_FOOTER_SIZE;
	v->tail_ok = v->tail_checksum_ok = v->footer_checksum_ok = v->copies_equal = true;
	return 0;
}

int vhd_finish_grow(struct vhd *v, int fd, struct error *err)
{
	static const uint8_t zeros[VHD_SECTOR];
	uint8_t b[VHD_FOOTER_SIZE];

	if (!v->grow_pending)
		return 0;
	if (io_pwrite_full(fd, zeros, sizeof(zeros), v->grow_sector) < 0 || fdatasync(fd) < 0)
		return error_errno(err, errno, "cannot finish the interrupted resize of '%s'",
				   v->path);
	crashpoint("grow-finish-zero");
	memcpy(b, v->footer_raw, sizeof(b));
	memset(b + VHD_GROW_MAGIC_OFF, 0, 16);
	put_be32(b + 64, vhd_checksum(b, VHD_FOOTER_SIZE, 64));
	if (io_pwrite_full(fd, b, sizeof(b), v->footer.current_size) < 0 || fdatasync(fd) < 0)
		return error_errno(err, errno, "cannot finish the interrupted resize of '%s'",
				   v->path);
	memcpy(v->footer_raw, b, sizeof(b));
	vhd_footer_decode(&v->footer, v->footer_raw);
	v->grow_pending = false;
	return 0;
}

static struct vhd *open_layer(const char *path, unsigned flags, int depth, struct error *err)
{
	struct vhd *v;
	struct stat st;
	int oflags;

	if (flags & VHD_LENIENT)
		flags |= DISK_RDONLY;
	v = calloc(1, sizeof(*v));
	if (!v || !(v->path = strdup(path))) {
		free(v);
		error_set(err, EXIT_FAIL, "out of memory");
		return NULL;
	}
	v->fd = -1;
	v->flags = flags;
	v->depth = depth;
	v->disk.ops = &vhd_ops;
	v->disk.path = v->path;
	v->disk.format = "vpc";
	v->disk.readonly = flags & DISK_RDONLY;

	oflags = ((flags & DISK_RDONLY) ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
	v->fd = open(path, oflags);
	if (v->fd < 0) {
		error_errno(err, errno, "cannot open '%s'", path);
		goto fail;
	}
	if (fstat(v->fd, &st) < 0) {
		error_errno(err, errno, "cannot stat '%s'", path);
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		error_set(err, EXIT_DATAERR, "'%s' is not a regular file", path);
		goto fail;
	}
	v->dev = st.st_dev;
	v->ino = st.st_ino;
	v->mtime = st.st_mtime;
	v->file_size = (uint64_t)st.st_size;
	if (!(flags & DISK_NOLOCK) &&
	    flock(v->fd, ((flags & DISK_RDONLY) ? LOCK_SH : LOCK_EX) | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			error_set(err, EXIT_TEMPFAIL, "'%s' is in use by another process", path);
		else
			error_errno(err, errno, "cannot lock '%s'", path);
		goto fail;
	}
	if (v->file_size < VHD_FOOTER_SIZE) {
		error_set(err, EXIT_DATAERR, "'%s' is not a VHD: %llu bytes is too small", path,
			  (unsigned long long)v->file_size);
		goto fail;
	}
	if (load_footer(v, err) < 0)
		goto fail;
	v->disk.size = v->footer.current_size;
	if (!(flags & DISK_RDONLY) && vhd_finish_grow(v, v->fd, err) < 0)
		goto fail;
	if (v->footer.type != VHD_TYPE_FIXED) {
		if (load_header(v, err) < 0 || check_bat(v, err) < 0)
			goto fail;
		if (!(flags & DISK_RDONLY) && (!v->tail_ok || v->next_free > v->ref_end) &&
		    recover_tail(v, err) < 0)
			goto fail;
	}
	return v;
fail:
	vhd_close(v);
	return NULL;
}

struct vhd *vhd_open(const char *path, unsigned flags, struct error *err)
{
	struct vhd *top, *v;

	top = open_layer(path, flags, 0, err);
	if (!top)
		return NULL;
	if (flags & VHD_NOPARENT)
		return top;
	for (v = top; v && v->footer.type == VHD_TYPE_DIFF; v = v->parent) {
		if (vhd_open_parent(v, flags, err) < 0) {
			vhd_close(top);
			return NULL;
		}
	}
	return top;
}

/* exported for vhd_parent.c */
struct vhd *vhd_open_layer_internal(const char *path, unsigned flags, int depth,
				    struct error *err);
struct vhd *vhd_open_layer_internal(const char *path, unsigned flags, int depth,
				    struct error *err)
{
	return open_layer(path, flags, depth, err);
}

void vhd_close(struct vhd *v)
{
	while (v) {
		struct vhd *parent = v->parent;
		if (v->fd >= 0)
			close(v->fd);
		if (v->bitmaps)
			for (uint32_t i = 0; i < v->bat_entries; i++)
				free(v->bitmaps[i]);
		free(v->bitmaps);
		vhd_runs_free(v);
		free(v->bat);
		for (int i = 0; i < v->nproblems; i++)
			free(v->problems[i].msg);
		free(v->problems);
		free(v->parent_path);
		free(v->path);
		free(v);
		v = parent;
	}
}

uint64_t vhd_block_offset(const struct vhd *v, uint32_t blk)
{
	if (v->footer.type == VHD_TYPE_FIXED || blk >= v->bat_entries ||
	    v->bat[blk] == VHD_BAT_UNUSED)
		return 0;
	return (uint64_t)v->bat[blk] * VHD_SECTOR;
}

uint8_t *vhd_bitmap(struct vhd *v, uint32_t blk, struct error *err)
{
	ssize_t n;

	if (v->bitmaps[blk])
		return v->bitmaps[blk];
	v->bitmaps[blk] = malloc(v->bitmap_bytes);
	if (!v->bitmaps[blk]) {
		error_set(err, EXIT_FAIL, "out of memory");
		return NULL;
	}
	n = io_pread_full(v->fd, v->bitmaps[blk], v->bitmap_bytes, vhd_block_offset(v, blk));
	if (n != (ssize_t)v->bitmap_bytes) {
		error_errno(err, n < 0 ? errno : EIO, "cannot read block %u bitmap of '%s'", blk,
			    v->path);
		free(v->bitmaps[blk]);
		v->bitmaps[blk] = NULL;
		return NULL;
	}
	return v->bitmaps[blk];
}

static inline bool bit_set(const uint8_t *bm, uint32_t s)
{
	return bm[s >> 3] & (0x80u >> (s & 7));
}

static int read_below(struct vhd *v, void *buf, size_t len, uint64_t off, struct error *err)
{
	if (v->parent)
		return vhd_read(v->parent, buf, len, off, err);
	if (v->footer.type == VHD_TYPE_DIFF)
		return error_set(err, EXIT_NOINPUT, "'%s': data lies in a parent that is not open",
				 v->path);
	memset(buf, 0, len);
	return 0;
}

static int pread_layer(struct vhd *v, void *buf, size_t len, uint64_t off, struct error *err)
{
	ssize_t n = io_pread_full(v->fd, buf, len, off);

	if (n < 0)
		return error_errno(err, errno, "cannot read '%s'", v->path);
	if ((size_t)n < len) /* holes at the end of a sparse block */
		memset((char *)buf + n, 0, len - (size_t)n);
	return 0;
}

/* Read [off, off+len) of this layer (and below); off+len may pass its size. */
int vhd_read(struct vhd *v, void *buf, size_t len, uint64_t off, struct error *err)
{
	uint8_t *p = buf;

	if (v->depth == 0 && disk_check_range(&v->disk, len, off, err) < 0)
		return -1;
	if (off >= v->disk.size) {
		memset(p, 0, len);
		return 0;
	}
	if (len > v->disk.size - off) {
		size_t inside = (size_t)(v->disk.size - off);
		memset(p + inside, 0, len - inside);
		len = inside;
	}
	if (v->footer.type == VHD_TYPE_FIXED) {
		if (pread_layer(v, p, len, off, err) < 0)
			return -1;
		if (v->grow_pending && off < v->grow_sector + VHD_SECTOR && v->grow_sector < off + len) {
			/* what an interrupted grow left reads as the zeros it becomes */
			uint64_t a = off > v->grow_sector ? off : v->grow_sector;
			uint64_t b = off + len < v->grow_sector + VHD_SECTOR ? off + len
									     : v->grow_sector + VHD_SECTOR;
			memset(p + (a - off), 0, (size_t)(b - a));
		}
		return 0;
	}

	while (len > 0) {
		uint32_t blk = (uint32_t)(off / v->block_size);
		uint64_t in = off % v->block_size;
		size_t n = (size_t)(v->block_size - in) < len ? (size_t)(v->block_size - in) : len;
		uint64_t boff = vhd_block_offset(v, blk);
		int r = 0;

		/* the top of a chain resolves each block's layers once */
		if (v->depth == 0 && v->parent && (r = vhd_read_resolved(v, blk, p, n, in, err)) < 0)
			return -1;
		if (r == 1) {
			/* served */
		} else if (!boff) {
			if (read_below(v, p, n, off, err) < 0)
				return -1;
		} else {
			const uint8_t *bm = vhd_bitmap(v, blk, err);
			uint64_t pos = in, end = in + n;
			if (!bm)
				return -1;
			while (pos < end) {
				bool set;
				uint64_t run_end = vhd_bitmap_run(bm, pos, end, &set);
				uint8_t *dst = p + (pos - in);
				size_t rl = (size_t)(run_end - pos);
				int rc = set ? pread_layer(v, dst, rl, boff + v->bitmap_bytes + pos, err)
					     : read_below(v, dst, rl, off + (pos - in), err);
				if (rc < 0)
					return -1;
				pos = run_end;
			}
		}
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}

static int sync_step(struct vhd *v, struct error *err)
{
	if (v->flags & DISK_NOSYNC)
		return 0;
	if (fdatasync(v->fd) < 0)
		return error_errno(err, errno, "cannot sync '%s'", v->path);
	return 0;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	/* first byte zero and every byte equal to its successor */
	return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}


/* Where the bytes of a write come from: a buffer, or a range of another file
 * (merges copy layer to layer in the kernel with copy_file_range). */
struct wsrc {
	const uint8_t *buf;
	int fd;
	uint64_t off;
};

static struct wsrc wsrc_advance(struct wsrc s, size_t n)
{
	if (s.buf)
		s.buf += n;
	else
		s.off += n;
	return s;
}

static int put_data(struct vhd *v, struct wsrc src, size_t n, uint64_t at, struct error *err)
{
	if (src.buf) {
		if (io_pwrite_full(v->fd, src.buf, n, at) < 0)
			return error_errno(err, errno, "cannot write '%s'", v->path);
		return 0;
	}
	while (n > 0) {
		loff_t in = (loff_t)src.off, out = (loff_t)at;
		ssize_t r = copy_file_range(src.fd, &in, v->fd, &out, n, 0);
		if (r <= 0) {
			/* not supported here, or a hole at the source's end: plain copy */
			uint8_t tmp[65536];
			size_t k = n < sizeof(tmp) ? n : sizeof(tmp);
			ssize_t got;
			if (r < 0 && errno != EXDEV && errno != EINVAL && errno != ENOSYS &&
			    errno != EOPNOTSUPP)
				return error_errno(err, errno, "cannot copy into '%s'", v->path);
			got = io_pread_full(src.fd, tmp, k, src.off);
			if (got < 0)
				return error_errno(err, errno, "cannot read a source of '%s'", v->path);
			memset(tmp + got, 0, k - (size_t)got);
			if (io_pwrite_full(v->fd, tmp, k, at) < 0)
				return error_errno(err, errno, "cannot write '%s'", v->path);
			r = (ssize_t)k;
		}
		src.off += (uint64_t)r;
		at += (uint64_t)r;
		n -= (size_t)r;
	}
	return 0;
}

/*
 * An allocation that failed before its BAT entry was written: put the footer
 * back where it was and cut the file there, so a failed write (ENOSPC, EIO)
 * leaves the file as it found it rather than a leak for check to report. The
 * old footer's sector is still allocated, so this needs no new space; footer
 * before truncate keeps the file valid if a crash comes in between (the next
 * writer's recover_tail finishes it). Best effort: the caller's error stands.
 */
static void allocation_undo(struct vhd *v, uint64_t old_next_free, uint64_t old_file_size)
{
	struct error ignored;

	error_init(&ignored);
	v->next_free = old_next_free;
	v->file_size = old_file_size;
	if (write_trailing_footer(v, old_next_free, &ignored) < 0 ||
	    ftruncate(v->fd, (off_t)(old_next_free + VHD_FOOTER_SIZE)) < 0)
		return;
	v->file_size = old_next_free + VHD_FOOTER_SIZE;
	if (!(v->flags & DISK_NOSYNC))
		(void)fdatasync(v->fd);
}

/*
 * New block. The footer moves to the new end first, so the file is a valid
 * VHD at every instant (every reader, also those that only look at EOF, can
 * open it); then data, bitmap and BAT entry in that order, each durable
 * before the next. A crash leaves at most unreferenced space before the
 * footer: check reports it as a leak and the next writer reclaims it.
 */
static int allocate_block(struct vhd *v, uint32_t blk, uint32_t in, struct wsrc src,
			  size_t n, struct error *err)
{
	uint64_t bm_off = ((v->next_free + v->bitmap_bytes + 4095) & ~(uint64_t)4095) -
			  v->bitmap_bytes;
	uint64_t data_off = bm_off + v->bitmap_bytes;
	uint64_t end = data_off + v->block_size;
	uint8_t *bm, ent[4];

	if (bm_off / VHD_SECTOR > UINT32_MAX - 1)
		return error_set(err, EXIT_IOERR, "'%s': no room for block %u: VHD block offsets "
				 "end at 2 TiB", v->path, blk);
	uint64_t old_next_free = v->next_free, old_file_size = v->file_size;
	bm = calloc(1, v->bitmap_bytes);
	if (!bm)
		return error_set(err, EXIT_FAIL, "out of memory");
	if (write_trailing_footer(v, end, err) < 0) {
		free(bm);
		allocation_undo(v, old_next_free, old_file_size);
		return -1;
	}
	v->next_free = end;              /* from here on the space is ours (or leaked) */
	v->file_size = end + VHD_FOOTER_SIZE;
	crashpoint("alloc-footer");
	if (put_data(v, src, n, data_off + in, err) < 0) {
		free(bm);
		allocation_undo(v, old_next_free, old_file_size);
		return -1;
	}
	crashpoint("alloc-data");
	if (v->footer.type == VHD_TYPE_DYNAMIC) {
		memset(bm, 0xff, v->block_size / VHD_SECTOR / 8);
	} else {
		for (uint32_t s = in / VHD_SECTOR; s < (in + n) / VHD_SECTOR; s++)
			bm[s >> 3] |= (uint8_t)(0x80u >> (s & 7));
	}
	if (sync_step(v, err) < 0 ||
	    (io_pwrite_full(v->fd, bm, v->bitmap_bytes, bm_off) < 0 &&
	     error_errno(err, errno, "cannot write '%s'", v->path)) ||
	    sync_step(v, err) < 0) {
		free(bm);
		allocation_undo(v, old_next_free, old_file_size);
		return -1;
	}
	crashpoint("alloc-bitmap");
	put_be32(ent, (uint32_t)(bm_off / VHD_SECTOR));
	if (io_pwrite_full(v->fd, ent, 4, v->header.table_offset + (uint64_t)blk * 4) < 0) {
		int saved = errno;
		uint8_t now[4];
		free(bm);
		/* undone only when the entry still reads unused: a BAT entry that
		 * did reach the file names a complete block (data and bitmap are
		 * durable), and the footer must then stay past it */
		if (io_pread_full(v->fd, now, 4, v->header.table_offset + (uint64_t)blk * 4) == 4 &&
		    get_be32(now) == VHD_BAT_UNUSED)
			allocation_undo(v, old_next_free, old_file_size);
		return error_errno(err, saved, "cannot write the block table of '%s'", v->path);
	}
	crashpoint("alloc-bat");
	free(v->bitmaps[blk]);
	v->bitmaps[blk] = bm;
	v->bat[blk] = (uint32_t)(bm_off / VHD_SECTOR);
	v->allocated_blocks++;
	return 0;
}

/* Sector-aligned write inside one block. */
static int write_in_block(struct vhd *v, uint32_t blk, uint32_t in, struct wsrc src,
			  size_t n, struct error *err)
{
	vhd_runs_invalidate(v, blk);
	uint64_t boff = vhd_block_offset(v, blk);
	uint32_t s0 = in / VHD_SECTOR, s1 = (uint32_t)((in + n) / VHD_SECTOR), s;
	uint8_t *bm;
	bool dirty = false;

	if (!boff) {
		if (v->footer.type == VHD_TYPE_DYNAMIC && src.buf && all_zero(src.buf, n))
			return 0;
		return allocate_block(v, blk, in, src, n, err);
	}
	if (put_data(v, src, n, boff + v->bitmap_bytes + in, err) < 0)
		return -1;
	bm = vhd_bitmap(v, blk, err);
	if (!bm)
		return -1;
	for (s = s0; s < s1; s++)
		if (!bit_set(bm, s)) {
			dirty = true;
			break;
		}
	if (!dirty)
		return 0;
	/* the data must be durable before the bits that expose it */
	crashpoint("bitmap-data");
	if (sync_step(v, err) < 0)
		return -1;
	for (s = s0; s < s1; s++)
		bm[s >> 3] |= (uint8_t)(0x80u >> (s & 7));
	uint32_t first = (s0 / 8) & ~(VHD_SECTOR - 1), last = ((s1 - 1) / 8) | (VHD_SECTOR - 1);
	if (io_pwrite_full(v->fd, bm + first, last - first + 1, boff + first) < 0)
		return error_errno(err, errno, "cannot write block %u bitmap of '%s'", blk, v->path);
	return 0;
}

static int write_aligned_src(struct vhd *v, struct wsrc src, size_t len, uint64_t off,
			     struct error *err)
{
	if (v->footer.type == VHD_TYPE_FIXED)
		return put_data(v, src, len, off, err);
	while (len > 0) {
		uint32_t blk = (uint32_t)(off / v->block_size);
		uint32_t in = (uint32_t)(off % v->block_size);
		size_t n = (size_t)(v->block_size - in) < len ? (size_t)(v->block_size - in) : len;
		if (write_in_block(v, blk, in, src, n, err) < 0)
			return -1;
		src = wsrc_advance(src, n);
		off += n;
		len -= n;
	}
	return 0;
}

static int write_aligned(struct vhd *v, const uint8_t *p, size_t len, uint64_t off,
			 struct error *err)
{
	return write_aligned_src(v, (struct wsrc){ .buf = p, .fd = -1 }, len, off, err);
}

int vhd_write_from_fd(struct vhd *v, int src_fd, uint64_t src_off, size_t len, uint64_t off,
		      struct error *err)
{
	if (v->disk.readonly)
		return error_set(err, EXIT_NOPERM, "'%s' is open read-only", v->path);
	if (disk_check_range(&v->disk, len, off, err) < 0)
		return -1;
	if (off % VHD_SECTOR || len % VHD_SECTOR)
		return error_set(err, EXIT_FAIL, "'%s': unaligned copy at %llu+%zu", v->path,
				 (unsigned long long)off, len);
	return write_aligned_src(v, (struct wsrc){ .buf = NULL, .fd = src_fd, .off = src_off },
				 len, off, err);
}

/* Partial sector: read it through the chain, patch, write it whole. */
static int write_partial(struct vhd *v, const uint8_t *p, size_t len, uint64_t off,
			 struct error *err)
{
	uint8_t sec[VHD_SECTOR];
	uint64_t base = off & ~(uint64_t)(VHD_SECTOR - 1);

	if (vhd_read(v, sec, VHD_SECTOR, base, err) < 0)
		return -1;
	memcpy(sec + (off - base), p, len);
	return write_aligned(v, sec, VHD_SECTOR, base, err);
}

int vhd_write(struct vhd *v, const void *buf, size_t len, uint64_t off, struct error *err)
{
	const uint8_t *p = buf;

	if (v->disk.readonly)
		return error_set(err, EXIT_NOPERM, "'%s' is open read-only", v->path);
	if (disk_check_range(&v->disk, len, off, err) < 0)
		return -1;
	if (off % VHD_SECTOR && len) {
		size_t n = VHD_SECTOR - off % VHD_SECTOR;
		if (n > len)
			n = len;
		if (write_partial(v, p, n, off, err) < 0)
			return -1;
		p += n;
		off += n;
		len -= n;
	}
	size_t mid = len & ~(size_t)(VHD_SECTOR - 1);
	if (mid && write_aligned(v, p, mid, off, err) < 0)
		return -1;
	p += mid;
	off += mid;
	len -= mid;
	if (len && write_partial(v, p, len, off, err) < 0)
		return -1;
	return 0;
}

int vhd_flush(struct vhd *v, struct error *err)
{
	if (v->disk.readonly)
		return 0;
	if (fdatasync(v->fd) < 0)
		return error_errno(err, errno, "cannot sync '%s'", v->path);
	return 0;
}
