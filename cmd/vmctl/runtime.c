/* vmctl stop, pause, resume, wait: requests to the running VMM. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "statedir.h"
#include "vmctl.h"
#include "runtime.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wait until the VMM released run.lock; 0, or -1 after timeout (< 0: forever). */
static int wait_stopped(const char *dir, double timeout)
{
	double until = now_s() + timeout;
	struct timespec ts = { 0, 20 * 1000000L };

	while (vm_running(dir) == 1) {
		if (timeout >= 0 && now_s() > until)
			return -1;
		nanosleep(&ts, NULL);
	}
	return 0;
}

/* Open and lock the VM for `verb`, check it runs, send the request. */
static int runtime_request(struct cli *cli, struct vmctl_vm *vm, int wait_secs, const char *verb,
			   const char *arg, int timeout_ms, char *reply, size_t reply_size,
			   struct error *err)
{
	int rc;

	if (vmctl_vm_open(cli, cli->args[0], false, vm, err) < 0 ||
	    vmctl_vm_lock(cli, vm, wait_secs, err) < 0)
		return -1;
	if (vm_running(vm->dir) != 1)
		return error_set(err, EXIT_FAIL, "VM '%s' is not running", vm->name);
	rc = control_request(vm->dir, verb, arg, timeout_ms, reply, reply_size, err);
	if (rc > 0)
		return error_set(err, rc, "VM '%s': %s", vm->name, reply);
	return rc;
}

static int simple_request(struct cli *cli, int argc, const char **argv, const char *verb)
{
	const char *wait = NULL;
	int wait_secs, rc;
	struct poptOption opts[] = { VMCTL_WAIT_OPTION(wait), POPT_TABLEEND };
	struct vmctl_vm vm;
	struct error err;
	char reply[600];

	error_init(&err);
	rc = vmctl_parse(cli, argc, argv, opts, 0, 1, 1, &wait, &wait_secs);
	if (rc != CLI_CONTINUE)
		return rc;
	memset(&vm, 0, sizeof(vm));
	vm.lock.fd = -1;
	rc = runtime_request(cli, &vm, wait_secs, verb, NULL, 10000, reply, sizeof(reply), &err);
	if (rc == 0)
		cli_verbose(cli, "VM '%s': %s", vm.name, reply);
	vmctl_vm_close(&vm);
	return rc == 0 ? EXIT_OK : cli_fail(cli, &err);
}

int cmd_pause(struct cli *cli, int argc, const char **argv)
{
	return simple_request(cli, argc, argv, "pause");
}

int cmd_resume(struct cli *cli, int argc, const char **argv)
{
	return simple_request(cli, argc, argv, "resume");
}

