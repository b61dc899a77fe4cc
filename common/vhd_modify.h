/*
 * vhd_modify.h — change an existing VHD in place, crash-safely: relink a
 * differencing child to a moved parent (Set-VHD -ParentPath), resize
 * (Resize-VHD), compact (Optimize-VHD) and repair.
 *
 * Each call locks the file (flock LOCK_EX, or LOCK_SH for dry runs; 75 when
 * another process holds it), parses it read-only, checks everything it needs
 * and only then writes, in an order where every prefix of the writes is a
 * valid image (see each function). A refused call leaves the file untouched.
 *
 *   struct vhd_resize_result r;
 *   if (vhd_resize("d.vhd", 8 << 20, false, &r, &err) < 0) ...   err.code: DESIGN §7
 *
 * Crash points (VMSNAP_CRASHPOINT, crashpoint.h) name each ordered step:
 *   set-parent  setparent-locator (after each locator's data), setparent-header
 *   resize      resize-fixed-footer, resize-fixed-zero, resize-block-tail,
 *               resize-bat-footer, resize-bat-extend, resize-bat-copy,
 *               resize-header, resize-footer, resize-head
 *   compact     compact-drop (after each dropped BAT entry), compact-copy,
 *               compact-bat (per moved block), compact-footer
 *   repair      repair-header, repair-bat, repair-head, repair-tail
 */
#ifndef VMSNAP_VHD_MODIFY_H
#define VMSNAP_VHD_MODIFY_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "vhd_format.h"

/* ---- set-parent ---- */

struct vhd_setparent_locator {
	int index;                 /* slot in the header */
	uint32_t code;             /* VHD_PLAT_W2KU or VHD_PLAT_W2RU */
	char path[4096];           /* as written (W2ru: ".\name", backslashes) */
	uint32_t length;           /* bytes of UTF-16LE */
	uint64_t space;            /* data space in bytes (as now stored) */
	uint64_t offset;
};

struct vhd_setparent_result {
	uint8_t parent_uuid[16];       /* the new parent's UUID (now in the header) */
	uint8_t old_parent_uuid[16];   /* what the header held before */
	bool uuid_changed;             /* --force took a parent with another UUID */
	uint32_t parent_timestamp;     /* VHD time: the new parent's mtime */
	char parent_abs[4096];         /* absolute path of the new parent */
	char parent_name[4096];        /* the parent-name field as written */
	uint64_t parent_size;          /* the new parent's virtual size */
	uint64_t child_size;
	int nloc;
	struct vhd_setparent_locator loc[VHD_NUM_LOCATORS];
};

/*
 * Point differencing disk `child` at `parent` (which must open as a whole
 * chain): parent UUID check, parent name (UTF-16BE, absolute path or its
 * basename if longer than 256 units), parent timestamp (parent's mtime) and
 * every W2ku (absolute path) and W2ru (".\rel" Windows style) locator,
 * UTF-16LE, each rewritten inside its existing data space. Other locators
 * are left as they are.
 *
 * Refused (nothing written): child not differencing (65); parent with
 * another UUID than the child expects unless `force` (65; with force the
 * header takes the parent's UUID); parent is the child or lies below it
 * (65); no W2ku or W2ru locator, or a new path longer than the locator's
 * space — the space counts up to the next structure of the file, so a
 * locator never spills into the BAT or a block (1, naming needed and
 * available bytes).
 *
 * Order: locator data (zero padded over the old data), fdatasync, then the
 * dynamic header in one 1024-byte write with its new checksum, fdatasync.
 * A kill in between leaves a valid image whose header still names the old
 * parent; rerunning set-parent finishes it.
 */
int vhd_set_parent(const char *child, const char *parent, bool force,
		   struct vhd_setparent_result *r, struct error *err);

/* ---- resize ---- */

enum vhd_bat_change { VHD_BAT_KEPT, VHD_BAT_EXTENDED, VHD_BAT_MOVED };

struct vhd_resize_result {
	uint32_t type;
	bool changed;                  /* false: already that size, nothing written */
	uint64_t size_before, size_after;
	uint64_t file_size_before, file_size_after;
	uint32_t bat_entries_before, bat_entries_after; /* header max_entries */
	enum vhd_bat_change bat;
	uint64_t table_offset;         /* BAT offset afterwards (0 for fixed) */
	bool parent_found;             /* differencing: parent opened */
	uint64_t parent_size;          /* its virtual size, if found */
};

