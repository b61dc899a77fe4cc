/* vhdtool compact: drop blocks that hold nothing and shorten the file (Optimize-VHD). */
#include <stdio.h>

#include "vhd_modify.h"
#include "vhdtool.h"

int cmd_compact(struct cli *cli, int argc, const char **argv)
{
	int dry = 0, rc;
	struct poptOption opts[] = {
		{ "dry-run", 'n', POPT_ARG_NONE, &dry, 0, "say what would be freed, change nothing",
		  NULL },
		POPT_TABLEEND
	};
	struct vhd_compact_result r;
	struct error err;
	struct out *o;

	error_init(&err);
	rc = cli_parse(cli, argc, argv, opts, CLI_REPORTS, 1, 1);
	if (rc != CLI_CONTINUE)
		return rc;
	if (vhd_compact(cli->args[0], dry, &r, &err) < 0)
		return cli_fail(cli, &err);
	o = out_new(cli->mode);
	if (!o) {
		error_set(&err, EXIT_FAIL, "out of memory");
		return cli_fail(cli, &err);
	}
	out_str(o, "file", cli->args[0]);
	out_str(o, "type", vhd_type_name(r.type));
	out_bool(o, "dry_run", r.dry_run);
	/* differencing: a block of zeros hides the parent, only clear bitmaps go */
	out_str(o, "rule", r.type == VHD_TYPE_DIFF ? "clear_bitmap" : "zero_data");
	out_u64(o, "blocks_before", r.blocks_before);
	out_u64(o, "blocks_freed", r.blocks_freed);
	out_u64(o, "blocks_moved", r.blocks_moved);
	out_u64(o, "blocks_after", r.blocks_after);
	out_size(o, "file_size_before", r.file_size_before);
	out_size(o, "file_size_after", r.file_size_after);
	out_size(o, "bytes_reclaimed", r.file_size_before - r.file_size_after);
	rc = out_print(o, cli->out, &err) < 0 ? cli_fail(cli, &err) : EXIT_OK;
	if (rc == EXIT_OK && cli->mode == OUT_TEXT && r.type == VHD_TYPE_DIFF)
		fprintf(cli->out, "note: differencing disk: only blocks whose sector bitmap is all "
			"clear were %s; a block of zeros stays, it hides the parent's data\n",
			r.dry_run ? "counted" : "dropped");
	out_free(o);
	return rc;
}
