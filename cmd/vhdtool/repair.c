/* vhdtool repair: rebuild footers, checksums and the file's end from what is intact. */
#include <stdio.h>

#include "vhd_modify.h"
#include "vhdtool.h"

int cmd_repair(struct cli *cli, int argc, const char **argv)
{
	int dry = 0, rc;
	struct poptOption opts[] = {
		{ "dry-run", 'n', POPT_ARG_NONE, &dry, 0, "list the fixes, change nothing", NULL },
		POPT_TABLEEND
	};
	struct vhd_repair_result r;
	struct error err;
	struct out *o;
	const char *result;

	error_init(&err);
	rc = cli_parse(cli, argc, argv, opts, CLI_REPORTS, 1, 1);
	if (rc != CLI_CONTINUE)
		return rc;
	if (vhd_repair(cli->args[0], dry, &r, &err) < 0) {
		vhd_repair_release(&r);
		return cli_fail(cli, &err);
	}
	o = out_new(cli->mode);
	if (!o) {
		vhd_repair_release(&r);
		error_set(&err, EXIT_FAIL, "out of memory");
		return cli_fail(cli, &err);
	}
	if (r.nremaining)
		result = "corrupt";
	else if (!r.nfixes)
		result = "nothing_to_do";
	else
		result = dry ? "would_repair" : "repaired";
	out_str(o, "file", cli->args[0]);
	out_str(o, "type", vhd_type_name(r.type));
	out_bool(o, "dry_run", r.dry_run);
	out_begin_table(o, "fixes");
	for (int i = 0; i < r.nfixes; i++) {
		out_begin_object(o, NULL);
		out_str(o, "kind", r.fixes[i].kind);
		out_str(o, "message", r.fixes[i].message);
		out_end(o);
	}
	out_end(o);
	if (dry) {
		out_str(o, "remaining", NULL);
	} else {
		out_begin_array(o, "remaining");
		for (int i = 0; i < r.nremaining; i++)
			out_str(o, NULL, r.remaining[i]);
		out_end(o);
	}
	out_str(o, "result", result);
	rc = out_print(o, cli->out, &err) < 0 ? cli_fail(cli, &err)
					      : r.nremaining ? EXIT_CORRUPT : EXIT_OK;
	out_free(o);
	vhd_repair_release(&r);
	return rc;
}
