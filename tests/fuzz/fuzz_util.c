/* fuzz_util.c — temporary files for the fuzz targets (see fuzz_util.h). */
#include "fuzz_util.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "safeio.h"

static char dir[256];
static pid_t dir_owner;

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void cleanup(void)
{
	/* a forked child (libFuzzer -fork, the VMM's RAM writer) leaves it alone */
	if (dir[0] && getpid() == dir_owner)
		nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

const char *fuzz_tmpdir(void)
{
	if (!dir[0]) {
		/* tmpfs when there is one: the targets write and fsync files per input */
		const char *base = getenv("FUZZ_TMPDIR");
		if (!base || !*base)
			base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
		snprintf(dir, sizeof(dir), "%s/vmsnap-fuzz.XXXXXX", base && *base ? base : "/tmp");
		if (!mkdtemp(dir)) {
			perror("fuzz: mkdtemp");
			abort();
		}
		dir_owner = getpid();
		atexit(cleanup);
	}
	return dir;
}

char *fuzz_path(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/%s", fuzz_tmpdir(), name);
	return buf;
}

void fuzz_write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || io_write_full(fd, data, len) < 0) {
		perror(path);
		abort();
	}
	close(fd);
}

void fuzz_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: invariant broken: %s\n", file, line, what);
	abort();
}
