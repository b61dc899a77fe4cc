/* snapops.c — create / apply / delete snapshots with a journal (snapops.h). */
#include "snapops.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "crashpoint.h"
#include "safeio.h"
#include "statedir.h"
#include "uuid.h"
#include "vhd.h"
#include "vhd_merge.h"
#include "vhd_modify.h"
#include "vmm.h"

/* files a journal can name as garbage: a layer per disk, or a layer and the
 * middle layers only it kept alive (delete) */
#define JOURNAL_MAX_DISCARD (VMCONFIG_MAX_DISKS * 4)

#define JMAX 64

struct journal {
	char op[16];
	uint8_t snap[16];
	bool has_cur;
	uint8_t cur[16];
	int ndisk;
	char oldp[VMCONFIG_MAX_DISKS][4096], newp[VMCONFIG_MAX_DISKS][4096];
	int ndiscard;
	char discard[JOURNAL_MAX_DISCARD][4096];
	bool took_saved;     /* create: the VM's managed save became the snapshot's state */
};

static char *jpath(const char *vmdir)
{
	char *p = NULL;

	return asprintf(&p, "%s/journal", vmdir) < 0 ? NULL : p;
}

static int journal_write(const char *vmdir, const struct journal *j, struct error *err)
{
	size_t cap = 1024 + (size_t)(j->ndisk * 2 + j->ndiscard) * 4200, n = 0;
	char *buf = malloc(cap), u[UUID_STR_LEN], c[UUID_STR_LEN], *path = jpath(vmdir);
	int rc;

	if (!buf || !path) {
		free(buf);
		free(path);
		return error_set(err, EXIT_FAIL, "out of memory");
	}
	n += (size_t)snprintf(buf + n, cap - n, "vmsnap-journal 1\nop %s\nsnapshot %s\ncurrent %s\n",
			      j->op, uuid_format(j->snap, u), j->has_cur ? uuid_format(j->cur, c) : "-");
	for (int i = 0; i < j->ndisk; i++)
		n += (size_t)snprintf(buf + n, cap - n, "disk %s\t%s\n", j->oldp[i], j->newp[i]);
	for (int i = 0; i < j->ndiscard; i++)
		n += (size_t)snprintf(buf + n, cap - n, "discard %s\n", j->discard[i]);
	if (j->took_saved)
		n += (size_t)snprintf(buf + n, cap - n, "saved 1\n");
	rc = io_atomic_write(path, buf, n, 0600, err);
	/* written is not durable (the folder's sync failed): nothing was done
	 * under it yet, so it goes again rather than be recovered later */
	if (rc < 0 && unlink(path) == 0)
		(void)io_fsync_parent_dir(path);
	free(buf);
	free(path);
	return rc;
}

static int journal_read(const char *vmdir, struct journal *j, struct error *err)
{
	char *path = jpath(vmdir), line[8400];
	FILE *fp;

	memset(j, 0, sizeof(*j));
	if (!path)
		return error_set(err, EXIT_FAIL, "out of memory");
	fp = fopen(path, "re");
	if (!fp) {
		int e = errno;
		free(path);
		return e == ENOENT ? 0 : error_errno(err, e, "cannot read the journal");
	}
	if (!fgets(line, sizeof(line), fp) || strncmp(line, "vmsnap-journal 1", 16)) {
		fclose(fp);
		error_set(err, EXIT_DATAERR, "'%s' is not a vmsnap journal", path);
		free(path);
		return -1;
	}
	while (fgets(line, sizeof(line), fp)) {
		char *v = strchr(line, ' ');
		line[strcspn(line, "\n")] = '\0';
		if (!v)
			continue;
		*v++ = '\0';
		if (!strcmp(line, "op")) {
			snprintf(j->op, sizeof(j->op), "%s", v);
		} else if (!strcmp(line, "snapshot")) {
			uuid_parse(v, j->snap);
		} else if (!strcmp(line, "current")) {
			j->has_cur = uuid_parse(v, j->cur) == 0;
		} else if (!strcmp(line, "disk") && j->ndisk < VMCONFIG_MAX_DISKS) {
			char *t = strchr(v, '\t');
			if (!t)
				continue;
			*t++ = '\0';
			snprintf(j->oldp[j->ndisk], 4096, "%s", v);
			snprintf(j->newp[j->ndisk], 4096, "%s", t);
			j->ndisk++;
		} else if (!strcmp(line, "discard") && j->ndiscard < JOURNAL_MAX_DISCARD) {
			snprintf(j->discard[j->ndiscard++], 4096, "%s", v);
		} else if (!strcmp(line, "saved")) {
			j->took_saved = true;
		}
	}
	fclose(fp);
	free(path);
	return 1;
}

static int journal_remove(const char *vmdir, struct error *err)
{
	char *path = jpath(vmdir);
	int rc = 0;

	if (!path)
		return error_set(err, EXIT_FAIL, "out of memory");
	if (unlink(path) < 0 && errno != ENOENT)
		rc = error_errno(err, errno, "cannot remove '%s'", path);
	else if (io_fsync_parent_dir(path) < 0)
		rc = error_errno(err, errno, "cannot sync '%s'", vmdir);
	free(path);
	return rc;
}

/* Put the tree's current snapshot back to what the journal says it was,
 * writing only if it differs (so a full disk does not stop a rollback). */
static int restore_current(const char *vmdir, const struct journal *j, struct error *err)
{
	char path[4200], buf[64] = "";
	uint8_t u[16];
	int fd;
	ssize_t n = -1;

	snprintf(path, sizeof(path), "%s/current", vmdir);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
	}
	if (fd < 0 && errno == ENOENT && !j->has_cur)
		return 0;
	if (n >= 36) {
		buf[36] = '\0';
		if (j->has_cur && uuid_parse(buf, u) == 0 && !memcmp(u, j->cur, 16))
			return 0;
	}
	return snaptree_set_current(vmdir, j->has_cur ? j->cur : NULL, err);
}

/*
 * The operation is complete and durable: a journal that cannot be removed
 * now is rolled forward (a no-op) and removed by the next locking command,
 * so that is a warning, not a failure of what was done.
 */
static void journal_done(const char *vmdir)
{
	struct error e;

	error_init(&e);
	if (journal_remove(vmdir, &e) < 0)
		error_warn("%s (done; the next command removes the journal)", e.msg);
}

static void unlink_quiet(const char *path)
{
	if (unlink(path) == 0)
		io_fsync_parent_dir(path);
}

/* unlink and make it durable (gone already is fine: its folder is synced
 * if it is there, for an earlier unlink whose sync failed) */
