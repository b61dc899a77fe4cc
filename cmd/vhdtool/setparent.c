/* vhdtool set-parent: relink a differencing child to a moved parent (Set-VHD -ParentPath). */
#include <stdio.h>
#include <stdlib.h>

#include "uuid.h"
#include "vhd_modify.h"
#include "vhdtool.h"

int cmd_set_parent(struct cli *cli, int argc, const char **argv)
{
	int force = 0, rc;
	struct poptOption opts[] = {
		{ "force", 'f', POPT_ARG_NONE, &force, 0,
		  "accept a parent with another UUID than the child expects (the child then "
		  "expects the new parent's)", NULL },
		POPT_TABLEEND
	};
	struct vhd_setparent_result *r;
	char u[UUID_STR_LEN], u2[UUID_STR_LEN];
	struct error err;
	struct out *o;

	error_init(&err);
	rc = cli_parse(cli, argc, argv, opts, CLI_REPORTS, 2, 2);
	if (rc != CLI_CONTINUE)
		return rc;
	r = calloc(1, sizeof(*r));
	if (!r) {
		error_set(&err, EXIT_FAIL, "out of memory");
		return cli_fail(cli, &err);
	}
	if (vhd_set_parent(cli->args[0], cli->args[1], force, r, &err) < 0) {
		free(r);
		return cli_fail(cli, &err);
	}
	if (r->uuid_changed)
		cli_warn(cli, "'%s' now expects parent UUID %s (was %s; --force)", cli->args[0],
			 uuid_format(r->parent_uuid, u), uuid_format(r->old_parent_uuid, u2));
	o = out_new(cli->mode);
	if (!o) {
		free(r);
		error_set(&err, EXIT_FAIL, "out of memory");
		return cli_fail(cli, &err);
	}
	out_str(o, "file", cli->args[0]);
	out_str(o, "parent", cli->args[1]);
	out_str(o, "parent_path", r->parent_abs);
	out_str(o, "parent_uuid", uuid_format(r->parent_uuid, u));
	out_str(o, "previous_parent_uuid", uuid_format(r->old_parent_uuid, u));
	out_bool(o, "uuid_changed", r->uuid_changed);
	out_str(o, "parent_name", r->parent_name);
	out_time(o, "parent_timestamp", vhd_time_to_unix(r->parent_timestamp));
	out_size(o, "virtual_size", r->child_size);
	out_size(o, "parent_virtual_size", r->parent_size);
	out_begin_table(o, "locators");
	for (int i = 0; i < r->nloc; i++) {
		char nm[5];
		out_begin_object(o, NULL);
		out_u64(o, "index", (uint64_t)r->loc[i].index);
		out_str(o, "platform", vhd_platform_name(r->loc[i].code, nm));
		out_str(o, "path", r->loc[i].path);
		out_u64(o, "data_length", r->loc[i].length);
		out_u64(o, "data_space", r->loc[i].space);
		out_u64(o, "data_offset", r->loc[i].offset);
		out_end(o);
	}
	out_end(o);
	rc = out_print(o, cli->out, &err) < 0 ? cli_fail(cli, &err) : EXIT_OK;
	out_free(o);
	free(r);
	return rc;
}
