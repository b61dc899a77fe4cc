/* stream_build.c — the import's middle part (stream_int.h): every member is
 * verified; check and relink the disks, rewrite the XML for the new name,
 * identity and places, and write the VM folder (still temporary). */
#include "stream_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "snapshot.h"
#include "vhd_modify.h"
#include "vsv.h"

/* Parents first. */
int stream_relink(struct imp *p, bool final, struct error *err)
{
	for (int depth = 0; depth <= VHD_MAX_DEPTH; depth++) {
		bool more = false;
		for (int i = 0; i < p->n; i++) {
			struct im *m = &p->m[i], *pm;
			struct vhd_setparent_result r;
			int d = 0;
			if (m->type != M_DISK)
				continue;
			for (int j = m->parent; j >= 0; j = p->m[j].parent)
				d++;
			more |= d > depth;
			if (d != depth)
				continue;
			if (!final) {
				int probe = vhd_probe(m->file, err);
				struct vhd *v = probe > 0 ? vhd_open(m->file, DISK_RDONLY | DISK_NOLOCK |
								     VHD_NOPARENT, err) : NULL;
				bool diff = v && v->footer.type == VHD_TYPE_DIFF;
				vhd_close(v);
				if (probe < 0 || (probe > 0 && !v))
					return error_prefix(err, "member '%s'", m->name);
				if (diff != (m->parent >= 0))
					return stream_bad(p, err, "member '%s' is %s, but the MANIFEST says it "
							  "%s", m->name, diff ? "a differencing disk"
							  : "not a differencing disk", diff ? "has no parent"
							  : "has one");
			}
			if (m->parent < 0)
				continue;
			pm = &p->m[m->parent];
			if (vhd_set_parent(final ? m->final : m->file, final ? pm->final : pm->file, false,
					   &r, err) < 0)
				return error_prefix(err, "member '%s'", m->name);
		}
		if (!more)
			break;
	}
	return 0;
}

/* The disk member the stream's XML meant by `path` → its new location. */
static const char *new_disk_path(struct imp *p, const char *path)
{
	for (int i = 0; i < p->n; i++)
		for (int k = 0; p->m[i].type == M_DISK && k < p->m[i].nsrc; k++)
			if (!strcmp(p->m[i].src[k], path))
				return p->m[i].final;
	return NULL;
}

/* The kernel or initrd member the stream's XML meant by `path` → its new
 * location in <vm>/boot/; NULL: the stream does not hold it (a stream made
 * before boot members, or the file was missing on export). */
static const char *new_boot_path(struct imp *p, enum mtype type, const char *path)
{
	for (int i = 0; path && i < p->n; i++)
		for (int k = 0; p->m[i].type == type && k < p->m[i].nsrc; k++)
			if (!strcmp(p->m[i].src[k], path))
				return p->m[i].final;
	return NULL;
}

/* A configuration of this VM (vm.xml or a snapshot's) moved to its new
 * name, identity, disk, kernel and initrd locations. */
static int rewrite_config(struct imp *p, struct vmconfig *c, const char *what, struct error *err)
{
	char u[UUID_STR_LEN];
	const char *np;

	if (memcmp(c->uuid, p->uuid, 16))
		return stream_bad(p, err, "%s belongs to VM %s, the MANIFEST says %s", what,
				  uuid_format(c->uuid, u), uuid_format(p->uuid, (char[UUID_STR_LEN]){ 0 }));
	snprintf(c->name, sizeof(c->name), "%s", p->name);
	memcpy(c->uuid, p->new_uuid, 16);
	for (int i = 0; i < c->ndisks; i++) {
		np = new_disk_path(p, c->disks[i].path);
		if (!np)
			return stream_bad(p, err, "%s uses disk '%s', which the stream does not hold", what,
					  c->disks[i].path);
		if (vmconfig_set_str(&c->disks[i].path, np, err) < 0)
			return -1;
	}
	if ((np = new_boot_path(p, M_KERNEL, c->kernel)) && vmconfig_set_str(&c->kernel, np, err) < 0)
		return -1;
	if ((np = new_boot_path(p, M_INITRD, c->initrd)) && vmconfig_set_str(&c->initrd, np, err) < 0)
		return -1;
	return 0;
}

/* --new-id: a saved state names the VM it belongs to (VSV_CONFIG "uuid=..."). */
static int vsv_new_identity(struct imp *p, const char *path, struct error *err)
{
	struct vsv_reader *r = vsv_load(path, err);
	struct vsv_writer w;
	char old[UUID_STR_LEN + 8], nu[UUID_STR_LEN], *cfg = NULL;
	int rc;

	if (!r)
		return error_prefix(err, "the state in '%s'", p->what);
	vsv_writer_init(&w, r->creator);
	snprintf(old, sizeof(old), "uuid=%s\n", uuid_format(p->uuid, nu));
	uuid_format(p->new_uuid, nu);
	for (int i = 0; i < r->nsec; i++) {
		const struct vsv_section *s = &r->sec[i];
		char *at;
		if (s->type == VSV_END)
			continue;
		if (s->type == VSV_CONFIG && (cfg = strndup((const char *)s->data, s->len)) &&
		    (at = strstr(cfg, old))) {
			memcpy(at + 5, nu, 36);
			vsv_put(&w, s->type, s->instance, cfg, s->len);
		} else {
			vsv_put(&w, s->type, s->instance, s->data, s->len);
		}
		free(cfg);
		cfg = NULL;
	}
	rc = vsv_writer_save(&w, path, err);
	vsv_writer_release(&w);
	vsv_free(r);
	return rc;
}