static int unlink_synced(const char *path, struct error *err)
{
	if (unlink(path) < 0) {
		if (errno != ENOENT)
			return error_errno(err, errno, "cannot remove '%s'", path);
		if (io_fsync_parent_dir(path) < 0 && errno != ENOENT)
			return error_errno(err, errno, "cannot sync the folder of '%s'", path);
		return 0;
	}
	if (io_fsync_parent_dir(path) < 0)
		return error_errno(err, errno, "cannot sync the folder of '%s'", path);
	return 0;
}

static struct vmconfig *load_cfg(const char *vmdir, struct error *err)
{
	char path[4200];

	snprintf(path, sizeof(path), "%s/vm.xml", vmdir);
	return vmconfig_load(path, err);
}

static int save_cfg(const struct vmconfig *c, const char *vmdir, struct error *err)
{
	char path[4200];

	snprintf(path, sizeof(path), "%s/vm.xml", vmdir);
	return vmconfig_save(c, path, err);
}

int snapops_now_layers(const char *vmdir, char **out, int max, struct error *err)
{
	struct vmconfig *c;
	int n = 0;

	if (vm_running(vmdir) == 1) {
		char path[4200], line[4200];
		FILE *fp;
		snprintf(path, sizeof(path), "%s/run/disks", vmdir);
		fp = fopen(path, "re");
		if (fp) {
			while (n < max && fgets(line, sizeof(line), fp)) {
				line[strcspn(line, "\n")] = '\0';
				if (!(out[n++] = strdup(line)))
					break;
			}
			fclose(fp);
			return n;
		}
	}
	c = load_cfg(vmdir, err);
	if (!c)
		return -1;
	for (int i = 0; i < c->ndisks && n < max; i++)
		out[n++] = vmconfig_disk_path(c, i, vmdir);
	vmconfig_free(c);
	return n;
}

/* Name of the child layer of `parent` for snapshot/branch `uuid`. */
static void layer_name(const char *parent, const uint8_t uuid[16], char *out, size_t size)
{
	char dir[4096], stem[1024], u[UUID_STR_LEN];
	const char *base = io_basename(parent), *dot = strrchr(base, '.');
	size_t l = dot ? (size_t)(dot - base) : strlen(base);

	snprintf(stem, sizeof(stem), "%.*s", (int)l, base);
	/* web_<uuid> -> web: names stay short along a chain */
	l = strlen(stem);
	if (l > 37 && stem[l - 37] == '_') {
		uint8_t tmp[16];
		if (uuid_parse(stem + l - 36, tmp) == 0)
			stem[l - 37] = '\0';
	}
	snprintf(out, size, "%s/%s_%s.avhd", io_dirname(parent, dir, sizeof(dir)), stem,
		 uuid_format(uuid, u));
}

/* A layer this suite created (and may remove): <stem>_<uuid>.avhd. */
static bool our_layer(const char *path)
{
	const char *b = io_basename(path);
	size_t l = strlen(b);
	uint8_t u[16];
	char tmp[40];

	if (l < 42 || strcmp(b + l - 5, ".avhd") || b[l - 42] != '_')
		return false;
	snprintf(tmp, sizeof(tmp), "%.36s", b + l - 41);
	return uuid_parse(tmp, u) == 0;
}

static int create_child(const char *child, const char *parent, struct error *err)
{
	struct vhd_create_opts o = { .parent = parent, .parent_flags = DISK_NOLOCK };

	if (vhd_create(child, &o, err) < 0)
		return error_prefix(err, "cannot create layer '%s'", child);
	return 0;
}

static void default_name(const char *vm, char *out, size_t size)
{
	time_t now = time(NULL);
	struct tm tm;
	char ts[32];

	localtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(out, size, "%s (%s)", vm, ts);
}

/* ---- recovery ---- */

static bool frozen_by_any(struct snaptree *t, const char *path)
{
	for (int i = 0; i < t->n; i++)
		for (int d = 0; d < t->v[i]->ndisks; d++)
			if (!strcmp(t->v[i]->disks[d].file, path))
				return true;
	return false;
}


static bool cfg_uses(const struct vmconfig *c, const char *vmdir, const char *path)
{
	for (int i = 0; c && i < c->ndisks; i++) {
		char *p = vmconfig_disk_path(c, i, vmdir);
		bool same = p && !strcmp(p, path);
		free(p);
		if (same)
			return true;
	}
	return false;
}

/*
 * vm.xml could not be saved, yet it may have been replaced (its folder's sync
 * failed after the rename): if it names every new layer, the operation is
 * committed and must not be rolled back (that would remove layers vm.xml
 * uses). The journal stays: the next locking command rolls it forward.
 */
static bool committed_anyway(const char *vmdir, const struct journal *j, struct error *err)
{
	struct error e;
	struct vmconfig *c;
	bool all = true;

	error_init(&e);
	c = load_cfg(vmdir, &e);
	if (!c)
		return false;
	for (int i = 0; i < j->ndisk; i++)
		all = all && cfg_uses(c, vmdir, j->newp[i]);
	vmconfig_free(c);
	if (all) {
		size_t l = strlen(err->msg);
		snprintf(err->msg + l, sizeof(err->msg) - l,
			 "; vm.xml was replaced but may not be on disk: the next snapctl or "
			 "vmctl command for this VM finishes the %s", j->op);
	}
	return all;
}

/* Is `path` one of the layers a running VM has open (its write layers and
 * every layer below them)? */
static bool vmm_holds(const char *vmdir, const char *path)
{
	char *l[VMCONFIG_MAX_DISKS];
	struct error e;
	struct stat want;
	int n;
	bool found = false;

	if (vm_running(vmdir) != 1 || stat(path, &want) < 0)
		return false;
	n = snapops_now_layers(vmdir, l, VMCONFIG_MAX_DISKS, &e);
	for (int i = 0; i < n; i++) {
		struct vhd *v = vhd_open(l[i], DISK_RDONLY | DISK_NOLOCK | DISK_FORCE, &e);
		for (struct vhd *x = v; x && !found; x = x->parent)
			found = x->dev == want.st_dev && x->ino == want.st_ino;
		vhd_close(v);
		free(l[i]);
	}
	return found;
}

static bool vmm_uses(const char *vmdir, const char *path)
{
	char *l[VMCONFIG_MAX_DISKS];
	struct error e;
	int n;
	bool found = false;

	if (vm_running(vmdir) != 1)
		return false;
	n = snapops_now_layers(vmdir, l, VMCONFIG_MAX_DISKS, &e);
	for (int i = 0; i < n; i++) {
		found |= !strcmp(l[i], path);
		free(l[i]);
	}
	return found;
}

