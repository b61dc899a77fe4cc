/*
 * test-tool — exposes small internals to the shell tests (git's test-tool idea).
 *
 *   test-tool pattern SEED LENGTH        seeded pseudo-random bytes on stdout
 *   test-tool poke FILE OFFSET HEX       overwrite bytes at OFFSET (hex string)
 *   test-tool peek FILE OFFSET LENGTH    print bytes at OFFSET as hex
 *   test-tool vhd-resum FILE             recompute footer (both copies) and
 *                                        dynamic header checksums in place
 *   test-tool randread FILE SEED COUNT   COUNT random 4 KiB reads through the
 *                                        chain; prints seconds taken
 *   test-tool scribble SEED COUNT MAXLEN SIZE
 *                                        print COUNT "offset length seed" lines
 *                                        of random writes inside SIZE bytes
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "endian.h"
#include "safeio.h"
#include "vhd.h"
#include "vhd_format.h"
#include <time.h>

static uint64_t rng_state;

static uint64_t next(void)
{
	/* splitmix64: seeded, portable, good enough for test data */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static int die(const char *msg)
{
	fprintf(stderr, "test-tool: %s: %s\n", msg, errno ? strerror(errno) : "failed");
	return 1;
}

static int pattern(uint64_t seed, uint64_t len)
{
	uint8_t buf[65536];

	rng_state = seed;
	while (len) {
		size_t n = len < sizeof(buf) ? (size_t)len : sizeof(buf);
		for (size_t i = 0; i < n; i += 8) {
			uint64_t r = next();
			memcpy(buf + i, &r, n - i < 8 ? n - i : 8);
		}
		if (io_write_full(STDOUT_FILENO, buf, n) < 0)
			return die("write");
		len -= n;
	}
	return 0;
}

static int poke(const char *file, uint64_t off, const char *hex)
{
	size_t n = strlen(hex) / 2;
	uint8_t *b = malloc(n + 1);
	int fd = open(file, O_WRONLY);

	if (!b || fd < 0 || strlen(hex) % 2)
		return die("poke");
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return die("bad hex");
		b[i] = (uint8_t)v;
	}
	if (io_pwrite_full(fd, b, n, off) < 0)
		return die("pwrite");
	close(fd);
	free(b);
	return 0;
}

static int peek(const char *file, uint64_t off, uint64_t len)
{
	uint8_t b[4096];
	int fd = open(file, O_RDONLY);

	if (fd < 0 || len > sizeof(b))
		return die("peek");
	ssize_t n = io_pread_full(fd, b, (size_t)len, off);
	for (ssize_t i = 0; i < n; i++)
		printf("%02x", b[i]);
	printf("\n");
	close(fd);
	return 0;
}

static int resum(const char *file)
{
	uint8_t f[VHD_FOOTER_SIZE], h[VHD_HEADER_SIZE];
	struct stat st;
	int fd = open(file, O_RDWR);

	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size < 512)
		return die("open");
	uint64_t tail = (uint64_t)st.st_size - 512;
	for (int copy = 0; copy < 2; copy++) {
		uint64_t at = copy ? 0 : tail;
		if (io_pread_full(fd, f, sizeof(f), at) != (ssize_t)sizeof(f) || memcmp(f, "conectix", 8))
			continue;
		put_be32(f + 64, vhd_checksum(f, sizeof(f), 64));
		io_pwrite_full(fd, f, sizeof(f), at);
		if (copy == 0 && get_be32(f + 60) != 2) {
			uint64_t ho = get_be64(f + 16);
			if (io_pread_full(fd, h, sizeof(h), ho) == (ssize_t)sizeof(h)) {
				put_be32(h + 36, vhd_checksum(h, sizeof(h), 36));
				io_pwrite_full(fd, h, sizeof(h), ho);
			}
		}
	}
	close(fd);
	return 0;
}

