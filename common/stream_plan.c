/* stream_plan.c — what an export holds (stream_int.h): the whole VM (vm.xml,
 * snapshots, saved state, kernel and initrd, every disk layer) or one
 * snapshot as a standalone VM with flattened disks. */
#include "stream_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "convert.h"
#include "safeio.h"
#include "snapshot.h"

/* Disk, kernel and initrd paths of a configuration made absolute (relative
 * ones are relative to the VM folder). */
static int absolute_disks(struct vmconfig *c, const char *vmdir, struct error *err)
{
	char **boot[2] = { &c->kernel, &c->initrd };

	for (int i = 0; i < c->ndisks; i++) {
		char *p = vmconfig_disk_path(c, i, vmdir);
		if (!p || vmconfig_set_str(&c->disks[i].path, p, err) < 0) {
			free(p);
			return p ? -1 : stream_oom(err);
		}
		free(p);
	}
	for (int i = 0; i < 2; i++) {
		char *p = *boot[i] ? vmconfig_resolve(*boot[i], vmdir) : NULL;
		if (*boot[i] && (!p || vmconfig_set_str(boot[i], p, err) < 0)) {
			free(p);
			return p ? -1 : stream_oom(err);
		}
		free(p);
	}
	return 0;
}

static int find_boot(struct stream_export *x, enum mtype type, dev_t dev, ino_t ino)
{
	for (int i = 0; i < x->n; i++)
		if (x->m[i].type == type && x->m[i].dev == dev && x->m[i].ino == ino)
			return i;
	return -1;
}

/*
 * The kernel or initrd at `path` (absolute, as the XML has it) as a member
 * kernel/<name> or initrd/<name>, once per file; path becomes one of its
 * sources. A file missing, unreadable or not a regular file is left out with
 * a warning: the XML keeps its path, as streams without boot members do.
 */
static int add_boot(struct stream_export *x, const char *path, enum mtype type,
		    struct error *err)
{
	const char *what = type == M_KERNEL ? "kernel" : "initrd";
	char real[PATH_MAX], name[256];
	struct stat st = { 0 };
	struct xm *m;
	int i, fd, e = 0;

	if (!path)
		return 0;
	if (!realpath(path, real) || stat(real, &st) < 0)
		e = errno ? errno : EIO;
	else if (!S_ISREG(st.st_mode))
		e = -1;
	else if ((fd = open(real, O_RDONLY | O_CLOEXEC)) < 0)
		e = errno ? errno : EIO;
	else
		close(fd);
	if (e) {
		if (e > 0 && e != ENOENT && e != EACCES && e != EPERM && e != ENOTDIR && e != ELOOP)
			return error_errno(err, e, "cannot open the %s '%s' of VM '%s'", what, path,
					   x->vm);
		error_warn("VM '%s': %s '%s' is left out of the stream: %s", x->vm, what, path,
			   e > 0 ? strerror(e) : "not a regular file");
		x->info.nwarnings++;
		return 0;
	}
	if ((i = find_boot(x, type, st.st_dev, st.st_ino)) >= 0)
		return stream_add_source(&x->m[i], path, err);
	stream_member_name(x, what, type == M_KERNEL ? "initrd" : "kernel", real, name,
			   sizeof(name));
	if (!(m = stream_add_file(x, name, type, real, false, err)))
		return -1;
	x->info.nboot++;
	return stream_add_source(m, path, err);
}

/* The kernel and initrd of configuration c (paths made absolute). */
static int add_boot_files(struct stream_export *x, const struct vmconfig *c, struct error *err)
{
	return add_boot(x, c->kernel, M_KERNEL, err) < 0 ||
	       add_boot(x, c->initrd, M_INITRD, err) < 0 ? -1 : 0;
}

static int by_created(const void *a, const void *b)
{
	const struct snapshot *x = *(struct snapshot *const *)a, *y = *(struct snapshot *const *)b;

	if (x->created != y->created)
		return x->created < y->created ? -1 : 1;
	return memcmp(x->uuid, y->uuid, 16);
}