/*
 * New virtual size `size` (bytes, positive multiple of 512, at most 2040
 * GiB; else 64). A smaller size needs `shrink` (else 64) and is refused (1)
 * when data lies past the new end: a dynamic/differencing block starting at
 * or past it that is allocated, sectors of the cut block past it holding
 * nonzero data, or (fixed) a nonzero byte past it. Geometry is recomputed
 * (vhd_geometry); the original size field is kept.
 *
 * Fixed: grow writes the new footer at the new end (the file grows, sparse),
 * fdatasync, then zeros the old footer's 512 bytes, fdatasync. A kill in
 * between leaves a valid image of the new size whose 512 bytes at the old end
 * still hold the old footer. Shrink writes the new footer at the new end
 * (inside the dropped range, so the old image stays valid), fdatasync, then
 * truncates, fsync.
 *
 * Dynamic/differencing: grow first makes the area past the old end read as
 * zeros (dynamic) or as the parent (differencing): data past the old end in
 * the old last block is zeroed (dynamic) or its bitmap bits cleared
 * (differencing), BAT entries newly covered are set unused; fdatasync. If
 * the BAT needs more than max_entries it grows in place when the space up to
 * the next structure suffices (trailing footer moved first if in the way),
 * else a new BAT is written at the end (footer moved first), fdatasync, then
 * the header (table offset, max entries) in one write, fdatasync. Finally the
 * footer at the end of file, fdatasync, then its copy at offset 0, fdatasync.
 * A kill between the two footer writes leaves them different (check reports
 * it; the one at the end, with the new size, is used); rerunning resize or
 * repair finishes it. A moved BAT leaves its old space unused.
 */
int vhd_resize(const char *path, uint64_t size, bool shrink, struct vhd_resize_result *r,
	       struct error *err);

/* ---- compact ---- */

struct vhd_compact_result {
	uint32_t type;
	bool dry_run;
	uint32_t blocks_before, blocks_freed, blocks_moved, blocks_after;
	uint64_t file_size_before, file_size_after;
};

/*
 * Dynamic: drop every allocated block whose in-disk sectors with a bitmap
 * bit set all hold zeros (the block reads as zeros either way).
 * Differencing: drop only blocks whose bitmap is all clear (their data is the
 * parent's); a block of zeros hides the parent and stays. Fixed: refused (65).
 *
 * Order: dropped BAT entries, fdatasync; then, while there is free space
 * (unreferenced, at least one block long) below the last block, that block
 * is copied (bitmap and data) into the lowest free slot, fdatasync, its BAT
 * entry updated, fdatasync; finally the footer is written right after the
 * last structure, fdatasync, and the file truncated, fsync. Every step keeps
 * the disk's content; a kill leaves at most unreferenced space (check: leak)
 * that rerunning compact (or the next writer, at the end) reclaims.
 * With dry_run nothing is written and the result says what would happen.
 */
int vhd_compact(const char *path, bool dry_run, struct vhd_compact_result *r,
		struct error *err);

/* ---- repair ---- */

struct vhd_repair_fix {
	const char *kind;  /* footer_checksum, head_footer, tail_footer, header_checksum,
			      header_data_offset, bat_entry, truncate */
	char *message;
};

struct vhd_repair_result {
	uint32_t type;
	bool dry_run;
	int nfixes;
	struct vhd_repair_fix *fixes;
	int nremaining;                /* errors check still finds afterwards */
	char **remaining;              /* (not computed for dry runs) */
};

/*
 * Diagnose `path` opened lenient, then fix what can be fixed without
 * guessing data: a footer checksum (recomputed when no copy has a good one),
 * a missing or damaged footer copy (rebuilt from the good one; when both
 * are good but differ, the one at the end wins), the dynamic header checksum
 * and data offset field, BAT entries of blocks past end of file or inside the
 * headers (dropped), and the trailing footer's place (right after the last
 * referenced structure; the file is truncated there). Fixed disks: footer
 * checksum, footer moved to the end of the data.
 *
 * Returns 0 with r filled (also when nothing needed fixing); -1 when the file
 * cannot be repaired (65: not a VHD, or a structure damaged beyond the above)
 * or on I/O errors. Order: header, fdatasync; BAT entries, fdatasync; footer
 * copy at 0, fdatasync; trailing footer, fdatasync; truncate, fsync.
 */
int vhd_repair(const char *path, bool dry_run, struct vhd_repair_result *r, struct error *err);
void vhd_repair_release(struct vhd_repair_result *r);

#endif
