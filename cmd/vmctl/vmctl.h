/* vmctl.h — verbs of vmctl (one file each once past ~100 lines) and the
 * glue they share (util.c). */
#ifndef VMCTL_H
#define VMCTL_H

#include <stdbool.h>

#include "cli.h"
#include "statedir.h"
#include "vmconfig.h"

/* definitions: define.c, create.c, undefine.c, set.c */
int cmd_define(struct cli *cli, int argc, const char **argv);
int cmd_dumpxml(struct cli *cli, int argc, const char **argv);
int cmd_create(struct cli *cli, int argc, const char **argv);
int cmd_undefine(struct cli *cli, int argc, const char **argv);
int cmd_set(struct cli *cli, int argc, const char **argv);
/* reports: list.c, status.c */
int cmd_list(struct cli *cli, int argc, const char **argv);
int cmd_status(struct cli *cli, int argc, const char **argv);

/*
 * --wait[=SECS] for a mutating verb's popt table:
 *   const char *wait = NULL; int wait_secs;
 *   struct poptOption opts[] = { VMCTL_WAIT_OPTION(wait), ..., POPT_TABLEEND };
 *   rc = vmctl_parse(cli, argc, argv, opts, 0, 1, 1, &wait, &wait_secs);
 * wait_secs: 0 (no --wait: fail at once with 75), SECS, or -1 (bare --wait:
 * wait as long as it takes).
 */
#define VMCTL_WAIT_OPTION(var)                                                             \
	{ "wait", '\0', POPT_ARG_STRING | POPT_ARGFLAG_OPTIONAL, &(var), 0,                 \
	  "when another command holds the VM, wait for it (at most SECS seconds)", "SECS" }

/* cli_parse() that also accepts a bare "--wait" before a positional argument
 * (popt would take that argument as the option's value). */
int vmctl_parse(struct cli *cli, int argc, const char **argv, const struct poptOption *opts,
		unsigned flags, int min_args, int max_args, const char **wait_arg, int *wait_secs);

/* A VM of the store, as a verb works on it. */
struct vmctl_vm {
	struct store st;
	char name[VMCONFIG_NAME_MAX + 1];
	char *dir;             /* <root>/<name> */
	struct vmconfig *cfg;  /* vm.xml, when loaded */
	struct oplock lock;    /* fd -1 unless held */
};

/* Open the store (--root / $VMCTL_ROOT) and find VM `name`: EXIT_USAGE for
 * a bad name, EXIT_NOINPUT "no VM named 'x' in '<root>'" if it has no
 * vm.xml. Loads vm.xml when load is set. */
int vmctl_vm_open(struct cli *cli, const char *name, bool load, struct vmctl_vm *vm,
		  struct error *err);
/* Take op.lock as "vmctl <verb>" (75 with the holder when busy), finish or
 * roll back a snapshot operation a crash left in <vm>/journal
 * (snapops_recover), then reload vm.xml if it was loaded (another command
 * may have changed it). */
int vmctl_vm_lock(struct cli *cli, struct vmctl_vm *vm, int wait_secs, struct error *err);
/* Refuse a running or paused VM: 75 "VM 'x' is running: stop it first". */
int vmctl_vm_require_stopped(struct vmctl_vm *vm, const char *why, struct error *err);
/* Release the lock and free. */
void vmctl_vm_close(struct vmctl_vm *vm);

/* Write a new VM (define, create): refuses an existing name or UUID (73),
 * creates <root>/<name> 0700, takes its op.lock, writes vm.xml. */
int vmctl_store_new(struct cli *cli, struct store *st, const struct vmconfig *cfg,
		    int wait_secs, struct error *err);

/* Absolute form of a path the user typed (folders resolved, the last
 * component kept, so /boot/vmlinuz stays a link). malloc'ed. */
char *vmctl_abspath(const char *path, struct error *err);

/* The one-line error message helpers print for a failed allocation. */
int vmctl_oom(struct error *err);

#endif
