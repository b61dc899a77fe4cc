/* vhd_create.c — new fixed, dynamic and differencing images, created atomically. */
#include "vhd.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crashpoint.h"
#include "endian.h"
#include "safeio.h"
#include "uuid.h"

/*
 * Creator: "win " (version 10.0, host "Wi2k"), as Hyper-V writes. It is the
 * one creator every reader sizes by the exact current size while the CHS
 * geometry stays the spec's floor value: Windows always uses current size;
 * qemu before 10.0 uses it only for win /qem2/d2v /tap/CTXS (else CHS, which
 * truncates most sizes); qemu 10 uses CHS only for "vpc " and "qemu".
 */
#define CREATOR_APP "win "
#define CREATOR_VERSION 0x000a0000u
#define CREATOR_OS "Wi2k"

#define ALIGN_UP(x, a) (((x) + (a) - 1) & ~(uint64_t)((a) - 1))

static void init_footer(struct vhd_footer *f, enum vhd_type type, uint64_t size)
{
	memset(f, 0, sizeof(*f));
	memcpy(f->cookie, "conectix", 8);
	f->features = 0x2;
	f->version = 0x00010000;
	f->data_offset = type == VHD_TYPE_FIXED ? VHD_NO_OFFSET : VHD_FOOTER_SIZE;
	f->timestamp = vhd_time_from_unix(time(NULL));
	memcpy(f->creator_app, CREATOR_APP, 4);
	f->creator_version = CREATOR_VERSION;
	memcpy(f->creator_os, CREATOR_OS, 4);
	f->original_size = size;
	f->current_size = size;
	vhd_geometry(size, &f->cylinders, &f->heads, &f->sectors);
	f->type = type;
}

int vhd_relative_path(const char *from, const char *to, char *out, size_t size)
{
	size_t common = 0, i;
	int ups = 0;
	size_t o = 0;

	/* longest common prefix ending at a component boundary */
	for (i = 0; from[i] && to[i] && from[i] == to[i]; i++)
		if (from[i] == '/')
			common = i;
	if (!from[i] && to[i] == '/')
		common = i;
	else if (!from[i] && !to[i])
		common = i;
	if (strcmp(from, "/") == 0)
		common = 0;
	for (const char *p = from + common; *p; p++)
		if (*p == '/' && p[1])
			ups++;
	if (ups == 0) {
		o = (size_t)snprintf(out, size, ".");
	} else {
		for (int k = 0; k < ups && o < size; k++)
			o += (size_t)snprintf(out + o, size - o, "%s..", k ? "\\" : "");
	}
	if (o >= size)
		return -1;
	if (snprintf(out + o, size - o, "%s", to + common) >= (int)(size - o))
		return -1;
	for (char *p = out; *p; p++)
		if (*p == '/')
			*p = '\\';
	return 0;
}

static int write_all_at(int fd, const void *b, size_t n, uint64_t off, const char *path,
			struct error *err)
{
	if (io_pwrite_full(fd, b, n, off) < 0)
		return error_errno(err, errno, "cannot write '%s'", path);
	return 0;
}

static int fill_locator(struct vhd_locator *l, uint32_t code, const char *path, uint64_t at,
			uint8_t *buf, size_t bufsize, uint64_t *space_out)
{
	int n = vhd_utf8_to_utf16(path, false, buf, bufsize);

	if (n <= 0)
		return -1;
	l->code = code;
	l->length = (uint32_t)n;
	*space_out = ALIGN_UP((uint64_t)n, 4096);
	l->space = (uint32_t)*space_out; /* bytes, as Windows writes */
	l->offset = at;
	return 0;
}

static int write_dynamic(int fd, const char *tmp, const struct vhd_create_opts *o,
			 struct vhd *parent, const char *parent_abs, const char *child_dir,
			 struct error *err)
{
	struct vhd_footer f;
	struct vhd_header h;
	uint8_t fb[VHD_FOOTER_SIZE], hb[VHD_HEADER_SIZE];
	uint8_t *bat, *loc1 = NULL, *loc2 = NULL;
	uint64_t size = parent ? parent->disk.size : o->size, bat_bytes, end, sp1 = 0, sp2 = 0;
	uint32_t bs = o->block_size, entries;
	enum vhd_type type = parent ? VHD_TYPE_DIFF : VHD_TYPE_DYNAMIC;
	int rc = -1;

