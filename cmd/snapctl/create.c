/* snapctl create */
#include <stdio.h>
#include <string.h>

#include "snapctl.h"
#include "snapops.h"
#include "uuid.h"

int cmd_create(struct cli *cli, int argc, const char **argv)
{
	const char *desc = NULL, *wait = NULL;
	int disk_only = 0, wait_secs, rc;
	struct poptOption opts[] = {
		{ "description", 'd', POPT_ARG_STRING, &desc, 0, "a description", "DESC" },
		{ "disk-only", '\0', POPT_ARG_NONE, &disk_only, 0,
		  "running VM: crash-consistent disks and config, no RAM or state", NULL },
		CLI_WAIT_OPTION(wait),
		POPT_TABLEEND
	};
	struct snap_create c = { 0 };
	struct snapvm vm;
	struct error err;
	char u[UUID_STR_LEN];

	error_init(&err);
	rc = cli_parse_wait(cli, argc, argv, opts, CLI_REPORTS, 1, 2, &wait, &wait_secs);
	if (rc != CLI_CONTINUE)
		return rc;
	c.name = cli->nargs > 1 ? cli->args[1] : NULL;
	c.description = desc;
	c.disk_only = disk_only;
	if (snapvm_open(cli, cli->args[0], &vm, &err) < 0 ||
	    snapvm_lock(&vm, "create", wait_secs, &err) < 0 ||
	    snapops_create(vm.dir, vm.name, &c, &err) < 0) {
		snapvm_close(&vm);
		return cli_fail(cli, &err);
	}
	snapvm_close(&vm);
	uuid_format(c.uuid, u);
	if (cli->mode == OUT_TEXT) {
		fprintf(cli->out, "created %s snapshot '%s' (%s)%s%s\n",
			c.online ? "online" : "offline", c.name_used, u, c.mode[0] ? ": " : "", c.mode);
		return EXIT_OK;
	}
	struct out *o = out_new(cli->mode);
	out_str(o, "vm", cli->args[0]);
	out_str(o, "name", c.name_used);
	out_str(o, "uuid", u);
	out_str(o, "type", c.online ? "online" : "offline");
	out_str(o, "vmm", c.mode[0] ? c.mode : NULL);
	rc = out_print(o, cli->out, &err) < 0 ? cli_fail(cli, &err) : EXIT_OK;
	out_free(o);
	return rc;
}
