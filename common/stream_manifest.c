/* stream_manifest.c — the MANIFEST (stream.h): written by export, read and
 * checked by import before any other member. */
#include "stream_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "units.h"

char *stream_manifest_format(struct stream_export *x, struct error *err)
{
	json_object *r = json_object_new_object(), *ms = json_object_new_array(), *o;
	char u[UUID_STR_LEN], ts[40], sha[65];
	char *out = NULL;

	if (!r || !ms) {
		json_object_put(r);
		json_object_put(ms);
		stream_oom(err);
		return NULL;
	}
	json_object_object_add(r, "format", json_object_new_string(STREAM_FORMAT));
	json_object_object_add(r, "version", json_object_new_int(STREAM_VERSION));
	json_object_object_add(r, "kind", json_object_new_string(x->info.kind));
	json_object_object_add(r, "vm", json_object_new_string(x->vm));
	json_object_object_add(r, "uuid", json_object_new_string(uuid_format(x->uuid, u)));
	if (x->info.snapshot[0]) {
		o = json_object_new_object();
		json_object_object_add(o, "name", json_object_new_string(x->info.snapshot_name));
		json_object_object_add(o, "uuid", json_object_new_string(x->info.snapshot));
		json_object_object_add(r, "snapshot", o);
	} else {
		json_object_object_add(r, "snapshot", NULL);
	}
	json_object_object_add(r, "created",
			       json_object_new_string(units_format_time(x->created, ts, sizeof(ts))));
	json_object_object_add(r, "generator", json_object_new_string("snapctl " VMSNAP_VERSION));
	for (int i = 1; i < x->n; i++) {
		const struct xm *m = &x->m[i];
		o = json_object_new_object();
		json_object_object_add(o, "name", json_object_new_string(m->name));
		json_object_object_add(o, "type", json_object_new_string(stream_mtype_name[m->type]));
		json_object_object_add(o, "size", json_object_new_int64((int64_t)m->size));
		stream_hex(m->sha, 32, sha);
		json_object_object_add(o, "sha256", json_object_new_string(sha));
		if (m->type == M_DISK || M_IS_BOOT(m->type)) {
			json_object *src = json_object_new_array();
			if (m->type == M_DISK)
				json_object_object_add(o, "parent", m->parent >= 0 ?
						       json_object_new_string(x->m[m->parent].name) : NULL);
			for (int k = 0; k < m->nsrc; k++)
				json_object_array_add(src, json_object_new_string(m->src[k]));
			json_object_object_add(o, "source", src);
		}
		json_object_array_add(ms, o);
	}
	json_object_object_add(r, "members", ms);
	const char *s = json_object_to_json_string_ext(r, JSON_C_TO_STRING_PRETTY |
						       JSON_C_TO_STRING_SPACED |
						       JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!s || !(out = malloc(strlen(s) + 2)))
		stream_oom(err);
	else
		sprintf(out, "%s\n", s);
	json_object_put(r);
	return out;
}

static const char *jstr(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v) : NULL;
}