static int remove_snapshot_files(const char *vmdir, const uint8_t uuid[16], struct error *err)
{
	static const char *ext[] = { ".xml", ".vsv", ".bin" };
	int rc = 0;

	for (int k = 0; k < 3; k++) {
		char *p = snapshot_path(vmdir, uuid, ext[k]);
		if (!p)
			return error_set(err, EXIT_FAIL, "out of memory");
		chmod(p, 0600);
		if (rc == 0 && unlink_synced(p, err) < 0)
			rc = -1;
		free(p);
	}
	return rc;
}

/* The managed save <vm>/saved.{vsv,bin} <-> a snapshot's state files. */
static int move_saved(const char *vmdir, const uint8_t uuid[16], bool to_snapshot,
		      struct error *err)
{
	static const char *ext[] = { ".bin", ".vsv" };

	for (int k = 0; k < 2; k++) {
		char saved[4200], *snap = snapshot_path(vmdir, uuid, ext[k]);
		const char *from, *to;
		snprintf(saved, sizeof(saved), "%s/saved%s", vmdir, ext[k]);
		if (!snap)
			return error_set(err, EXIT_FAIL, "out of memory");
		from = to_snapshot ? saved : snap;
		to = to_snapshot ? snap : saved;
		if (rename(from, to) < 0 && errno != ENOENT) {
			/* from or to is snap: the message first, then free it */
			error_errno(err, errno, "cannot move '%s' to '%s'", from, to);
			free(snap);
			return -1;
		}
		io_fsync_parent_dir(to);
		free(snap);
	}
	return 0;
}

/* Point every disk of c whose layer is old[i] at new[i]. */
static void retarget(struct vmconfig *c, const char *vmdir, const struct journal *j)
{
	for (int d = 0; d < c->ndisks; d++) {
		char *p = vmconfig_disk_path(c, d, vmdir);
		for (int i = 0; p && i < j->ndisk; i++)
			if (!strcmp(p, j->oldp[i]))
				vmconfig_set_str(&c->disks[d].path, j->newp[i], NULL);
		free(p);
	}
}

static int recover_journal(const char *vmdir, struct error *err);
static int known_layers(struct snaptree *t, const char *vmdir, char **out, int max);

/*
 * Temporary files a killed command left: in the VM folder and its snapshots/
 * (ours alone), and beside each disk those of layers this suite names
 * (<stem>_<uuid>.avhd) and of merge journals. Only those no live writer
 * holds (io_sweep_temps).
 */
static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* layers we name, and the merge journals and pointers (.X.merge,
 * .X.merge-journal) vhd_merge keeps beside them */
static bool our_disk_file(const char *target)
{
	return our_layer(target) ||
	       (target[0] == '.' && (ends_with(target, ".merge") ||
				     ends_with(target, ".merge-journal")));
}

static void sweep_temps(const char *vmdir)
{
	char sub[4096 + 16], dir[4096];
	struct error e;
	struct vmconfig *c;

	(void)io_sweep_temps(vmdir, NULL);
	if (vm_running(vmdir) == 0) {       /* a VMM killed amid a save */
		snprintf(sub, sizeof(sub), "%s/.saved.bin.tmp", vmdir);
		(void)unlink(sub);
	}
	snprintf(sub, sizeof(sub), "%s/snapshots", vmdir);
	(void)io_sweep_temps(sub, NULL);
	error_init(&e);
	c = load_cfg(vmdir, &e);
	if (!c)
		return;
	for (int i = 0; i < c->ndisks; i++)
		if (c->disks[i].path)
			(void)io_sweep_temps_if(io_dirname(c->disks[i].path, dir, sizeof(dir)),
						our_disk_file);
	vmconfig_free(c);
}

/* A monitor killed amid a managed save leaves saved.bin without the
 * saved.vsv it writes last: no saved state, only space to give back. (After
 * journal recovery, which may move a managed save back from a snapshot.) */
static void drop_half_save(const char *vmdir)
{
	char vsv[4200], bin[4200];
	struct stat st;

	snprintf(vsv, sizeof(vsv), "%s/saved.vsv", vmdir);
	snprintf(bin, sizeof(bin), "%s/saved.bin", vmdir);
	if (vm_running(vmdir) == 0 && lstat(vsv, &st) < 0 && errno == ENOENT &&
	    lstat(bin, &st) == 0 && S_ISREG(st.st_mode) && unlink(bin) == 0)
		(void)io_fsync_parent_dir(bin);
}

int snapops_recover(const char *vmdir, struct error *err)
{
	int done;

	sweep_temps(vmdir);
	if (recover_journal(vmdir, err) < 0)
		return -1;
	drop_half_save(vmdir);
	return snapops_run_pending(vmdir, &done, err);
}

static int recover_journal(const char *vmdir, struct error *err)
{
	struct journal *j = malloc(sizeof(*j));
	struct vmconfig *c = NULL;
	int rc = -1, r;
	bool committed = true;

	if (!j)
		return error_set(err, EXIT_FAIL, "out of memory");
	r = journal_read(vmdir, j, err);
	if (r <= 0) {
		free(j);
		return r;
	}
	c = load_cfg(vmdir, err);
	if (!c)
		goto out;
	/* committed when vm.xml (or the running VMM) uses every new layer */
	for (int i = 0; i < j->ndisk; i++)
		if (!cfg_uses(c, vmdir, j->newp[i]) && !vmm_uses(vmdir, j->newp[i]))
			committed = false;
	if (!strcmp(j->op, "create") || !strcmp(j->op, "apply")) {
		if (committed) {
			bool need = false;
			for (int i = 0; i < j->ndisk; i++)
				need |= !cfg_uses(c, vmdir, j->newp[i]);
			if (need && !strcmp(j->op, "create")) {
				retarget(c, vmdir, j);
				if (save_cfg(c, vmdir, err) < 0)
					goto out;
			}
			if (snaptree_set_current(vmdir, j->snap, err) < 0)
				goto out;
			for (int i = 0; i < j->ndiscard; i++)
				unlink_quiet(j->discard[i]);
			if (!strcmp(j->op, "apply")) {
				char sv[4200];
				snprintf(sv, sizeof(sv), "%s/saved.vsv", vmdir);
				unlink_quiet(sv);
				snprintf(sv, sizeof(sv), "%s/saved.bin", vmdir);
				chmod(sv, 0600);
				unlink_quiet(sv);
			}
		} else {
			if (!strcmp(j->op, "create") && j->took_saved &&
			    move_saved(vmdir, j->snap, false, err) < 0)
				goto out;
			if (!strcmp(j->op, "create") && remove_snapshot_files(vmdir, j->snap, err) < 0)
				goto out;
			for (int i = 0; i < j->ndisk; i++)
				if (!cfg_uses(c, vmdir, j->newp[i]))
					unlink_quiet(j->newp[i]);
			if (restore_current(vmdir, j, err) < 0)
				goto out;
		}
	}
	if (!strcmp(j->op, "delete")) {
		/* a delete may have merged part of a layer already: it cannot be
		 * undone, so it is finished (every step is idempotent) */
		struct snaptree t;
		char u[UUID_STR_LEN];
		if (snaptree_load(&t, vmdir, err) < 0)
			goto out;
		if (snaptree_by_uuid(&t, j->snap)) {
			struct snap_delete_plan *plan = malloc(sizeof(*plan));
			snaptree_release(&t);
			if (!plan) {
				error_set(err, EXIT_FAIL, "out of memory");
				goto out;
			}
			r = snapops_delete(vmdir, NULL, uuid_format(j->snap, u), false, plan, err);
			free(plan);
			if (r < 0) {
				error_prefix(err, "cannot finish an interrupted snapshot delete");
				goto out;
			}
			/* then the files the first attempt left to remove */
			vmconfig_free(c);
			c = load_cfg(vmdir, err);
			if (!c || snaptree_load(&t, vmdir, err) < 0)
				goto out;
		}
		char *layers[512];
		int nl = known_layers(&t, vmdir, layers, 512);
		for (int i = 0; i < j->ndiscard; i++) {
			bool used = vmm_uses(vmdir, j->discard[i]);
			for (int k = 0; k < nl && !used; k++)
				used = !strcmp(layers[k], j->discard[i]);
			if (!used)
				unlink_quiet(j->discard[i]);
		}
		for (int k = 0; k < nl; k++)
			free(layers[k]);
		snaptree_release(&t);
	}
	rc = journal_remove(vmdir, err);
out:
	vmconfig_free(c);
	free(j);
	return rc;
}

