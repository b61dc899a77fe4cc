/*
 * vhd_modify_int.h — helpers shared by vhd_modify.c, vhd_resize.c,
 * vhd_compact.c and vhd_repair.c (not an API for cmd/).
 *
 * A struct vm_file is one image being changed: our own descriptor (O_RDWR
 * with flock LOCK_EX, or O_RDONLY with LOCK_SH for dry runs), taken before
 * the image is parsed through a second, unlocked read-only vhd_open() of the
 * same inode (VHD_NOPARENT). Writes go through our descriptor only.
 */
#ifndef VMSNAP_VHD_MODIFY_INT_H
#define VMSNAP_VHD_MODIFY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "vhd.h"

#define VM_ALIGN_UP(x, a) (((x) + (a) - 1) & ~(uint64_t)((a) - 1))
#define VM_CHUNK (1u << 20)

struct vm_file {
	const char *path;
	int fd;
	bool write;
	struct vhd *v;
};

/* vflags: extra vhd_open flags (VHD_LENIENT). -1 with err set. */
int vm_open(struct vm_file *f, const char *path, bool write, unsigned vflags,
	    struct error *err);
void vm_close(struct vm_file *f);

int vm_read(struct vm_file *f, void *buf, size_t n, uint64_t off, struct error *err);
int vm_write(struct vm_file *f, const void *buf, size_t n, uint64_t off, struct error *err);
int vm_datasync(struct vm_file *f, struct error *err);
/* ftruncate and fsync */
int vm_truncate(struct vm_file *f, uint64_t size, struct error *err);

/* Raw BAT entries [first, first+count) as stored (host order). */
int vm_read_bat(struct vm_file *f, uint32_t first, uint32_t count, uint32_t *out,
		struct error *err);
int vm_write_bat_entry(struct vm_file *f, uint32_t blk, uint32_t val, struct error *err);

/* Footer/header checksum recomputed in place. */
void vm_footer_resum(uint8_t b[VHD_FOOTER_SIZE]);
void vm_header_resum(uint8_t b[VHD_HEADER_SIZE]);

/* Is [off, off+len) of the file all zero? Holes are skipped (SEEK_DATA).
 * *first gets the offset of the first nonzero byte (or off+len). */
int vm_range_zero(struct vm_file *f, uint64_t off, uint64_t len, uint64_t *first,
		  struct error *err);

/*
 * First sector s in [from, to) of the block whose bitmap starts at file
 * offset boff that has its bit set in bm and holds a nonzero byte; `to` if
 * none (sectors with a clear bit are not looked at).
 */
int vm_first_stored_data(struct vm_file *f, uint64_t boff, const uint8_t *bm, uint64_t from,
			 uint64_t to, uint64_t *sector, struct error *err);

/* Structures of a dynamic/differencing layer, sorted by start. */
enum vm_kind { VM_R_FOOTER, VM_R_HEADER, VM_R_BAT, VM_R_LOCATOR, VM_R_BLOCK };
struct vm_region {
	uint64_t start, end;
	enum vm_kind kind;
	uint32_t idx;      /* locator slot or block number */
};
/*
 * Footer copy at 0, header, BAT (max_entries, padded to 512), locator data
 * spaces (declared bytes, clipped to the file) and, with bat != NULL, the
 * allocated blocks of bat[0..v->bat_entries). *out is malloc'ed.
 */
int vm_regions(const struct vhd *v, const uint32_t *bat, struct vm_region **out, size_t *n,
	       struct error *err);

/*
 * Where the trailing footer belongs is v->ref_end; when the file has no
 * footer at its end or unreferenced space before it (an interrupted write),
 * put the footer there and truncate, as a writer opening it would.
 */
int vm_fix_tail(struct vm_file *f, struct error *err);

#endif