static int parse_member(struct imp *p, json_object *o, int idx, struct error *err)
{
	struct im *m = &p->m[idx];
	const char *name = jstr(o, "name"), *type = jstr(o, "type"), *sha = jstr(o, "sha256");
	const char *why = "";
	json_object *size, *src;
	int t;

	m->parent = -1;
	if (!name || strlen(name) >= sizeof(m->name))
		return stream_bad(p, err, "MANIFEST: member %d has no valid name", idx + 1);
	snprintf(m->name, sizeof(m->name), "%s", name);
	if ((t = stream_member_type(name, m->uuid, &why)) < 0 || t == M_MANIFEST)
		return stream_bad(p, err, "MANIFEST lists member '%s': %s", name,
				  t < 0 ? why : "the MANIFEST itself");
	m->type = (enum mtype)t;
	if (!type || strcmp(type, stream_mtype_name[t]))
		return stream_bad(p, err, "MANIFEST: member '%s' should have type '%s'", name,
				  stream_mtype_name[t]);
	if (!json_object_object_get_ex(o, "size", &size) || !json_object_is_type(size, json_type_int) ||
	    json_object_get_int64(size) < 0)
		return stream_bad(p, err, "MANIFEST: member '%s' has no valid size", name);
	m->size = (uint64_t)json_object_get_int64(size);
	if ((t == M_CONFIG || t == M_SNAPSHOT) && m->size > SMALL_MAX)
		return stream_bad(p, err, "MANIFEST: member '%s' is too large (%llu bytes)", name,
				  (unsigned long long)m->size);
	if (t == M_CURRENT && m->size > 64)
		return stream_bad(p, err, "MANIFEST: member 'current' is too large");
	if (!sha || stream_unhex(sha, m->sha, 32) < 0)
		return stream_bad(p, err, "MANIFEST: member '%s' has no valid sha256", name);
	if (stream_find_member(p, name) != m)
		return stream_bad(p, err, "MANIFEST lists member '%s' twice", name);
	if (t != M_DISK && !M_IS_BOOT(t))
		return 0;
	if (json_object_object_get_ex(o, "source", &src) && json_object_is_type(src, json_type_array))
		for (size_t k = 0; k < json_object_array_length(src); k++) {
			json_object *s = json_object_array_get_idx(src, k);
			const char *sp = json_object_is_type(s, json_type_string) ? json_object_get_string(s)
										   : NULL;
			if (!sp || sp[0] != '/')
				return stream_bad(p, err, "MANIFEST: member '%s' has a source that is not "
						  "an absolute path", name);
			if (stream_strv_add(&m->src, &m->nsrc, sp) < 0)
				return stream_oom(err);
		}
	return 0;
}

