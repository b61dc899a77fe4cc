#include "disk.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safeio.h"
#include "vhd.h"

struct raw_disk {
	struct disk disk;
	int fd;
	unsigned flags;
	char *path;
};

int disk_check_range(const struct disk *d, size_t len, uint64_t off, struct error *err)
{
	if (off > d->size || len > d->size - off)
		return error_set(err, EXIT_USAGE,
				 "'%s': range %llu+%zu is outside the disk (size %llu bytes)", d->path,
				 (unsigned long long)off, len, (unsigned long long)d->size);
	return 0;
}

static int raw_read(struct disk *d, void *buf, size_t len, uint64_t off, struct error *err)
{
	struct raw_disk *r = (struct raw_disk *)d;
	ssize_t n;

	if (disk_check_range(d, len, off, err) < 0)
		return -1;
	n = io_pread_full(r->fd, buf, len, off);
	if (n < 0)
		return error_errno(err, errno, "cannot read '%s'", r->path);
	if ((size_t)n < len)
		memset((char *)buf + n, 0, len - (size_t)n);
	return 0;
}

static int raw_write(struct disk *d, const void *buf, size_t len, uint64_t off,
		     struct error *err)
{
	struct raw_disk *r = (struct raw_disk *)d;

	if (d->readonly)
		return error_set(err, EXIT_NOPERM, "'%s' is open read-only", r->path);
	if (disk_check_range(d, len, off, err) < 0)
		return -1;
	if (io_pwrite_full(r->fd, buf, len, off) < 0)
		return error_errno(err, errno, "cannot write '%s'", r->path);
	return 0;
}

static int raw_flush(struct disk *d, struct error *err)
{
	struct raw_disk *r = (struct raw_disk *)d;

	if (!d->readonly && fdatasync(r->fd) < 0)
		return error_errno(err, errno, "cannot sync '%s'", r->path);
	return 0;
}

static void raw_close(struct disk *d)
{
	struct raw_disk *r = (struct raw_disk *)d;

	close(r->fd);
	free(r->path);
	free(r);
}

static const struct disk_ops raw_ops = { raw_read, raw_write, raw_flush, raw_close };

struct disk *disk_open_raw(const char *path, unsigned flags, struct error *err)
{
	struct raw_disk *r;
	struct stat st;
	int fd;

	fd = open(path, ((flags & DISK_RDONLY) ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOCTTY |
			O_NONBLOCK);
	if (fd < 0) {
		error_errno(err, errno, "cannot open '%s'", path);
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))) {
		close(fd);
		error_set(err, EXIT_DATAERR, "'%s' is not a regular file or block device", path);
		return NULL;
	}
	if (!(flags & DISK_NOLOCK) &&
	    flock(fd, ((flags & DISK_RDONLY) ? LOCK_SH : LOCK_EX) | LOCK_NB) < 0) {
		close(fd);
		error_set(err, EXIT_TEMPFAIL, "'%s' is in use by another process", path);
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (!r || !(r->path = strdup(path))) {
		free(r);
		close(fd);
		error_set(err, EXIT_FAIL, "out of memory");
		return NULL;
	}
	r->fd = fd;
	r->flags = flags;
	r->disk.ops = &raw_ops;
	r->disk.readonly = flags & DISK_RDONLY;
	r->disk.path = r->path;
	r->disk.format = "raw";
	if (S_ISBLK(st.st_mode)) {
		off_t end = lseek(fd, 0, SEEK_END);
		r->disk.size = end < 0 ? 0 : (uint64_t)end;
	} else {
		r->disk.size = (uint64_t)st.st_size;
	}
	return &r->disk;
}

struct disk *disk_open(const char *path, unsigned flags, struct error *err)
{
	struct vhd *v;

	if (!(flags & DISK_RAW)) {
		int kind = vhd_probe(path, err);
		if (kind < 0)
			return NULL;
		if (kind == 1) {
			v = vhd_open(path, flags, err);
			return v ? &v->disk : NULL;
		}
	}
	return disk_open_raw(path, flags, err);
}

void disk_close(struct disk *d)
{
	if (d)
		d->ops->close(d);
}
