/* vhdtool resize: grow, or with --shrink shrink, a disk (Resize-VHD). */
#include <stdio.h>

#include "units.h"
#include "vhd_modify.h"
#include "vhdtool.h"

static const char *bat_change_name(enum vhd_bat_change c)
{
	return c == VHD_BAT_EXTENDED ? "extended" : c == VHD_BAT_MOVED ? "moved" : "kept";
}

int cmd_resize(struct cli *cli, int argc, const char **argv)
{
	int shrink = 0, rc;
	struct poptOption opts[] = {
		{ "shrink", '\0', POPT_ARG_NONE, &shrink, 0,
		  "allow a smaller size (refused while data lies past the new end)", NULL },
		POPT_TABLEEND
	};
	struct vhd_resize_result r;
	struct error err;
	struct out *o;
	uint64_t size;

	error_init(&err);
	rc = cli_parse(cli, argc, argv, opts, CLI_REPORTS, 2, 2);
	if (rc != CLI_CONTINUE)
		return rc;
	if (units_parse_size(cli->args[1], &size, &err) < 0)
		return cli_fail(cli, &err);
	if (vhd_resize(cli->args[0], size, shrink, &r, &err) < 0)
		return cli_fail(cli, &err);
	o = out_new(cli->mode);
	if (!o) {
		error_set(&err, EXIT_FAIL, "out of memory");
		return cli_fail(cli, &err);
	}
	out_str(o, "file", cli->args[0]);
	out_str(o, "type", vhd_type_name(r.type));
	out_bool(o, "changed", r.changed);
	out_size(o, "size_before", r.size_before);
	out_size(o, "size_after", r.size_after);
	out_size(o, "file_size_before", r.file_size_before);
	out_size(o, "file_size_after", r.file_size_after);
	if (r.type != VHD_TYPE_FIXED) {
		out_u64(o, "bat_entries_before", r.bat_entries_before);
		out_u64(o, "bat_entries_after", r.bat_entries_after);
		out_str(o, "bat", bat_change_name(r.bat));
		out_u64(o, "table_offset", r.table_offset);
	}
	if (r.type == VHD_TYPE_DIFF) {
		/* past the parent's end a child reads zeros where it holds nothing */
		if (r.parent_found) {
			out_size(o, "parent_size", r.parent_size);
			out_size(o, "beyond_parent", r.size_after > r.parent_size ?
				 r.size_after - r.parent_size : 0);
		} else {
			out_str(o, "parent_size", NULL);
			out_str(o, "beyond_parent", NULL);
		}
	}
	rc = out_print(o, cli->out, &err) < 0 ? cli_fail(cli, &err) : EXIT_OK;
	if (rc == EXIT_OK && cli->mode == OUT_TEXT && r.type == VHD_TYPE_DIFF) {
		if (r.size_after > r.size_before)
			fprintf(cli->out, "note: the added %llu bytes show the parent's data",
				(unsigned long long)(r.size_after - r.size_before));
		if (r.size_after > r.size_before && r.parent_found &&
		    r.size_after > r.parent_size)
			fprintf(cli->out, "; past the parent's end (%llu bytes) they read as zeros",
				(unsigned long long)r.parent_size);
		if (r.size_after > r.size_before)
			fprintf(cli->out, "\n");
	}
	out_free(o);
	return rc;
}
