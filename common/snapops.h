/*
 * snapops.h — snapshot operations that change several files (DESIGN §2, §6):
 * create (offline, or online through the running VMM), apply, delete with
 * merge, and the journal that makes each one all-or-nothing.
 *
 * Each operation writes <vm>/journal (the plan) before it changes anything,
 * does idempotent steps, and removes the journal. The caller holds op.lock
 * and calls snapops_recover() first: a leftover journal is rolled forward
 * when its commit point (vm.xml naming the new layers, or the VMM writing to
 * them) was reached, else rolled back. Layers are named as Hyper-V 2.0 does:
 * <stem>_<snapshot uuid>.avhd beside their parent.
 */
#ifndef VMSNAP_SNAPOPS_H
#define VMSNAP_SNAPOPS_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "snapshot.h"

int snapops_recover(const char *vmdir, struct error *err);
/*
 * Merges a delete deferred because the running VM wrote to the layer
 * (<vm>/pending-merges): done once the VM is stopped, by snapops_recover()
 * (so by the next vmctl or snapctl command that locks the VM). *done counts.
 */
int snapops_run_pending(const char *vmdir, int *done, struct error *err);

struct snap_create {
	const char *name;        /* NULL: "VM (YYYY-MM-DD HH:MM:SS)" */
	const char *description;
	bool disk_only;          /* running VM: crash-consistent disks, no RAM */
	/* out */
	uint8_t uuid[16];
	bool online;
	char mode[64];           /* VMM report: "pause_ms=... mode=copy-on-write" */
	char name_used[SNAP_NAME_MAX + 64];
};
int snapops_create(const char *vmdir, const char *vm, struct snap_create *c,
		   struct error *err);

enum snap_run { SNAP_RUN_DEFAULT, SNAP_RUN_RUNNING, SNAP_RUN_PAUSED, SNAP_RUN_STOPPED };

struct snap_apply {
	const char *spec;           /* name, UUID or @current */
	enum snap_run run;
	const char *save_current;   /* non-NULL: snapshot "now" first under this name ("" = default) */
	bool record_undo;           /* remember the saved-current snapshot for `undo` */
	/* out */
	uint8_t applied[16];
	uint8_t saved[16];
	bool did_save;
	bool started;
	char state[16];             /* running, paused, stopped */
};
int snapops_apply(const char *vmdir, const char *vm, struct snap_apply *a, struct error *err);

struct snap_delete_plan {
	int nmerge, nkept, nremoved, npending;
	char lines[64][600];        /* human plan lines */
	int nlines;
	uint64_t bytes_freed;
};
/* Delete one snapshot (its children move up to its parent). */
int snapops_delete(const char *vmdir, const char *vm, const char *spec, bool dry_run,
		   struct snap_delete_plan *plan, struct error *err);

/* Layers the VM writes to now (vm.xml, or run/disks while running); n set. */
int snapops_now_layers(const char *vmdir, char **out, int max, struct error *err);

#endif
