/*
 * faultinj.so — an LD_PRELOAD interposer that makes the Nth file operation of
 * a kind fail, for the fault tests (tests/bats/faults.bats).
 *
 *   VMSNAP_FAULT=KIND:N[:ERRNO]     KIND: write | sync | rename | any
 *                                   ERRNO: EIO (default), ENOSPC, EDQUOT, EROFS
 *   VMSNAP_FAULT_LOG=FILE           one line appended when the fault fires
 *   VMSNAP_FAULT_SKIP=NAME          calls on a file of that base name are not
 *                                   counted (e.g. op.lock, whose holder line
 *                                   is best effort by design)
 *
 * write: write, pwrite, writev, pwritev, copy_file_range, fallocate, ftruncate
 * (only on regular files: a message to stderr or a pipe is never failed);
 * sync: fsync, fdatasync, sync_file_range; rename: rename, renameat, renameat2.
 * Calls are counted per process from 1; the Nth of the kind fails with ERRNO
 * and does nothing. Children (fork) count on from their parent's count.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

enum kind { K_WRITE, K_SYNC, K_RENAME };

static int want_kind = -1;      /* -1: not configured; 3: any */
static long want_n;
static int want_errno = EIO;
static long counts[4];
static int configured;

static void configure(void)
{
	const char *s = getenv("VMSNAP_FAULT");
	char kind[16] = "", err[16] = "";
	long n = 0;

	configured = 1;
	if (!s || sscanf(s, "%15[a-z]:%ld:%15[A-Z]", kind, &n, err) < 2 || n < 1)
		return;
	if (!strcmp(kind, "write"))
		want_kind = K_WRITE;
	else if (!strcmp(kind, "sync"))
		want_kind = K_SYNC;
	else if (!strcmp(kind, "rename"))
		want_kind = K_RENAME;
	else if (!strcmp(kind, "any"))
		want_kind = 3;
	else
		return;
	want_n = n;
	if (!strcmp(err, "ENOSPC"))
		want_errno = ENOSPC;
	else if (!strcmp(err, "EDQUOT"))
		want_errno = EDQUOT;
	else if (!strcmp(err, "EROFS"))
		want_errno = EROFS;
}

/* the file an fd refers to, or "" */
static const char *fd_path(int fd, char *buf, size_t size)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, buf, size - 1);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static int skipped(const char *path)
{
	const char *skip = getenv("VMSNAP_FAULT_SKIP"), *b = strrchr(path, '/');

	return skip && *skip && !strcmp(b ? b + 1 : path, skip);
}

static void note(const char *what, long n, const char *path)
{
	const char *log = getenv("VMSNAP_FAULT_LOG");
	char line[4400];
	int fd, len;

	if (!log)
		return;
	len = snprintf(line, sizeof(line), "%s #%ld of '%s' failed with %s (pid %ld)\n", what, n,
		       path, strerrorname_np(want_errno) ? strerrorname_np(want_errno) : "?",
		       (long)getpid());
	fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0) {
		ssize_t w = write(fd, line, (size_t)len);   /* not counted: in_note */
		(void)w;
		close(fd);
	}
}

static int in_note;

/* 1 when this call (on fd, or on path when fd < 0) is the one to fail (errno set) */
static int fault(enum kind k, const char *what, int fd, const char *path)
{
	char buf[4096];
	long n;

	if (in_note)
		return 0;
	if (!configured)
		configure();
	if (want_kind < 0)
		return 0;
	if (fd >= 0)
		path = fd_path(fd, buf, sizeof(buf));
	if (skipped(path))
		return 0;
	n = ++counts[want_kind == 3 ? 3 : k];
	if ((want_kind != 3 && want_kind != (int)k) || n != want_n)
		return 0;
	in_note = 1;
	note(what, n, path);
	in_note = 0;
	errno = want_errno;
	return 1;
}

static int regular(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

#define REAL(name) ((__typeof__(&name))dlsym(RTLD_NEXT, #name))

ssize_t write(int fd, const void *buf, size_t n)
{
	if (regular(fd) && fault(K_WRITE, "write", fd, NULL))
		return -1;
	return REAL(write)(fd, buf, n);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	if (regular(fd) && fault(K_WRITE, "pwrite", fd, NULL))
		return -1;
	return REAL(pwrite)(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off)
{
	if (regular(fd) && fault(K_WRITE, "pwrite", fd, NULL))
		return -1;
	return REAL(pwrite64)(fd, buf, n, off);
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	if (regular(fd) && fault(K_WRITE, "writev", fd, NULL))
		return -1;
	return REAL(writev)(fd, iov, cnt);
}

ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	if (regular(fd) && fault(K_WRITE, "pwritev", fd, NULL))
		return -1;
	return REAL(pwritev)(fd, iov, cnt, off);
}

ssize_t pwritev64(int fd, const struct iovec *iov, int cnt, off64_t off)
{
	if (regular(fd) && fault(K_WRITE, "pwritev", fd, NULL))
		return -1;
	return REAL(pwritev64)(fd, iov, cnt, off);
}

ssize_t copy_file_range(int in, off64_t *inoff, int out, off64_t *outoff, size_t n,
			unsigned flags)
{
	if (fault(K_WRITE, "copy_file_range", out, NULL))
		return -1;
	return REAL(copy_file_range)(in, inoff, out, outoff, n, flags);
}

int fallocate(int fd, int mode, off_t off, off_t len)
{
	if (fault(K_WRITE, "fallocate", fd, NULL))
		return -1;
	return REAL(fallocate)(fd, mode, off, len);
}

int fallocate64(int fd, int mode, off64_t off, off64_t len)
{
	if (fault(K_WRITE, "fallocate", fd, NULL))
		return -1;
	return REAL(fallocate64)(fd, mode, off, len);
}

int ftruncate(int fd, off_t len)
{
	if (fault(K_WRITE, "ftruncate", fd, NULL))
		return -1;
	return REAL(ftruncate)(fd, len);
}

int ftruncate64(int fd, off64_t len)
{
	if (fault(K_WRITE, "ftruncate", fd, NULL))
		return -1;
	return REAL(ftruncate64)(fd, len);
}

int fsync(int fd)
{
	if (fault(K_SYNC, "fsync", fd, NULL))
		return -1;
	return REAL(fsync)(fd);
}

int fdatasync(int fd)
{
	if (fault(K_SYNC, "fdatasync", fd, NULL))
		return -1;
	return REAL(fdatasync)(fd);
}

int sync_file_range(int fd, off64_t off, off64_t n, unsigned flags)
{
	if (fault(K_SYNC, "sync_file_range", fd, NULL))
		return -1;
	return REAL(sync_file_range)(fd, off, n, flags);
}

int rename(const char *a, const char *b)
{
	if (fault(K_RENAME, "rename", -1, a))
		return -1;
	return REAL(rename)(a, b);
}

int renameat(int da, const char *a, int db, const char *b)
{
	if (fault(K_RENAME, "renameat", -1, a))
		return -1;
	return REAL(renameat)(da, a, db, b);
}

int renameat2(int da, const char *a, int db, const char *b, unsigned flags)
{
	if (fault(K_RENAME, "renameat2", -1, a))
		return -1;
	return REAL(renameat2)(da, a, db, b, flags);
}
