/*
 * vhd.h — VHD images (fixed, dynamic, differencing chains) behind the disk
 * ops table.
 *
 * Opening:
 *   struct vhd *v = vhd_open("child.avhd", flags, &err);   whole chain
 *   v->disk.ops->read(&v->disk, buf, len, off, &err);
 *   v->disk.ops->write(...)       writes go to the top layer only
 *   vhd_close(v);                 closes every layer
 *
 * Flags are the DISK_* flags of disk.h plus:
 *   VHD_NOPARENT  open one layer alone (info, check); reads of a
 *                 differencing layer then fail for sectors it does not hold
 *   VHD_LENIENT   record structural problems in v->problems instead of
 *                 failing (check); implies read-only
 *
 * Guarantees: footer (EOF-512 and the copy at 0) and dynamic header checked
 * (cookie, version, checksum, sizes, offsets) with overflow-safe arithmetic
 * before any allocation; every BAT entry checked against the file size.
 * New blocks are written data → bitmap → BAT entry → footer, with fdatasync
 * between the ordered steps unless DISK_NOSYNC.
 */
#ifndef VMSNAP_VHD_H
#define VMSNAP_VHD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "disk.h"
#include "error.h"
#include "vhd_format.h"

#define VHD_NOPARENT 0x100u
#define VHD_LENIENT  0x200u

#define VHD_MAX_DEPTH 64

enum vhd_severity { VHD_SEV_ERROR, VHD_SEV_LEAK, VHD_SEV_WARNING };

struct vhd_problem {
	enum vhd_severity sev;
	char *msg;
};

struct vhd {
	struct disk disk;          /* first: a struct vhd is a struct disk */
	char *path;
	int fd;
	unsigned flags;
	dev_t dev;
	ino_t ino;
	time_t mtime;
	uint64_t file_size;

	struct vhd_footer footer;  /* the footer in use */
	uint8_t footer_raw[VHD_FOOTER_SIZE];
	bool tail_ok;              /* valid footer (cookie) at EOF-512 */
	bool tail_checksum_ok;
	bool head_present;         /* footer copy at offset 0 (dynamic/diff) */
	bool head_checksum_ok;
	bool copies_equal;
	bool footer_checksum_ok;   /* of the footer in use */
	bool grow_pending;         /* fixed: a grow left the old footer's sector */
	uint64_t grow_sector;      /* (vhd_finish_grow) at this offset */

	struct vhd_header header;  /* dynamic and differencing only */
	bool header_checksum_ok;
	uint32_t *bat;
	uint32_t bat_entries;      /* entries covering the disk size */
	uint32_t block_size;
	uint32_t bitmap_bytes;     /* sector bitmap, padded to 512 */
	uint8_t **bitmaps;         /* per block, loaded on demand */
	struct vhd_runs **runs;    /* top layer of a chain: per block, which layer
				      serves which range (vhd_map.c), on demand */
	uint64_t meta_end;         /* end of header, BAT and locators */
	uint64_t next_free;        /* where the trailing footer is (or belongs) */
	uint64_t ref_end;          /* end of everything referenced (= next_free
				      unless a crash left space behind) */
	uint32_t allocated_blocks;

	struct vhd *parent;
	struct vhd *child;         /* the layer above (not owned) */
	char *parent_path;         /* resolved parent, NULL if none/unresolved */
	int depth;                 /* 0 for the top layer */

	struct vhd_problem *problems;
	int nproblems;
};

/*
 * Growing a fixed disk writes its new footer at the new end, then zeroes the
 * old footer's sector (the old end of the data): two writes. Until the
 * second is durable, the new footer carries that sector's offset in its
 * reserved bytes (VHD_GROW_MAGIC at VHD_GROW_MAGIC_OFF, the offset big
 * endian at VHD_GROW_SECTOR_OFF; vhd_resize clears them as its last step).
 * Shrinking one marks the old footer with the sector its new footer is
 * written to, before the write and the truncation.
 * A disk opened with the mark reads that sector as zeros whatever it holds,
 * so a kill between the writes leaves the old disk or the new one with zeros
 * there; a read-write open (vhd_open without DISK_RDONLY, vm_open for
 * writing) zeroes it and clears the mark (vhd_finish_grow); vhd_check_layer
 * warns.
 */
#define VHD_GROW_MAGIC "vmsnapGZ"
#define VHD_GROW_MAGIC_OFF 480
#define VHD_GROW_SECTOR_OFF 488
/* Zero the sector a grow left (through fd, opened for writing), then write
 * the footer without the mark; each step durable. No-op without the mark. */
int vhd_finish_grow(struct vhd *v, int fd, struct error *err);

/* 1 if the file carries a VHD footer (EOF or offset 0), 0 if not, -1 error. */
int vhd_probe(const char *path, struct error *err);