int stream_manifest_parse(struct imp *p, const char *buf, size_t len, struct error *err)
{
	struct json_tokener *tok = json_tokener_new();
	json_object *r = NULL, *ms, *v;
	const char *s;
	int rc = -1, nconfig = 0;

	if (!tok)
		return stream_oom(err);
	if (memchr(buf, '\0', len)) {
		stream_bad(p, err, "MANIFEST is not JSON text");
		goto out;
	}
	r = json_tokener_parse_ex(tok, buf, (int)len);
	if (!r || json_tokener_get_error(tok) != json_tokener_success ||
	    !json_object_is_type(r, json_type_object)) {
		stream_bad(p, err, "MANIFEST is not a JSON object: %s",
			   json_tokener_error_desc(json_tokener_get_error(tok)));
		goto out;
	}
	for (size_t k = json_tokener_get_parse_end(tok); k < len; k++)
		if (!strchr(" \t\r\n", buf[k])) {
			stream_bad(p, err, "MANIFEST has data after its JSON object");
			goto out;
		}
	if (!(s = jstr(r, "format")) || strcmp(s, STREAM_FORMAT)) {
		stream_bad(p, err, "MANIFEST is not a %s manifest", STREAM_FORMAT);
		goto out;
	}
	if (!json_object_object_get_ex(r, "version", &v) || json_object_get_int(v) != STREAM_VERSION) {
		stream_bad(p, err, "MANIFEST has version %s; this snapctl reads version %d",
			   v ? json_object_get_string(v) : "(none)", STREAM_VERSION);
		goto out;
	}
	s = jstr(r, "kind");
	if (!s || (strcmp(s, "vm") && strcmp(s, "snapshot"))) {
		stream_bad(p, err, "MANIFEST: kind must be \"vm\" or \"snapshot\"");
		goto out;
	}
	snprintf(p->kind, sizeof(p->kind), "%s", s);
	if (!(s = jstr(r, "vm")) || !vmconfig_name_ok(s)) {
		stream_bad(p, err, "MANIFEST: no valid VM name");
		goto out;
	}
	snprintf(p->vm, sizeof(p->vm), "%s", s);
	if (!(s = jstr(r, "uuid")) || uuid_parse(s, p->uuid) < 0) {
		stream_bad(p, err, "MANIFEST: no valid VM UUID");
		goto out;
	}
	if (!json_object_object_get_ex(r, "members", &ms) || !json_object_is_type(ms, json_type_array) ||
	    json_object_array_length(ms) > STREAM_MAX_MEMBERS) {
		stream_bad(p, err, "MANIFEST: no valid member list");
		goto out;
	}
	p->n = (int)json_object_array_length(ms);
	if (!(p->m = calloc((size_t)p->n + 1, sizeof(*p->m)))) {
		stream_oom(err);
		goto out;
	}
	for (int i = 0; i < p->n; i++) {
		json_object *o = json_object_array_get_idx(ms, (size_t)i);
		if (!json_object_is_type(o, json_type_object)) {
			stream_bad(p, err, "MANIFEST: member %d is not an object", i + 1);
			goto out;
		}
		if (parse_member(p, o, i, err) < 0)
			goto out;
		p->total += p->m[i].size;
		nconfig += p->m[i].type == M_CONFIG;
	}
	/* parents: disk members, no loops */
	for (int i = 0; i < p->n; i++) {
		json_object *o = json_object_array_get_idx(ms, (size_t)i);
		struct im *pm;
		if (p->m[i].type != M_DISK || !(s = jstr(o, "parent")))
			continue;
		if (!(pm = stream_find_member(p, s)) || pm->type != M_DISK || pm == &p->m[i]) {
			stream_bad(p, err, "MANIFEST: the parent of '%s' is not a disk member of the stream",
				   p->m[i].name);
			goto out;
		}
		p->m[i].parent = (int)(pm - p->m);
	}
	for (int i = 0; i < p->n; i++) {
		int k = 0;
		for (int j = p->m[i].parent; j >= 0; j = p->m[j].parent)
			if (++k > VHD_MAX_DEPTH) {
				stream_bad(p, err, "MANIFEST: the parents of '%s' form a loop or a chain "
					   "deeper than %d", p->m[i].name, VHD_MAX_DEPTH);
				goto out;
			}
	}
	/* kernel/x and initrd/x would both be <vm>/boot/x */
	for (int i = 0; i < p->n; i++)
		for (int j = i + 1; M_IS_BOOT(p->m[i].type) && j < p->n; j++)
			if (M_IS_BOOT(p->m[j].type) &&
			    !strcmp(p->m[i].name + BOOT_PREFIX, p->m[j].name + BOOT_PREFIX)) {
				stream_bad(p, err, "MANIFEST lists '%s' and '%s': a kernel and an initrd "
					   "need different file names", p->m[i].name, p->m[j].name);
				goto out;
			}
	if (nconfig != 1) {
		stream_bad(p, err, "MANIFEST lists no vm.xml");
		goto out;
	}
	for (int i = 0; i < p->n; i++) {
		struct im *m = &p->m[i];
		char want[64], u[UUID_STR_LEN];
		if (!strcmp(p->kind, "snapshot") && (m->type == M_SNAPSHOT || m->type == M_CURRENT)) {
			stream_bad(p, err, "MANIFEST: a standalone snapshot export has no member '%s'",
				   m->name);
			goto out;
		}
		want[0] = '\0';
		if (m->type == M_SNAP_STATE || m->type == M_SNAP_MEMORY)
			snprintf(want, sizeof(want), "snapshots/%s.xml", uuid_format(m->uuid, u));
		else if (m->type == M_SAVED_STATE || m->type == M_SAVED_MEMORY)
			snprintf(want, sizeof(want), "saved.%s", m->type == M_SAVED_STATE ? "bin" : "vsv");
		if (want[0] && !stream_find_member(p, want)) {
			stream_bad(p, err, "MANIFEST lists '%s' without '%s'", m->name, want);
			goto out;
		}
	}
	rc = 0;
out:
	json_object_put(r);
	json_tokener_free(tok);
	return rc;
}