int stream_plan_vm(struct stream_export *x, const char *vmdir, struct error *err)
{
	char path[4200], u[UUID_STR_LEN], name[64];
	struct snaptree t;
	struct vmconfig *c;
	int rc = -1;

	if (vm_running(vmdir) == 1)
		return error_set(err, EXIT_TEMPFAIL, "VM '%s' is running: stop it, or export one "
				 "snapshot as a standalone VM with --snapshot", x->vm);
	snprintf(path, sizeof(path), "%s/vm.xml", vmdir);
	if (!(c = vmconfig_load(path, err)))
		return -1;
	memcpy(x->uuid, c->uuid, 16);
	if (absolute_disks(c, vmdir, err) < 0 ||
	    stream_add_buffer(x, "vm.xml", M_CONFIG, vmconfig_format(c, err), err) < 0 ||
	    snaptree_load(&t, vmdir, err) < 0) {
		vmconfig_free(c);
		return -1;
	}
	if (t.n > 1)
		qsort(t.v, (size_t)t.n, sizeof(*t.v), by_created); /* NOLINT(bugprone-sizeof-expression) */
	if (t.has_current) {
		char *cur = malloc(UUID_STR_LEN + 1);
		if (cur)
			snprintf(cur, UUID_STR_LEN + 1, "%s\n", uuid_format(t.current, u));
		if (stream_add_buffer(x, "current", M_CURRENT, cur, err) < 0)
			goto out;
	}
	snprintf(path, sizeof(path), "%s/saved.vsv", vmdir);
	if (stream_exists(path)) {
		if (!stream_add_file(x, "saved.vsv", M_SAVED_STATE, path, false, err))
			goto out;
		snprintf(path, sizeof(path), "%s/saved.bin", vmdir);
		if (!stream_add_file(x, "saved.bin", M_SAVED_MEMORY, path, false, err))
			goto out;
	}
	for (int i = 0; i < t.n; i++) {
		struct snapshot *s = t.v[i];
		snprintf(name, sizeof(name), "snapshots/%s.xml", uuid_format(s->uuid, u));
		if (absolute_disks(s->domain, vmdir, err) < 0 ||
		    stream_add_buffer(x, name, M_SNAPSHOT, snapshot_format(s, err), err) < 0)
			goto out;
		if (s->online) {
			char *vsv = snapshot_path(vmdir, s->uuid, ".vsv");
			snprintf(name, sizeof(name), "snapshots/%s.vsv", u);
			struct xm *m = vsv ? stream_add_file(x, name, M_SNAP_STATE, vsv, false, err) : NULL;
			free(vsv);
			snprintf(name, sizeof(name), "snapshots/%s.bin", u);
			if (!m || !stream_add_file(x, name, M_SNAP_MEMORY, s->memory, false, err))
				goto out;
		}
		x->info.nsnapshots++;
	}
	/* kernel and initrd: what vm.xml and every snapshot boot */
	if (add_boot_files(x, c, err) < 0)
		goto out;
	for (int i = 0; i < t.n; i++)
		if (add_boot_files(x, t.v[i]->domain, err) < 0)
			goto out;
	/* disks: what vm.xml and every snapshot use, with their chains */
	for (int i = 0; i < c->ndisks; i++)
		if (stream_add_chain(x, c->disks[i].path, err) < 0)
			goto out;
	for (int i = 0; i < t.n; i++) {
		for (int d = 0; d < t.v[i]->ndisks; d++)
			if (stream_add_chain(x, t.v[i]->disks[d].file, err) < 0)
				goto out;
		for (int d = 0; d < t.v[i]->domain->ndisks; d++)
			if (stream_add_chain(x, t.v[i]->domain->disks[d].path, err) < 0)
				goto out;
	}
	for (int i = 0; i < x->n; i++)
		if (x->m[i].type == M_DISK && x->m[i].parent >= 0 && x->m[i].vhd &&
		    stream_relative_locators(x, &x->m[i], err) < 0)
			goto out;
	rc = 0;
out:
	snaptree_release(&t);
	vmconfig_free(c);
	return rc;
}

