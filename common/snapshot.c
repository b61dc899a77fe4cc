/* snapshot.c — <domainsnapshot> metadata and the tree (see snapshot.h). */
#include "snapshot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libxml/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safeio.h"
#include "statedir.h"
#include "units.h"
#include "uuid.h"
#include "xmlsafe.h"

bool snapshot_name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n > SNAP_NAME_MAX || name[0] == '@')
		return false;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (*p < 0x20 || *p == 0x7f || *p == '/')
			return false;
	return true;
}

struct snapshot *snapshot_new(const char *name, struct error *err)
{
	struct snapshot *s = calloc(1, sizeof(*s));

	if (!s || !(s->name = strdup(name ? name : ""))) {
		free(s);
		error_set(err, EXIT_FAIL, "out of memory");
		return NULL;
	}
	if (uuid_generate(s->uuid) < 0) {
		snapshot_free(s);
		error_errno(err, errno, "cannot generate a UUID");
		return NULL;
	}
	s->created = time(NULL);
	return s;
}

void snapshot_free(struct snapshot *s)
{
	if (!s)
		return;
	free(s->name);
	free(s->description);
	free(s->parent_name);
	free(s->memory);
	for (int i = 0; i < s->ndisks; i++)
		free(s->disks[i].file);
	vmconfig_free(s->domain);
	free(s);
}

char *snapshot_path(const char *vmdir, const uint8_t uuid[16], const char *ext)
{
	char u[UUID_STR_LEN], *p = NULL;

	if (asprintf(&p, "%s/snapshots/%s%s", vmdir, uuid_format(uuid, u), ext) < 0)
		return NULL;
	return p;
}

/* ---- parse ---- */

static int bad(struct error *err, const char *what, xmlNodePtr n, const char *fmt, const char *a)
{
	char m[512];

	snprintf(m, sizeof(m), fmt, a);
	return error_set(err, EXIT_DATAERR, "%s:%ld: %s", what, n ? (long)xmlGetLineNo(n) : 0L, m);
}

struct snapshot *snapshot_parse(const char *buf, size_t len, const char *what,
				struct error *err)
{
	xmlDocPtr doc = xmlsafe_read(buf, len, what, err);
	struct snapshot *s = NULL;
	xmlNodePtr root, k;
	bool have_uuid = false;

