/*
 * vmctl undefine [--remove-disks] VM
 *
 * Order, for crash safety: under op.lock and with the VM stopped, the VM
 * folder is renamed to "<root>/.<name>.undefined.<pid>" (one atomic step:
 * the VM is gone), the root fsynced, then the disks named in vm.xml (with
 * --remove-disks) and the renamed folder are deleted. A crash in between
 * leaves a hidden folder (not a VM: names never start with '.') or disks
 * nobody uses, never a VM without its disks. --remove-disks deletes the
 * files vm.xml names (not their parent layers) and keeps any that another
 * VM of the store uses, directly or as a layer of its chain.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safeio.h"
#include "vhd.h"
#include "vmctl.h"

/* Snapshot definitions in <vm>/snapshots: their layers need snapctl. */
static int count_snapshots(const char *dir)
{
	char path[4096 + 32];
	struct dirent *e;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/snapshots", dir);
	if (!(d = opendir(path)))
		return 0;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (e->d_name[0] != '.' && len > 4 && strcmp(e->d_name + len - 4, ".xml") == 0)
			n++;
	}
	closedir(d);
	return n;
}

struct file_id {
	dev_t dev;
	ino_t ino;
};

/* Is the file `id` a disk (or a layer under a disk) of another VM? */
static const char *used_elsewhere(const struct vmctl_vm *vm, const struct file_id *id,
				  char **names, int n)
{
	unsigned flags = DISK_RDONLY | DISK_NOLOCK | VHD_NOPARENT;
	char path[4096 + 128];

	for (int i = 0; i < n; i++) {
		struct vmconfig *c;
		struct error e;
		bool hit = false;
		if (strcmp(names[i], vm->name) == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s/vm.xml", vm->st.root, names[i]);
		if (!(c = vmconfig_load(path, &e)))
			continue;
		snprintf(path, sizeof(path), "%s/%s", vm->st.root, names[i]);
		for (int d = 0; d < c->ndisks && !hit; d++) {
			char *p = vmconfig_disk_path(c, d, path);
			struct vhd *top = p ? vhd_open(p, flags, &e) : NULL;
			struct stat sb;
			if (p && stat(p, &sb) == 0 && sb.st_dev == id->dev && sb.st_ino == id->ino)
				hit = true;
			for (struct vhd *v = top; v && !hit; v = v->parent) {
				hit = v->dev == id->dev && v->ino == id->ino;
				if (v->footer.type != VHD_TYPE_DIFF || vhd_open_parent(v, flags, &e) < 0)
					break;
			}
			vhd_close(top);
			free(p);
		}
		vmconfig_free(c);
		if (hit)
			return names[i];
	}
	return NULL;
}

int cmd_undefine(struct cli *cli, int argc, const char **argv)
{
	const char *wait = NULL;
	int wait_secs, remove_disks = 0, rc, ndisks = 0, nsnap;
	struct poptOption opts[] = {
		{ "remove-disks", '\0', POPT_ARG_NONE, &remove_disks, 0,
		  "also delete the disk files named in vm.xml", NULL },
		VMCTL_WAIT_OPTION(wait),
		POPT_TABLEEND
	};
	char *disks[VMCONFIG_MAX_DISKS] = { NULL }, **names = NULL;
	int nnames = 0;
	char gone[4096 + 128];
	struct vmctl_vm vm;
	struct error err;

	error_init(&err);
	rc = vmctl_parse(cli, argc, argv, opts, 0, 1, 1, &wait, &wait_secs);
	if (rc != CLI_CONTINUE)
		return rc;
	if (vmctl_vm_open(cli, cli->args[0], remove_disks != 0, &vm, &err) < 0 ||
	    vmctl_vm_lock(cli, &vm, wait_secs, &err) < 0 ||
	    vmctl_vm_require_stopped(&vm, "stop it before undefining it", &err) < 0)
		goto fail;
	if ((nsnap = count_snapshots(vm.dir)) > 0) {
		error_set(&err, EXIT_FAIL, "VM '%s' has %d snapshot%s: delete %s with snapctl first",
			  vm.name, nsnap, nsnap == 1 ? "" : "s", nsnap == 1 ? "it" : "them");
		goto fail;
	}
	if (remove_disks && !(names = store_list(&vm.st, &nnames, &err)))
		goto fail;
	for (int i = 0; remove_disks && i < vm.cfg->ndisks; i++) {
		char *p = vmconfig_disk_path(vm.cfg, i, vm.dir);
		struct stat sb;
		const char *user;
		if (!p) {
			vmctl_oom(&err);
			goto fail;
		}
		/* a disk another VM uses (directly or as a parent layer) stays */
		if (stat(p, &sb) == 0 &&
		    (user = used_elsewhere(&vm, &(struct file_id){ sb.st_dev, sb.st_ino }, names,
					   nnames))) {
			cli_warn(cli, "disk '%s' is kept: VM '%s' uses it", p, user);
			free(p);
			continue;
		}
		disks[ndisks++] = p;
	}
	snprintf(gone, sizeof(gone), "%s/.%s.undefined.%ld", vm.st.root, vm.name, (long)getpid());
	if (rename(vm.dir, gone) < 0) {
		error_errno(&err, errno, "cannot remove VM folder '%s'", vm.dir);
		goto fail;
	}
	if (io_fsync_parent_dir(gone) < 0)
		cli_warn(cli, "cannot sync '%s': %s", vm.st.root, strerror(errno));
	rc = EXIT_OK;
	for (int i = 0; i < ndisks; i++) {
		if (unlink(disks[i]) == 0) {
			if (io_fsync_parent_dir(disks[i]) < 0)
				cli_warn(cli, "cannot sync the folder of '%s': %s", disks[i],
					 strerror(errno));
			cli_verbose(cli, "removed disk '%s'", disks[i]);
		} else if (errno == ENOENT) {
			cli_warn(cli, "disk '%s' was already gone", disks[i]);
		} else {
			struct error e;
			error_errno(&e, errno, "cannot remove disk '%s'", disks[i]);
			rc = cli_fail(cli, &e);
		}
	}
	/* op.lock goes with the folder; our lock on it is released after */
	if (store_remove_tree(gone, &err) < 0) {
		error_prefix(&err, "VM '%s' is undefined but its old folder stays", vm.name);
		rc = cli_fail(cli, &err);
	}
	if (rc == EXIT_OK)
		cli_verbose(cli, "undefined VM '%s'", vm.name);
	goto out;
fail:
	rc = cli_fail(cli, &err);
out:
	for (int i = 0; i < ndisks; i++)
		free(disks[i]);
	store_names_free(names, nnames);
	vmctl_vm_close(&vm);
	return rc;
}
