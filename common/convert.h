/*
 * convert.h — copy any disk (raw file, VHD chain: flattened) into a new raw
 * file or VHD, crash-safely: the output is built in a temporary file beside
 * DST, synced once at the end and renamed into place (no replace unless
 * force), then the folder is synced. An interrupted or failed conversion
 * leaves DST untouched and removes the temporary file.
 *
 * Ranges the source does not hold (unallocated VHD blocks, holes of a raw
 * file) are not read; 4 KiB pages of zeros are not written: they stay holes
 * in raw and fixed output and unallocated blocks in dynamic output.
 *
 *   struct convert_opts o = { .format = CONVERT_VHD, .type = VHD_TYPE_DYNAMIC };
 *   struct disk *src = disk_open(path, DISK_RDONLY, &err);
 *   convert_disk(src, "dst.vhd", &o, &stats, &err);
 *   disk_close(src);
 */
#ifndef VMSNAP_CONVERT_H
#define VMSNAP_CONVERT_H

#include <stdbool.h>
#include <stdint.h>

#include "disk.h"
#include "error.h"
#include "vhd_format.h"

enum convert_format { CONVERT_RAW, CONVERT_VHD };

/* Called after each chunk; a nonzero return stops the conversion. */
typedef int (*convert_progress_fn)(void *ctx, uint64_t done, uint64_t total);

struct convert_opts {
	enum convert_format format;
	enum vhd_type type;          /* VHD output: VHD_TYPE_FIXED or VHD_TYPE_DYNAMIC */
	uint32_t block_size;         /* dynamic output; 0: 2 MiB */
	bool force;                  /* replace an existing DST */
	convert_progress_fn progress;
	void *ctx;
};

struct convert_stats {
	uint64_t size;               /* virtual size of the output */
	uint64_t data_bytes;         /* bytes written */
	uint64_t zero_bytes;         /* bytes left as holes / unallocated */
	bool padded;                 /* raw source size rounded up to 512 for VHD */
};

/*
 * 0, or -1 with err: 73 when DST exists (without force), 64 for options
 * the output cannot have (block size, size beyond 2040 GiB), 74 on I/O
 * errors, 1 with "interrupted" when progress stopped it.
 */
int convert_disk(struct disk *src, const char *dst, const struct convert_opts *o,
		 struct convert_stats *st, struct error *err);

#endif