	if (!doc)
		return NULL;
	root = xmlDocGetRootElement(doc);
	if (strcmp((const char *)root->name, "domainsnapshot") != 0) {
		bad(err, what, root, "<%s> is not a <domainsnapshot>", (const char *)root->name);
		goto fail;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		error_set(err, EXIT_FAIL, "out of memory");
		goto fail;
	}
	for (k = root->children; k; k = k->next) {
		const char *n = (const char *)k->name;
		if (k->type != XML_ELEMENT_NODE)
			continue;
		if (!strcmp(n, "name")) {
			free(s->name);
			s->name = xmlsafe_text(k);
		} else if (!strcmp(n, "description")) {
			free(s->description);
			s->description = xmlsafe_text(k);
		} else if (!strcmp(n, "state")) {
			char *t = xmlsafe_text(k);
			s->online = t && !strcmp(t, "running");
			free(t);
		} else if (!strcmp(n, "creationTime")) {
			char *t = xmlsafe_text(k);
			s->created = t ? (time_t)strtoll(t, NULL, 10) : 0;
			free(t);
		} else if (!strcmp(n, "memory")) {
			free(s->memory); /* a second <memory> replaces the first */
			s->memory = xmlsafe_attr(k, "file");
		} else if (!strcmp(n, "disks")) {
			for (xmlNodePtr d = k->children; d; d = d->next) {
				if (d->type != XML_ELEMENT_NODE)
					continue;
				if (strcmp((const char *)d->name, "disk") || s->ndisks >= VMCONFIG_MAX_DISKS) {
					bad(err, what, d, "unexpected <%s> in <disks>", (const char *)d->name);
					goto fail;
				}
				char *name = xmlsafe_attr(d, "name");
				xmlNodePtr src = xmlsafe_child(d, "source");
				char *file = src ? xmlsafe_attr(src, "file") : NULL;
				if (!name || !file || file[0] != '/' || strlen(name) >= 16) {
					free(name);
					free(file);
					bad(err, what, d, "a snapshot disk needs a name and an absolute "
					    "<source file=...>%s", "");
					goto fail;
				}
				snprintf(s->disks[s->ndisks].target, 16, "%s", name);
				s->disks[s->ndisks++].file = file;
				free(name);
			}
		} else if (!strcmp(n, "parent")) {
			xmlNodePtr pn = xmlsafe_child(k, "name");
			free(s->parent_name);
			s->parent_name = pn ? xmlsafe_text(pn) : NULL;
		} else if (!strcmp(n, "cookie")) {
			for (xmlNodePtr c = k->children; c; c = c->next) {
				if (c->type != XML_ELEMENT_NODE || !c->ns ||
				    strcmp((const char *)c->ns->href, SNAP_NS))
					continue;
				char *u = xmlsafe_attr(c, "uuid"), *pu = xmlsafe_attr(c, "parent");
				have_uuid = u && uuid_parse(u, s->uuid) == 0;
				if (pu)
					s->has_parent = uuid_parse(pu, s->parent) == 0;
				free(u);
				free(pu);
			}
		} else if (!strcmp(n, "domain")) {
			xmlBufferPtr b = xmlBufferCreate();
			if (!b || xmlNodeDump(b, doc, k, 0, 0) < 0) {
				xmlBufferFree(b);
				error_set(err, EXIT_FAIL, "out of memory");
				goto fail;
			}
			char w[600];
			snprintf(w, sizeof(w), "%s <domain>", what);
			vmconfig_free(s->domain); /* a second <domain> replaces the first */
			s->domain = vmconfig_parse((const char *)xmlBufferContent(b),
						   (size_t)xmlBufferLength(b), w, err);
			xmlBufferFree(b);
			if (!s->domain)
				goto fail;
		} else if (strcmp(n, "active") != 0) {
			bad(err, what, k, "unknown element <%s> in <domainsnapshot>", n);
			goto fail;
		}
	}
	if (!s->name || !snapshot_name_ok(s->name)) {
		bad(err, what, root, "missing or invalid snapshot <name>%s", "");
		goto fail;
	}
	if (!have_uuid) {
		bad(err, what, root, "no vmsnap snapshot identity in <cookie>%s", "");
		goto fail;
	}
	if (!s->domain) {
		bad(err, what, root, "no <domain> in the snapshot%s", "");
		goto fail;
	}
	if (s->online && (!s->memory || s->memory[0] != '/')) {
		bad(err, what, root, "an online snapshot needs <memory file=...>%s", "");
		goto fail;
	}
	xmlFreeDoc(doc);
	return s;
fail:
	snapshot_free(s);
	xmlFreeDoc(doc);
	return NULL;
}

/* ---- format ---- */

static void add_text(xmlNodePtr parent, const char *name, const char *text)
{
	xmlNewTextChild(parent, NULL, (const xmlChar *)name, (const xmlChar *)text);
}

