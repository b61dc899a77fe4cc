/* convert.c — any disk into a new raw file or VHD, crash-safely. */
#include "convert.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "extent.h"
#include "safeio.h"
#include "vhd.h"

#define CHUNK (2u << 20)            /* read size: one default VHD block */
#define PAGE 4096u                  /* zero detection granularity */
#define WRITEBACK_EVERY (32u << 20) /* start writeback after this much output */

struct sink {
	const char *dst;
	const char *tmp;
	int fd;                     /* the temporary file (raw) or v->fd */
	struct vhd *v;              /* VHD output, NULL for raw */
	uint64_t unflushed;
};

static int sink_write(struct sink *s, const uint8_t *buf, size_t n, uint64_t off,
		      struct error *err)
{
	if (s->v) {
		if (vhd_write(s->v, buf, n, off, err) < 0)
			return -1;
	} else if (io_pwrite_full(s->fd, buf, n, off) < 0) {
		return error_errno(err, errno, "cannot write '%s'", s->tmp);
	}
	s->unflushed += n;
	if (s->unflushed >= WRITEBACK_EVERY) {
		/* get the disk busy now: the fsync at the end has less to wait for */
		sync_file_range(s->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
		s->unflushed = 0;
	}
	return 0;
}

/* Write the runs of nonzero pages (aligned to disk offsets) of buf. */
static int write_nonzero(struct sink *s, const uint8_t *buf, size_t len, uint64_t off,
			 struct convert_stats *st, struct error *err)
{
	size_t pos = 0, run, end;

	while (pos < len) {
		end = (size_t)(((off + pos) / PAGE + 1) * PAGE - off);
		if (end > len)
			end = len;
		if (mem_is_zero(buf + pos, end - pos)) {
			st->zero_bytes += end - pos;
			pos = end;
			continue;
		}
		run = pos;
		pos = end;
		while (pos < len) {
			end = pos + PAGE < len ? pos + PAGE : len;
			if (mem_is_zero(buf + pos, end - pos))
				break;
			pos = end;
		}
		if (sink_write(s, buf + run, pos - run, off + run, err) < 0)
			return -1;
		st->data_bytes += pos - run;
	}
	return 0;
}

static int copy_data(struct disk *src, struct sink *s, const struct convert_opts *o,
		     struct convert_stats *st, struct error *err)
{
	struct extent_map *m;
	struct extent e;
	uint8_t *buf = NULL;
	uint64_t off = 0;
	int rc = -1;

	m = extent_map_new(src, err);
	if (!m)
		return -1;
	if (posix_memalign((void **)&buf, PAGE, CHUNK)) {
		error_set(err, EXIT_FAIL, "out of memory");
		goto out;
	}
	while (off < src->size) {
		if (extent_get(m, off, CHUNK - off % CHUNK, &e, err) < 0)
			goto out;
		if (!e.data) {
			st->zero_bytes += e.length;
		} else if (extent_read(m, &e, buf, err) < 0 ||
			   write_nonzero(s, buf, (size_t)e.length, off, st, err) < 0) {
			goto out;
		}
		off += e.length;
		if (o->progress && o->progress(o->ctx, off, src->size)) {
			error_set(err, EXIT_FAIL, "interrupted");
			goto out;
		}
	}
	rc = 0;
out:
	free(buf);
	extent_map_free(m);
	return rc;
}

/* A new, empty image of the output format at tmp (which exists, empty). */
static int open_sink(struct sink *s, uint64_t size, const struct convert_opts *o,
		     struct error *err)
{
	struct vhd_create_opts co = {
		.type = o->type, .size = size, .block_size = o->block_size, .force = true,
	};

	if (o->format == CONVERT_RAW) {
		if (ftruncate(s->fd, (off_t)size) < 0)
			return error_errno(err, errno, "cannot size '%s'", s->tmp);
		return 0;
	}
	close(s->fd);
	s->fd = -1;
	if (vhd_create(s->tmp, &co, err) < 0)
		return -1;
	/* a new file nobody else knows: no ordering syncs, one fsync at the end */
	s->v = vhd_open(s->tmp, DISK_NOSYNC, err);
	if (!s->v)
		return -1;
	s->fd = s->v->fd;
	return 0;
}

static int finish(struct sink *s, const struct convert_opts *o, struct error *err)
{
	int rc;

	if (fsync(s->fd) < 0)
		return error_errno(err, errno, "cannot write '%s'", s->tmp);
	if (s->v) {
		vhd_close(s->v);
		s->v = NULL;
	} else if (close(s->fd) < 0) {
		s->fd = -1;
		return error_errno(err, errno, "cannot write '%s'", s->tmp);
	}
	s->fd = -1;
	if (o->force)
		rc = rename(s->tmp, s->dst);
	else
		rc = renameat2(AT_FDCWD, s->tmp, AT_FDCWD, s->dst, RENAME_NOREPLACE);
	if (rc < 0 && errno == EEXIST)
		return error_set(err, EXIT_CANTCREAT, "'%s' already exists (--force replaces it)",
				 s->dst);
	if (rc < 0)
		return error_errno(err, errno, "cannot create '%s'", s->dst);
	if (io_fsync_parent_dir(s->dst) < 0) {
		error_errno(err, errno, "cannot sync the folder of '%s'", s->dst);
		/* failed means not created (see vhd_create) */
		if (!o->force && unlink(s->dst) == 0)
			(void)io_fsync_parent_dir(s->dst);
		return -1;
	}
	return 0;
}

int convert_disk(struct disk *src, const char *dst, const struct convert_opts *o,
		 struct convert_stats *st, struct error *err)
{
	char tmp[PATH_MAX + 32];
	struct sink s = { .dst = dst, .tmp = tmp, .fd = -1 };
	struct stat sb;
	uint64_t size = src->size;
	int rc = -1;

	memset(st, 0, sizeof(*st));
	if (!o->force && lstat(dst, &sb) == 0)
		return error_set(err, EXIT_CANTCREAT, "'%s' already exists (--force replaces it)",
				 dst);
	if (o->format == CONVERT_VHD) {
		if (size == 0)
			return error_set(err, EXIT_DATAERR, "'%s' is empty: a VHD cannot hold 0 bytes",
					 src->path);
		if (size % VHD_SECTOR) {
			size += VHD_SECTOR - size % VHD_SECTOR;
			st->padded = true;
		}
		if (size > VHD_MAX_SIZE)
			return error_set(err, EXIT_DATAERR, "'%s' is %llu bytes: a VHD holds at most "
					 "2040 GiB", src->path, (unsigned long long)src->size);
	}
	st->size = size;
	/* locked while we write it (a VHD: by vhd_open), so no sweep takes it */
	s.fd = io_tmp_open(dst, tmp, sizeof(tmp), err);
	if (s.fd < 0)
		return -1;
	if (open_sink(&s, size, o, err) < 0 || copy_data(src, &s, o, st, err) < 0 ||
	    finish(&s, o, err) < 0)
		goto out;
	rc = 0;
out:
	if (rc < 0) {
		if (strcmp(err->msg, "interrupted") != 0 && strstr(err->msg, io_basename(tmp)))
			error_prefix(err, "converting to '%s'", dst);
		unlink(tmp);
	}
	if (s.v)
		vhd_close(s.v);
	else if (s.fd >= 0)
		close(s.fd);
	return rc;
}