static int flatten_progress(void *ctx, uint64_t done, uint64_t total)
{
	struct stream_export *x = ctx;

	return x->progress ? x->progress(x->ctx, "flattening", done, total) : 0;
}

/* One snapshot as a standalone VM: its configuration, flattened disks and,
 * for an online snapshot, its state as a managed save. */
int stream_plan_snapshot(struct stream_export *x, const char *vmdir, const char *spec,
			 const char *tmp_root, struct error *err)
{
	struct snaptree t;
	struct snapshot *s;
	struct vmconfig *c = NULL;
	char u[UUID_STR_LEN];
	int rc = -1, cfg;

	if (snaptree_load(&t, vmdir, err) < 0)
		return -1;
	if (!(s = snaptree_find(&t, spec, err)) || !(c = vmconfig_dup(s->domain, err)))
		goto out;
	memcpy(x->uuid, c->uuid, 16);
	snprintf(x->info.snapshot, sizeof(x->info.snapshot), "%s", uuid_format(s->uuid, u));
	snprintf(x->info.snapshot_name, sizeof(x->info.snapshot_name), "%s", s->name);
	if (stream_make_tmpdir(tmp_root, tmp_root, ".export-", x->tmpdir, sizeof(x->tmpdir),
			       &x->tmplock, err) < 0 || !stream_add_member(x, "vm.xml", M_CONFIG, err))
		goto out;
	cfg = x->n - 1;   /* vm.xml comes first; its text once the disks are known */
	if (absolute_disks(c, vmdir, err) < 0 || add_boot_files(x, c, err) < 0)
		goto out;
	for (int i = 0; i < c->ndisks; i++) {
		char *src = vmconfig_disk_path(c, i, vmdir), name[256], dst[4500], stem[200];
		const char *b = src ? io_basename(src) : "", *dot = strrchr(b, '.');
		size_t l = dot && dot != b ? (size_t)(dot - b) : strlen(b);
		uint8_t tmp[16];
		if (!src || vmconfig_set_str(&c->disks[i].path, src, err) < 0) {
			free(src);
			if (!src)
				stream_oom(err);
			goto out;
		}
		/* web_<uuid>.avhd flattens to web.vhd */
		snprintf(stem, sizeof(stem), "%.*s", (int)(l < 190 ? l : 190), b);
		l = strlen(stem);
		if (l > 37 && stem[l - 37] == '_' && uuid_parse(stem + l - 36, tmp) == 0)
			stem[l - 37] = '\0';
		snprintf(dst, sizeof(dst), "%s.vhd", stem);
		stream_disk_member_name(x, dst, name, sizeof(name));
		snprintf(dst, sizeof(dst), "%s/%s", x->tmpdir, name + 6);
		struct disk *d = disk_open(src, DISK_RDONLY, err);
		struct convert_opts co = { .format = CONVERT_VHD, .type = VHD_TYPE_DYNAMIC,
					   .progress = flatten_progress, .ctx = x };
		struct convert_stats cs;
		int r = d ? convert_disk(d, dst, &co, &cs, err) : -1;
		if (d)
			disk_close(d);
		struct xm *m = r == 0 ? stream_add_file(x, name, M_DISK, dst, false, err) : NULL;
		if (!m || stream_add_source(m, src, err) < 0) {
			free(src);
			goto out;
		}
		m->vhd = true;
		free(src);
	}
	if (!(x->m[cfg].buf = vmconfig_format(c, err)))
		goto out;
	x->m[cfg].size = strlen(x->m[cfg].buf);
	if (s->online) {
		char *vsv = snapshot_path(vmdir, s->uuid, ".vsv");
		struct xm *m = vsv ? stream_add_file(x, "saved.vsv", M_SAVED_STATE, vsv, false, err) : NULL;
		free(vsv);
		if (!m || !stream_add_file(x, "saved.bin", M_SAVED_MEMORY, s->memory, false, err))
			goto out;
	}
	rc = 0;
out:
	vmconfig_free(c);
	snaptree_release(&t);
	return rc;
}