char *snapshot_format(const struct snapshot *s, struct error *err)
{
	xmlDocPtr doc = xmlNewDoc((const xmlChar *)"1.0"), dom = NULL;
	xmlNodePtr root, n;
	char u[UUID_STR_LEN], t[32], *dxml = NULL, *out = NULL;
	xmlChar *mem = NULL;
	int len = 0;

	if (!doc)
		goto oom;
	root = xmlNewNode(NULL, (const xmlChar *)"domainsnapshot");
	xmlDocSetRootElement(doc, root);
	add_text(root, "name", s->name);
	if (s->description)
		add_text(root, "description", s->description);
	add_text(root, "state", s->online ? "running" : "shutoff");
	snprintf(t, sizeof(t), "%lld", (long long)s->created);
	add_text(root, "creationTime", t);
	n = xmlNewChild(root, NULL, (const xmlChar *)"memory", NULL);
	if (s->online) {
		xmlSetProp(n, (const xmlChar *)"snapshot", (const xmlChar *)"external");
		xmlSetProp(n, (const xmlChar *)"file", (const xmlChar *)s->memory);
	} else {
		xmlSetProp(n, (const xmlChar *)"snapshot", (const xmlChar *)"no");
	}
	n = xmlNewChild(root, NULL, (const xmlChar *)"disks", NULL);
	for (int i = 0; i < s->ndisks; i++) {
		xmlNodePtr d = xmlNewChild(n, NULL, (const xmlChar *)"disk", NULL);
		xmlSetProp(d, (const xmlChar *)"name", (const xmlChar *)s->disks[i].target);
		xmlSetProp(d, (const xmlChar *)"snapshot", (const xmlChar *)"external");
		xmlNodePtr src = xmlNewChild(d, NULL, (const xmlChar *)"source", NULL);
		xmlSetProp(src, (const xmlChar *)"file", (const xmlChar *)s->disks[i].file);
	}
	if (s->has_parent && s->parent_name) {
		n = xmlNewChild(root, NULL, (const xmlChar *)"parent", NULL);
		add_text(n, "name", s->parent_name);
	}
	n = xmlNewChild(root, NULL, (const xmlChar *)"cookie", NULL);
	xmlNsPtr ns = xmlNewNs(n, (const xmlChar *)SNAP_NS, (const xmlChar *)"vmsnap");
	xmlNodePtr c = xmlNewChild(n, ns, (const xmlChar *)"snapshot", NULL);
	xmlSetProp(c, (const xmlChar *)"uuid", (const xmlChar *)uuid_format(s->uuid, u));
	if (s->has_parent)
		xmlSetProp(c, (const xmlChar *)"parent", (const xmlChar *)uuid_format(s->parent, u));
	/* the domain as vmconfig writes it */
	dxml = vmconfig_format(s->domain, err);
	if (!dxml)
		goto fail;
	dom = xmlReadMemory(dxml, (int)strlen(dxml), NULL, NULL, XML_PARSE_NONET | XML_PARSE_NOBLANKS);
	if (!dom)
		goto oom;
	xmlNodePtr dn = xmlDocCopyNode(xmlDocGetRootElement(dom), doc, 1);
	if (!dn)
		goto oom;
	xmlAddChild(root, dn);
	xmlDocDumpFormatMemoryEnc(doc, &mem, &len, "UTF-8", 1);
	if (!mem)
		goto oom;
	out = strdup((const char *)mem);
	if (!out)
		goto oom;
	goto done;
oom:
	error_set(err, EXIT_FAIL, "out of memory");
fail:
	free(out);
	out = NULL;
done:
	xmlFree(mem);
	free(dxml);
	if (dom)
		xmlFreeDoc(dom);
	if (doc)
		xmlFreeDoc(doc);
	return out;
}

int snapshot_write(const char *vmdir, const struct snapshot *s, struct error *err)
{
	char dir[4200];
	char *xml, *path;
	int rc;

	snprintf(dir, sizeof(dir), "%s/snapshots", vmdir);
	if (store_mkdir(dir, err) < 0)
		return -1;
	xml = snapshot_format(s, err);
	if (!xml)
		return -1;
	path = snapshot_path(vmdir, s->uuid, ".xml");
	if (!path) {
		free(xml);
		return error_set(err, EXIT_FAIL, "out of memory");
	}
	rc = io_atomic_write(path, xml, strlen(xml), 0600, err);
	free(path);
	free(xml);
	return rc;
}

/* ---- tree ---- */

static int read_small(const char *path, char **buf, size_t *len, struct error *err)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n;

	if (fd < 0)
		return error_errno(err, errno, "cannot open '%s'", path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (16 << 20)) {
		close(fd);
		return error_set(err, EXIT_DATAERR, "'%s' is not a snapshot file", path);
	}
	*buf = malloc((size_t)st.st_size + 1);
	if (!*buf) {
		close(fd);
		return error_set(err, EXIT_FAIL, "out of memory");
	}
	n = io_pread_full(fd, *buf, (size_t)st.st_size, 0);
	close(fd);
	if (n != st.st_size) {
		free(*buf);
		return error_errno(err, n < 0 ? errno : EIO, "cannot read '%s'", path);
	}
	(*buf)[n] = '\0';
	*len = (size_t)n;
	return 0;
}

