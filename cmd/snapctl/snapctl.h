/* snapctl.h — verbs of snapctl and what they share. */
#ifndef SNAPCTL_H
#define SNAPCTL_H

#include <stdbool.h>

#include "cli.h"
#include "snapshot.h"
#include "statedir.h"

int cmd_create(struct cli *cli, int argc, const char **argv);
int cmd_list(struct cli *cli, int argc, const char **argv);
int cmd_show(struct cli *cli, int argc, const char **argv);
int cmd_current(struct cli *cli, int argc, const char **argv);
int cmd_apply(struct cli *cli, int argc, const char **argv);
int cmd_undo(struct cli *cli, int argc, const char **argv);
int cmd_delete(struct cli *cli, int argc, const char **argv);
int cmd_rename(struct cli *cli, int argc, const char **argv);
int cmd_describe(struct cli *cli, int argc, const char **argv);
int cmd_export(struct cli *cli, int argc, const char **argv);
int cmd_import(struct cli *cli, int argc, const char **argv);
int cmd_prune(struct cli *cli, int argc, const char **argv);
int cmd_du(struct cli *cli, int argc, const char **argv);

/* Progress of export/import (export.c): on stderr when it is a terminal,
 * never with -q; SIGINT/SIGTERM/SIGHUP make the callback say "stop", and
 * snap_progress_end() re-raises the signal once the work has unwound. */
struct snap_progress {
	struct cli *cli;
	bool show, shown;
	int last;
	const char *phase;
};
void snap_progress_begin(struct snap_progress *p, struct cli *cli);
int snap_progress_cb(void *ctx, const char *phase, uint64_t done, uint64_t total);
int snap_progress_end(struct snap_progress *p, int rc);

/* A VM as a snapctl verb works on it. */
struct snapvm {
	struct store st;
	char name[VMCONFIG_NAME_MAX + 1];
	char *dir;
	struct oplock lock;   /* fd -1 unless held */
};

/* Find VM `name` in the store (--root / $VMCTL_ROOT): 64 bad name, 66 missing. */
int snapvm_open(struct cli *cli, const char *name, struct snapvm *vm, struct error *err);
/* op.lock as "snapctl <verb>" (75 when busy unless --wait), then finish or roll
 * back a leftover journal. */
int snapvm_lock(struct snapvm *vm, const char *verb, int wait_secs, struct error *err);
void snapvm_close(struct snapvm *vm);


/* Bytes a snapshot holds on disk: its frozen layers, state and RAM (allocated). */
uint64_t snapshot_disk_bytes(const char *vmdir, const struct snapshot *s);

#endif
