/* safeio: temporary files, and the sweep of those a killed writer left. */
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "error.h"
#include "safeio.h"
#include "unit.h"

/* a file at dir/name, its mtime `age` seconds ago */
static void put(const char *dir, const char *name, int age)
{
	char p[4096];
	struct timeval tv[2];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	gettimeofday(&tv[0], NULL);
	tv[0].tv_sec -= age;
	tv[1] = tv[0];
	CHECK(utimes(p, tv) == 0);
}

static int there(const char *dir, const char *name)
{
	char p[4096];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return lstat(p, &st) == 0;
}

static const char *sweepdir(const char *sub)
{
	static char d[4096];

	snprintf(d, sizeof(d), "%s/%s", unit_tmpdir(), sub);
	mkdir(d, 0700);
	return d;
}

TEST(sweep_takes_only_stale_unlocked_temporaries)
{
	const char *d = sweepdir("sweep1");
	char held[4096];
	int hfd;

	put(d, ".a.vhd.Ab12Cd", 60);      /* stale: goes */
	put(d, "..a.vhd.Ab12Cd.xY34zW", 60); /* a temporary's temporary: goes */
	put(d, ".a.vhd.Ef34Gh", 0);       /* fresh: its writer may not have locked it yet */
	put(d, ".a.vhd.Ij56Kl", 60);      /* old but a live writer holds it */
	put(d, ".b.vhd.Mn78Op", 60);      /* another target */
	put(d, ".a.vhd.merge", 60);       /* not a temporary name */
	put(d, "a.vhd", 60);
	snprintf(held, sizeof(held), "%s/.a.vhd.Ij56Kl", d);
	hfd = open(held, O_RDONLY);
	CHECK(hfd >= 0 && flock(hfd, LOCK_EX) == 0);
	CHECK_EQ_U64(io_sweep_temps(d, "a.vhd"), 2);
	CHECK(!there(d, ".a.vhd.Ab12Cd"));
	CHECK(!there(d, "..a.vhd.Ab12Cd.xY34zW"));
	CHECK(there(d, ".a.vhd.Ef34Gh"));
	CHECK(there(d, ".a.vhd.Ij56Kl"));
	CHECK(there(d, ".b.vhd.Mn78Op"));
	CHECK(there(d, ".a.vhd.merge"));
	CHECK(there(d, "a.vhd"));
	close(hfd);                             /* the writer died: now it goes */
	CHECK_EQ_U64(io_sweep_temps(d, NULL), 2);  /* .a.vhd.Ij56Kl and .b.vhd.Mn78Op */
	CHECK(there(d, ".a.vhd.Ef34Gh"));
	CHECK(there(d, "a.vhd"));
}

TEST(sweep_never_follows_or_removes_a_symlink)
{
	const char *d = sweepdir("sweep2");
	char p[4096];

	put(d, "victim", 60);
	snprintf(p, sizeof(p), "%s/.x.vhd.Qr90St", d);
	CHECK(symlink("victim", p) == 0);
	CHECK_EQ_U64(io_sweep_temps(d, NULL), 0);
	CHECK(there(d, ".x.vhd.Qr90St"));
	CHECK(there(d, "victim"));
	CHECK_EQ_U64(io_sweep_temps("/nonexistent/folder", NULL), 0);
}

static bool only_avhd(const char *t)
{
	size_t n = strlen(t);

	return n > 5 && strcmp(t + n - 5, ".avhd") == 0;
}

TEST(sweep_if_asks_about_each_target)
{
	const char *d = sweepdir("sweep3");

	put(d, ".l.avhd.Uv12Wx", 60);
	put(d, ".l.vhd.Yz34Ab", 60);
	CHECK_EQ_U64(io_sweep_temps_if(d, only_avhd), 1);
	CHECK(!there(d, ".l.avhd.Uv12Wx"));
	CHECK(there(d, ".l.vhd.Yz34Ab"));
}

TEST(tmp_open_locks_and_sweeps_its_target)
{
	const char *d = sweepdir("sweep4");
	char target[4096], tmp[4200];
	int fd, other;
	struct error e;

	put(d, ".t.vhd.Cd56Ef", 60);
	snprintf(target, sizeof(target), "%s/t.vhd", d);
	fd = io_tmp_open(target, tmp, sizeof(tmp), &e);
	CHECK(fd >= 0);
	CHECK(!there(d, ".t.vhd.Cd56Ef"));
	other = open(tmp, O_RDONLY);
	CHECK(other >= 0 && flock(other, LOCK_EX | LOCK_NB) < 0);   /* held by fd */
	if (other >= 0)
		close(other);
	close(fd);
	unlink(tmp);
	/* io_atomic_write leaves nothing but the target */
	CHECK(io_atomic_write(target, "x", 1, 0600, &e) == 0);
	CHECK_EQ_U64(io_sweep_temps(d, NULL), 0);
}