int snaptree_load(struct snaptree *t, const char *vmdir, struct error *err)
{
	char dir[4200], path[4500];
	struct dirent *de;
	DIR *dp;

	memset(t, 0, sizeof(*t));
	t->vmdir = strdup(vmdir);
	if (!t->vmdir)
		return error_set(err, EXIT_FAIL, "out of memory");
	snprintf(dir, sizeof(dir), "%s/snapshots", vmdir);
	dp = opendir(dir);
	if (dp) {
		while ((de = readdir(dp))) {
			size_t l = strlen(de->d_name);
			char *buf;
			size_t len;
			uint8_t u[16];
			char base[64];
			if (l != 36 + 4 || strcmp(de->d_name + 36, ".xml"))
				continue;
			snprintf(base, sizeof(base), "%.36s", de->d_name);
			if (uuid_parse(base, u) < 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			if (read_small(path, &buf, &len, err) < 0)
				goto fail;
			struct snapshot *s = snapshot_parse(buf, len, path, err);
			free(buf);
			if (!s)
				goto fail;
			if (memcmp(s->uuid, u, 16) != 0) {
				snapshot_free(s);
				error_set(err, EXIT_DATAERR, "'%s' holds snapshot %s under another "
					  "file name", path, base);
				goto fail;
			}
			/* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
			struct snapshot **nv = realloc(t->v, (size_t)(t->n + 1) * sizeof(*nv));
			if (!nv) {
				snapshot_free(s);
				error_set(err, EXIT_FAIL, "out of memory");
				goto fail;
			}
			t->v = nv;
			t->v[t->n++] = s;
		}
		closedir(dp);
		dp = NULL;
	}
	snprintf(path, sizeof(path), "%s/current", vmdir);
	char *cur;
	size_t clen;
	if (access(path, F_OK) == 0) {
		if (read_small(path, &cur, &clen, err) < 0)
			goto fail;
		cur[strcspn(cur, "\n")] = '\0';
		t->has_current = uuid_parse(cur, t->current) == 0;
		free(cur);
		if (!t->has_current) {
			error_set(err, EXIT_DATAERR, "'%s' does not hold a snapshot UUID", path);
			goto fail;
		}
	}
	return 0;
fail:
	if (dp)
		closedir(dp);
	snaptree_release(t);
	return -1;
}

void snaptree_release(struct snaptree *t)
{
	for (int i = 0; i < t->n; i++)
		snapshot_free(t->v[i]);
	free(t->v);
	free(t->vmdir);
	memset(t, 0, sizeof(*t));
}

struct snapshot *snaptree_by_uuid(struct snaptree *t, const uint8_t uuid[16])
{
	for (int i = 0; i < t->n; i++)
		if (!memcmp(t->v[i]->uuid, uuid, 16))
			return t->v[i];
	return NULL;
}

struct snapshot *snaptree_by_name(struct snaptree *t, const char *name)
{
	for (int i = 0; i < t->n; i++)
		if (!strcmp(t->v[i]->name, name))
			return t->v[i];
	return NULL;
}

struct snapshot *snaptree_find(struct snaptree *t, const char *spec, struct error *err)
{
	struct snapshot *s = NULL;
	uint8_t u[16];

	if (!strcmp(spec, "@current")) {
		s = t->has_current ? snaptree_by_uuid(t, t->current) : NULL;
		if (!s)
			error_set(err, EXIT_NOINPUT, "the VM has no current snapshot");
		return s;
	}
	s = snaptree_by_name(t, spec);
	if (!s && uuid_parse(spec, u) == 0)
		s = snaptree_by_uuid(t, u);
	if (!s)
		error_set(err, EXIT_NOINPUT, "no snapshot '%s'", spec);
	return s;
}

static int by_time(const void *a, const void *b)
{
	const struct snapshot *x = *(struct snapshot *const *)a, *y = *(struct snapshot *const *)b;

	if (x->created != y->created)
		return x->created < y->created ? -1 : 1;
	return strcmp(x->name, y->name);
}

int snaptree_children(struct snaptree *t, const struct snapshot *s, struct snapshot **out,
		      int max)
{
	int n = 0;

	for (int i = 0; i < t->n && n < max; i++) {
		struct snapshot *c = t->v[i];
		bool child = s ? (c->has_parent && !memcmp(c->parent, s->uuid, 16))
			       : (!c->has_parent || !snaptree_by_uuid(t, c->parent));
		if (child)
			out[n++] = c;
	}
	qsort(out, (size_t)n, sizeof(*out), by_time); /* NOLINT(bugprone-sizeof-expression) */
	return n;
}

int snaptree_set_current(const char *vmdir, const uint8_t *uuid, struct error *err)
{
	char path[4200], u[UUID_STR_LEN + 1];

	snprintf(path, sizeof(path), "%s/current", vmdir);
	if (!uuid) {
		if (unlink(path) < 0 && errno != ENOENT)
			return error_errno(err, errno, "cannot remove '%s'", path);
		if (io_fsync_parent_dir(path) < 0)
			return error_errno(err, errno, "cannot sync '%s'", vmdir);
		return 0;
	}
	uuid_format(uuid, u);
	strcat(u, "\n");
	return io_atomic_write(path, u, strlen(u), 0600, err);
}
