/* vmctl start: detach a VMM process for the VM; return when the guest runs. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "control.h"
#include "safeio.h"
#include "statedir.h"
#include "vmctl.h"
#include "runtime.h"

int cmd_start(struct cli *cli, int argc, const char **argv)
{
	int console = 0, paused = 0, fresh = 0, wait_secs, rc;
	const char *from = NULL, *wait = NULL;
	struct poptOption opts[] = {
		{ "console", 'c', POPT_ARG_NONE, &console, 0, "attach to the console once running",
		  NULL },
		{ "paused", 'p', POPT_ARG_NONE, &paused, 0, "start with the vCPUs paused", NULL },
		{ "from-state", 's', POPT_ARG_STRING, &from, 0,
		  "resume from this saved state (FILE.vsv with FILE.bin beside it)", "FILE.vsv" },
		{ "fresh", '\0', POPT_ARG_NONE, &fresh, 0,
		  "boot afresh; a managed save is removed once the guest runs", NULL },
		VMCTL_WAIT_OPTION(wait),
		POPT_TABLEEND
	};
	struct vmctl_vm vm;
	struct error err;
	char *managed = NULL, path[4400];
	pid_t pid;

	error_init(&err);
	rc = vmctl_parse(cli, argc, argv, opts, 0, 1, 1, &wait, &wait_secs);
	if (rc != CLI_CONTINUE)
		return rc;
	if (from && fresh)
		return cli_usage_error(cli, "--from-state and --fresh exclude each other");
	if (vmctl_vm_open(cli, cli->args[0], true, &vm, &err) < 0)
		return cli_fail(cli, &err);
	if (vmctl_vm_lock(cli, &vm, wait_secs, &err) < 0)
		goto fail;
	if (vm_running(vm.dir) == 1) {
		error_set(&err, EXIT_TEMPFAIL, "VM '%s' is already running (pid %ld)", vm.name,
			  control_vmm_pid(vm.dir));
		goto fail;
	}
	snprintf(path, sizeof(path), "%s/saved.vsv", vm.dir);
	if (from) {
		if (access(from, R_OK) < 0) {
			error_errno(&err, errno, "cannot open '%s'", from);
			goto fail;
		}
	} else if (!fresh && access(path, F_OK) == 0) {
		managed = strdup(path);
		if (!managed) {
			vmctl_oom(&err);
			goto fail;
		}
	}
	struct vmm_params p = { .vmdir = vm.dir, .name = vm.name, .cfg = vm.cfg,
				.start_paused = paused, .state = from ? from : managed,
				.state_is_managed = managed != NULL, .fresh = fresh };
	if (vmm_spawn(&p, &pid, &err) < 0)
		goto fail;
	cli_verbose(cli, "VM '%s' started (VMM pid %ld)", vm.name, (long)pid);
	/* the lock goes before attaching: the console is no mutation */
	oplock_release(&vm.lock);
	rc = EXIT_OK;
	if (console)
		rc = console_attach(cli, vm.dir, vm.name, -1, NULL, 1.0);
	free(managed);
	vmctl_vm_close(&vm);
	return rc;
fail:
	free(managed);
	vmctl_vm_close(&vm);
	return cli_fail(cli, &err);
}