int cmd_stop(struct cli *cli, int argc, const char **argv)
{
	int force = 0, nowait = 0, wait_secs, rc;
	const char *timeout_s = NULL, *wait = NULL;
	struct poptOption opts[] = {
		{ "force", 'f', POPT_ARG_NONE, &force, 0, "stop at once, like pulling the plug",
		  NULL },
		{ "timeout", 't', POPT_ARG_STRING, &timeout_s, 0,
		  "seconds the guest gets to shut down before it is forced (default 60)", "S" },
		{ "no-wait", '\0', POPT_ARG_NONE, &nowait, 0, "return once the request is taken",
		  NULL },
		VMCTL_WAIT_OPTION(wait),
		POPT_TABLEEND
	};
	struct vmctl_vm vm;
	struct error err;
	char reply[600], arg[32];
	long timeout = 60;

	error_init(&err);
	rc = vmctl_parse(cli, argc, argv, opts, 0, 1, 1, &wait, &wait_secs);
	if (rc != CLI_CONTINUE)
		return rc;
	if (timeout_s) {
		char *end;
		timeout = strtol(timeout_s, &end, 10);
		if (*end || timeout < 0 || timeout > 86400)
			return cli_usage_error(cli, "invalid --timeout '%s': seconds, 0..86400",
					       timeout_s);
	}
	memset(&vm, 0, sizeof(vm));
	vm.lock.fd = -1;
	if (vmctl_vm_open(cli, cli->args[0], false, &vm, &err) < 0 ||
	    vmctl_vm_lock(cli, &vm, wait_secs, &err) < 0)
		goto fail;
	if (vm_running(vm.dir) != 1) {
		cli_warn(cli, "VM '%s' is not running", vm.name);
		vmctl_vm_close(&vm);
		return EXIT_OK;
	}
	snprintf(arg, sizeof(arg), "%ld", force ? 0 : timeout);
	rc = control_request(vm.dir, force ? "stop-force" : "stop", arg, 10000, reply,
			     sizeof(reply), &err);
	if (rc < 0 && vm_running(vm.dir) != 1)
		rc = 0; /* it stopped before its answer could be read: what was asked */
	if (rc < 0 && force && err.code == EXIT_IOERR && control_vmm_pid(vm.dir) > 0) {
		/* no room for a request file (a full file system): SIGTERM stops the
		 * VMM just as well, after a check that the pid is still the VMM's */
		long pid = control_vmm_pid(vm.dir);
		if (vm_running(vm.dir) == 1 && kill((pid_t)pid, SIGTERM) == 0) {
			cli_warn(cli, "%s; stopping VM '%s' with SIGTERM to pid %ld", err.msg, vm.name,
				 pid);
			rc = 0;
		}
	}
	if (rc != 0) {
		if (rc > 0)
			error_set(&err, rc, "VM '%s': %s", vm.name, reply);
		goto fail;
	}
	if (!nowait && wait_stopped(vm.dir, (double)timeout + 10) < 0) {
		error_set(&err, EXIT_TEMPFAIL, "VM '%s' did not stop within %ld s", vm.name,
			  timeout + 10);
		goto fail;
	}
	cli_verbose(cli, "VM '%s' stopped", vm.name);
	vmctl_vm_close(&vm);
	return EXIT_OK;
fail:
	vmctl_vm_close(&vm);
	return cli_fail(cli, &err);
}

int cmd_wait(struct cli *cli, int argc, const char **argv)
{
	const char *timeout_s = NULL;
	struct poptOption opts[] = {
		{ "timeout", 't', POPT_ARG_STRING, &timeout_s, 0,
		  "give up after S seconds (exit 75)", "S" },
		POPT_TABLEEND
	};
	struct error err;
	double timeout = -1;
	int rc;

	error_init(&err);
	rc = cli_parse(cli, argc, argv, opts, 0, 1, 1);
	if (rc != CLI_CONTINUE)
		return rc;
	if (timeout_s) {
		char *end;
		timeout = strtod(timeout_s, &end);
		if (*end || timeout < 0)
			return cli_usage_error(cli, "invalid --timeout '%s'", timeout_s);
	}
	struct vmctl_vm vm;
	if (vmctl_vm_open(cli, cli->args[0], false, &vm, &err) < 0)
		return cli_fail(cli, &err);
	rc = wait_stopped(vm.dir, timeout);
	if (rc < 0)
		error_set(&err, EXIT_TEMPFAIL, "VM '%s' is still running after %g s", vm.name,
			  timeout);
	vmctl_vm_close(&vm);
	return rc < 0 ? cli_fail(cli, &err) : EXIT_OK;
}

int cmd_save(struct cli *cli, int argc, const char **argv)
{
	const char *wait = NULL;
	int wait_secs, rc;
	struct poptOption opts[] = { VMCTL_WAIT_OPTION(wait), POPT_TABLEEND };
	struct vmctl_vm vm;
	struct error err;
	char reply[600];

	error_init(&err);
	rc = vmctl_parse(cli, argc, argv, opts, 0, 1, 1, &wait, &wait_secs);
	if (rc != CLI_CONTINUE)
		return rc;
	memset(&vm, 0, sizeof(vm));
	vm.lock.fd = -1;
	rc = runtime_request(cli, &vm, wait_secs, "save", NULL, 600000, reply, sizeof(reply),
			     &err);
	if (rc == 0 && wait_stopped(vm.dir, 60) < 0)
		rc = error_set(&err, EXIT_TEMPFAIL, "VM '%s' saved but its VMM did not exit",
			       vm.name);
	if (rc == 0)
		cli_verbose(cli, "VM '%s' %s", vm.name, reply);
	vmctl_vm_close(&vm);
	return rc == 0 ? EXIT_OK : cli_fail(cli, &err);
}