/* ---- create ---- */

int snapops_create(const char *vmdir, const char *vm, struct snap_create *cr,
		   struct error *err)
{
	struct vmconfig *c = load_cfg(vmdir, err);
	struct snaptree t = { 0 };
	struct snapshot *s = NULL, *parent;
	struct journal *j = calloc(1, sizeof(*j));
	char *vsv = NULL, *bin = NULL, *arg = NULL;
	bool running = vm_running(vmdir) == 1, tree = false, cur_set = false;
	int rc = -1;

	if (!c || !j) {
		if (!j)
			error_set(err, EXIT_FAIL, "out of memory");
		goto out;
	}
	if (snaptree_load(&t, vmdir, err) < 0)
		goto out;
	tree = true;
	if (cr->name)
		snprintf(cr->name_used, sizeof(cr->name_used), "%s", cr->name);
	else
		default_name(vm, cr->name_used, sizeof(cr->name_used));
	if (!snapshot_name_ok(cr->name_used)) {
		error_set(err, EXIT_USAGE, "invalid snapshot name '%s'", cr->name_used);
		goto out;
	}
	if (snaptree_by_name(&t, cr->name_used)) {
		error_set(err, EXIT_CANTCREAT, "VM '%s' already has a snapshot named '%s'", vm,
			  cr->name_used);
		goto out;
	}
	if (!c->ndisks) {
		error_set(err, EXIT_USAGE, "VM '%s' has no disk to snapshot", vm);
		goto out;
	}
	s = snapshot_new(cr->name_used, err);
	if (!s || !(s->domain = vmconfig_dup(c, err)))
		goto out;
	if (cr->description && !(s->description = strdup(cr->description))) {
		error_set(err, EXIT_FAIL, "out of memory");
		goto out;
	}
	parent = t.has_current ? snaptree_by_uuid(&t, t.current) : NULL;
	if (parent) {
		s->has_parent = true;
		memcpy(s->parent, parent->uuid, 16);
		s->parent_name = strdup(parent->name);
	}
	s->online = running && !cr->disk_only;
	{
		/* a saved VM: its managed save becomes the snapshot's RAM and state */
		char sv[4200];
		snprintf(sv, sizeof(sv), "%s/saved.vsv", vmdir);
		if (!running && !cr->disk_only && access(sv, F_OK) == 0) {
			s->online = true;
			j->took_saved = true;
		}
	}
	memcpy(j->snap, s->uuid, 16);
	snprintf(j->op, sizeof(j->op), "create");
	j->has_cur = t.has_current;
	memcpy(j->cur, t.current, 16);
	{
		char *now[VMCONFIG_MAX_DISKS];
		int n = snapops_now_layers(vmdir, now, VMCONFIG_MAX_DISKS, err);
		if (n < 0)
			goto out;
		for (int i = 0; i < n; i++) {
			snprintf(j->oldp[i], 4096, "%s", now[i]);
			layer_name(now[i], s->uuid, j->newp[i], 4096);
			snprintf(s->disks[i].target, 16, "%s", c->disks[i].target);
			s->disks[i].file = now[i];
			vmconfig_set_str(&s->domain->disks[i].path, now[i], NULL);
		}
		j->ndisk = s->ndisks = n;
	}
	if (s->online) {
		vsv = snapshot_path(vmdir, s->uuid, ".vsv");
		bin = snapshot_path(vmdir, s->uuid, ".bin");
		s->memory = bin ? strdup(bin) : NULL;
		if (!vsv || !bin || !s->memory) {
			error_set(err, EXIT_FAIL, "out of memory");
			goto out;
		}
	}
	if (journal_write(vmdir, j, err) < 0)
		goto out;
	crashpoint("snap-create-journal");
	for (int i = 0; i < j->ndisk; i++) {
		if (create_child(j->newp[i], j->oldp[i], err) < 0)
			goto rollback;
		crashpoint("snap-create-layer");
	}
	if (snapshot_write(vmdir, s, err) < 0)
		goto rollback;
	if (j->took_saved && move_saved(vmdir, s->uuid, true, err) < 0)
		goto rollback;
	crashpoint("snap-create-meta");
	/* the tree's current snapshot before the commit: a rollback, here or in
	 * recovery, puts the old one back (the journal has it) */
	cur_set = true;               /* a failed write may have replaced it all the same */
	if (snaptree_set_current(vmdir, s->uuid, err) < 0)
		goto rollback;
	if (running) {
		size_t cap = 2 * 4200 + (size_t)j->ndisk * 4200, n = 0;
		char reply[600];
		arg = malloc(cap);
		if (!arg) {
			error_set(err, EXIT_FAIL, "out of memory");
			goto rollback;
		}
		n += (size_t)snprintf(arg, cap, "%s\t%s", vsv ? vsv : "-", bin ? bin : "-");
		for (int i = 0; i < j->ndisk; i++)
			n += (size_t)snprintf(arg + n, cap - n, "\t%s", j->newp[i]);
		int r = control_request(vmdir, "snapshot", arg, 600000, reply, sizeof(reply), err);
		if (r != 0) {
			if (r > 0)
				error_set(err, r, "the VMM could not take the snapshot: %s", reply);
			goto rollback;
		}
		snprintf(cr->mode, sizeof(cr->mode), "%s", reply);
		crashpoint("snap-create-vmm");
	}
	/* commit point: vm.xml names the new layers */
	retarget(c, vmdir, j);
	if (save_cfg(c, vmdir, err) < 0) {
		if (committed_anyway(vmdir, j, err))
			goto out;
		goto rollback;
	}
	crashpoint("snap-create-commit");
	journal_done(vmdir);
	memcpy(cr->uuid, s->uuid, 16);
	cr->online = s->online;
	rc = 0;
	goto out;
rollback:
	{
		struct error e2;
		if (!running || !vmm_uses(vmdir, j->newp[0])) {
			if (j->took_saved)
				move_saved(vmdir, s->uuid, false, &e2);
			remove_snapshot_files(vmdir, s->uuid, &e2);
			for (int i = 0; i < j->ndisk; i++)
				unlink_quiet(j->newp[i]);
			/* the journal stays if the old current cannot be put back */
			if (!cur_set || restore_current(vmdir, j, &e2) == 0)
				journal_remove(vmdir, &e2);
		}
	}
out:
	free(arg);
	free(vsv);
	free(bin);
	snapshot_free(s);
	if (tree)
		snaptree_release(&t);
	vmconfig_free(c);
	free(j);
	return rc;
}

