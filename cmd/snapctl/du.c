/* snapctl du: the space each snapshot uses, alone and shared */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "snapctl.h"
#include "snapops.h"
#include "uuid.h"
#include "vhd.h"

/*
 * Owners of a file: the snapshots whose XML names it (frozen layers, state,
 * RAM) and "current state" (the layers now writes to, a managed save).
 * Layers only reached as parents of those have no owner: base layers.
 */
struct dfile {
	char *path;
	dev_t dev;
	ino_t ino;
	uint64_t bytes;          /* allocated: st_blocks * 512 */
	bool *own;               /* [nsnap + 1]: snapshots, then current state */
	int nown;
};

struct du {
	struct dfile *f;
	int n;
	int nowner;              /* snapshots + 1 */
};

/* Add (or find) path; owner -1: none. Missing files are skipped. */
static int du_add(struct du *d, const char *path, int owner)
{
	struct stat st;
	struct dfile *f = NULL;

	if (!path || stat(path, &st) < 0)
		return -1;
	for (int i = 0; i < d->n && !f; i++)
		if (d->f[i].dev == st.st_dev && d->f[i].ino == st.st_ino)
			f = &d->f[i];
	if (!f) {
		struct dfile *nf = realloc(d->f, (size_t)(d->n + 1) * sizeof(*nf));
		if (!nf)
			return -1;
		d->f = nf;
		f = &nf[d->n];
		memset(f, 0, sizeof(*f));
		f->path = strdup(path);
		f->own = calloc((size_t)d->nowner, sizeof(bool));
		if (!f->path || !f->own) {
			free(f->path);
			free(f->own);
			return -1;
		}
		f->dev = st.st_dev;
		f->ino = st.st_ino;
		f->bytes = (uint64_t)st.st_blocks * 512;
		d->n++;
	}
	if (owner >= 0 && !f->own[owner]) {
		f->own[owner] = true;
		f->nown++;
	}
	return 0;
}

/* The parents of a layer, down to the base, as files without an owner. */
static void du_chain(struct du *d, const char *path)
{
	struct error e;
	struct vhd *v = vhd_probe(path, &e) == 1 ? vhd_open(path, DISK_RDONLY | DISK_NOLOCK, &e) : NULL;

	for (struct vhd *l = v ? v->parent : NULL; l; l = l->parent)
		du_add(d, l->path, -1);
	vhd_close(v);
}

static int by_created(const void *a, const void *b)
{
	const struct snapshot *x = *(struct snapshot *const *)a, *y = *(struct snapshot *const *)b;

	if (x->created != y->created)
		return x->created < y->created ? -1 : 1;
	return strcmp(x->name, y->name);
}

static void sums(const struct du *d, int owner, uint64_t *excl, uint64_t *shared)
{
	*excl = *shared = 0;
	for (int i = 0; i < d->n; i++)
		if (d->f[i].own[owner])
			*(d->f[i].nown == 1 ? excl : shared) += d->f[i].bytes;
}

int cmd_du(struct cli *cli, int argc, const char **argv)
{
	struct snapvm vm;
	struct snaptree t;
	struct error err;
	struct du d = { 0 };
	char *now[VMCONFIG_MAX_DISKS], path[4200], u[UUID_STR_LEN];
	uint64_t ex, sh, total = 0, base = 0;
	int rc, nnow, cur;

	error_init(&err);
	rc = cli_parse(cli, argc, argv, NULL, CLI_REPORTS, 1, 1);
	if (rc != CLI_CONTINUE)
		return rc;
	if (snapvm_open(cli, cli->args[0], &vm, &err) < 0 || snaptree_load(&t, vm.dir, &err) < 0) {
		snapvm_close(&vm);
		return cli_fail(cli, &err);
	}
	if ((nnow = snapops_now_layers(vm.dir, now, VMCONFIG_MAX_DISKS, &err)) < 0) {
		snaptree_release(&t);
		snapvm_close(&vm);
		return cli_fail(cli, &err);
	}
	if (t.n > 1)
		qsort(t.v, (size_t)t.n, sizeof(*t.v), by_created);
	d.nowner = t.n + 1;
	cur = t.n;
	for (int i = 0; i < t.n; i++) {
		struct snapshot *s = t.v[i];
		for (int k = 0; k < s->ndisks; k++)
			du_add(&d, s->disks[k].file, i);
		if (s->online) {
			char *vsv = snapshot_path(vm.dir, s->uuid, ".vsv");
			du_add(&d, vsv, i);
			du_add(&d, s->memory, i);
			free(vsv);
		}
	}
	for (int i = 0; i < nnow; i++)
		du_add(&d, now[i], cur);
	snprintf(path, sizeof(path), "%s/saved.vsv", vm.dir);
	du_add(&d, path, cur);
	snprintf(path, sizeof(path), "%s/saved.bin", vm.dir);
	du_add(&d, path, cur);
	for (int i = 0, n = d.n; i < n; i++)
		du_chain(&d, d.f[i].path);
	for (int i = 0; i < d.n; i++) {
		total += d.f[i].bytes;
		if (!d.f[i].nown)
			base += d.f[i].bytes;
	}

	struct out *o = out_new(cli->mode);
	if (cli->mode != OUT_TSV)
		out_str(o, "vm", vm.name);
	out_begin_table(o, "snapshots");
	for (int i = 0; i < t.n; i++) {
		sums(&d, i, &ex, &sh);
		out_begin_object(o, NULL);
		out_str(o, "name", t.v[i]->name);
		out_str(o, "uuid", uuid_format(t.v[i]->uuid, u));
		if (cli->mode == OUT_JSON)
			out_bool(o, "current", t.has_current && !memcmp(t.current, t.v[i]->uuid, 16));
		out_size(o, "exclusive_bytes", ex);
		out_size(o, "shared_bytes", sh);
		out_end(o);
	}
	sums(&d, cur, &ex, &sh);
	if (cli->mode != OUT_JSON) {   /* text and -H: current state is the last row */
		out_begin_object(o, NULL);
		out_str(o, "name", "(current state)");
		out_str(o, "uuid", "-");
		out_size(o, "exclusive_bytes", ex);
		out_size(o, "shared_bytes", sh);
		out_end(o);
	}
	out_end(o);
	if (cli->mode == OUT_JSON) {
		out_begin_object(o, "current_state");
		out_size(o, "exclusive_bytes", ex);
		out_size(o, "shared_bytes", sh);
		out_end(o);
		out_begin_array(o, "files");
		for (int i = 0; i < d.n; i++) {
			out_begin_object(o, NULL);
			out_str(o, "file", d.f[i].path);
			out_size(o, "bytes", d.f[i].bytes);
			out_begin_array(o, "snapshots");
			for (int k = 0; k < t.n; k++)
				if (d.f[i].own[k])
					out_str(o, NULL, t.v[k]->name);
			out_end(o);
			out_bool(o, "current_state", d.f[i].own[cur]);
			out_end(o);
		}
		out_end(o);
	}
	if (cli->mode != OUT_TSV) {
		out_size(o, "base_bytes", base);
		out_size(o, "total_bytes", total);
	}
	rc = out_print(o, cli->out, &err) < 0 ? cli_fail(cli, &err) : EXIT_OK;
	out_free(o);
	for (int i = 0; i < d.n; i++) {
		free(d.f[i].path);
		free(d.f[i].own);
	}
	free(d.f);
	for (int i = 0; i < nnow; i++)
		free(now[i]);
	snaptree_release(&t);
	snapvm_close(&vm);
	return rc;
}
