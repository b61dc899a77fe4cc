/* vhdtool info */
#include <stdio.h>
#include <string.h>

#include "uuid.h"
#include "vhd.h"
#include "vhdtool.h"

static void emit_fourcc(struct out *o, const char *key, const char c[4])
{
	char s[5];

	for (int i = 0; i < 4; i++)
		s[i] = (c[i] >= 0x20 && c[i] < 0x7f) ? c[i] : (c[i] ? '?' : ' ');
	s[4] = '\0';
	/* trailing blanks are part of the code ("win "); keep them */
	out_str(o, key, s);
}

static void emit_layer(struct out *o, struct vhd *v, bool parent_missing)
{
	const struct vhd_footer *f = &v->footer;
	char buf[4096], u[UUID_STR_LEN];

	out_str(o, "file", v->path);
	out_str(o, "format", "vpc");
	out_str(o, "type", vhd_type_name(f->type));
	out_size(o, "virtual_size", f->current_size);
	out_size(o, "file_size", v->file_size);
	out_u64(o, "cylinders", f->cylinders);
	out_u64(o, "heads", f->heads);
	out_u64(o, "sectors_per_track", f->sectors);
	out_size(o, "chs_size", (uint64_t)f->cylinders * f->heads * f->sectors * VHD_SECTOR);
	if (f->type != VHD_TYPE_FIXED) {
		out_size(o, "block_size", v->block_size);
		out_u64(o, "bat_entries", v->header.max_entries);
		out_u64(o, "allocated_blocks", v->allocated_blocks);
		out_size(o, "allocated_bytes", (uint64_t)v->allocated_blocks * v->block_size);
	}
	out_str(o, "uuid", uuid_format(f->uuid, u));
	out_time(o, "timestamp", vhd_time_to_unix(f->timestamp));
	emit_fourcc(o, "creator_app", f->creator_app);
	snprintf(buf, sizeof(buf), "%u.%u", f->creator_version >> 16, f->creator_version & 0xffff);
	out_str(o, "creator_version", buf);
	emit_fourcc(o, "creator_os", f->creator_os);
	out_size(o, "original_size", f->original_size);
	out_bool(o, "saved_state", f->saved_state != 0);
	out_bool(o, "footer_checksum_ok", v->footer_checksum_ok);
	if (f->type != VHD_TYPE_FIXED) {
		out_bool(o, "header_checksum_ok", v->header_checksum_ok);
		out_bool(o, "footer_copies_equal", v->copies_equal && v->tail_ok && v->head_present);
	}
	if (f->type != VHD_TYPE_DIFF)
		return;
	if (vhd_parent_name(v, buf, sizeof(buf)) < 0)
		snprintf(buf, sizeof(buf), "(invalid UTF-16)");
	out_str(o, "parent_name", buf);
	out_str(o, "parent_uuid", uuid_format(v->header.parent_uuid, u));
	if (v->header.parent_timestamp)
		out_time(o, "parent_timestamp", vhd_time_to_unix(v->header.parent_timestamp));
	else
		out_str(o, "parent_timestamp", NULL);
	out_str(o, "parent_path", parent_missing ? NULL : v->parent_path);
	out_begin_array(o, "locators");
	for (int i = 0; i < VHD_NUM_LOCATORS; i++) {
		const struct vhd_locator *l = &v->header.loc[i];
		char nm[5];
		struct error e;
		if (l->code == VHD_PLAT_NONE)
			continue;
		out_begin_object(o, NULL);
		out_u64(o, "index", (uint64_t)i);
		out_str(o, "platform", vhd_platform_name(l->code, nm));
		out_u64(o, "data_space", vhd_locator_space_bytes(l));
		out_u64(o, "data_length", l->length);
		out_u64(o, "data_offset", l->offset);
		out_str(o, "path", vhd_locator_path(v, i, buf, sizeof(buf), &e) == 0 ? buf : NULL);
		out_end(o);
	}
	out_end(o);
}

int cmd_info(struct cli *cli, int argc, const char **argv)
{
	int chain = 0, force = 0, rc;
	struct poptOption opts[] = {
		{ "chain", 'c', POPT_ARG_NONE, &chain, 0, "walk the parents down to the base", NULL },
		{ "force", 'f', POPT_ARG_NONE, &force, 0,
		  "show images with bad checksums or a parent UUID mismatch", NULL },
		POPT_TABLEEND
	};
	unsigned flags = DISK_RDONLY | DISK_NOLOCK | VHD_NOPARENT;
	struct error err, perr;
	struct vhd *top, *v;
	struct out *o;

	error_init(&err);
	error_init(&perr);
	rc = cli_parse(cli, argc, argv, opts, CLI_REPORTS, 1, 1);
	if (rc != CLI_CONTINUE)
		return rc;
	if (force)
		flags |= DISK_FORCE;
	top = vhd_open(cli->args[0], flags, &err);
	if (!top)
		return cli_fail(cli, &err);
	/* resolve parents: one level for the parent path, all with --chain */
	for (v = top; v->footer.type == VHD_TYPE_DIFF; v = v->parent)
		if (vhd_open_parent(v, flags, &perr) < 0 || !chain)
			break;
	o = out_new(cli->mode);
	if (!o) {
		vhd_close(top);
		error_set(&err, EXIT_FAIL, "out of memory");
		return cli_fail(cli, &err);
	}
	if (chain) {
		out_begin_array(o, "chain");
		for (v = top; v; v = v->parent) {
			out_begin_object(o, NULL);
			out_u64(o, "depth", (uint64_t)v->depth);
			emit_layer(o, v, v->footer.type == VHD_TYPE_DIFF && !v->parent);
			out_end(o);
		}
		out_end(o);
	} else {
		emit_layer(o, top, top->footer.type == VHD_TYPE_DIFF && !top->parent);
	}
	rc = out_print(o, cli->out, &err) < 0 ? cli_fail(cli, &err) : EXIT_OK;
	out_free(o);
	vhd_close(top);
	if (rc == EXIT_OK && perr.code)
		rc = cli_fail(cli, &perr);
	return rc;
}