/* ---- apply ---- */


static int stop_vm(const char *vmdir, struct error *err)
{
	char reply[600];
	struct timespec ts = { 0, 20 * 1000000L };
	int r = control_request(vmdir, "stop-force", "0", 10000, reply, sizeof(reply), err);

	if (r < 0 && vm_running(vmdir) != 1)
		r = 0; /* stopped before its answer could be read */
	if (r != 0)
		return r > 0 ? error_set(err, r, "cannot stop the VM: %s", reply) : -1;
	for (int i = 0; i < 1500 && vm_running(vmdir) == 1; i++)
		nanosleep(&ts, NULL);
	if (vm_running(vmdir) == 1)
		return error_set(err, EXIT_TEMPFAIL, "the VM did not stop");
	return 0;
}

int snapops_apply(const char *vmdir, const char *vm, struct snap_apply *a, struct error *err)
{
	struct snaptree t = { 0 };
	struct journal *j = calloc(1, sizeof(*j));
	struct vmconfig *c = NULL, *nc = NULL;
	struct snapshot *s;
	uint8_t branch[16];
	bool tree = false, cur_set = false;
	int rc = -1;

	if (!j)
		return error_set(err, EXIT_FAIL, "out of memory");
	if (a->save_current) {
		struct snap_create cr = { .name = a->save_current[0] ? a->save_current : NULL };
		char auto_name[SNAP_NAME_MAX + 1];
		if (!cr.name) {
			time_t now = time(NULL);
			struct tm tm;
			char ts[32];
			localtime_r(&now, &tm);
			strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", &tm);
			snprintf(auto_name, sizeof(auto_name), "Before applying '%.120s' (%s)", a->spec, ts);
			cr.name = auto_name;
		}
		/* find the target before the new snapshot changes what @current means */
		if (snaptree_load(&t, vmdir, err) < 0 || !(s = snaptree_find(&t, a->spec, err)))
			goto out_tree;
		memcpy(a->applied, s->uuid, 16);
		snaptree_release(&t);
		if (snapops_create(vmdir, vm, &cr, err) < 0)
			goto out;
		memcpy(a->saved, cr.uuid, 16);
		a->did_save = true;
		if (a->record_undo) {
			char path[4200], u[UUID_STR_LEN + 1];
			snprintf(path, sizeof(path), "%s/undo", vmdir);
			uuid_format(cr.uuid, u);
			strcat(u, "\n");
			if (io_atomic_write(path, u, strlen(u), 0600, err) < 0)
				goto out;
		}
	}
	if (snaptree_load(&t, vmdir, err) < 0)
		goto out;
	tree = true;
	if (a->did_save) {
		s = snaptree_by_uuid(&t, a->applied);
		if (!s) {
			error_set(err, EXIT_NOINPUT, "snapshot '%s' vanished", a->spec);
			goto out;
		}
	} else if (!(s = snaptree_find(&t, a->spec, err))) {
		goto out;
	}
	memcpy(a->applied, s->uuid, 16);
	if (vm_running(vmdir) == 1 && stop_vm(vmdir, err) < 0)
		goto out;
	c = load_cfg(vmdir, err);
	nc = c ? vmconfig_dup(s->domain, err) : NULL;
	if (!nc)
		goto out;
	if (uuid_generate(branch) < 0) {
		error_errno(err, errno, "cannot generate a UUID");
		goto out;
	}
	snprintf(j->op, sizeof(j->op), "apply");
	memcpy(j->snap, s->uuid, 16);
	j->has_cur = t.has_current;
	memcpy(j->cur, t.current, 16);
	for (int i = 0; i < s->ndisks; i++) {
		snprintf(j->oldp[i], 4096, "%s", s->disks[i].file);
		layer_name(s->disks[i].file, branch, j->newp[i], 4096);
	}
	j->ndisk = s->ndisks;
	/* "now" is discarded: layers no snapshot froze, made by us */
	for (int d = 0; d < c->ndisks; d++) {
		char *p = vmconfig_disk_path(c, d, vmdir);
		if (p && our_layer(p) && !frozen_by_any(&t, p))
			snprintf(j->discard[j->ndiscard++], 4096, "%s", p);
		free(p);
	}
	if (journal_write(vmdir, j, err) < 0)
		goto out;
	crashpoint("snap-apply-journal");
	for (int i = 0; i < j->ndisk; i++) {
		if (create_child(j->newp[i], j->oldp[i], err) < 0)
			goto rollback;
		crashpoint("snap-apply-layer");
	}
	for (int d = 0; d < nc->ndisks && d < j->ndisk; d++)
		if (vmconfig_set_str(&nc->disks[d].path, j->newp[d], err) < 0)
			goto rollback;
	/* current before the commit: a rollback puts the old one back */
	cur_set = true;               /* a failed write may have replaced it all the same */
	if (snaptree_set_current(vmdir, s->uuid, err) < 0)
		goto rollback;
	/* commit point: vm.xml is the snapshot's configuration on fresh layers */
	if (save_cfg(nc, vmdir, err) < 0) {
		if (committed_anyway(vmdir, j, err))
			goto out;
		goto rollback;
	}
	crashpoint("snap-apply-commit");
	/* the discarded layers, and a managed save of the "now" just discarded
	 * (never to be resumed over the snapshot): gone for good, or the
	 * journal stays and the next command removes them again */
	{
		struct error e2;
		char sv[4200], sb[4200];
		int bad = 0;
		error_init(&e2);
		for (int i = 0; i < j->ndiscard && !bad; i++)
			bad = unlink_synced(j->discard[i], &e2) < 0;
		snprintf(sv, sizeof(sv), "%s/saved.vsv", vmdir);
		snprintf(sb, sizeof(sb), "%s/saved.bin", vmdir);
		chmod(sb, 0600);
		if (!bad)
			bad = unlink_synced(sv, &e2) < 0 || unlink_synced(sb, &e2) < 0;
		if (bad)
			error_warn("%s (done; the next command removes the journal)", e2.msg);
		else
			journal_done(vmdir);
	}
	/* then the guest, as asked (online snapshots resume by default) */
	enum snap_run run = a->run;
	if (run == SNAP_RUN_DEFAULT)
		run = s->online ? SNAP_RUN_RUNNING : SNAP_RUN_STOPPED;
	snprintf(a->state, sizeof(a->state), "stopped");
	if (run != SNAP_RUN_STOPPED) {
		char *vsv = s->online ? snapshot_path(vmdir, s->uuid, ".vsv") : NULL;
		struct vmm_params p = { .vmdir = vmdir, .name = vm, .cfg = nc,
					.start_paused = run == SNAP_RUN_PAUSED, .state = vsv };
		pid_t pid;
		if (vmm_spawn(&p, &pid, err) < 0) {
			free(vsv);
			error_prefix(err, "snapshot applied, but the VM did not start");
			goto out;
		}
		free(vsv);
		a->started = true;
		snprintf(a->state, sizeof(a->state), "%s", run == SNAP_RUN_PAUSED ? "paused" : "running");
	}
	rc = 0;
	goto out;
rollback:
	{
		struct error e2;
		for (int i = 0; i < j->ndisk; i++)
			unlink_quiet(j->newp[i]);
		if (!cur_set || restore_current(vmdir, j, &e2) == 0)
			journal_remove(vmdir, &e2);
	}
out:
	if (tree)
		snaptree_release(&t);
	vmconfig_free(c);
	vmconfig_free(nc);
	free(j);
	return rc;
out_tree:
	snaptree_release(&t);
	free(j);
	return -1;
}

