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
