/* vhd_repair.c — rebuild what a damaged VHD says twice or can recompute. */
#include "vhd_modify.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crashpoint.h"
#include "endian.h"
#include "vhd.h"
#include "vhd_modify_int.h"

static int add_fix(struct vhd_repair_result *r, struct error *err, const char *kind,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int add_fix(struct vhd_repair_result *r, struct error *err, const char *kind,
		   const char *fmt, ...)
{
	struct vhd_repair_fix *p = realloc(r->fixes, (size_t)(r->nfixes + 1) * sizeof(*p));
	char buf[1024];
	va_list ap;

	if (!p)
		return error_set(err, EXIT_FAIL, "out of memory");
	r->fixes = p;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	p[r->nfixes].kind = kind;
	p[r->nfixes].message = strdup(buf);
	if (!p[r->nfixes].message)
		return error_set(err, EXIT_FAIL, "out of memory");
	r->nfixes++;
	return 0;
}

void vhd_repair_release(struct vhd_repair_result *r)
{
	for (int i = 0; i < r->nfixes; i++)
		free(r->fixes[i].message);
	free(r->fixes);
	for (int i = 0; i < r->nremaining; i++)
		free(r->remaining[i]);
	free(r->remaining);
	memset(r, 0, sizeof(*r));
}

/* What check still finds wrong after the repair. */
static int collect_remaining(const char *path, struct vhd_repair_result *r, struct error *err)
{
	struct vhd *v = vhd_open(path, DISK_RDONLY | DISK_NOLOCK | VHD_NOPARENT | VHD_LENIENT, err);

	if (!v)
		return -1;
	vhd_check_layer(v);
	for (int i = 0; i < v->nproblems; i++) {
		char **p;
		if (v->problems[i].sev != VHD_SEV_ERROR)
			continue;
		p = realloc(r->remaining, (size_t)(r->nremaining + 1) * sizeof(*p));
		if (!p || !(p[r->nremaining] = strdup(v->problems[i].msg))) {
			if (p)
				r->remaining = p;
			vhd_close(v);
			return error_set(err, EXIT_FAIL, "out of memory");
		}
		r->remaining = p;
		r->nremaining++;
	}
	vhd_close(v);
	return 0;
}

static int repair_fixed(struct vm_file *f, bool dry_run, struct vhd_repair_result *r,
			struct error *err)
{
	struct vhd *v = f->v;
	uint8_t good[VHD_FOOTER_SIZE];
	uint64_t at = v->footer.current_size, tail = v->file_size - VHD_FOOTER_SIZE;

	memcpy(good, v->footer_raw, sizeof(good));
	if (!v->footer_checksum_ok) {
		vm_footer_resum(good);
		if (add_fix(r, err, "footer_checksum", "footer checksum recomputed (stored 0x%08x, "
			    "now 0x%08x)", v->footer.checksum, get_be32(good + 64)) < 0)
			return -1;
	}
	if (at != tail &&
	    add_fix(r, err, "tail_footer", "footer moved from offset %llu to %llu, the end of the "
		    "%llu bytes of data; %llu bytes after them dropped", (unsigned long long)tail,
		    (unsigned long long)at, (unsigned long long)at,
		    (unsigned long long)(tail - at)) < 0)
		return -1;
	if (dry_run || (v->footer_checksum_ok && at == tail))
		return 0;
	if (vm_write(f, good, sizeof(good), at, err) < 0)
		return -1;
	crashpoint("repair-tail");
	if (vm_datasync(f, err) < 0)
		return -1;
	if (at != tail && vm_truncate(f, at + VHD_FOOTER_SIZE, err) < 0)
		return -1;
	return 0;
}

static int repair_dynamic(struct vm_file *f, bool dry_run, struct vhd_repair_result *r,
			  struct error *err)
{
	struct vhd *v = f->v;
	uint8_t good[VHD_FOOTER_SIZE], head[VHD_FOOTER_SIZE], tail[VHD_FOOTER_SIZE];
	uint8_t hb[VHD_HEADER_SIZE];
	uint32_t *raw = NULL, *drop = NULL, ndrop = 0;
	uint64_t at = v->ref_end, tail_at = v->file_size - VHD_FOOTER_SIZE;
	bool fix_header = false, fix_head = false, fix_tail;
	int rc = -1;

	memset(head, 0, sizeof(head));
	if (vm_read(f, tail, sizeof(tail), tail_at, err) < 0 ||
	    (v->file_size >= 2 * VHD_FOOTER_SIZE && vm_read(f, head, sizeof(head), 0, err) < 0))
		return -1;
	/* the good footer: one with a valid checksum, the one at the end first */
	if (v->tail_ok && v->tail_checksum_ok) {
		memcpy(good, tail, sizeof(good));
	} else if (v->head_present && v->head_checksum_ok) {
		memcpy(good, head, sizeof(good));
	} else {
		memcpy(good, v->footer_raw, sizeof(good));
		vm_footer_resum(good);
		if (add_fix(r, err, "footer_checksum", "footer checksum recomputed (stored 0x%08x, "
			    "now 0x%08x)", v->footer.checksum, get_be32(good + 64)) < 0)
			return -1;
	}

	/* dynamic header: the data offset field and the checksum */
	if (vm_read(f, hb, sizeof(hb), v->footer.data_offset, err) < 0)
		return -1;
	if (get_be64(hb + 8) != VHD_NO_OFFSET) {
		put_be64(hb + 8, VHD_NO_OFFSET);
		fix_header = true;
		if (add_fix(r, err, "header_data_offset", "dynamic header data offset set to all "
			    "ones (was 0x%llx)", (unsigned long long)v->header.data_offset) < 0)
			return -1;
	}
	if (!v->header_checksum_ok) {
		uint32_t stored = v->header.checksum;
		vm_header_resum(hb);
		fix_header = true;
		if (add_fix(r, err, "header_checksum", "dynamic header checksum recomputed (stored "
			    "0x%08x, now 0x%08x)", stored, get_be32(hb + 36)) < 0)
			return -1;
	} else if (fix_header) {
		vm_header_resum(hb);
	}

	/* BAT entries open treated as unallocated: past end of file, in the headers */
	raw = malloc(((size_t)v->bat_entries + 1) * 4);
	drop = malloc(((size_t)v->bat_entries + 1) * 4);
	if (!raw || !drop) {
		error_set(err, EXIT_FAIL, "out of memory");
		goto out;
	}
	if (vm_read_bat(f, 0, v->bat_entries, raw, err) < 0)
		goto out;
	for (uint32_t b = 0; b < v->bat_entries; b++) {
		uint64_t off = (uint64_t)raw[b] * VHD_SECTOR;
		if (raw[b] == VHD_BAT_UNUSED || v->bat[b] != VHD_BAT_UNUSED)
			continue;
		drop[ndrop++] = b;
		if (add_fix(r, err, "bat_entry", "block %u: entry dropped, its data at offset %llu %s "
			    "(it now reads %s)", b, (unsigned long long)off,
			    off < v->footer.data_offset + VHD_HEADER_SIZE ? "overlaps the headers"
									  : "lies past end of file",
			    v->footer.type == VHD_TYPE_DIFF ? "from the parent" : "as zeros") < 0)
			goto out;
	}

	/* the copy at offset 0, unless a structure sits there */
	if (!v->head_present || memcmp(head, good, sizeof(good)) != 0) {
		bool room = v->header.table_offset >= VHD_FOOTER_SIZE;
		for (int i = 0; v->footer.type == VHD_TYPE_DIFF && i < VHD_NUM_LOCATORS; i++)
			if (v->header.loc[i].code != VHD_PLAT_NONE &&
			    v->header.loc[i].offset < VHD_FOOTER_SIZE)
				room = false;
		if (room) {
			fix_head = true;
			if (add_fix(r, err, "head_footer", "footer copy at offset 0 %s: rewritten "
				    "from the good footer", !v->head_present ? "was missing" :
				    !v->head_checksum_ok ? "had a bad checksum" :
				    "differed from the footer at end of file") < 0)
				goto out;
		}
	}

	/* the trailing footer, right after the last referenced structure */
	fix_tail = !v->tail_ok || at != tail_at || memcmp(tail, good, sizeof(good)) != 0;
	if (fix_tail && add_fix(r, err, "tail_footer", "%s", !v->tail_ok ?
				"footer at end of file was missing: written after the last block" :
				at != tail_at ? "footer moved to just after the last referenced "
						"structure" :
				!v->tail_checksum_ok ? "footer at end of file had a bad checksum: "
						       "rewritten from the good footer" :
				"footer at end of file rewritten from the good footer") < 0)
		goto out;
	if (at + VHD_FOOTER_SIZE < v->file_size &&
	    add_fix(r, err, "truncate", "file truncated to %llu bytes (%llu bytes past the last "
		    "referenced structure dropped)", (unsigned long long)(at + VHD_FOOTER_SIZE),
		    (unsigned long long)(v->file_size - at - VHD_FOOTER_SIZE)) < 0)
		goto out;
	if (dry_run) {
		rc = 0;
		goto out;
	}

	/* each step on its own leaves the file no worse than before */
	if (fix_header) {
		if (vm_write(f, hb, sizeof(hb), v->footer.data_offset, err) < 0)
			goto out;
		crashpoint("repair-header");
		if (vm_datasync(f, err) < 0)
			goto out;
	}
	for (uint32_t i = 0; i < ndrop; i++) {
		if (vm_write_bat_entry(f, drop[i], VHD_BAT_UNUSED, err) < 0)
			goto out;
		crashpoint("repair-bat");
	}
	if (ndrop && vm_datasync(f, err) < 0)
		goto out;
	if (fix_head) {
		if (vm_write(f, good, sizeof(good), 0, err) < 0)
			goto out;
		crashpoint("repair-head");
		if (vm_datasync(f, err) < 0)
			goto out;
	}
	if (fix_tail) {
		if (vm_write(f, good, sizeof(good), at, err) < 0)
			goto out;
		crashpoint("repair-tail");
		if (vm_datasync(f, err) < 0)
			goto out;
	}
	if (at + VHD_FOOTER_SIZE < v->file_size && vm_truncate(f, at + VHD_FOOTER_SIZE, err) < 0)
		goto out;
	rc = 0;
out:
	free(raw);
	free(drop);
	return rc;
}

int vhd_repair(const char *path, bool dry_run, struct vhd_repair_result *r, struct error *err)
{
	struct vm_file f;
	int rc;

	memset(r, 0, sizeof(*r));
	r->dry_run = dry_run;
	if (vm_open(&f, path, !dry_run, VHD_LENIENT, err) < 0) {
		if (err->code == EXIT_DATAERR)
			error_prefix(err, "cannot repair");
		return -1;
	}
	r->type = f.v->footer.type;
	if (f.v->footer.type == VHD_TYPE_FIXED)
		rc = repair_fixed(&f, dry_run, r, err);
	else
		rc = repair_dynamic(&f, dry_run, r, err);
	vm_close(&f);
	if (rc == 0 && !dry_run)
		rc = collect_remaining(path, r, err);
	return rc;
}
