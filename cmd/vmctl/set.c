/* vmctl set VM [--memory SIZE] [--cpus N]: change a stopped VM's vm.xml. */
#include <stdio.h>

#include "units.h"
#include "vmctl.h"

int cmd_set(struct cli *cli, int argc, const char **argv)
{
	const char *wait = NULL, *memory = NULL, *cpus = NULL;
	int wait_secs, rc;
	struct poptOption opts[] = {
		{ "memory", 'm', POPT_ARG_STRING, &memory, 0, "guest RAM, 16M to 1T", "SIZE" },
		{ "cpus", 'c', POPT_ARG_STRING, &cpus, 0, "vCPUs, 1 to 64", "N" },
		VMCTL_WAIT_OPTION(wait),
		POPT_TABLEEND
	};
	char path[4096 + 128], h[32];
	struct vm_status s;
	struct vmctl_vm vm;
	struct error err;
	uint64_t mem = 0, n = 0;

	error_init(&err);
	rc = vmctl_parse(cli, argc, argv, opts, 0, 1, 1, &wait, &wait_secs);
	if (rc != CLI_CONTINUE)
		return rc;
	if (!memory && !cpus)
		return cli_usage_error(cli, "nothing to set: give --memory and/or --cpus");
	/* the values first: a typo fails before anything is locked */
	if (memory && units_parse_size(memory, &mem, &err) < 0)
		return cli_fail(cli, &err);
	if (cpus && units_parse_u64(cpus, &n, &err) < 0)
		return cli_fail(cli, &err);
	if (cpus && n > VMCONFIG_MAX_VCPUS)
		return cli_usage_error(cli, "vCPU count %s is above the maximum of %d", cpus,
				       VMCONFIG_MAX_VCPUS);
	if (vmctl_vm_open(cli, cli->args[0], true, &vm, &err) < 0 ||
	    vmctl_vm_lock(cli, &vm, wait_secs, &err) < 0 ||
	    vmctl_vm_require_stopped(&vm, "memory and vCPUs change only while it is stopped",
				     &err) < 0 ||
	    vm_status_read(vm.dir, &s, &err) < 0)
		goto fail;
	if (s.state == VM_STATE_SAVED) {
		error_set(&err, EXIT_FAIL, "VM '%s' has a saved state that needs its current "
			  "memory and vCPUs: start it and shut it down first", vm.name);
		goto fail;
	}
	if ((memory && vmconfig_set_memory(vm.cfg, mem, &err) < 0) ||
	    (cpus && vmconfig_set_vcpus(vm.cfg, (unsigned)n, &err) < 0))
		goto fail;
	snprintf(path, sizeof(path), "%s/vm.xml", vm.dir);
	if (vmconfig_save(vm.cfg, path, &err) < 0)
		goto fail;
	cli_verbose(cli, "VM '%s': memory %s, %u vCPU%s", vm.name,
		    units_format_size(vm.cfg->memory_bytes, h, sizeof(h)), vm.cfg->vcpus,
		    vm.cfg->vcpus == 1 ? "" : "s");
	rc = EXIT_OK;
	goto out;
fail:
	rc = cli_fail(cli, &err);
out:
	vmctl_vm_close(&vm);
	return rc;
}
