#include "safeio.h"

#include "crashpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

ssize_t io_pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

int io_pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(fd, (const char *)buf + done, len - done, (off_t)(off + done));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		done += (size_t)n;
	}
	return 0;
}

ssize_t io_read_full(int fd, void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = read(fd, (char *)buf + done, len - done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

int io_write_full(int fd, const void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(fd, (const char *)buf + done, len - done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		done += (size_t)n;
	}
	return 0;
}

char *io_dirname(const char *path, char *buf, size_t size)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		snprintf(buf, size, ".");
	else if (slash == path)
		snprintf(buf, size, "/");
	else
		snprintf(buf, size, "%.*s", (int)(slash - path), path);
	return buf;
}

const char *io_basename(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

int io_fsync_parent_dir(const char *path)
{
	char dir[4096];
	int fd, rc, saved;

	io_dirname(path, dir, sizeof(dir));
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	rc = fsync(fd);
	saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

int io_atomic_write(const char *path, const void *data, size_t len, mode_t mode,
		    struct error *err)
{
	char dir[4096], tmp[4200];
	int fd;

	io_dirname(path, dir, sizeof(dir));
	if (snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, io_basename(path)) >= (int)sizeof(tmp))
		return error_set(err, EXIT_USAGE, "path too long: '%s'", path);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return error_errno(err, errno, "cannot write '%s' (a temporary file in '%s')", path,
				   dir);
	if (fchmod(fd, mode) < 0 || io_write_full(fd, data, len) < 0 || fsync(fd) < 0) {
		int saved = errno;
		close(fd);
		unlink(tmp);
		return error_errno(err, saved, "cannot write '%s'", path);
	}
	if (close(fd) < 0) {
		int saved = errno;
		unlink(tmp);
		return error_errno(err, saved, "cannot write '%s'", path);
	}
	crashpoint("atomic-write");
	if (rename(tmp, path) < 0) {
		int saved = errno;
		unlink(tmp);
		return error_errno(err, saved, "cannot replace '%s'", path);
	}
	if (io_fsync_parent_dir(path) < 0)
		return error_errno(err, errno, "cannot sync folder of '%s'", path);
	return 0;
}
