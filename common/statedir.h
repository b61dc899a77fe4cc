/*
 * statedir.h — the VM store and its locks (DESIGN.md §2, §3).
 *
 * Root: --root DIR, else $VMCTL_ROOT, else /var/lib/vmctl (root) or
 * $XDG_DATA_HOME/vmctl (~/.local/share/vmctl). Folders 0700, files 0600.
 *
 *   struct store st;
 *   store_open(&st, cli->root, &err);                 resolve + create the root
 *   char *dir = store_vm_dir(&st, "web");             "<root>/web" (malloc'ed)
 *   struct oplock l;
 *   oplock_acquire(&l, dir, "snapctl", "delete", wait_secs, &err);   75 if busy
 *   ... mutate ...
 *   oplock_release(&l);
 *   vm_running(dir) ...                               run.lock probe, never stale
 */
#ifndef VMSNAP_STATEDIR_H
#define VMSNAP_STATEDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "error.h"

struct store {
	char root[4096];
};

/* Resolve the root (see above) and create it 0700 if missing. */
int store_open(struct store *st, const char *root_opt, struct error *err);
/* "<root>/<vm>" (malloc'ed) — NULL with EXIT_USAGE for an invalid name. */
char *store_vm_dir(const struct store *st, const char *vm, struct error *err);
/* 1 if the VM exists (has vm.xml), 0 if not. The folder must be a real
 * folder; a vm.xml that is a symlink counts (loading it is then refused). */
int store_vm_exists(const struct store *st, const char *vm);
/* Names of all VMs, sorted; *n set. Free with store_names_free(). */
char **store_list(const struct store *st, int *n, struct error *err);
void store_names_free(char **names, int n);

/*
 * op.lock: held by any mutating command for its duration (flock LOCK_EX). Its
 * content names the holder: "pid starttime argv0 verb iso8601". On contention:
 * wait_secs == 0 → EXIT_TEMPFAIL with
 *   "VM 'web' is busy: pid 4711 (snapctl delete) since 2026-11-26T03:00:12Z";
 * wait_secs > 0 → wait up to that long; < 0 → wait forever.
 */
struct oplock {
	int fd;
};
int oplock_acquire(struct oplock *l, const char *vmdir, const char *tool, const char *verb,
		   int wait_secs, struct error *err);
void oplock_release(struct oplock *l);

/*
 * run.lock: held by the VMM for its whole life. vm_running() probes it with
 * LOCK_NB (1 running, 0 not, -1 error); runlock_acquire() takes it for a VMM
 * (EXIT_TEMPFAIL "VM 'web' is already running (pid N)" if held).
 */
int vm_running(const char *vmdir);
int runlock_acquire(const char *vmdir, const char *vm, struct error *err);

/* mkdir 0700 that accepts an existing folder (not a symlink). */
int store_mkdir(const char *path, struct error *err);

/* ---- additions (statedir.c) ---- */

/*
 * Open "<vmdir>/<rel>" (rel may hold '/', never "..") without following a
 * symbolic link at vmdir's last component or anywhere in rel (EXIT_NOPERM
 * "... is a symbolic link: refused"). O_NOFOLLOW | O_CLOEXEC are added to
 * flags. Returns the fd or -1 (ENOENT → EXIT_NOINPUT).
 */
int store_openat(const char *vmdir, const char *rel, int flags, mode_t mode, struct error *err);
/* Whole small file of a VM (e.g. "run/pid") as a NUL-terminated malloc'ed
 * string; larger than max → EXIT_DATAERR. len may be NULL. */
int store_read_file(const char *vmdir, const char *rel, char **buf, size_t *len, size_t max,
		    struct error *err);
/* Atomic replace of "<vmdir>/<rel>", mode 0600, after checking that the
 * folders on the way are real folders (for run/pid, run/state, run/started). */
int store_write_file(const char *vmdir, const char *rel, const void *data, size_t len,
		     struct error *err);
/* rm -r that never follows a symbolic link; then fsyncs the parent folder. */
int store_remove_tree(const char *path, struct error *err);

/*
 * The state of a VM (vmctl status, list):
 *   run.lock held          → running, or paused when run/state says "paused"
 *   run/ exists, not held  → crashed (the VMM died without cleaning up)
 *   saved.vsv exists       → saved
 *   else                   → stopped
 * So a VMM removes run/ while it still holds run.lock. pid and started
 * (from run/pid and run/started, unix seconds) are 0 when unknown or not
 * running.
 */
enum vm_state { VM_STATE_STOPPED, VM_STATE_RUNNING, VM_STATE_PAUSED, VM_STATE_SAVED,
		VM_STATE_CRASHED };
struct vm_status {
	enum vm_state state;
	pid_t pid;
	time_t started;
};
int vm_status_read(const char *vmdir, struct vm_status *s, struct error *err);
/* "running", "paused", "saved", "crashed", "stopped" */
const char *vm_state_name(enum vm_state s);

#endif