/* A kernel or initrd neither in the stream nor on this host: a warning. */
static void warn_missing(struct imp *p, const struct vmconfig *c)
{
	const char *f[2] = { c->kernel, c->initrd };

	for (int i = 0; i < 2; i++) {
		bool carried = false;
		for (int k = 0; f[i] && k < p->n && !carried; k++)
			carried = M_IS_BOOT(p->m[k].type) && !strcmp(p->m[k].final, f[i]);
		if (f[i] && !carried && f[i][0] == '/' && !stream_exists(f[i])) {
			error_warn("VM '%s' boots '%s', which is not on this host", p->name, f[i]);
			p->nwarn++;
		}
	}
}

int stream_build_vm(struct imp *p, struct stream_import_info *info, struct error *err)
{
	struct vmconfig *c = NULL;
	struct im *cfgm = stream_find_member(p, "vm.xml"), *cur = stream_find_member(p, "current");
	char what[300], path[4400];
	int rc = -1;

	c = vmconfig_parse(cfgm->buf, (size_t)cfgm->size, "member 'vm.xml'", err);
	if (!c)
		return -1;
	if (strcmp(c->name, p->vm)) {
		stream_bad(p, err, "vm.xml names VM '%s', the MANIFEST '%s'", c->name, p->vm);
		goto out;
	}
	if (rewrite_config(p, c, "vm.xml", err) < 0)
		goto out;
	warn_missing(p, c);
	snprintf(path, sizeof(path), "%s/vm.xml", p->tmpvm);
	if (vmconfig_save(c, path, err) < 0)
		goto out;
	for (int i = 0; i < p->n; i++) {
		struct im *m = &p->m[i];
		char vsvname[64], binname[64], u[UUID_STR_LEN];
		struct snapshot *s;
		if (m->type != M_SNAPSHOT)
			continue;
		snprintf(what, sizeof(what), "member '%s'", m->name);
		if (!(s = snapshot_parse(m->buf, (size_t)m->size, what, err)))
			goto out;
		snprintf(vsvname, sizeof(vsvname), "snapshots/%s.vsv", uuid_format(m->uuid, u));
		snprintf(binname, sizeof(binname), "snapshots/%s.bin", u);
		if (memcmp(s->uuid, m->uuid, 16))
			rc = stream_bad(p, err, "%s holds another snapshot", what);
		else if (s->online != (stream_find_member(p, vsvname) && stream_find_member(p, binname)))
			rc = stream_bad(p, err, "%s is %s snapshot, but the stream %s its state and RAM",
					what, s->online ? "an online" : "an offline",
					s->online ? "lacks" : "holds");
		else if (rewrite_config(p, s->domain, what, err) == 0)
			rc = 0;
		for (int d = 0; rc == 0 && d < s->ndisks; d++) {
			const char *np = new_disk_path(p, s->disks[d].file);
			if (!np) {
				rc = stream_bad(p, err, "%s uses disk '%s', which the stream does not hold",
						what, s->disks[d].file);
				break;
			}
			free(s->disks[d].file);
			if (!(s->disks[d].file = strdup(np)))
				rc = stream_oom(err);
		}
		if (rc == 0) {
			memcpy(s->uuid, stream_snap_uuid(p, s->uuid), 16);
			if (s->has_parent)
				memcpy(s->parent, stream_snap_uuid(p, s->parent), 16);
			free(s->memory);
			s->memory = s->online ? snapshot_path(p->vmdir, s->uuid, ".bin") : NULL;
			if (s->online && !s->memory)
				rc = stream_oom(err);
		}
		if (rc == 0)
			rc = snapshot_write(p->tmpvm, s, err);
		snapshot_free(s);
		if (rc < 0)
			goto out;
		rc = -1;
		info->nsnapshots++;
	}
	if (cur) {
		char u[UUID_STR_LEN];
		uint8_t cu[16];
		snprintf(u, sizeof(u), "%.36s", cur->buf);
		snprintf(what, sizeof(what), "snapshots/%s.xml", u);
		if (uuid_parse(u, cu) < 0 || strspn(cur->buf + 36, "\n") != cur->size - 36 ||
		    !stream_find_member(p, what)) {
			stream_bad(p, err, "member 'current' does not name a snapshot of the stream");
			goto out;
		}
		if (snaptree_set_current(p->tmpvm, stream_snap_uuid(p, cu), err) < 0)
			goto out;
	}
	for (int i = 0; p->o->new_id && i < p->n; i++)
		if ((p->m[i].type == M_SNAP_STATE || p->m[i].type == M_SAVED_STATE) &&
		    vsv_new_identity(p, p->m[i].file, err) < 0)
			goto out;
	for (int i = 0; i < p->n; i++)
		if (p->m[i].type == M_SNAP_MEMORY || p->m[i].type == M_SAVED_MEMORY)
			chmod(p->m[i].file, 0400);   /* as the VMM leaves RAM images */
	rc = 0;
out:
	vmconfig_free(c);
	return rc;
}