/* ---- delete ---- */

/* UUID of a layer and of its parent (read without locks: metadata only). */
static int layer_ids(const char *path, uint8_t self[16], uint8_t parent[16], bool *diff)
{
	struct error e;
	struct vhd *v = vhd_open(path, DISK_RDONLY | DISK_NOLOCK | VHD_NOPARENT | DISK_FORCE, &e);

	if (!v)
		return -1;
	memcpy(self, v->footer.uuid, 16);
	*diff = v->footer.type == VHD_TYPE_DIFF;
	if (*diff)
		memcpy(parent, v->header.parent_uuid, 16);
	vhd_close(v);
	return 0;
}

/* Every layer the VM's metadata references: snapshots' frozen layers and now. */
static int known_layers(struct snaptree *t, const char *vmdir, char **out, int max)
{
	int n = 0;
	struct error e;

	for (int i = 0; i < t->n; i++)
		for (int d = 0; d < t->v[i]->ndisks && n < max; d++) {
			bool dup = false;
			for (int k = 0; k < n; k++)
				dup |= !strcmp(out[k], t->v[i]->disks[d].file);
			if (!dup)
				out[n++] = strdup(t->v[i]->disks[d].file);
		}
	char *now[VMCONFIG_MAX_DISKS];
	int m = snapops_now_layers(vmdir, now, VMCONFIG_MAX_DISKS, &e);
	for (int i = 0; i < m; i++) {
		bool dup = false;
		for (int k = 0; k < n; k++)
			dup |= !strcmp(out[k], now[i]);
		if (!dup && n < max)
			out[n++] = now[i];
		else
			free(now[i]);
	}
	/* and every layer below those: a layer kept because several depend on
	 * it may be named by nothing any more, and still hold their data */
	int named = n;
	for (int i = 0; i < named; i++) {
		struct vhd *v = vhd_open(out[i], DISK_RDONLY | DISK_NOLOCK | DISK_FORCE, &e);
		for (struct vhd *x = v ? v->parent : NULL; x; x = x->parent) {
			char abs[4096];
			bool dup = false;
			if (!realpath(x->path, abs))
				snprintf(abs, sizeof(abs), "%s", x->path);
			for (int k = 0; k < n; k++)
				dup |= !strcmp(out[k], abs);
			if (!dup && n < max && (out[n] = strdup(abs)))
				n++;
		}
		vhd_close(v);
	}
	return n;
}