	if (!bs)
		bs = (parent && parent->block_size) ? parent->block_size : VHD_DEFAULT_BLOCK;
	entries = (uint32_t)((size + bs - 1) / bs);
	bat_bytes = ALIGN_UP((uint64_t)entries * 4, VHD_SECTOR);

	init_footer(&f, type, size);
	if (uuid_generate(f.uuid) < 0)
		return error_errno(err, errno, "cannot generate a UUID");
	memset(&h, 0, sizeof(h));
	memcpy(h.cookie, "cxsparse", 8);
	h.data_offset = VHD_NO_OFFSET;
	h.table_offset = VHD_FOOTER_SIZE + VHD_HEADER_SIZE;
	h.version = 0x00010000;
	h.max_entries = entries;
	h.block_size = bs;
	end = h.table_offset + bat_bytes;

	if (parent) {
		char rel[4096];
		memcpy(h.parent_uuid, parent->footer.uuid, 16);
		h.parent_timestamp = vhd_time_from_unix(parent->mtime);
		/* parent name: the absolute path as Windows stores it, else the name */
		if (vhd_utf8_to_utf16(parent_abs, true, h.parent_name, sizeof(h.parent_name)) < 0 &&
		    vhd_utf8_to_utf16(io_basename(parent_abs), true, h.parent_name,
				      sizeof(h.parent_name)) < 0)
			return error_set(err, EXIT_USAGE, "parent file name '%s' is too long",
					 parent_abs);
		if (vhd_relative_path(child_dir, parent_abs, rel, sizeof(rel)) < 0)
			return error_set(err, EXIT_USAGE, "parent path '%s' is too long", parent_abs);
		loc1 = calloc(1, 65536);
		loc2 = calloc(1, 65536);
		if (!loc1 || !loc2) {
			error_set(err, EXIT_FAIL, "out of memory");
			goto out;
		}
		end = ALIGN_UP(end, 4096);
		if (fill_locator(&h.loc[0], VHD_PLAT_W2KU, parent_abs, end, loc1, 65536, &sp1) < 0) {
			error_set(err, EXIT_USAGE, "parent path '%s' is too long or not UTF-8",
				  parent_abs);
			goto out;
		}
		end += sp1;
		if (fill_locator(&h.loc[1], VHD_PLAT_W2RU, rel, end, loc2, 65536, &sp2) < 0) {
			error_set(err, EXIT_USAGE, "parent path '%s' is too long or not UTF-8", rel);
			goto out;
		}
		end += sp2;
	}
	vhd_footer_encode(&f, fb);
	vhd_header_encode(&h, hb);
	bat = malloc(bat_bytes);
	if (!bat) {
		error_set(err, EXIT_FAIL, "out of memory");
		goto out;
	}
	memset(bat, 0xff, bat_bytes);
	rc = write_all_at(fd, fb, sizeof(fb), 0, tmp, err);
	if (!rc)
		rc = write_all_at(fd, hb, sizeof(hb), VHD_FOOTER_SIZE, tmp, err);
	if (!rc)
		rc = write_all_at(fd, bat, bat_bytes, h.table_offset, tmp, err);
	if (!rc && parent)
		rc = write_all_at(fd, loc1, sp1, h.loc[0].offset, tmp, err);
	if (!rc && parent)
		rc = write_all_at(fd, loc2, sp2, h.loc[1].offset, tmp, err);
	if (!rc)
		rc = write_all_at(fd, fb, sizeof(fb), end, tmp, err);
	free(bat);
out:
	free(loc1);
	free(loc2);
	return rc;
}

static int write_fixed(int fd, const char *tmp, const struct vhd_create_opts *o,
		       struct error *err)
{
	struct vhd_footer f;
	uint8_t fb[VHD_FOOTER_SIZE];
	int e;

