/* Shared by snapctl's verbs: finding and locking a VM. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "snapctl.h"
#include "snapops.h"

int snapvm_open(struct cli *cli, const char *name, struct snapvm *vm, struct error *err)
{
	memset(vm, 0, sizeof(*vm));
	vm->lock.fd = -1;
	if (store_open(&vm->st, cli->root, err) < 0)
		return -1;
	if (!(vm->dir = store_vm_dir(&vm->st, name, err)))
		return -1;
	snprintf(vm->name, sizeof(vm->name), "%s", name);
	if (!store_vm_exists(&vm->st, name)) {
		error_set(err, EXIT_NOINPUT, "no VM named '%s' in '%s'", name, vm->st.root);
		snapvm_close(vm); /* a failed open holds nothing */
		return -1;
	}
	return 0;
}

int snapvm_lock(struct snapvm *vm, const char *verb, int wait_secs, struct error *err)
{
	if (oplock_acquire(&vm->lock, vm->dir, "snapctl", verb, wait_secs, err) < 0)
		return -1;
	return snapops_recover(vm->dir, err);
}

void snapvm_close(struct snapvm *vm)
{
	if (vm->lock.fd >= 0)
		oplock_release(&vm->lock);
	free(vm->dir);
	vm->dir = NULL;
}

static uint64_t allocated(const char *path)
{
	struct stat st;

	return path && stat(path, &st) == 0 ? (uint64_t)st.st_blocks * 512 : 0;
}

uint64_t snapshot_disk_bytes(const char *vmdir, const struct snapshot *s)
{
	uint64_t n = 0;

	for (int i = 0; i < s->ndisks; i++)
		n += allocated(s->disks[i].file);
	if (s->online) {
		char *vsv = snapshot_path(vmdir, s->uuid, ".vsv");
		n += allocated(s->memory) + allocated(vsv);
		free(vsv);
	}
	return n;
}
