/* vmm.h — the VMM process behind `vmctl start`, and the runtime verbs. */
#ifndef VMCTL_VMM_H
#define VMCTL_VMM_H

#include <stdbool.h>

#include "cli.h"
#include "vmconfig.h"

struct vmm_params {
	const char *vmdir;
	const char *name;
	struct vmconfig *cfg;
	bool start_paused;
	int notify_fd;        /* the starting client reads "ok PID" or "err CODE MSG" */
	const char *state;    /* resume from this .vsv (its .bin beside it), or NULL */
	bool state_is_managed;/* <vm>/saved.vsv: removed once the guest runs again */
	bool fresh;           /* boot; remove <vm>/saved.* once the guest runs */
};

/* The identity a state file records: name, uuid, memory, vCPUs, disks. */
char *vmm_config_text(const struct vmconfig *c);
/* "x.vsv" -> "x.bin" (malloc'ed) */
char *vmm_bin_for(const char *vsv);

/* Run the VMM in this process until the VM stops; returns an exit code. */
int vmm_main(struct vmm_params *p);

int cmd_start(struct cli *cli, int argc, const char **argv);
int cmd_stop(struct cli *cli, int argc, const char **argv);
int cmd_pause(struct cli *cli, int argc, const char **argv);
int cmd_resume(struct cli *cli, int argc, const char **argv);
int cmd_save(struct cli *cli, int argc, const char **argv);
int cmd_wait(struct cli *cli, int argc, const char **argv);
int cmd_console(struct cli *cli, int argc, const char **argv);

/* console.c: attach to a running VM's console socket. */
int console_attach(struct cli *cli, const char *vmdir, const char *name, double timeout,
		   const char *until, double linger);
/* Connect to <vmdir>/run/console.sock (long paths handled); -1 with err. */
int console_connect(const char *vmdir, struct error *err);

#endif
