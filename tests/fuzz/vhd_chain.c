/*
 * vhd_chain.c — fuzz target: open and read a VHD chain of 1 to 3 files.
 *
 * Input: one option byte, then up to three files separated by the 8 bytes
 * "--next--": the child (c.avhd), its parent (p1.vhd) and grandparent
 * (p2.vhd), written to a private folder, so locators (W2ru ".\p1.vhd"),
 * parent names and UUIDs lead to the other fuzzed files. Option bits:
 * 1 VHD_LENIENT, 2 DISK_FORCE, 4 VHD_NOPARENT, 8 also write: the chain is
 * opened read-write (DISK_NOSYNC), three writes go to the top layer (aligned,
 * unaligned, at the end), and they must read back the same, also after the
 * file is closed and opened again.
 *
 * Exercised: vhd_open (footer, header, BAT, locators, parent lookup),
 * vhd_check_layer and the locator decoders on every layer, vhd_read of every
 * block (head and tail of each, and every run vhd_map_range reports), with
 * one invariant: what vhd_read returns for a run equals the bytes at the
 * place vhd_map_range says serve it (zeros for no layer).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "safeio.h"
#include "vhd.h"

#define SEP "--next--"
#define SEP_LEN 8
#define MAX_BLOCKS 2048
#define MAX_RUN (1u << 20)
#define MAX_MAP_STEPS 4096

static const char *const names[3] = { "c.avhd", "p1.vhd", "p2.vhd" };

static uint8_t *buf_a, *buf_b;

/*
 * What each of the three files holds now. libFuzzer mutates one place of an
 * input at a time, so most inputs leave one or two of the files as the input
 * before had them: those are not written again (a truncating rewrite of up
 * to 192 KiB in tmpfs per file was a tenth of the time). Read-only opens
 * leave the files alone; after the write option every file is rewritten.
 */
static struct {
	bool valid, present;
	uint8_t *data;
	size_t len;
} cache[3];

static void put_file(int i, const char *path, const uint8_t *data, size_t len)
{
	if (cache[i].valid && cache[i].present == (data != NULL) &&
	    (!data || (cache[i].len == len && memcmp(cache[i].data, data, len) == 0)))
		return;
	cache[i].valid = false;
	if (!data) {
		unlink(path);
		cache[i].present = false;
		cache[i].valid = true;
		return;
	}
	fuzz_write_file(path, data, len);
	uint8_t *copy = realloc(cache[i].data, len ? len : 1);
	if (!copy)
		abort();
	memcpy(copy, data, len);
	cache[i].data = copy;
	cache[i].len = len;
	cache[i].present = true;
	cache[i].valid = true;
}

static void read_check(struct vhd *v, uint64_t off, uint64_t len)
{
	struct error e;

	if (len > MAX_RUN)
		len = MAX_RUN;
	(void)vhd_read(v, buf_a, (size_t)len, off, &e);
}

/* Walk [off, end) with vhd_map_range and compare each run with vhd_read. */
static void map_walk(struct vhd *v, uint64_t off, uint64_t end)
{
	struct error e;

	for (int steps = 0; off < end && steps < MAX_MAP_STEPS; steps++) {
		uint64_t len = end - off, foff;
		struct vhd *layer;
		if (vhd_map_range(v, off, &len, &layer, &foff, &e) < 0)
			return;
		FUZZ_ASSERT(len > 0 && len <= end - off);
		uint64_t n = len < MAX_RUN ? len : MAX_RUN;
		if (vhd_read(v, buf_a, (size_t)n, off, &e) == 0) {
			if (!layer) {
				/* zeros: compared in place (no second 1 MiB buffer to fill) */
				FUZZ_ASSERT(n == 0 || (buf_a[0] == 0 &&
					    memcmp(buf_a, buf_a + 1, (size_t)n - 1) == 0));
			} else {
				ssize_t got = io_pread_full(layer->fd, buf_b, (size_t)n, foff);
				FUZZ_ASSERT(got >= 0);
				memset(buf_b + got, 0, (size_t)n - (size_t)got);
				FUZZ_ASSERT(memcmp(buf_a, buf_b, (size_t)n) == 0);
			}
		}
		off += len;
	}
}

