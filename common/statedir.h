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
#include <sys/types.h>

#include "error.h"

struct store {
	char root[4096];
};

/* Resolve the root (see above) and create it 0700 if missing. */
int store_open(struct store *st, const char *root_opt, struct error *err);
/* "<root>/<vm>" (malloc'ed) — NULL with EXIT_USAGE for an invalid name. */
char *store_vm_dir(const struct store *st, const char *vm, struct error *err);
/* 1 if the VM exists (has vm.xml), 0 if not. */
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

#endif