static int scribble(uint64_t seed, unsigned count, uint64_t maxlen, uint64_t size)
{
	rng_state = seed;
	for (unsigned i = 0; i < count; i++) {
		uint64_t len = 1 + next() % maxlen;
		if (len > size)
			len = size;
		uint64_t off = next() % (size - len + 1);
		/* half the writes sector-aligned, half at any byte */
		if (next() & 1) {
			off &= ~511ULL;
			len = (len + 511) & ~511ULL;
			if (off + len > size)
				len = size - off;
		}
		printf("%" PRIu64 " %" PRIu64 " %" PRIu64 "\n", off, len, next());
	}
	return 0;
}

static int randread(const char *file, uint64_t seed, unsigned count)
{
	struct error e;
	struct vhd *v = vhd_open(file, DISK_RDONLY, &e);
	uint8_t buf[4096];
	struct timespec t0, t1;
	uint64_t sum = 0;

	if (!v) {
		fprintf(stderr, "test-tool: %s\n", e.msg);
		return 1;
	}
	rng_state = seed;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned i = 0; i < count; i++) {
		uint64_t off = (next() % (v->disk.size / 4096)) * 4096;
		if (vhd_read(v, buf, sizeof(buf), off, &e) < 0) {
			fprintf(stderr, "test-tool: %s\n", e.msg);
			return 1;
		}
		sum += buf[0];
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%.6f %llu\n", (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9,
	       (unsigned long long)sum);
	vhd_close(v);
	return 0;
}

/* test-tool fnv [FILE]: FNV-1a 64 of FILE (default stdin) as 0x%016x, the
 * form the test guest's "blk sum" answers with (tests/guest/README.md) */
static int fnv(const char *file)
{
	uint8_t buf[65536];
	uint64_t h = 0xcbf29ce484222325ULL;
	int fd = file && strcmp(file, "-") ? open(file, O_RDONLY) : STDIN_FILENO;
	ssize_t n;

	if (fd < 0)
		return die(file);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < n; i++)
			h = (h ^ buf[i]) * 0x100000001b3ULL;
	if (n < 0)
		return die("read");
	printf("0x%016" PRIx64 "\n", h);
	return 0;
}

int main(int argc, char **argv)
{
	errno = 0;
	if ((argc == 2 || argc == 3) && strcmp(argv[1], "fnv") == 0)
		return fnv(argc == 3 ? argv[2] : NULL);
	if (argc == 4 && strcmp(argv[1], "pattern") == 0)
		return pattern(strtoull(argv[2], NULL, 0), strtoull(argv[3], NULL, 0));
	if (argc == 5 && strcmp(argv[1], "poke") == 0)
		return poke(argv[2], strtoull(argv[3], NULL, 0), argv[4]);
	if (argc == 5 && strcmp(argv[1], "peek") == 0)
		return peek(argv[2], strtoull(argv[3], NULL, 0), strtoull(argv[4], NULL, 0));
	if (argc == 3 && strcmp(argv[1], "vhd-resum") == 0)
		return resum(argv[2]);
	if (argc == 5 && strcmp(argv[1], "randread") == 0)
		return randread(argv[2], strtoull(argv[3], NULL, 0), (unsigned)strtoul(argv[4], NULL, 0));
	if (argc == 6 && strcmp(argv[1], "scribble") == 0)
		return scribble(strtoull(argv[2], NULL, 0), (unsigned)strtoul(argv[3], NULL, 0),
				strtoull(argv[4], NULL, 0), strtoull(argv[5], NULL, 0));
	if (argc == 6 && strcmp(argv[1], "zeropage") == 0) { /* KERNEL MEM CMDLINE INITRD_LEN: zeropage.c */
		int tt_zeropage(const char *, uint64_t, const char *, uint64_t);
		return tt_zeropage(argv[2], strtoull(argv[3], NULL, 0), argv[4], strtoull(argv[5], NULL, 0));
	}
	fprintf(stderr, "usage: test-tool pattern|poke|peek|vhd-resum|scribble ...\n");
	return 64;
}
