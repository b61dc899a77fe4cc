/* vmctl create NAME --kernel K [--memory SIZE] [--cpus N] [--initrd I]
 * [--cmdline C] [--disk FILE]...: a new VM from options. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "units.h"
#include "vhd.h"
#include "vmctl.h"

/* *field = the absolute path of an existing regular file. */
static int set_file(char **field, const char *what, const char *path,
		    struct error *err)
{
	struct stat sb;
	char *abs;
	int rc;

	if (stat(path, &sb) < 0)
		return error_errno(err, errno, "cannot use %s '%s'", what, path);
	if (!S_ISREG(sb.st_mode))
		return error_set(err, EXIT_USAGE, "%s '%s' is not a regular file", what, path);
	if (!(abs = vmctl_abspath(path, err)))
		return -1;
	rc = vmconfig_set_str(field, abs, err);
	free(abs);
	return rc;
}

static int add_disk(struct vmconfig *c, const char *path, struct error *err)
{
	char *abs;
	int rc;

	rc = vhd_probe(path, err);
	if (rc < 0)
		return -1;
	if (rc == 0)
		return error_set(err, EXIT_DATAERR, "'%s' is not a VHD image", path);
	if (!(abs = vmctl_abspath(path, err)))
		return -1;
	for (int i = 0; i < c->ndisks; i++)
		if (strcmp(c->disks[i].path, abs) == 0) {
			free(abs);
			return error_set(err, EXIT_USAGE, "disk '%s' is given twice", path);
		}
	rc = vmconfig_add_disk(c, abs, false, err);
	free(abs);
	return rc;
}

int cmd_create(struct cli *cli, int argc, const char **argv)
{
	const char *wait = NULL, *memory = NULL, *cpus = NULL, *kernel = NULL, *initrd = NULL,
		   *cmdline = NULL;
	const char **disks = NULL;
	int wait_secs, rc;
	struct poptOption opts[] = {
		{ "memory", 'm', POPT_ARG_STRING, &memory, 0, "guest RAM (default 512M)", "SIZE" },
		{ "cpus", 'c', POPT_ARG_STRING, &cpus, 0, "vCPUs, 1 to 64 (default 1)", "N" },
		{ "kernel", 'k', POPT_ARG_STRING, &kernel, 0,
		  "bzImage or ELF64 kernel to boot (required)", "FILE" },
		{ "initrd", 'i', POPT_ARG_STRING, &initrd, 0, "initial RAM disk", "FILE" },
		{ "cmdline", '\0', POPT_ARG_STRING, &cmdline, 0, "kernel command line", "TEXT" },
		{ "disk", 'd', POPT_ARG_ARGV, &disks, 0,
		  "a VHD/AVHD disk (vda, vdb, ... in order; repeatable)", "FILE" },
		VMCTL_WAIT_OPTION(wait),
		POPT_TABLEEND
	};
	struct vmconfig *cfg = NULL;
	struct store st;
	struct error err;
	uint64_t v;

	error_init(&err);
	rc = vmctl_parse(cli, argc, argv, opts, 0, 1, 1, &wait, &wait_secs);
	if (rc != CLI_CONTINUE)
		goto out;
	if (!kernel) {
		rc = cli_usage_error(cli, "--kernel is required");
		goto out;
	}
	if (!(cfg = vmconfig_new(cli->args[0], &err)))
		goto fail;
	if (memory && (units_parse_size(memory, &v, &err) < 0 ||
		       vmconfig_set_memory(cfg, v, &err) < 0))
		goto fail;
	if (cpus) {
		if (units_parse_u64(cpus, &v, &err) < 0)
			goto fail;
		if (v > VMCONFIG_MAX_VCPUS) {
			error_set(&err, EXIT_USAGE, "vCPU count %s is above the maximum of %d", cpus,
				  VMCONFIG_MAX_VCPUS);
			goto fail;
		}
		if (vmconfig_set_vcpus(cfg, (unsigned)v, &err) < 0)
			goto fail;
	}
	if (set_file(&cfg->kernel, "kernel", kernel, &err) < 0 ||
	    (initrd && set_file(&cfg->initrd, "initrd", initrd, &err) < 0) ||
	    (cmdline && *cmdline && vmconfig_set_str(&cfg->cmdline, cmdline, &err) < 0))
		goto fail;
	for (int i = 0; disks && disks[i]; i++)
		if (add_disk(cfg, disks[i], &err) < 0)
			goto fail;
	if (store_open(&st, cli->root, &err) < 0 ||
	    vmctl_store_new(cli, &st, cfg, wait_secs, &err) < 0)
		goto fail;
	cli_verbose(cli, "created VM '%s' in '%s'", cfg->name, st.root);
	rc = EXIT_OK;
	goto out;
fail:
	rc = cli_fail(cli, &err);
out:
	vmconfig_free(cfg);
	for (int i = 0; disks && disks[i]; i++)
		free((char *)disks[i]);
	free(disks);
	return rc;
}
