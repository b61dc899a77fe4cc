/* vhdtool create */
#include <string.h>

#include "units.h"
#include "vhd.h"
#include "vhdtool.h"

int cmd_create(struct cli *cli, int argc, const char **argv)
{
	const char *type = NULL, *bsize = NULL, *parent = NULL;
	int force = 0, prealloc = 0, rc;
	struct poptOption opts[] = {
		{ "type", 't', POPT_ARG_STRING, &type, 0, "fixed or dynamic (default dynamic)",
		  "TYPE" },
		{ "block-size", 'b', POPT_ARG_STRING, &bsize, 0,
		  "dynamic block size, power of two, 4K..256M (default 2M, or the parent's)",
		  "SIZE" },
		{ "parent", 'p', POPT_ARG_STRING, &parent, 0,
		  "create a differencing child of PARENT", "PARENT" },
		{ "force", 'f', POPT_ARG_NONE, &force, 0, "replace an existing FILE", NULL },
		{ "preallocate", '\0', POPT_ARG_NONE, &prealloc, 0,
		  "fixed: allocate the whole data area now", NULL },
		POPT_TABLEEND
	};
	struct vhd_create_opts o = { .type = VHD_TYPE_DYNAMIC };
	struct error err;
	uint64_t v;

	error_init(&err);
	rc = cli_parse(cli, argc, argv, opts, 0, 1, 2);
	if (rc != CLI_CONTINUE)
		return rc;
	if (parent) {
		if (cli->nargs != 1)
			return cli_usage_error(cli, "a child takes its size from its parent: "
					       "give FILE only");
		if (type)
			return cli_usage_error(cli, "--type does not apply to a differencing child");
		o.parent = parent;
	} else {
		if (cli->nargs != 2)
			return cli_usage_error(cli, "missing SIZE");
		if (units_parse_size(cli->args[1], &o.size, &err) < 0)
			return cli_fail(cli, &err);
		if (type && strcmp(type, "fixed") == 0)
			o.type = VHD_TYPE_FIXED;
		else if (type && strcmp(type, "dynamic") != 0)
			return cli_usage_error(cli, "unknown --type '%s': use fixed or dynamic", type);
	}
	if (bsize) {
		if (o.type == VHD_TYPE_FIXED)
			return cli_usage_error(cli, "--block-size does not apply to a fixed disk");
		if (units_parse_size(bsize, &v, &err) < 0)
			return cli_fail(cli, &err);
		if (v > UINT32_MAX)
			return cli_usage_error(cli, "block size '%s' is too large", bsize);
		o.block_size = (uint32_t)v;
	}
	if (prealloc && (o.type != VHD_TYPE_FIXED || parent))
		return cli_usage_error(cli, "--preallocate applies to fixed disks only");
	o.force = force;
	o.preallocate = prealloc;
	if (vhd_create(cli->args[0], &o, &err) < 0)
		return cli_fail(cli, &err);
	cli_verbose(cli, "created '%s'", cli->args[0]);
	return EXIT_OK;
}
