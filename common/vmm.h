/*
 * vmm.h — the VMM process: one per running VM, holding <vm>/run.lock for its
 * whole life (DESIGN §3). vmctl start and snapctl apply start one with
 * vmm_spawn(); it reports back when the guest runs.
 */
#ifndef VMSNAP_VMM_H
#define VMSNAP_VMM_H

#include <stdbool.h>
#include <sys/types.h>

#include "error.h"
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

/* Run the VMM in this process until the VM stops; returns an exit code. */
int vmm_main(struct vmm_params *p);

/*
 * Fork a detached VMM (new session, stdio on /dev/null, only the report pipe
 * inherited) and wait until the guest runs: 0 and *pid, or -1 with the
 * VMM's error. The caller's op.lock stays the caller's.
 */
int vmm_spawn(struct vmm_params *p, pid_t *pid, struct error *err);

/* The identity a state file records: name, uuid, memory, vCPUs, disks. */
char *vmm_config_text(const struct vmconfig *c);
/* "x.vsv" -> "x.bin" (malloc'ed) */
char *vmm_bin_for(const char *vsv);

#endif
