/* vmctl — define VMs and run them on KVM. */
#include "vmctl.h"
#include "runtime.h"

static const struct cli_verb verbs[] = {
	/* definitions (define.c, create.c, undefine.c, set.c) */
	{ "define", cmd_define, "[--wait[=SECS]] FILE.xml",
	  "add a VM from a libvirt <domain> XML file (FILE '-' reads stdin)" },
	{ "create", cmd_create,
	  "[--memory SIZE] [--cpus N] --kernel FILE [--initrd FILE] [--cmdline TEXT] "
	  "[--disk FILE]... [--wait[=SECS]] NAME",
	  "add a VM from options (writes its vm.xml)" },
	{ "undefine", cmd_undefine, "[--remove-disks] [--wait[=SECS]] VM",
	  "remove a stopped VM from the store (and its disks with --remove-disks)" },
	{ "set", cmd_set, "[--memory SIZE] [--cpus N] [--wait[=SECS]] VM",
	  "change a stopped VM's memory or vCPU count" },
	{ "dumpxml", cmd_dumpxml, "VM", "print a VM's vm.xml" },
	/* reports (list.c, status.c) */
	{ "list", cmd_list, "[--all] [--json|-H]",
	  "list running and paused VMs (all VMs with --all)" },
	{ "status", cmd_status, "[--json|-H] VM",
	  "show a VM's state, pid, uptime, memory, vCPUs and disk chains" },
	/* runtime (start.c, runtime.c, console.c; the VMM itself in vmm.c) */
	{ "start", cmd_start,
	  "[--console] [--paused] [--from-state FILE.vsv | --fresh] [--wait[=SECS]] VM",
	  "start the VM (resuming a saved state) in a VMM process of its own" },
	{ "stop", cmd_stop, "[--force] [--timeout S] [--no-wait] [--wait[=SECS]] VM",
	  "shut the guest down (Ctrl-Alt-Del, then forced after the timeout)" },
	{ "pause", cmd_pause, "[--wait[=SECS]] VM", "stop the vCPUs" },
	{ "resume", cmd_resume, "[--wait[=SECS]] VM", "let paused vCPUs run again" },
	{ "save", cmd_save, "[--wait[=SECS]] VM",
	  "save RAM and CPU/device state to the VM folder and stop; start resumes it" },
	{ "console", cmd_console, "[--log] [--until TEXT] [--timeout S] [--linger S] VM",
	  "the guest's serial console (^] leaves); --log prints what it wrote" },
	{ "wait", cmd_wait, "[--timeout S] VM", "wait until the VM is not running" },
	{ NULL, NULL, NULL, NULL },
};

int main(int argc, char **argv)
{
	return cli_main("vmctl", verbs, argc, argv);
}
