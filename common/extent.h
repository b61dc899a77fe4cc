/*
 * extent.h — where the data of a disk lives: an allocation map of any image
 * that disk_open() opens (raw files, VHD chains), for convert, compare and map.
 *
 * A raw file is one layer whose holes (SEEK_DATA/SEEK_HOLE) read as zeros;
 * a fixed VHD layer likewise. A dynamic or differencing chain is mapped with
 * vhd_map_range(): each range is served by one layer (depth 0 = top) or by
 * none, and then reads as zeros.
 *
 * Calling sequence:
 *   struct extent_map *m = extent_map_new(disk, &err);
 *   for (off = 0; off < disk->size; off += e.length) {
 *           if (extent_get(m, off, max_len, &e, &err) < 0) ...
 *           if (e.data) extent_read(m, &e, buf, &err);   e.length bytes
 *   }
 *   extent_map_free(m);      does not close the disk
 */
#ifndef VMSNAP_EXTENT_H
#define VMSNAP_EXTENT_H

#include <stdbool.h>
#include <stdint.h>

#include "disk.h"
#include "error.h"

struct extent {
	uint64_t start;      /* disk offset */
	uint64_t length;     /* > 0 */
	bool present;        /* a layer describes the range (raw holes included) */
	bool data;           /* it holds stored data; false: reads as zeros */
	int depth;           /* layer serving it, 0 = top; the chain length if none */
	const char *file;    /* that layer's file, NULL if none (owned by the disk) */
	uint64_t offset;     /* where the range starts in that file (if file) */
	int fd;              /* that file, for extent_read; -1 if none */
};

struct extent_map;

/* d stays owned by the caller and must outlive the map. NULL with err set. */
struct extent_map *extent_map_new(struct disk *d, struct error *err);
void extent_map_free(struct extent_map *m);

/* Number of layers (1 for raw files and single VHDs). */
int extent_map_layers(const struct extent_map *m);

/*
 * The extent starting at disk offset off (< disk size), at most max_len
 * (> 0) bytes long. Ranges are split where the serving layer, its file
 * offset run or data/hole state changes.
 */
int extent_get(struct extent_map *m, uint64_t off, uint64_t max_len, struct extent *e,
	       struct error *err);

/* Read the e->length bytes of e into buf (zeros when !e->data). */
int extent_read(struct extent_map *m, const struct extent *e, void *buf, struct error *err);

/* True when the n bytes at p are all zero. */
bool mem_is_zero(const void *p, size_t n);
/* Index of the first nonzero byte of p[0..n), or n. */
size_t mem_first_nonzero(const void *p, size_t n);
/* Index of the first byte where a and b differ, or n. */
size_t mem_first_diff(const void *a, const void *b, size_t n);

#endif
