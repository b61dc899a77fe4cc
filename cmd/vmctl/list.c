/* vmctl list [--all]: running and paused VMs (every VM with --all). */
#include <stdio.h>
#include <stdlib.h>

#include "vmctl.h"

int cmd_list(struct cli *cli, int argc, const char **argv)
{
	int all = 0, rc, n = 0;
	struct poptOption opts[] = {
		{ "all", 'a', POPT_ARG_NONE, &all, 0,
		  "also stopped, saved and crashed VMs", NULL },
		POPT_TABLEEND
	};
	char **names = NULL, path[4096 + 128];
	struct store st;
	struct error err;
	struct out *o;

	error_init(&err);
	rc = cli_parse(cli, argc, argv, opts, CLI_REPORTS, 0, 0);
	if (rc != CLI_CONTINUE)
		return rc;
	if (store_open(&st, cli->root, &err) < 0 || !(names = store_list(&st, &n, &err)))
		return cli_fail(cli, &err);
	if (!(o = out_new(cli->mode))) {
		store_names_free(names, n);
		return cli_fail(cli, (vmctl_oom(&err), &err));
	}
	out_begin_table(o, "vms");
	for (int i = 0; i < n; i++) {
		struct vm_status s;
		struct vmconfig *c;
		struct error e;

		snprintf(path, sizeof(path), "%s/%s", st.root, names[i]);
		if (vm_status_read(path, &s, &e) < 0) {
			cli_warn(cli, "VM '%s': %s", names[i], e.msg);
			continue;
		}
		if (!all && s.state != VM_STATE_RUNNING && s.state != VM_STATE_PAUSED)
			continue;
		snprintf(path, sizeof(path), "%s/%s/vm.xml", st.root, names[i]);
		if (!(c = vmconfig_load(path, &e)))
			cli_warn(cli, "VM '%s': %s", names[i], e.msg);
		out_begin_object(o, NULL);
		out_str(o, "name", names[i]);
		out_str(o, "state", vm_state_name(s.state));
		if (c) {
			out_u64(o, "vcpus", c->vcpus);
			out_size(o, cli->mode == OUT_TEXT ? "memory" : "memory_bytes",
				 c->memory_bytes);
		} else {
			out_str(o, "vcpus", NULL);
			out_str(o, cli->mode == OUT_TEXT ? "memory" : "memory_bytes", NULL);
		}
		out_end(o);
		vmconfig_free(c);
	}
	out_end(o);
	rc = out_print(o, cli->out, &err) < 0 ? cli_fail(cli, &err) : EXIT_OK;
	out_free(o);
	store_names_free(names, n);
	return rc;
}
