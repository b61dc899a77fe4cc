/* snapctl rename, describe */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snapctl.h"

static int edit(struct cli *cli, const char *verb, const char *spec, const char *name,
		const char *desc, int wait_secs)
{
	struct snapvm vm;
	struct snaptree t;
	struct snapshot *s;
	struct error err;
	bool tree = false;

	error_init(&err);
	if (snapvm_open(cli, cli->args[0], &vm, &err) < 0 ||
	    snapvm_lock(&vm, verb, wait_secs, &err) < 0 || snaptree_load(&t, vm.dir, &err) < 0)
		goto fail;
	tree = true;
	if (!(s = snaptree_find(&t, spec, &err)))
		goto fail;
	if (name) {
		struct snapshot *kids[256];
		struct snapshot *other = snaptree_by_name(&t, name);
		if (!snapshot_name_ok(name)) {
			error_set(&err, EXIT_USAGE, "invalid snapshot name '%s'", name);
			goto fail;
		}
		if (other && other != s) {
			error_set(&err, EXIT_CANTCREAT, "VM '%s' already has a snapshot named '%s'",
				  vm.name, name);
			goto fail;
		}
		free(s->name);
		s->name = strdup(name);
		/* children record their parent's name (libvirt's <parent><name>) */
		int n = snaptree_children(&t, s, kids, 256);
		for (int i = 0; i < n; i++) {
			free(kids[i]->parent_name);
			kids[i]->parent_name = strdup(name);
			if (snapshot_write(vm.dir, kids[i], &err) < 0)
				goto fail;
		}
	}
	if (desc) {
		free(s->description);
		s->description = desc[0] ? strdup(desc) : NULL;
	}
	if (snapshot_write(vm.dir, s, &err) < 0)
		goto fail;
	snaptree_release(&t);
	snapvm_close(&vm);
	return EXIT_OK;
fail:
	if (tree)
		snaptree_release(&t);
	snapvm_close(&vm);
	return cli_fail(cli, &err);
}

int cmd_rename(struct cli *cli, int argc, const char **argv)
{
	const char *wait = NULL;
	int wait_secs, rc;
	struct poptOption opts[] = { CLI_WAIT_OPTION(wait), POPT_TABLEEND };

	rc = cli_parse_wait(cli, argc, argv, opts, 0, 3, 3, &wait, &wait_secs);
	if (rc != CLI_CONTINUE)
		return rc;
	return edit(cli, "rename", cli->args[1], cli->args[2], NULL, wait_secs);
}

int cmd_describe(struct cli *cli, int argc, const char **argv)
{
	const char *desc = NULL, *wait = NULL;
	int wait_secs, rc;
	struct poptOption opts[] = {
		{ "description", 'd', POPT_ARG_STRING, &desc, 0, "the new description ('' clears it)",
		  "TEXT" },
		CLI_WAIT_OPTION(wait),
		POPT_TABLEEND
	};

	rc = cli_parse_wait(cli, argc, argv, opts, 0, 2, 2, &wait, &wait_secs);
	if (rc != CLI_CONTINUE)
		return rc;
	if (!desc)
		return cli_usage_error(cli, "missing -d TEXT");
	return edit(cli, "describe", cli->args[1], NULL, desc, wait_secs);
}
