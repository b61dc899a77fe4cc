/* vmctl define FILE.xml, vmctl dumpxml VM */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "safeio.h"
#include "vmctl.h"

/* The definition on stdin ("-"), at most 1 MiB. */
static struct vmconfig *read_stdin(struct error *err)
{
	size_t cap = 1 << 20;
	char *buf = malloc(cap + 1);
	struct vmconfig *c;
	ssize_t n;

	if (!buf)
		return vmctl_oom(err), NULL;
	n = io_read_full(STDIN_FILENO, buf, cap + 1);
	if (n < 0)
		c = (error_errno(err, errno, "cannot read standard input"), NULL);
	else
		c = vmconfig_parse(buf, (size_t)n, "<stdin>", err);
	free(buf);
	return c;
}

int cmd_define(struct cli *cli, int argc, const char **argv)
{
	const char *wait = NULL;
	int wait_secs, rc;
	struct poptOption opts[] = {
		VMCTL_WAIT_OPTION(wait),
		POPT_TABLEEND
	};
	struct vmconfig *cfg;
	struct store st;
	struct error err;

	error_init(&err);
	rc = vmctl_parse(cli, argc, argv, opts, 0, 1, 1, &wait, &wait_secs);
	if (rc != CLI_CONTINUE)
		return rc;
	if (strcmp(cli->args[0], "-") == 0)
		cfg = read_stdin(&err);
	else
		cfg = vmconfig_load_ex(cli->args[0], VMCONFIG_FOLLOW, &err);
	if (!cfg)
		return cli_fail(cli, &err);
	rc = EXIT_OK;
	if (store_open(&st, cli->root, &err) < 0 ||
	    vmctl_store_new(cli, &st, cfg, wait_secs, &err) < 0)
		rc = cli_fail(cli, &err);
	else
		cli_verbose(cli, "defined VM '%s' in '%s'", cfg->name, st.root);
	vmconfig_free(cfg);
	return rc;
}

int cmd_dumpxml(struct cli *cli, int argc, const char **argv)
{
	struct vmctl_vm vm;
	struct error err;
	char *xml = NULL;
	int rc;

	error_init(&err);
	rc = cli_parse(cli, argc, argv, NULL, 0, 1, 1);
	if (rc != CLI_CONTINUE)
		return rc;
	if (vmctl_vm_open(cli, cli->args[0], true, &vm, &err) < 0 ||
	    !(xml = vmconfig_format(vm.cfg, &err))) {
		rc = cli_fail(cli, &err);
	} else {
		fputs(xml, cli->out);
		rc = EXIT_OK;
	}
	free(xml);
	vmctl_vm_close(&vm);
	return rc;
}