static void plan_line(struct snap_delete_plan *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void plan_line(struct snap_delete_plan *p, const char *fmt, ...)
{
	va_list ap;

	if (p->nlines >= 64)
		return;
	va_start(ap, fmt);
	vsnprintf(p->lines[p->nlines++], sizeof(p->lines[0]), fmt, ap);
	va_end(ap);
}

/* Bytes a file occupies on disk (sparse RAM images count what they hold). */
static uint64_t file_size(const char *p)
{
	struct stat st;

	return p && stat(p, &st) == 0 ? (uint64_t)st.st_blocks * 512 : 0;
}

/*
 * Merge layer C into its parent L (C stays until the caller removes it), then
 * make everything that used C use L: C's children are relinked below L, and
 * snapshots (but `skip`) and vm.xml that name C name L. Every step is
 * idempotent, so a rerun after a crash finishes it.
 */
static int fold_layer(const char *vmdir, struct snaptree *t, struct vmconfig *c,
		      const struct snapshot *skip, const char *L, const char *C, char **layers,
		      int nl, struct error *err)
{
	struct vhd_merge m;
	uint8_t cu[16], cp[16], gu[16], gp[16];
	bool cdiff, gdiff;

	vhd_merge_init(&m);
	if (vhd_merge_prepare(&m, C, L, 0, true, err) < 0 || vhd_merge_run(&m, true, 0, err) < 0) {
		vhd_merge_release(&m);
		return -1;
	}
	vhd_merge_release(&m);
	crashpoint("snap-delete-merge");
	if (layer_ids(C, cu, cp, &cdiff) == 0)
		for (int i = 0; i < nl; i++) {
			struct vhd_setparent_result r;
			if (layer_ids(layers[i], gu, gp, &gdiff) < 0 || !gdiff || memcmp(gp, cu, 16))
				continue;
			if (vhd_set_parent(layers[i], L, true, &r, err) < 0)
				return -1;
		}
	for (int i = 0; i < t->n; i++) {
		bool changed = false;
		for (int k = 0; k < t->v[i]->ndisks; k++)
			if (!strcmp(t->v[i]->disks[k].file, C)) {
				free(t->v[i]->disks[k].file);
				t->v[i]->disks[k].file = strdup(L);
				vmconfig_set_str(&t->v[i]->domain->disks[k].path, L, NULL);
				changed = true;
			}
		if (changed && t->v[i] != skip && snapshot_write(vmdir, t->v[i], err) < 0)
			return -1;
	}
	for (int k = 0; k < c->ndisks; k++) {
		char *p = vmconfig_disk_path(c, k, vmdir);
		if (p && !strcmp(p, C))
			vmconfig_set_str(&c->disks[k].path, L, NULL);
		free(p);
	}
	return save_cfg(c, vmdir, err);
}

/* <vm>/pending-merges: "L\tC" lines, merges a running VM deferred. */
static int pending_add(const char *vmdir, const char *L, const char *C, struct error *err)
{
	char path[4200], *old = NULL, *buf;
	size_t len = 0;
	FILE *fp;
	int rc;

	snprintf(path, sizeof(path), "%s/pending-merges", vmdir);
	fp = fopen(path, "re");
	if (fp) {
		char line[8400];
		while (fgets(line, sizeof(line), fp)) {
			size_t l = strlen(line);
			char *n = realloc(old, len + l + 1);
			if (!n)
				break;
			old = n;
			memcpy(old + len, line, l + 1);
			len += l;
		}
		fclose(fp);
	}
	if (asprintf(&buf, "%s%s\t%s\n", old ? old : "", L, C) < 0) {
		free(old);
		return error_set(err, EXIT_FAIL, "out of memory");
	}
	rc = io_atomic_write(path, buf, strlen(buf), 0600, err);
	free(buf);
	free(old);
	return rc;
}

int snapops_run_pending(const char *vmdir, int *done, struct error *err)
{
	char path[4200], line[8400];
	struct snaptree t;
	struct vmconfig *c;
	char *layers[512];
	int nl, rc = 0;
	FILE *fp;

	*done = 0;
	snprintf(path, sizeof(path), "%s/pending-merges", vmdir);
	if (vm_running(vmdir) == 1 || !(fp = fopen(path, "re")))
		return 0;
	if (snaptree_load(&t, vmdir, err) < 0) {
		fclose(fp);
		return -1;
	}
	c = load_cfg(vmdir, err);
	if (!c) {
		snaptree_release(&t);
		fclose(fp);
		return -1;
	}
	nl = known_layers(&t, vmdir, layers, 512);
	while (rc == 0 && fgets(line, sizeof(line), fp)) {
		char *tab = strchr(line, '\t');
		line[strcspn(line, "\n")] = '\0';
		if (!tab)
			continue;
		*tab = '\0';
		const char *L = line, *C = tab + 1;
		/* still as deferred: C exists and hangs below L */
		uint8_t lu[16], lp[16], cu[16], cp[16];
		bool ld, cd;
		if (layer_ids(L, lu, lp, &ld) < 0 || layer_ids(C, cu, cp, &cd) < 0 || !cd ||
		    memcmp(cp, lu, 16) != 0)
			continue;
		rc = fold_layer(vmdir, &t, c, NULL, L, C, layers, nl, err);
		if (rc == 0) {
			unlink_quiet(C);
			(*done)++;
		}
	}
	fclose(fp);
	for (int i = 0; i < nl; i++)
		free(layers[i]);
	vmconfig_free(c);
	snaptree_release(&t);
	if (rc == 0)
		unlink_quiet(path);
	return rc;
}

/*
 * Removing layer L (nothing depends on it) may leave its parent with no
 * child and no snapshot: a middle layer an earlier delete kept for L alone.
 * Such parents go too, up the chain while that holds: each a layer the suite
 * made, no snapshot's and not "now", not open in the VMM, and with no other
 * child among the VM's layers. Their paths are added to gone[] (*ngone).
 */
static void orphaned_parents(const char *vmdir, const struct snaptree *t, const struct vmconfig *c,
			     const char *L, char **layers, int nl, char (*gone)[4096], int *ngone,
			     int max)
{
	uint8_t cu[16], cp[16], pu[16], pp[16], ku[16], kp[16];
	bool cdiff, pdiff, kdiff;
	char cur[4096];

	snprintf(cur, sizeof(cur), "%s", L);
	while (*ngone < max && layer_ids(cur, cu, cp, &cdiff) == 0 && cdiff) {
		const char *P = NULL;
		for (int i = 0; i < nl && !P; i++)
			if (layer_ids(layers[i], pu, pp, &pdiff) == 0 && !memcmp(pu, cp, 16))
				P = layers[i];
		if (!P || !our_layer(P) || cfg_uses(c, vmdir, P) || vmm_uses(vmdir, P))
			return;
		for (int i = 0; i < t->n; i++)
			for (int k = 0; k < t->v[i]->ndisks; k++)
				if (!strcmp(t->v[i]->disks[k].file, P))
					return;
		for (int i = 0; i < nl; i++) {
			bool going = !strcmp(layers[i], cur);
			for (int g = 0; g < *ngone && !going; g++)
				going = !strcmp(layers[i], gone[g]);
			if (!going && strcmp(layers[i], P) &&
			    layer_ids(layers[i], ku, kp, &kdiff) == 0 && kdiff && !memcmp(kp, pu, 16))
				return;         /* another child still needs P */
		}
		snprintf(gone[(*ngone)++], 4096, "%s", P);
		snprintf(cur, sizeof(cur), "%s", P);
	}
}

int snapops_delete(const char *vmdir, const char *vm, const char *spec, bool dry_run,
		   struct snap_delete_plan *plan, struct error *err)
{
	struct snaptree t;
	struct snapshot *s, *kids[256];
	struct vmconfig *c = NULL;
	char *layers[512];
	int nl = 0, nk, rc = -1;
	bool running = vm_running(vmdir) == 1;
	char u[UUID_STR_LEN];

	memset(plan, 0, sizeof(*plan));
	if (snaptree_load(&t, vmdir, err) < 0)
		return -1;
	s = snaptree_find(&t, spec, err);
	if (!s)
		goto out;
	c = load_cfg(vmdir, err);
	if (!c)
		goto out;
	nl = known_layers(&t, vmdir, layers, 512);
	plan_line(plan, "remove snapshot '%s' (%s)", s->name, uuid_format(s->uuid, u));
	if (s->online) {
		char *vsv = snapshot_path(vmdir, s->uuid, ".vsv");
		plan->bytes_freed += file_size(s->memory) + file_size(vsv);
		free(vsv);
	}
	/* the disk layers: merge a frozen layer with its only child */
	struct { char l[4096], c[4096]; bool merge, pending, remove; } act[VMCONFIG_MAX_DISKS];
	static char extra[JOURNAL_MAX_DISCARD - VMCONFIG_MAX_DISKS][4096];
	int nextra = 0;
	memset(act, 0, sizeof(act));
	for (int d = 0; d < s->ndisks; d++) {
		const char *L = s->disks[d].file;
		uint8_t lu[16], lp[16], cu[16], cp[16];
		bool ldiff, cdiff, other_ref = false;
		int nchild = 0;
		const char *child = NULL;
		snprintf(act[d].l, 4096, "%s", L);
		for (int i = 0; i < t.n; i++)
			if (t.v[i] != s)
				for (int k = 0; k < t.v[i]->ndisks; k++)
					other_ref |= !strcmp(t.v[i]->disks[k].file, L);
		/* the layer "now" writes to is never merged away or removed */
		other_ref |= cfg_uses(c, vmdir, L) || vmm_uses(vmdir, L);
		if (other_ref || layer_ids(L, lu, lp, &ldiff) < 0) {
			plan_line(plan, "keep '%s' (%s)", L, other_ref ? "still in use"
									: "cannot be read");
			plan->nkept++;
			continue;
		}
		for (int i = 0; i < nl; i++) {
			if (!strcmp(layers[i], L) || layer_ids(layers[i], cu, cp, &cdiff) < 0 || !cdiff)
				continue;
			if (!memcmp(cp, lu, 16)) {
				nchild++;
				child = layers[i];
			}
		}
		if (nchild == 1) {
			snprintf(act[d].c, 4096, "%s", child);
			if (running && (vmm_holds(vmdir, child) || vmm_holds(vmdir, L))) {
				act[d].pending = true;
				plan->npending++;
				plan_line(plan, "pending: merge '%s' into '%s' when the VM has stopped (the "
					  "running VM uses them; the next vmctl or snapctl command after "
					  "the stop does it)", child, L);
			} else {
				act[d].merge = true;
				plan->nmerge++;
				plan->bytes_freed += file_size(child);
				plan_line(plan, "merge '%s' into '%s', then remove it", child, L);
			}
		} else if (nchild == 0 && our_layer(L)) {
			int before = nextra;
			act[d].remove = true;
			plan->nremoved++;
			plan->bytes_freed += file_size(L);
			plan_line(plan, "remove '%s' (nothing depends on it)", L);
			orphaned_parents(vmdir, &t, c, L, layers, nl, extra, &nextra,
					 JOURNAL_MAX_DISCARD - VMCONFIG_MAX_DISKS);
			for (int g = before; g < nextra; g++) {
				plan->nremoved++;
				plan->bytes_freed += file_size(extra[g]);
				plan_line(plan, "remove '%s' (only '%s' depended on it)", extra[g],
					  g == before ? L : extra[g - 1]);
			}
		} else {
			plan->nkept++;
			plan_line(plan, "keep '%s' (%d layers depend on it)", L, nchild);
		}
	}
	nk = snaptree_children(&t, s, kids, 256);
	for (int i = 0; i < nk; i++)
		plan_line(plan, "snapshot '%s' moves up to %s", kids[i]->name,
			  s->has_parent && snaptree_by_uuid(&t, s->parent)
				  ? snaptree_by_uuid(&t, s->parent)->name : "the root");
	if (t.has_current && !memcmp(t.current, s->uuid, 16))
		plan_line(plan, "the current snapshot becomes %s",
			  s->has_parent && snaptree_by_uuid(&t, s->parent)
				  ? snaptree_by_uuid(&t, s->parent)->name : "none");
	if (dry_run) {
		rc = 0;
		goto out;
	}
	/* the journal names the files that become garbage; recovery removes
	 * those nothing references any more */
	struct journal *j = calloc(1, sizeof(*j));
	if (!j) {
		error_set(err, EXIT_FAIL, "out of memory");
		goto out;
	}
	snprintf(j->op, sizeof(j->op), "delete");
	memcpy(j->snap, s->uuid, 16);
	for (int d = 0; d < s->ndisks; d++)
		if (act[d].merge || act[d].remove)
			snprintf(j->discard[j->ndiscard++], 4096, "%s", act[d].merge ? act[d].c : act[d].l);
	for (int g = 0; g < nextra; g++)
		snprintf(j->discard[j->ndiscard++], 4096, "%s", extra[g]);
	rc = journal_write(vmdir, j, err);
	free(j);
	if (rc < 0)
		goto out;
	rc = -1;
	crashpoint("snap-delete-journal");
	/* 1. data: merges (each resumable by its own journal) and relinks */
	for (int d = 0; d < s->ndisks; d++) {
		if (!act[d].merge)
			continue;
		if (fold_layer(vmdir, &t, c, s, act[d].l, act[d].c, layers, nl, err) < 0)
			goto out;
		if (save_cfg(c, vmdir, err) < 0)
			goto out;
	}
	/* 2. metadata: children move up, current moves up, the snapshot goes */
	for (int i = 0; i < nk; i++) {
		struct snapshot *k = kids[i], *gp = s->has_parent ? snaptree_by_uuid(&t, s->parent) : NULL;
		k->has_parent = gp != NULL;
		if (gp)
			memcpy(k->parent, gp->uuid, 16);
		free(k->parent_name);
		k->parent_name = gp ? strdup(gp->name) : NULL;
		if (snapshot_write(vmdir, k, err) < 0)
			goto out;
	}
	if (t.has_current && !memcmp(t.current, s->uuid, 16)) {
		struct snapshot *gp = s->has_parent ? snaptree_by_uuid(&t, s->parent) : NULL;
		if (snaptree_set_current(vmdir, gp ? gp->uuid : NULL, err) < 0)
			goto out;
	}
	for (int d = 0; d < s->ndisks; d++)
		if (act[d].pending && pending_add(vmdir, act[d].l, act[d].c, err) < 0)
			goto out;
	if (remove_snapshot_files(vmdir, s->uuid, err) < 0)
		goto out;                  /* the journal stays: recovery finishes */
	crashpoint("snap-delete-meta");
	/* 3. files nothing references any more */
	for (int d = 0; d < s->ndisks; d++) {
		if (act[d].merge && unlink_synced(act[d].c, err) < 0)
			goto out;
		if (act[d].remove && unlink_synced(act[d].l, err) < 0)
			goto out;
	}
	for (int g = 0; g < nextra; g++)           /* children before parents */
		if (unlink_synced(extra[g], err) < 0)
			goto out;
	journal_done(vmdir);
	rc = 0;
out:
	for (int i = 0; i < nl; i++)
		free(layers[i]);
	vmconfig_free(c);
	snaptree_release(&t);
	(void)vm;
	return rc;
}
