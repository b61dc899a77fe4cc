/*
 * disk.h — one ops table for every user of a disk image (kvmtool style):
 * the VMM's virtio-blk, vhdtool and snapctl all read and write through it.
 *
 *   struct disk *d = disk_open("x.vhd", DISK_RDONLY, &err);
 *   d->ops->read(d, buf, len, off, &err);   any offset/length inside d->size
 *   disk_close(d);
 *
 * Implementations: VHD (fixed, dynamic, differencing chains; vhd.h) and raw
 * files. Handles are not thread-safe: callers serialize.
 */
#ifndef VMSNAP_DISK_H
#define VMSNAP_DISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct disk;

struct disk_ops {
	int (*read)(struct disk *d, void *buf, size_t len, uint64_t off, struct error *err);
	int (*write)(struct disk *d, const void *buf, size_t len, uint64_t off,
		     struct error *err);
	int (*flush)(struct disk *d, struct error *err);
	void (*close)(struct disk *d);
};

struct disk {
	const struct disk_ops *ops;
	uint64_t size;     /* virtual size in bytes */
	bool readonly;
	const char *path;
	const char *format; /* "vpc" or "raw" */
};

/* open flags (shared with vhd.h) */
#define DISK_RDONLY   0x01u
#define DISK_FORCE    0x02u  /* accept bad checksums and parent UUID mismatch */
#define DISK_NOSYNC   0x04u  /* no ordering fsyncs (new files; caller syncs at end) */
#define DISK_NOLOCK   0x08u  /* take no flock */
#define DISK_RAW      0x10u  /* open as raw even if it looks like a VHD */

/* Open a VHD (chain) or, if the file has no VHD footer, a raw image. */
struct disk *disk_open(const char *path, unsigned flags, struct error *err);
struct disk *disk_open_raw(const char *path, unsigned flags, struct error *err);
void disk_close(struct disk *d);

/* Range check helper: -1 (EXIT_USAGE) when [off, off+len) is outside the disk. */
int disk_check_range(const struct disk *d, size_t len, uint64_t off, struct error *err);

#endif