	init_footer(&f, VHD_TYPE_FIXED, o->size);
	if (uuid_generate(f.uuid) < 0)
		return error_errno(err, errno, "cannot generate a UUID");
	vhd_footer_encode(&f, fb);
	if (o->preallocate && (e = posix_fallocate(fd, 0, (off_t)o->size)) != 0)
		return error_errno(err, e, "cannot allocate %llu bytes for '%s'",
				   (unsigned long long)o->size, tmp);
	if (ftruncate(fd, (off_t)o->size) < 0)
		return error_errno(err, errno, "cannot size '%s'", tmp);
	return write_all_at(fd, fb, sizeof(fb), o->size, tmp, err);
}

int vhd_create(const char *path, const struct vhd_create_opts *o, struct error *err)
{
	char dir[PATH_MAX], dir_abs[PATH_MAX], parent_abs[PATH_MAX], tmp[PATH_MAX + 32];
	struct vhd *parent = NULL;
	struct stat st;
	int fd = -1, rc = -1;

	if (!o->force && lstat(path, &st) == 0)
		return error_set(err, EXIT_CANTCREAT, "'%s' already exists (--force replaces it)",
				 path);
	if (o->block_size && (o->block_size & (o->block_size - 1) || o->block_size < VHD_MIN_BLOCK ||
			      o->block_size > VHD_MAX_BLOCK))
		return error_set(err, EXIT_USAGE,
				 "block size %u is not a power of two between 4 KiB and 256 MiB",
				 o->block_size);
	if (o->parent) {
		parent = vhd_open(o->parent, DISK_RDONLY | o->parent_flags, err);
		if (!parent)
			return -1;
		int layers = 0;
		for (struct vhd *l = parent; l; l = l->parent)
			layers++;
		if (layers + 1 > VHD_MAX_DEPTH) {
			error_set(err, EXIT_FAIL, "a child of '%s' would make a chain of %d layers; "
				  "the limit is %d (merge some first)", o->parent, layers + 1,
				  VHD_MAX_DEPTH);
			goto out;
		}
		if (!realpath(o->parent, parent_abs)) {
			error_errno(err, errno, "cannot resolve '%s'", o->parent);
			goto out;
		}
	} else {
		if (o->size == 0 || o->size % VHD_SECTOR)
			return error_set(err, EXIT_USAGE,
					 "size %llu is not a positive multiple of 512 bytes",
					 (unsigned long long)o->size);
		if (o->size > VHD_MAX_SIZE)
			return error_set(err, EXIT_USAGE,
					 "size %llu bytes exceeds the VHD maximum of 2040 GiB",
					 (unsigned long long)o->size);
	}
	io_dirname(path, dir, sizeof(dir));
	if (!realpath(dir, dir_abs)) {
		error_errno(err, errno, "cannot use folder '%s'", dir);
		goto out;
	}
	fd = io_tmp_open(path, tmp, sizeof(tmp), err);   /* locked until closed, after the rename */
	if (fd < 0)
		goto out;
	if (fchmod(fd, 0600) < 0)
		rc = error_errno(err, errno, "cannot create '%s'", path);
	else if (parent || o->type == VHD_TYPE_DYNAMIC)
		rc = write_dynamic(fd, path, o, parent, parent_abs, dir_abs, err); /* messages name FILE */
	else
		rc = write_fixed(fd, path, o, err);
	if (rc == 0)
		crashpoint("create-written");
	if (rc == 0 && fsync(fd) < 0)
		rc = error_errno(err, errno, "cannot write '%s'", path);
	if (rc == 0)
		crashpoint("create-temp");
	if (rc == 0) {
		if (o->force)
			rc = rename(tmp, path);
		else
			rc = renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE);
		if (rc < 0 && errno == EEXIST)
			error_set(err, EXIT_CANTCREAT, "'%s' already exists (--force replaces it)",
				  path);
		else if (rc < 0)
			error_errno(err, errno, "cannot create '%s'", path);
	}
	if (rc == 0 && io_fsync_parent_dir(path) < 0) {
		rc = error_errno(err, errno, "cannot sync the folder of '%s'", path);
		/* failed means not created: the new name goes again (not one --force
		 * replaced, whose old content is gone either way) */
		if (!o->force && unlink(path) == 0)
			(void)io_fsync_parent_dir(path);
	}
	if (rc < 0)
		unlink(tmp);
out:
	if (fd >= 0)
		close(fd);
	vhd_close(parent);
	return rc;
}