struct vhd *vhd_open(const char *path, unsigned flags, struct error *err);
void vhd_close(struct vhd *v);

/* Reads through the chain; writes go to the top layer. */
int vhd_read(struct vhd *v, void *buf, size_t len, uint64_t off, struct error *err);
int vhd_write(struct vhd *v, const void *buf, size_t len, uint64_t off, struct error *err);
int vhd_flush(struct vhd *v, struct error *err);
/* Sector-aligned write whose data is `len` bytes of file src_fd at src_off
 * (copied in the kernel where it can be). */
int vhd_write_from_fd(struct vhd *v, int src_fd, uint64_t src_off, size_t len, uint64_t off,
		      struct error *err);

/* Where a block's bitmap starts in the file, or 0 if unallocated. */
uint64_t vhd_block_offset(const struct vhd *v, uint32_t blk);
/* Sector bitmap of an allocated block (cached; MSB-first bits), NULL on error. */
uint8_t *vhd_bitmap(struct vhd *v, uint32_t blk, struct error *err);
/* End of the run of sectors with the same bit as the one at byte `pos` of the
 * block (bytes, clipped to `end`); *set is that bit. */
uint64_t vhd_bitmap_run(const uint8_t *bm, uint64_t pos, uint64_t end, bool *set);

/*
 * Which layer serves the disk range starting at `off` (vhd_map.c).
 * On return *len is shortened to the run served by one source; *layer is
 * the layer holding it (NULL: no layer does, it reads as zeros) and
 * *file_off where it starts in that layer's file.
 */
int vhd_map_range(struct vhd *v, uint64_t off, uint64_t *len, struct vhd **layer,
		  uint64_t *file_off, struct error *err);

/*
 * Chain reads through a per-block run list resolved once (vhd_map.c): a read
 * costs the same at any depth. Returns 1 when served, 0 when the caller must
 * take the layer-by-layer path (block too fragmented), -1 on error.
 */
int vhd_read_resolved(struct vhd *v, uint32_t blk, uint8_t *buf, size_t n, uint64_t in,
		      struct error *err);
/* Forget the run list of a block the top layer just wrote. */
void vhd_runs_invalidate(struct vhd *v, uint32_t blk);
void vhd_runs_free(struct vhd *v);

/* ---- parents (vhd_parent.c) ---- */

/* Decoded parent locator path (UTF-8, '/' separators); -1 if undecodable. */
int vhd_locator_path(struct vhd *v, int idx, char *out, size_t size, struct error *err);
/* Parent name field (UTF-16BE) as UTF-8. */
int vhd_parent_name(const struct vhd *v, char *out, size_t size);
/*
 * Find and open the parent of differencing layer v: W2ru relative to v's
 * folder, then W2ku, then the parent-name basename beside v. Checks UUID
 * (DISK_FORCE overrides), warns on timestamp mismatch, bounds depth and
 * detects cycles against the layers above. Sets v->parent, v->parent_path.
 */
int vhd_open_parent(struct vhd *v, unsigned flags, struct error *err);

/* One path vhd_open_parent looks at, and where it came from ("W2ru", "W2ku",
 * "Wi2r", "parent name"). */
#define VHD_MAX_PARENT_CANDIDATES 12
struct vhd_parent_candidate {
	char path[4096];
	const char *how;
};
/*
 * The paths vhd_open_parent tries for v's parent, in its order, duplicates
 * dropped: fills at most VHD_MAX_PARENT_CANDIDATES entries of c and returns
 * their number (0: no usable locator or name).
 */
int vhd_parent_candidates(struct vhd *v, struct vhd_parent_candidate *c);

/* ---- creation (vhd_create.c) ---- */

struct vhd_create_opts {
	enum vhd_type type;      /* fixed or dynamic; differencing when parent set */
	uint64_t size;           /* bytes, multiple of 512 (ignored with parent) */
	uint32_t block_size;     /* 0: parent's or 2 MiB */
	const char *parent;      /* parent path for a differencing disk */
	bool force;              /* replace an existing file */
	bool preallocate;        /* fixed: allocate the data area */
	unsigned parent_flags;   /* e.g. DISK_FORCE to accept a damaged parent */
};

/* Path of `to` relative to folder `from` (both absolute), Windows style
 * (".\\name", "..\\dir\\name"), as W2ru locators hold it; -1 if too long. */
int vhd_relative_path(const char *from, const char *to, char *out, size_t size);

/* Create atomically (temporary file, fsync, rename); 73 if it exists. */
int vhd_create(const char *path, const struct vhd_create_opts *o, struct error *err);

/* ---- checking (vhd_check.c) ---- */

/* Adds structural checks beyond open: overlaps, leaks, locators, bitmaps. */
void vhd_check_layer(struct vhd *v);
void vhd_add_problem(struct vhd *v, enum vhd_severity sev, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
