/* vhd_map.c — which layer of a chain serves a range of the disk. */
#include "vhd.h"

static inline bool bit_set(const uint8_t *bm, uint32_t s)
{
	return bm[s >> 3] & (0x80u >> (s & 7));
}

int vhd_map_range(struct vhd *v, uint64_t off, uint64_t *len, struct vhd **layer,
		  uint64_t *file_off, struct error *err)
{
	for (;;) {
		if (!v || off >= v->disk.size) {
			*layer = NULL;
			*file_off = 0;
			return 0;
		}
		if (*len > v->disk.size - off)
			*len = v->disk.size - off;
		if (v->footer.type == VHD_TYPE_FIXED) {
			*layer = v;
			*file_off = off;
			return 0;
		}
		uint32_t blk = (uint32_t)(off / v->block_size);
		uint64_t in = off % v->block_size, boff = vhd_block_offset(v, blk);
		if (*len > v->block_size - in)
			*len = v->block_size - in;
		if (!boff) {
			if (v->footer.type == VHD_TYPE_DIFF && !v->parent)
				return error_set(err, EXIT_NOINPUT,
						 "'%s': data lies in a parent that is not open", v->path);
			v = v->parent;
			continue;
		}
		const uint8_t *bm = vhd_bitmap(v, blk, err);
		if (!bm)
			return -1;
		uint32_t s = (uint32_t)(in / VHD_SECTOR);
		bool set = bit_set(bm, s);
		uint64_t run_end = (uint64_t)(s + 1) * VHD_SECTOR, end = in + *len;
		while (run_end < end) {
			uint32_t t = (uint32_t)(run_end / VHD_SECTOR);
			if ((t & 7) == 0 && run_end + 8 * VHD_SECTOR <= end &&
			    bm[t >> 3] == (set ? 0xff : 0x00)) {
				run_end += 8 * VHD_SECTOR;
				continue;
			}
			if (bit_set(bm, t) != set)
				break;
			run_end += VHD_SECTOR;
		}
		if (run_end < end)
			*len = run_end - in;
		if (set) {
			*layer = v;
			*file_off = boff + v->bitmap_bytes + in;
			return 0;
		}
		if (v->footer.type == VHD_TYPE_DIFF && !v->parent)
			return error_set(err, EXIT_NOINPUT, "'%s': data lies in a parent that is not open",
					 v->path);
		if (v->footer.type != VHD_TYPE_DIFF) {
			*layer = NULL;
			*file_off = 0;
			return 0;
		}
		v = v->parent;
	}
}
