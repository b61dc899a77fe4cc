#include "safeio.h"

#include "crashpoint.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
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

/* ".<target>.XXXXXX" with six characters of mkstemp's alphabet: the target
 * name into out (when it fits) */
static bool temp_name(const char *name, char *out, size_t size)
{
	size_t n = strlen(name);

	if (n < 9 || name[0] != '.' || name[n - 7] != '.' || n - 8 >= size)
		return false;
	for (size_t i = n - 6; i < n; i++)
		if (!isalnum((unsigned char)name[i]))
			return false;
	memcpy(out, name + 1, n - 8);
	out[n - 8] = '\0';
	return true;
}

static int sweep(const char *dir, const char *base, bool (*want)(const char *target))
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int removed = 0;
	time_t now = time(NULL);
	char target[256];

	if (!d)
		return errno == ENOENT ? 0 : -1;
	while ((e = readdir(d))) {
		struct stat st;
		int fd;

		if (!temp_name(e->d_name, target, sizeof(target)) || (want && !want(target)))
			continue;
		if (base && strcmp(target, base)) {
			/* a temporary of a temporary of base (vhd_create under convert) */
			char inner[256];
			if (!temp_name(target, inner, sizeof(inner)) || strcmp(inner, base))
				continue;
		}
		fd = openat(dirfd(d), e->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC |
			    O_NOCTTY);
		if (fd < 0)
			continue;
		/* a writer alive holds its lock; a fresh file may not have it yet */
		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1 &&
		    now - st.st_mtime >= IO_TEMP_GRACE && flock(fd, LOCK_EX | LOCK_NB) == 0 &&
		    unlinkat(dirfd(d), e->d_name, 0) == 0)
			removed++;
		close(fd);
	}
	closedir(d);
	if (removed) {
		int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0) {
			(void)fsync(fd);
			close(fd);
		}
	}
	return removed;
}

int io_sweep_temps(const char *dir, const char *base)
{
	return sweep(dir, base, NULL);
}

int io_sweep_temps_if(const char *dir, bool (*want)(const char *target))
{
	return sweep(dir, NULL, want);
}

int io_tmp_open(const char *path, char *tmp, size_t size, struct error *err)
{
	char dir[4096];
	int fd;

	io_dirname(path, dir, sizeof(dir));
	if (snprintf(tmp, size, "%s/.%s.XXXXXX", dir, io_basename(path)) >= (int)size)
		return error_set(err, EXIT_USAGE, "path too long: '%s'", path);
	(void)io_sweep_temps(dir, io_basename(path));   /* left by a killed writer */
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return error_errno(err, errno, "cannot create '%s' (a temporary file in '%s')",
				   path, dir);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {  /* new: nobody else has it */
		int saved = errno;
		close(fd);
		unlink(tmp);
		return error_errno(err, saved, "cannot lock '%s'", tmp);
	}
	return fd;
}

int io_atomic_write(const char *path, const void *data, size_t len, mode_t mode,
		    struct error *err)
{
	char tmp[4200];
	int fd, saved;

	fd = io_tmp_open(path, tmp, sizeof(tmp), err);
	if (fd < 0)
		return -1;
	if (fchmod(fd, mode) < 0 || io_write_full(fd, data, len) < 0 || fsync(fd) < 0) {
		saved = errno;
		close(fd);
		unlink(tmp);
		return error_errno(err, saved, "cannot write '%s'", path);
	}
	crashpoint("atomic-write");
	/* the lock stays until the rename, so no sweep takes the file */
	if (rename(tmp, path) < 0) {
		saved = errno;
		unlink(tmp);
		close(fd);
		return error_errno(err, saved, "cannot replace '%s'", path);
	}
	if (close(fd) < 0) {
		/* on Linux close after fsync reports nothing new; the data is in */
		saved = errno;
		return error_errno(err, saved, "cannot write '%s'", path);
	}
	if (io_fsync_parent_dir(path) < 0)
		return error_errno(err, errno, "cannot sync folder of '%s'", path);
	return 0;
}