static void read_all(struct vhd *v)
{
	uint64_t size = v->disk.size;
	uint64_t bs = v->footer.type == VHD_TYPE_FIXED ? size : v->block_size;
	uint64_t nblk = bs ? (size + bs - 1) / bs : 0;

	if (nblk > MAX_BLOCKS)
		nblk = MAX_BLOCKS;
	for (uint64_t b = 0; b < nblk; b++) {
		uint64_t start = b * bs, end = start + bs < size ? start + bs : size;
		read_check(v, start, end - start < 4096 ? end - start : 4096);
		if (end - start > 4096)
			read_check(v, end - 4096, 4096);
		if (start >= 100) /* unaligned, across the block boundary */
			read_check(v, start - 100, end - start < 300 ? end - start + 100 : 300);
		map_walk(v, start, end);
	}
	/* blocks the parents hold, read through the top */
	for (struct vhd *l = v->parent; l; l = l->parent) {
		if (l->footer.type == VHD_TYPE_FIXED)
			continue;
		for (uint32_t b = 0, seen = 0; b < l->bat_entries && seen < MAX_BLOCKS; b++) {
			if (!vhd_block_offset(l, b))
				continue;
			seen++;
			uint64_t start = (uint64_t)b * l->block_size;
			if (start < size)
				map_walk(v, start, start + l->block_size < size ? start + l->block_size
										: size);
		}
	}
}

static void decode_layer(struct vhd *l)
{
	char out[4096];
	struct error e;

	vhd_check_layer(l);
	if (l->footer.type != VHD_TYPE_DIFF)
		return;
	for (int i = 0; i < VHD_NUM_LOCATORS; i++)
		if (l->header.loc[i].code != VHD_PLAT_NONE)
			(void)vhd_locator_path(l, i, out, sizeof(out), &e);
	(void)vhd_parent_name(l, out, sizeof(out));
	(void)vhd_parent_name(l, out, 8); /* too small: must fail cleanly */
}

static void pattern(uint8_t *p, size_t n, uint64_t off)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)((off + i) * 131 + 7);
}

/* Three writes through the top layer; each must read back, before and after
 * a reopen. */
static void write_check(const char *path, unsigned flags)
{
	struct error e;
	struct vhd *v = vhd_open(path, flags, &e);
	uint64_t at[3], len[3];
	bool ok[3];

	if (!v)
		return;
	uint64_t size = v->disk.size;
	at[0] = 0, len[0] = 4096;
	at[1] = size / 2 > 100 ? size / 2 - 100 : 0, len[1] = 700;
	at[2] = size > 4096 ? size - 4096 : 0, len[2] = 4096;
	for (int i = 0; i < 3; i++) {
		if (at[i] >= size)
			len[i] = 0;
		else if (len[i] > size - at[i])
			len[i] = size - at[i];
		pattern(buf_a, (size_t)len[i], at[i]);
		ok[i] = len[i] && vhd_write(v, buf_a, (size_t)len[i], at[i], &e) == 0;
	}
	/* the pattern depends on the disk offset only, so overlapping writes agree */
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 3; i++) {
			if (!ok[i] || vhd_read(v, buf_b, (size_t)len[i], at[i], &e) < 0)
				continue;
			pattern(buf_a, (size_t)len[i], at[i]);
			FUZZ_ASSERT(memcmp(buf_a, buf_b, (size_t)len[i]) == 0);
		}
		if (round == 0) {
			vhd_close(v);
			v = vhd_open(path, flags | DISK_RDONLY, &e);
			FUZZ_ASSERT(v != NULL); /* a file we could write must open again */
		}
	}
	for (struct vhd *l = v; l; l = l->parent)
		vhd_check_layer(l);
	vhd_close(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *part[3], *p, *end;
	size_t plen[3];
	char path[3][512];
	int n = 0;
	struct error e;

	if (size < 1)
		return 0;
	if (!buf_a) {
		buf_a = malloc(MAX_RUN);
		buf_b = malloc(MAX_RUN);
		if (!buf_a || !buf_b)
			abort();
	}
	unsigned opt = data[0];
	p = data + 1;
	end = data + size;
	while (n < 3) {
		const uint8_t *s = n < 2 ? memmem(p, (size_t)(end - p), SEP, SEP_LEN) : NULL;
		part[n] = p;
		plen[n] = s ? (size_t)(s - p) : (size_t)(end - p);
		n++;
		if (!s)
			break;
		p = s + SEP_LEN;
	}
	for (int i = 0; i < 3; i++) {
		fuzz_path(path[i], sizeof(path[i]), names[i]);
		put_file(i, path[i], i < n ? part[i] : NULL, i < n ? plen[i] : 0);
	}

	unsigned flags = DISK_RDONLY | DISK_NOLOCK;
	if (opt & 1)
		flags |= VHD_LENIENT;
	if (opt & 2)
		flags |= DISK_FORCE;
	if (opt & 4)
		flags |= VHD_NOPARENT;
	(void)vhd_probe(path[0], &e);
	struct vhd *v = vhd_open(path[0], flags, &e);
	if (!v)
		return 0;
	for (struct vhd *l = v; l; l = l->parent)
		decode_layer(l);
	read_all(v);
	vhd_close(v);
	if (opt & 8) {
		for (int i = 0; i < 3; i++)
			cache[i].valid = false; /* written: the next input writes them again */
		write_check(path[0], (flags & ~(DISK_RDONLY | VHD_LENIENT)) | DISK_NOSYNC);
	}
	return 0;
}
