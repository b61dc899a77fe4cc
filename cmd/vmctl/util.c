/* vmctl: glue the verbs share — --wait, finding and locking a VM, new VMs. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safeio.h"
#include "snapops.h"
#include "units.h"
#include "uuid.h"
#include "vmctl.h"

int vmctl_oom(struct error *err)
{
	return error_set(err, EXIT_FAIL, "out of memory");
}

int vmctl_parse(struct cli *cli, int argc, const char **argv, const struct poptOption *opts,
		unsigned flags, int min_args, int max_args, const char **wait_arg, int *wait_secs)
{
	return cli_parse_wait(cli, argc, argv, opts, flags, min_args, max_args, wait_arg,
			      wait_secs);
}

/* vm.xml of the VM; its <name> must be the folder's. */
static int load_config(struct vmctl_vm *vm, struct error *err)
{
	char path[4096 + 128];

	snprintf(path, sizeof(path), "%s/vm.xml", vm->dir);
	vm->cfg = vmconfig_load(path, err);
	if (!vm->cfg)
		return -1;
	if (strcmp(vm->cfg->name, vm->name) != 0)
		return error_set(err, EXIT_DATAERR, "%s: the name is '%s' but the VM's folder is "
				 "'%s'", path, vm->cfg->name, vm->name);
	return 0;
}

int vmctl_vm_open(struct cli *cli, const char *name, bool load, struct vmctl_vm *vm,
		  struct error *err)
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
		goto fail;
	}
	if (!load || load_config(vm, err) == 0)
		return 0;
fail:
	/* a failed open holds nothing: callers may return at once */
	vmctl_vm_close(vm);
	return -1;
}

int vmctl_vm_lock(struct cli *cli, struct vmctl_vm *vm, int wait_secs, struct error *err)
{
	if (oplock_acquire(&vm->lock, vm->dir, cli->prog, cli->verb, wait_secs, err) < 0)
		return -1;
	/* what we looked at before the lock may have changed meanwhile */
	if (!store_vm_exists(&vm->st, vm->name))
		return error_set(err, EXIT_NOINPUT, "no VM named '%s' in '%s'", vm->name,
				 vm->st.root);
	/* a snapshot operation cut short: finish or roll it back first (§6) */
	if (snapops_recover(vm->dir, err) < 0)
		return error_prefix(err, "VM '%s': cannot finish an interrupted snapshot operation",
				    vm->name);
	if (vm->cfg) {
		vmconfig_free(vm->cfg);
		vm->cfg = NULL;
		return load_config(vm, err);
	}
	return 0;
}

int vmctl_vm_require_stopped(struct vmctl_vm *vm, const char *why, struct error *err)
{
	struct vm_status s;

	if (vm_status_read(vm->dir, &s, err) < 0)
		return -1;
	if (s.state == VM_STATE_RUNNING || s.state == VM_STATE_PAUSED)
		return error_set(err, EXIT_TEMPFAIL, "VM '%s' is %s: %s", vm->name,
				 vm_state_name(s.state), why);
	return 0;
}

void vmctl_vm_close(struct vmctl_vm *vm)
{
	oplock_release(&vm->lock);
	vmconfig_free(vm->cfg);
	vm->cfg = NULL;
	free(vm->dir);
	vm->dir = NULL;
}

/* 73 when another VM of the store has this UUID. */
static int uuid_unique(const struct store *st, const struct vmconfig *cfg, struct error *err)
{
	char **names, path[4096 + 128];
	int n, rc = 0;

	if (!(names = store_list(st, &n, err)))
		return -1;
	for (int i = 0; i < n && rc == 0; i++) {
		struct error e;
		struct vmconfig *o;
		snprintf(path, sizeof(path), "%s/%s/vm.xml", st->root, names[i]);
		if (!(o = vmconfig_load(path, &e)))
			continue; /* a broken definition holds no UUID we can compare */
		if (memcmp(o->uuid, cfg->uuid, 16) == 0) {
			char u[UUID_STR_LEN];
			rc = error_set(err, EXIT_CANTCREAT, "UUID %s is already used by VM '%s'",
				       uuid_format(cfg->uuid, u), names[i]);
		}
		vmconfig_free(o);
	}
	store_names_free(names, n);
	return rc;
}

int vmctl_store_new(struct cli *cli, struct store *st, const struct vmconfig *cfg,
		    int wait_secs, struct error *err)
{
	struct oplock l = { .fd = -1 };
	char path[4096 + 128], *dir;
	int rc = -1;

	if (store_vm_exists(st, cfg->name))
		return error_set(err, EXIT_CANTCREAT, "VM '%s' already exists in '%s'", cfg->name,
				 st->root);
	if (uuid_unique(st, cfg, err) < 0)
		return -1;
	if (!(dir = store_vm_dir(st, cfg->name, err)))
		return -1;
	if (store_mkdir(dir, err) < 0)
		goto out;
	if (oplock_acquire(&l, dir, cli->prog, cli->verb, wait_secs, err) < 0) {
		(void)rmdir(dir);      /* only if empty: nobody else's */
		goto out;
	}
	/* another define may have won the race while we waited */
	if (store_vm_exists(st, cfg->name)) {
		error_set(err, EXIT_CANTCREAT, "VM '%s' already exists in '%s'", cfg->name,
			  st->root);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/vm.xml", dir);
	rc = vmconfig_save(cfg, path, err);
out:
	if (rc < 0 && l.fd >= 0 && !store_vm_exists(st, cfg->name)) {
		/* no VM came of it (a full disk, say): leave no empty folder behind;
		 * the lock goes while held, then the folder if nothing else is in it */
		snprintf(path, sizeof(path), "%s/op.lock", dir);
		if (unlink(path) == 0 && rmdir(dir) == 0)
			(void)io_fsync_parent_dir(dir);
	}
	oplock_release(&l);
	free(dir);
	return rc;
}

char *vmctl_abspath(const char *path, struct error *err)
{
	char dir[PATH_MAX], *real, *s;
	const char *base = io_basename(path);

	if (!*path || !*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
		return error_set(err, EXIT_USAGE, "'%s' is not a file name", path), NULL;
	io_dirname(path, dir, sizeof(dir));
	if (!(real = realpath(dir, NULL)))
		return error_errno(err, errno, "cannot find '%s'", path), NULL;
	if (asprintf(&s, "%s%s%s", real, strcmp(real, "/") ? "/" : "", base) < 0)
		s = NULL, vmctl_oom(err);
	free(real);
	return s;
}
