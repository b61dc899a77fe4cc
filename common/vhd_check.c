/* vhd_check.c — structural checks beyond what open verifies. */
#include "vhd.h"

#include <stdlib.h>
#include <string.h>

struct extent {
	uint64_t start, end;
	const char *what;
	uint32_t blk;
};

static int cmp_extent(const void *a, const void *b)
{
	const struct extent *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

static bool qemu_sizes_by_current(const struct vhd_footer *f)
{
	static const char *apps[] = { "win ", "qem2", "d2v ", "tap\0", "CTXS" };

	for (size_t i = 0; i < sizeof(apps) / sizeof(apps[0]); i++)
		if (memcmp(f->creator_app, apps[i], 4) == 0)
			return true;
	return f->cylinders == 65535 && f->heads == 16 && f->sectors == 255;
}

void vhd_check_layer(struct vhd *v)
{
	const struct vhd_footer *f = &v->footer;
	uint64_t chs = (uint64_t)f->cylinders * f->heads * f->sectors * VHD_SECTOR;
	struct extent *ex;
	size_t n = 0, cap;

	if (chs < f->current_size && !qemu_sizes_by_current(f))
		vhd_add_problem(v, VHD_SEV_WARNING,
				"'%s': CHS geometry %u/%u/%u covers %llu bytes of %llu; qemu before "
				"10.0 sizes this disk by CHS", v->path, f->cylinders, f->heads,
				f->sectors, (unsigned long long)chs,
				(unsigned long long)f->current_size);
	if (f->type == VHD_TYPE_FIXED) {
		if (v->grow_pending)
			vhd_add_problem(v, VHD_SEV_WARNING,
					"'%s': a resize was interrupted before the footer bytes at "
					"offset %llu were zeroed (they read as zeros; vhdtool repair or "
					"the next write zeroes them)", v->path,
					(unsigned long long)v->grow_sector);
		return;
	}
	if (!v->head_present)
		vhd_add_problem(v, VHD_SEV_ERROR, "'%s': no footer copy at offset 0", v->path);
	else if (!v->head_checksum_ok)
		vhd_add_problem(v, VHD_SEV_ERROR, "'%s': footer copy at offset 0 has a bad checksum",
				v->path);

	if (f->type == VHD_TYPE_DIFF) {
		for (int i = 0; i < VHD_NUM_LOCATORS; i++) {
			char path[4096];
			struct error e;
			uint32_t c = v->header.loc[i].code;
			if (c != VHD_PLAT_W2KU && c != VHD_PLAT_W2RU)
				continue;
			if (vhd_locator_path(v, i, path, sizeof(path), &e) < 0)
				vhd_add_problem(v, VHD_SEV_ERROR, "%s", e.msg);
		}
		if (memcmp(v->header.parent_uuid, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16) == 0)
			vhd_add_problem(v, VHD_SEV_ERROR, "'%s': differencing disk has no parent UUID",
					v->path);
	}

	/* every structure as an extent: overlaps are corruption, big gaps leaks */
	cap = (size_t)v->allocated_blocks + 4 + VHD_NUM_LOCATORS;
	ex = calloc(cap, sizeof(*ex));
	if (!ex)
		return;
	ex[n++] = (struct extent){ 0, VHD_FOOTER_SIZE, "footer copy", 0 };
	ex[n++] = (struct extent){ f->data_offset, f->data_offset + VHD_HEADER_SIZE,
				   "dynamic header", 0 };
	ex[n++] = (struct extent){ v->header.table_offset,
				   v->header.table_offset + (uint64_t)v->header.max_entries * 4,
				   "block table", 0 };
	if (f->type == VHD_TYPE_DIFF)
		for (int i = 0; i < VHD_NUM_LOCATORS; i++) {
			const struct vhd_locator *l = &v->header.loc[i];
			if (l->code == VHD_PLAT_NONE || !l->length)
				continue;
			ex[n++] = (struct extent){ l->offset, l->offset + l->length,
						   "parent locator", (uint32_t)i };
		}
	for (uint32_t b = 0; b < v->bat_entries; b++) {
		uint64_t off = vhd_block_offset(v, b);
		if (off && n < cap)
			ex[n++] = (struct extent){ off, off + v->bitmap_bytes + v->block_size, "block", b };
	}
	qsort(ex, n, sizeof(*ex), cmp_extent);
	uint64_t leaked = 0, span = (uint64_t)v->bitmap_bytes + v->block_size, prev_end = 0;
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && ex[i].start < prev_end) {
			vhd_add_problem(v, VHD_SEV_ERROR,
					"'%s': %s %u at offset %llu overlaps the structure before it",
					v->path, ex[i].what, ex[i].blk, (unsigned long long)ex[i].start);
		} else if (i > 0 && ex[i].start - prev_end >= span) {
			leaked += ex[i].start - prev_end;
		}
		if (ex[i].end > prev_end)
			prev_end = ex[i].end;
	}
	if (v->tail_ok && v->file_size - VHD_FOOTER_SIZE > prev_end &&
	    v->file_size - VHD_FOOTER_SIZE - prev_end >= span)
		leaked += v->file_size - VHD_FOOTER_SIZE - prev_end;
	free(ex);
	if (leaked)
		vhd_add_problem(v, VHD_SEV_LEAK, "'%s': %llu bytes of the file are used by no block",
				v->path, (unsigned long long)leaked);
}
