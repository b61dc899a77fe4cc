/*
 * vmconfig.c — vm.xml: parse, validate and format the libvirt <domain>
 * subset of DESIGN.md §4.
 *
 * Parsing never expands entities or loads a DTD: XML_PARSE_NONET, no
 * XML_PARSE_NOENT / DTDLOAD, and a SAX hook stops the parser at a DOCTYPE
 * before its internal subset is read, so entity declarations (external
 * entities, "billion laughs") are never even parsed. libxml2's messages are
 * collected, never printed.
 */
#include "vmconfig.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlsave.h>

#include "safeio.h"
#include "units.h"
#include "uuid.h"

/* ---- validation shared by parse and the setters ---- */

bool vmconfig_name_ok(const char *name)
{
	size_t n;

	if (!name || !isalnum((unsigned char)name[0]) || !isascii((unsigned char)name[0]))
		return false;
	for (n = 0; name[n]; n++) {
		unsigned char ch = (unsigned char)name[n];
		if (n >= VMCONFIG_NAME_MAX)
			return false;
		if (!isascii(ch) || !(isalnum(ch) || ch == '.' || ch == '_' || ch == '-'))
			return false;
	}
	return true;
}

#define NAME_RULE "1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"

/* NULL when fine, else a message in buf. */
static const char *memory_problem(uint64_t bytes, char *buf, size_t size)
{
	char h[32];

	units_format_size(bytes, h, sizeof(h));
	if (bytes < VMCONFIG_MIN_MEMORY)
		snprintf(buf, size, "memory %s is below the minimum of 16 MiB",
			 bytes ? h : "0");
	else if (bytes > VMCONFIG_MAX_MEMORY)
		snprintf(buf, size, "memory %s is above the maximum of 1 TiB", h);
	else if (bytes % 4096)
		snprintf(buf, size, "memory %" PRIu64 " bytes is not a multiple of 4 KiB", bytes);
	else
		return NULL;
	return buf;
}

static const char *vcpus_problem(uint64_t n, char *buf, size_t size)
{
	if (n < 1)
		snprintf(buf, size, "vCPU count 0: at least 1 is needed");
	else if (n > VMCONFIG_MAX_VCPUS)
		snprintf(buf, size, "vCPU count %" PRIu64 " is above the maximum of %d", n,
			 VMCONFIG_MAX_VCPUS);
	else
		return NULL;
	return buf;
}

static bool target_ok(const char *t)
{
	size_t n = strlen(t);

	if (n < 3 || n > 5 || strncmp(t, "vd", 2) != 0)
		return false;
	for (size_t i = 2; i < n; i++)
		if (t[i] < 'a' || t[i] > 'z')
			return false;
	return true;
}

/* Text that XML 1.0 can carry: valid UTF-8 without control characters. */
static const char *text_problem(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r')
			return "contains a control character";
	if (!xmlCheckUTF8((const xmlChar *)s))
		return "is not valid UTF-8";
	return NULL;
}

static const char *action_name(enum vm_lifecycle_action a)
{
	switch (a) {
	case VM_ACTION_RESTART:
		return "restart";
	case VM_ACTION_PRESERVE:
		return "preserve";
	case VM_ACTION_DESTROY:
	default:
		return "destroy";
	}
}

static int action_parse(const char *s, enum vm_lifecycle_action *a)
{
	if (strcmp(s, "destroy") == 0)
		*a = VM_ACTION_DESTROY;
	else if (strcmp(s, "restart") == 0)
		*a = VM_ACTION_RESTART;
	else if (strcmp(s, "preserve") == 0)
		*a = VM_ACTION_PRESERVE;
	else
		return -1;
	return 0;
}

/* ---- construction, copies, setters ---- */

struct vmconfig *vmconfig_new(const char *name, struct error *err)
{
	struct vmconfig *c;

	if (!vmconfig_name_ok(name))
		return error_set(err, EXIT_USAGE, "invalid VM name '%s': use " NAME_RULE, name),
		       NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return error_set(err, EXIT_FAIL, "out of memory"), NULL;
	snprintf(c->name, sizeof(c->name), "%s", name);
	if (uuid_generate(c->uuid) < 0) {
		error_errno(err, errno, "cannot generate a UUID");
		free(c);
		return NULL;
	}
	c->memory_bytes = 512ULL << 20;
	c->vcpus = 1;
	c->on_poweroff = VM_ACTION_DESTROY;
	c->on_reboot = VM_ACTION_RESTART;
	return c;
}

void vmconfig_free(struct vmconfig *c)
{
	if (!c)
		return;
	free(c->kernel);
	free(c->initrd);
	free(c->cmdline);
	free(c->description);
	for (int i = 0; i < c->ndisks && i < VMCONFIG_MAX_DISKS; i++)
		free(c->disks[i].path);
	free(c);
}

static int dup_str(char **dst, const char *src)
{
	*dst = NULL;
	if (src && !(*dst = strdup(src)))
		return -1;
	return 0;
}

struct vmconfig *vmconfig_dup(const struct vmconfig *c, struct error *err)
{
	struct vmconfig *d = malloc(sizeof(*d));

	if (!d)
		return error_set(err, EXIT_FAIL, "out of memory"), NULL;
	*d = *c;
	d->kernel = d->initrd = d->cmdline = d->description = NULL;
	for (int i = 0; i < VMCONFIG_MAX_DISKS; i++)
		d->disks[i].path = NULL;
	int bad = dup_str(&d->kernel, c->kernel) | dup_str(&d->initrd, c->initrd) |
		  dup_str(&d->cmdline, c->cmdline) | dup_str(&d->description, c->description);
	for (int i = 0; i < c->ndisks; i++)
		bad |= dup_str(&d->disks[i].path, c->disks[i].path);
	if (bad) {
		vmconfig_free(d);
		return error_set(err, EXIT_FAIL, "out of memory"), NULL;
	}
	return d;
}

int vmconfig_set_memory(struct vmconfig *c, uint64_t bytes, struct error *err)
{
	char buf[128];

	if (memory_problem(bytes, buf, sizeof(buf)))
		return error_set(err, EXIT_USAGE, "%s", buf);
	c->memory_bytes = bytes;
	return 0;
}

int vmconfig_set_vcpus(struct vmconfig *c, unsigned n, struct error *err)
{
	char buf[128];

	if (vcpus_problem(n, buf, sizeof(buf)))
		return error_set(err, EXIT_USAGE, "%s", buf);
	c->vcpus = n;
	return 0;
}

int vmconfig_set_str(char **field, const char *value, struct error *err)
{
	const char *why;
	char *s = NULL;

	if (value) {
		if ((why = text_problem(value)))
			return error_set(err, EXIT_USAGE, "value '%s' %s", value, why);
		if (!(s = strdup(value)))
			return error_set(err, EXIT_FAIL, "out of memory");
	}
	free(*field);
	*field = s;
	return 0;
}

int vmconfig_add_disk(struct vmconfig *c, const char *path, bool readonly, struct error *err)
{
	struct vm_disk *d;
	const char *why;
	char t[16];

	if (c->ndisks >= VMCONFIG_MAX_DISKS)
		return error_set(err, EXIT_USAGE, "too many disks: at most %d", VMCONFIG_MAX_DISKS);
	if (!path || !*path)
		return error_set(err, EXIT_USAGE, "empty disk path");
	if ((why = text_problem(path)))
		return error_set(err, EXIT_USAGE, "disk path '%s' %s", path, why);
	/* the first free name vda, vdb, ... */
	for (char l = 'a'; l <= 'z'; l++) {
		bool used = false;
		snprintf(t, sizeof(t), "vd%c", l);
		for (int i = 0; i < c->ndisks; i++)
			used |= strcmp(c->disks[i].target, t) == 0;
		if (!used)
			break;
	}
	d = &c->disks[c->ndisks];
	if (!(d->path = strdup(path)))
		return error_set(err, EXIT_FAIL, "out of memory");
	snprintf(d->target, sizeof(d->target), "%s", t);
	d->readonly = readonly;
	c->ndisks++;
	return 0;
}

char *vmconfig_resolve(const char *path, const char *vmdir)
{
	char *s;

	if (!path)
		return NULL;
	if (path[0] == '/' || !vmdir)
		return strdup(path);
	if (asprintf(&s, "%s/%s", vmdir, path) < 0)
		return NULL;
	return s;
}

char *vmconfig_disk_path(const struct vmconfig *c, int i, const char *vmdir)
{
	if (i < 0 || i >= c->ndisks)
		return NULL;
	return vmconfig_resolve(c->disks[i].path, vmdir);
}

int vmconfig_validate(const struct vmconfig *c, struct error *err)
{
	char buf[128];
	const char *why;

	if (!vmconfig_name_ok(c->name))
		return error_set(err, EXIT_DATAERR, "invalid VM name '%s': use " NAME_RULE,
				 c->name);
	if (uuid_is_null(c->uuid))
		return error_set(err, EXIT_DATAERR, "VM '%s': the UUID is all zeros", c->name);
	if (memory_problem(c->memory_bytes, buf, sizeof(buf)) ||
	    vcpus_problem(c->vcpus, buf, sizeof(buf)))
		return error_set(err, EXIT_DATAERR, "VM '%s': %s", c->name, buf);
	if (!c->kernel || !*c->kernel)
		return error_set(err, EXIT_DATAERR, "VM '%s' has no kernel", c->name);
	const char *strs[] = { c->kernel, c->initrd, c->cmdline, c->description };
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		if (strs[i] && (why = text_problem(strs[i])))
			return error_set(err, EXIT_DATAERR, "VM '%s': '%s' %s", c->name, strs[i],
					 why);
	if (c->initrd && !*c->initrd)
		return error_set(err, EXIT_DATAERR, "VM '%s': empty initrd path", c->name);
	if (c->ndisks < 0 || c->ndisks > VMCONFIG_MAX_DISKS)
		return error_set(err, EXIT_DATAERR, "VM '%s': %d disks (at most %d)", c->name,
				 c->ndisks, VMCONFIG_MAX_DISKS);
	for (int i = 0; i < c->ndisks; i++) {
		const struct vm_disk *d = &c->disks[i];
		if (!d->path || !*d->path || (why = text_problem(d->path)))
			return error_set(err, EXIT_DATAERR, "VM '%s': disk %s has a bad path",
					 c->name, d->target);
		if (!target_ok(d->target))
			return error_set(err, EXIT_DATAERR, "VM '%s': bad disk target '%s'",
					 c->name, d->target);
		for (int j = 0; j < i; j++)
			if (strcmp(c->disks[j].target, d->target) == 0)
				return error_set(err, EXIT_DATAERR,
						 "VM '%s': disk target '%s' used twice", c->name,
						 d->target);
	}
	return 0;
}

/* ---- parsing ---- */

#define VMCONFIG_MAX_FILE (1 << 20)

struct pctx {
	const char *what;
	struct error *err;
	struct vmconfig *c;
	/* libxml2 diagnostics, first one kept */
	bool have_xml_error;
	int xml_line;
	char xml_msg[512];
	bool doctype;
	int doctype_line;
};

static int perr(struct pctx *p, const xmlNode *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int perr(struct pctx *p, const xmlNode *n, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return error_set(p->err, EXIT_DATAERR, "%s:%ld: %s", p->what,
			 n ? xmlGetLineNo((xmlNode *)n) : 1L, msg);
}

static const char *ename(const xmlNode *n)
{
	return (const char *)n->name;
}

static void collect_error(void *data, xmlErrorPtr e)
{
	xmlParserCtxtPtr ctxt = data;
	struct pctx *p = ctxt ? ctxt->_private : NULL;
	size_t n;

	if (!p || !e || p->have_xml_error || e->level < XML_ERR_ERROR)
		return;
	p->have_xml_error = true;
	p->xml_line = e->line > 0 ? e->line : 1;
	snprintf(p->xml_msg, sizeof(p->xml_msg), "%s", e->message ? e->message : "parse error");
	n = strlen(p->xml_msg);
	while (n && (p->xml_msg[n - 1] == '\n' || p->xml_msg[n - 1] == ' '))
		p->xml_msg[--n] = '\0';
}

static void silent_generic(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

static void silent_structured(void *ctx, xmlErrorPtr e)
{
	(void)ctx;
	(void)e;
}

/* SAX: a DOCTYPE was seen; stop before its internal subset is parsed. */
static void refuse_doctype(void *data, const xmlChar *name, const xmlChar *ext,
			   const xmlChar *sys)
{
	xmlParserCtxtPtr ctxt = data;
	struct pctx *p = ctxt->_private;

	(void)name;
	(void)ext;
	(void)sys;
	if (p && !p->doctype) {
		p->doctype = true;
		p->doctype_line = ctxt->input ? ctxt->input->line : 1;
	}
	xmlStopParser(ctxt);
}

/* Attributes of n must be among allowed (NULL-terminated); no namespaces. */
static int check_attrs(struct pctx *p, const xmlNode *n, const char *const *allowed)
{
	if (n->nsDef)
		return perr(p, n, "unexpected namespace declaration on <%s>", ename(n));
	for (const xmlAttr *a = n->properties; a; a = a->next) {
		bool ok = false;
		for (const char *const *s = allowed; *s && !a->ns; s++)
			ok |= strcmp((const char *)a->name, *s) == 0;
		if (!ok)
			return perr(p, n, "unknown attribute '%s%s%s' on <%s>",
				    a->ns && a->ns->prefix ? (const char *)a->ns->prefix : "",
				    a->ns && a->ns->prefix ? ":" : "", (const char *)a->name,
				    ename(n));
	}
	return 0;
}

/* Attribute value (NULL if absent), malloc'ed by libxml: free with xmlFree. */
static char *attr(const xmlNode *n, const char *name)
{
	return (char *)xmlGetNoNsProp(n, (const xmlChar *)name);
}

/* Require attribute name == want when present (or always with required). */
static int attr_is(struct pctx *p, const xmlNode *n, const char *name, const char *want,
		   bool required)
{
	char *v = attr(n, name);
	int rc = 0;

	if (!v && required)
		rc = perr(p, n, "<%s> needs %s='%s'", ename(n), name, want);
	else if (v && strcmp(v, want) != 0)
		rc = perr(p, n, "unsupported %s='%s' on <%s> (only '%s')", name, v, ename(n), want);
	xmlFree(v);
	return rc;
}

static bool blank(const char *s)
{
	for (; *s; s++)
		if (!isspace((unsigned char)*s))
			return false;
	return true;
}

/* Non-element children allowed between elements: whitespace and comments. */
static int check_filler(struct pctx *p, const xmlNode *parent, const xmlNode *k)
{
	switch (k->type) {
	case XML_COMMENT_NODE:
		return 0;
	case XML_TEXT_NODE:
	case XML_CDATA_SECTION_NODE:
		if (blank((const char *)k->content))
			return 0;
		return perr(p, k, "unexpected text in <%s>", ename(parent));
	case XML_ENTITY_REF_NODE:
		return perr(p, k, "entity reference in <%s> is not allowed", ename(parent));
	default:
		return perr(p, k, "unexpected content in <%s>", ename(parent));
	}
}

/* An element without children (<readonly/>, <source file=.../>). */
static int check_empty(struct pctx *p, const xmlNode *n)
{
	for (const xmlNode *k = n->children; k; k = k->next) {
		if (k->type == XML_ELEMENT_NODE)
			return perr(p, k, "unknown element <%s> in <%s>", ename(k), ename(n));
		if (check_filler(p, n, k) < 0)
			return -1;
	}
	return 0;
}

/* Text content of a leaf element, trimmed; malloc'ed. */
static char *leaf_text(struct pctx *p, const xmlNode *n)
{
	size_t len = 0, cap = 64;
	char *s = malloc(cap);
	const char *why;

	if (!s)
		return error_set(p->err, EXIT_FAIL, "out of memory"), NULL;
	s[0] = '\0';
	for (const xmlNode *k = n->children; k; k = k->next) {
		if (k->type == XML_COMMENT_NODE)
			continue;
		if (k->type == XML_ELEMENT_NODE) {
			perr(p, k, "unknown element <%s> in <%s>", ename(k), ename(n));
			goto fail;
		}
		if (k->type != XML_TEXT_NODE && k->type != XML_CDATA_SECTION_NODE) {
			check_filler(p, n, k);
			goto fail;
		}
		size_t add = strlen((const char *)k->content);
		if (len + add + 1 > cap) {
			while (len + add + 1 > cap)
				cap *= 2;
			char *t = realloc(s, cap);
			if (!t) {
				error_set(p->err, EXIT_FAIL, "out of memory");
				goto fail;
			}
			s = t;
		}
		memcpy(s + len, k->content, add + 1);
		len += add;
	}
	size_t b = 0;
	while (s[b] && isspace((unsigned char)s[b]))
		b++;
	while (len > b && isspace((unsigned char)s[len - 1]))
		len--;
	memmove(s, s + b, len - b);
	s[len - b] = '\0';
	if ((why = text_problem(s))) {
		perr(p, n, "<%s> %s", ename(n), why);
		goto fail;
	}
	return s;
fail:
	free(s);
	return NULL;
}

static int leaf_u64(struct pctx *p, const xmlNode *n, uint64_t *out)
{
	char *s = leaf_text(p, n), *end;
	int rc = 0;

	if (!s)
		return -1;
	errno = 0;
	if (!isdigit((unsigned char)s[0]))
		rc = perr(p, n, "invalid number '%s' in <%s>", s, ename(n));
	else if ((*out = strtoull(s, &end, 10)), errno || *end)
		rc = perr(p, n, "invalid number '%s' in <%s>", s, ename(n));
	free(s);
	return rc;
}

/* libvirt's scaled integers: <memory unit='MiB'>512</memory>; default KiB. */
static int memory_value(struct pctx *p, const xmlNode *n, uint64_t *bytes)
{
	static const char *const allowed[] = { "unit", NULL };
	uint64_t v, scale = 1024;
	char *u;
	int rc = 0;

	if (check_attrs(p, n, allowed) < 0 || leaf_u64(p, n, &v) < 0)
		return -1;
	u = attr(n, "unit");
	if (u) {
		size_t len = strlen(u);
		char l = (char)tolower((unsigned char)u[0]);
		const char *pw = strchr("kmgtpe", l);
		if (strcasecmp(u, "b") == 0 || strcasecmp(u, "byte") == 0 ||
		    strcasecmp(u, "bytes") == 0) {
			scale = 1;
		} else if (len >= 1 && l && pw &&
			   (len == 1 || strcasecmp(u + 1, "ib") == 0 || strcasecmp(u + 1, "b") == 0)) {
			uint64_t base = (len == 2) ? 1000 : 1024;
			scale = 1;
			for (long i = 0; i <= pw - "kmgtpe"; i++)
				scale *= base;
		} else {
			rc = perr(p, n, "unknown unit '%s' in <%s>", u, ename(n));
		}
		xmlFree(u);
		if (rc)
			return rc;
	}
	if (v > UINT64_MAX / scale)
		return perr(p, n, "<%s> value is too large", ename(n));
	*bytes = v * scale;
	return 0;
}

#define SEEN(bit) (1u << (bit))

static int dup_check(struct pctx *p, const xmlNode *k, const xmlNode *parent, unsigned *seen,
		     int bit)
{
	if (*seen & SEEN(bit))
		return perr(p, k, "duplicate element <%s> in <%s>", ename(k), ename(parent));
	*seen |= SEEN(bit);
	return 0;
}

static int parse_os(struct pctx *p, const xmlNode *os)
{
	static const char *const none[] = { NULL };
	static const char *const type_attrs[] = { "arch", NULL };
	struct vmconfig *c = p->c;
	unsigned seen = 0;

	if (check_attrs(p, os, none) < 0)
		return -1;
	for (const xmlNode *k = os->children; k; k = k->next) {
		if (k->type != XML_ELEMENT_NODE) {
			if (check_filler(p, os, k) < 0)
				return -1;
			continue;
		}
		if (k->ns)
			return perr(p, k, "unknown element <%s:%s> in <os>", k->ns->prefix ?
				    (const char *)k->ns->prefix : "", ename(k));
		if (strcmp(ename(k), "type") == 0) {
			if (dup_check(p, k, os, &seen, 0) < 0 || check_attrs(p, k, type_attrs) < 0 ||
			    attr_is(p, k, "arch", "x86_64", false) < 0)
				return -1;
			char *t = leaf_text(p, k);
			if (!t)
				return -1;
			int bad = strcmp(t, "hvm") != 0;
			if (bad)
				perr(p, k, "unsupported OS type '%s' (only 'hvm')", t);
			free(t);
			if (bad)
				return -1;
		} else if (strcmp(ename(k), "kernel") == 0 || strcmp(ename(k), "initrd") == 0 ||
			   strcmp(ename(k), "cmdline") == 0) {
			char **field = ename(k)[0] == 'k' ? &c->kernel :
				       ename(k)[0] == 'i' ? &c->initrd : &c->cmdline;
			if (dup_check(p, k, os, &seen, ename(k)[0] == 'k' ? 1 :
						    ename(k)[0] == 'i' ? 2 : 3) < 0 ||
			    check_attrs(p, k, none) < 0)
				return -1;
			if (!(*field = leaf_text(p, k)))
				return -1;
			if (!**field) {
				free(*field);
				*field = NULL;
				if (field != &c->cmdline)
					return perr(p, k, "empty <%s>", ename(k));
			}
		} else {
			return perr(p, k, "unknown element <%s> in <os>", ename(k));
		}
	}
	if (!(seen & SEEN(0)))
		return perr(p, os, "<os> needs <type arch='x86_64'>hvm</type>");
	if (!c->kernel)
		return perr(p, os, "<os> has no <kernel>");
	if (strlen(c->kernel) >= PATH_MAX || (c->initrd && strlen(c->initrd) >= PATH_MAX))
		return perr(p, os, "kernel or initrd path too long");
	return 0;
}

static int parse_disk(struct pctx *p, const xmlNode *dn)
{
	static const char *const disk_attrs[] = { "type", "device", NULL };
	static const char *const driver_attrs[] = { "name", "type", NULL };
	static const char *const source_attrs[] = { "file", NULL };
	static const char *const target_attrs[] = { "dev", "bus", NULL };
	static const char *const none[] = { NULL };
	struct vmconfig *c = p->c;
	struct vm_disk *d;
	unsigned seen = 0;
	const char *why;

	if (c->ndisks >= VMCONFIG_MAX_DISKS)
		return perr(p, dn, "too many disks: at most %d", VMCONFIG_MAX_DISKS);
	if (check_attrs(p, dn, disk_attrs) < 0 || attr_is(p, dn, "type", "file", true) < 0 ||
	    attr_is(p, dn, "device", "disk", false) < 0)
		return -1;
	d = &c->disks[c->ndisks++];
	for (const xmlNode *k = dn->children; k; k = k->next) {
		if (k->type != XML_ELEMENT_NODE) {
			if (check_filler(p, dn, k) < 0)
				return -1;
			continue;
		}
		const char *nm = ename(k);
		if (k->ns)
			return perr(p, k, "unknown element <%s> in <disk>", nm);
		if (strcmp(nm, "driver") == 0) {
			if (dup_check(p, k, dn, &seen, 0) < 0 || check_attrs(p, k, driver_attrs) < 0 ||
			    attr_is(p, k, "name", "vmctl", false) < 0 ||
			    attr_is(p, k, "type", "vpc", false) < 0 || check_empty(p, k) < 0)
				return -1;
		} else if (strcmp(nm, "source") == 0) {
			if (dup_check(p, k, dn, &seen, 1) < 0 || check_attrs(p, k, source_attrs) < 0 ||
			    check_empty(p, k) < 0)
				return -1;
			char *f = attr(k, "file");
			if (f && *f && !(d->path = strdup(f))) {
				xmlFree(f);
				return error_set(p->err, EXIT_FAIL, "out of memory");
			}
			xmlFree(f);
			if (!d->path)
				return perr(p, k, "<source> needs a file='...'");
			if ((why = text_problem(d->path)))
				return perr(p, k, "disk path %s", why);
			if (strlen(d->path) >= PATH_MAX)
				return perr(p, k, "disk path too long");
		} else if (strcmp(nm, "target") == 0) {
			if (dup_check(p, k, dn, &seen, 2) < 0 || check_attrs(p, k, target_attrs) < 0 ||
			    attr_is(p, k, "bus", "virtio", false) < 0 || check_empty(p, k) < 0)
				return -1;
			char *dev = attr(k, "dev");
			int bad = !dev || !target_ok(dev);
			if (bad)
				perr(p, k, dev ? "invalid target dev='%s' (use vda, vdb, ...)" :
						 "<target> needs dev='vdX'%s", dev ? dev : "");
			else
				snprintf(d->target, sizeof(d->target), "%s", dev);
			xmlFree(dev);
			if (bad)
				return -1;
			for (int i = 0; i < c->ndisks - 1; i++)
				if (strcmp(c->disks[i].target, d->target) == 0)
					return perr(p, k, "disk target '%s' is used twice", d->target);
		} else if (strcmp(nm, "readonly") == 0) {
			if (dup_check(p, k, dn, &seen, 3) < 0 || check_attrs(p, k, none) < 0 ||
			    check_empty(p, k) < 0)
				return -1;
			d->readonly = true;
		} else {
			return perr(p, k, "unknown element <%s> in <disk>", nm);
		}
	}
	if (!d->path)
		return perr(p, dn, "<disk> has no <source file='...'/>");
	if (!d->target[0])
		return perr(p, dn, "<disk> has no <target dev='vdX'/>");
	return 0;
}

static int parse_devices(struct pctx *p, const xmlNode *dev)
{
	static const char *const none[] = { NULL };
	static const char *const type_only[] = { "type", NULL };
	unsigned seen = 0;

	if (check_attrs(p, dev, none) < 0)
		return -1;
	for (const xmlNode *k = dev->children; k; k = k->next) {
		if (k->type != XML_ELEMENT_NODE) {
			if (check_filler(p, dev, k) < 0)
				return -1;
			continue;
		}
		const char *nm = ename(k);
		if (k->ns)
			return perr(p, k, "unknown element <%s> in <devices>", nm);
		if (strcmp(nm, "disk") == 0) {
			if (parse_disk(p, k) < 0)
				return -1;
		} else if (strcmp(nm, "serial") == 0 || strcmp(nm, "console") == 0) {
			if (dup_check(p, k, dev, &seen, nm[0] == 's' ? 0 : 1) < 0 ||
			    check_attrs(p, k, type_only) < 0 || attr_is(p, k, "type", "pty", true) < 0 ||
			    check_empty(p, k) < 0)
				return -1;
		} else {
			return perr(p, k, "unknown element <%s> in <devices>", nm);
		}
	}
	return 0;
}

enum {
	D_NAME, D_UUID, D_DESC, D_MEMORY, D_CURMEM, D_VCPU, D_OS, D_POWEROFF, D_REBOOT, D_DEVICES,
};

static int parse_domain(struct pctx *p, const xmlNode *root)
{
	static const char *const dom_attrs[] = { "type", NULL };
	static const char *const none[] = { NULL };
	static const char *const vcpu_attrs[] = { "placement", NULL };
	static const struct { const char *name; int bit; } kids[] = {
		{ "name", D_NAME }, { "uuid", D_UUID }, { "description", D_DESC },
		{ "memory", D_MEMORY }, { "currentMemory", D_CURMEM }, { "vcpu", D_VCPU },
		{ "os", D_OS }, { "on_poweroff", D_POWEROFF }, { "on_reboot", D_REBOOT },
		{ "devices", D_DEVICES },
	};
	struct vmconfig *c = p->c;
	const xmlNode *curmem = NULL;
	uint64_t cur = 0, v;
	unsigned seen = 0;
	char buf[160], *s;

	if (root->ns || strcmp(ename(root), "domain") != 0)
		return perr(p, root, "the root element is <%s>, not <domain>", ename(root));
	if (check_attrs(p, root, dom_attrs) < 0 || attr_is(p, root, "type", "kvm", true) < 0)
		return -1;
	for (const xmlNode *k = root->children; k; k = k->next) {
		int bit = -1;
		if (k->type != XML_ELEMENT_NODE) {
			if (check_filler(p, root, k) < 0)
				return -1;
			continue;
		}
		for (size_t i = 0; !k->ns && i < sizeof(kids) / sizeof(kids[0]); i++)
			if (strcmp(ename(k), kids[i].name) == 0)
				bit = kids[i].bit;
		if (bit < 0)
			return perr(p, k, "unknown element <%s> in <domain>", ename(k));
		if (dup_check(p, k, root, &seen, bit) < 0)
			return -1;
		switch (bit) {
		case D_NAME:
			if (check_attrs(p, k, none) < 0 || !(s = leaf_text(p, k)))
				return -1;
			if (!vmconfig_name_ok(s)) {
				perr(p, k, "invalid name '%s': use " NAME_RULE, s);
				free(s);
				return -1;
			}
			snprintf(c->name, sizeof(c->name), "%s", s);
			free(s);
			break;
		case D_UUID: {
			char canon[UUID_STR_LEN];
			if (check_attrs(p, k, none) < 0 || !(s = leaf_text(p, k)))
				return -1;
			const char *u = s;
			if (strlen(s) == 32 && strspn(s, "0123456789abcdefABCDEF") == 32) {
				snprintf(canon, sizeof(canon), "%.8s-%.4s-%.4s-%.4s-%.12s", s, s + 8,
					 s + 12, s + 16, s + 20);
				u = canon;
			}
			int bad = uuid_parse(u, c->uuid) < 0;
			if (bad)
				perr(p, k, "invalid UUID '%s'", s);
			else if (uuid_is_null(c->uuid))
				bad = perr(p, k, "the UUID must not be all zeros");
			free(s);
			if (bad)
				return -1;
			break;
		}
		case D_DESC:
			if (check_attrs(p, k, none) < 0 || !(c->description = leaf_text(p, k)))
				return -1;
			break;
		case D_MEMORY:
			if (memory_value(p, k, &v) < 0)
				return -1;
			if (memory_problem(v, buf, sizeof(buf)))
				return perr(p, k, "%s", buf);
			c->memory_bytes = v;
			break;
		case D_CURMEM:
			if (memory_value(p, k, &cur) < 0)
				return -1;
			curmem = k;
			break;
		case D_VCPU:
			if (check_attrs(p, k, vcpu_attrs) < 0 ||
			    attr_is(p, k, "placement", "static", false) < 0 || leaf_u64(p, k, &v) < 0)
				return -1;
			if (vcpus_problem(v, buf, sizeof(buf)))
				return perr(p, k, "%s", buf);
			c->vcpus = (unsigned)v;
			break;
		case D_OS:
			if (parse_os(p, k) < 0)
				return -1;
			break;
		case D_POWEROFF:
		case D_REBOOT: {
			enum vm_lifecycle_action *a =
				bit == D_POWEROFF ? &c->on_poweroff : &c->on_reboot;
			if (check_attrs(p, k, none) < 0 || !(s = leaf_text(p, k)))
				return -1;
			int bad = action_parse(s, a) < 0;
			if (bad)
				perr(p, k, "unknown <%s> action '%s' (use destroy, restart or preserve)",
				     ename(k), s);
			free(s);
			if (bad)
				return -1;
			break;
		}
		case D_DEVICES:
			if (parse_devices(p, k) < 0)
				return -1;
			break;
		}
	}
	if (!(seen & SEEN(D_NAME)))
		return perr(p, root, "<domain> has no <name>");
	if (!(seen & SEEN(D_MEMORY)))
		return perr(p, root, "<domain> has no <memory>");
	if (!(seen & SEEN(D_OS)))
		return perr(p, root, "<domain> has no <os> (with <kernel>)");
	if (curmem && cur != c->memory_bytes)
		return perr(p, curmem, "<currentMemory> differs from <memory>: "
			    "memory ballooning is not supported");
	if (!(seen & SEEN(D_UUID)) && uuid_generate(c->uuid) < 0)
		return error_errno(p->err, errno, "cannot generate a UUID");
	return 0;
}

struct vmconfig *vmconfig_parse(const char *buf, size_t len, const char *what,
				struct error *err)
{
	struct pctx p = { .what = what ? what : "vm.xml", .err = err };
	xmlGenericErrorFunc old_generic = xmlGenericError;
	void *old_generic_ctx = xmlGenericErrorContext;
	xmlStructuredErrorFunc old_structured = xmlStructuredError;
	void *old_structured_ctx = xmlStructuredErrorContext;
	xmlParserCtxtPtr ctxt = NULL;
	xmlDocPtr doc = NULL;
	const xmlNode *root;
	int opts = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
		   XML_PARSE_NOCDATA | XML_PARSE_BIG_LINES;

	if (len > VMCONFIG_MAX_FILE)
		return error_set(err, EXIT_DATAERR, "%s: %zu bytes is too large for a VM "
				 "definition (at most 1 MiB)", p.what, len), NULL;
	if (memchr(buf, '\0', len))
		return error_set(err, EXIT_DATAERR, "%s: contains a NUL byte", p.what), NULL;
	p.c = calloc(1, sizeof(*p.c));
	if (!p.c)
		return error_set(err, EXIT_FAIL, "out of memory"), NULL;
	p.c->vcpus = 1;
	p.c->on_poweroff = VM_ACTION_DESTROY;
	p.c->on_reboot = VM_ACTION_RESTART;

	xmlInitParser();
	xmlSetGenericErrorFunc(NULL, silent_generic);
	xmlSetStructuredErrorFunc(NULL, silent_structured);
	ctxt = xmlNewParserCtxt();
	if (!ctxt) {
		error_set(err, EXIT_FAIL, "out of memory");
		goto out;
	}
	ctxt->_private = &p;
	ctxt->sax->serror = collect_error;
	ctxt->sax->internalSubset = refuse_doctype;
	ctxt->sax->externalSubset = NULL;
	ctxt->sax->resolveEntity = NULL;
	doc = xmlCtxtReadMemory(ctxt, buf, (int)len, NULL, NULL, opts);
	if (p.doctype) {
		error_set(err, EXIT_DATAERR, "%s:%d: DOCTYPE declarations are not allowed "
			  "(no DTDs or entities in a VM definition)", p.what, p.doctype_line);
		goto out;
	}
	if (!doc || p.have_xml_error || !ctxt->wellFormed) {
		if (p.have_xml_error)
			error_set(err, EXIT_DATAERR, "%s:%d: not well-formed XML: %s", p.what,
				  p.xml_line, p.xml_msg);
		else
			error_set(err, EXIT_DATAERR, "%s: not well-formed XML", p.what);
		goto out;
	}
	if (doc->intSubset || doc->extSubset) {
		error_set(err, EXIT_DATAERR, "%s: DOCTYPE declarations are not allowed", p.what);
		goto out;
	}
	root = xmlDocGetRootElement(doc);
	if (!root) {
		error_set(err, EXIT_DATAERR, "%s: no <domain> element", p.what);
		goto out;
	}
	for (const xmlNode *k = doc->children; k; k = k->next)
		if (k->type != XML_ELEMENT_NODE && k->type != XML_COMMENT_NODE) {
			perr(&p, k, "unexpected content outside <domain>");
			goto out;
		}
	if (parse_domain(&p, root) < 0)
		goto out;
	xmlFreeDoc(doc);
	xmlFreeParserCtxt(ctxt);
	xmlSetGenericErrorFunc(old_generic_ctx, old_generic);
	xmlSetStructuredErrorFunc(old_structured_ctx, old_structured);
	return p.c;
out:
	if (doc)
		xmlFreeDoc(doc);
	if (ctxt)
		xmlFreeParserCtxt(ctxt);
	xmlSetGenericErrorFunc(old_generic_ctx, old_generic);
	xmlSetStructuredErrorFunc(old_structured_ctx, old_structured);
	vmconfig_free(p.c);
	return NULL;
}

struct vmconfig *vmconfig_load_ex(const char *path, unsigned flags, struct error *err)
{
	struct vmconfig *c = NULL;
	struct stat st;
	char *buf = NULL;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK |
			((flags & VMCONFIG_FOLLOW) ? 0 : O_NOFOLLOW));
	if (fd < 0) {
		if (errno == ELOOP)
			return error_set(err, EXIT_NOPERM, "'%s' is a symbolic link: refused", path),
			       NULL;
		return error_errno(err, errno, "cannot open '%s'", path), NULL;
	}
	if (fstat(fd, &st) < 0) {
		error_errno(err, errno, "cannot stat '%s'", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		error_set(err, EXIT_DATAERR, "'%s' is not a regular file", path);
		goto out;
	}
	if (st.st_size > VMCONFIG_MAX_FILE) {
		error_set(err, EXIT_DATAERR, "'%s': %lld bytes is too large for a VM definition "
			  "(at most 1 MiB)", path, (long long)st.st_size);
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		error_set(err, EXIT_FAIL, "out of memory");
		goto out;
	}
	n = io_read_full(fd, buf, (size_t)st.st_size + 1);
	if (n < 0) {
		error_errno(err, errno, "cannot read '%s'", path);
		goto out;
	}
	if (n > st.st_size) {
		error_set(err, EXIT_DATAERR, "'%s' changed while it was read", path);
		goto out;
	}
	c = vmconfig_parse(buf, (size_t)n, path, err);
out:
	free(buf);
	close(fd);
	return c;
}

struct vmconfig *vmconfig_load(const char *path, struct error *err)
{
	return vmconfig_load_ex(path, 0, err);
}

/* ---- formatting ---- */

static xmlNode *child(xmlNode *parent, const char *name, const char *text)
{
	return xmlNewTextChild(parent, NULL, (const xmlChar *)name, (const xmlChar *)text);
}

static void prop(xmlNode *n, const char *name, const char *val)
{
	if (n)
		xmlNewProp(n, (const xmlChar *)name, (const xmlChar *)val);
}

char *vmconfig_format(const struct vmconfig *c, struct error *err)
{
	char u[UUID_STR_LEN], num[32], *out = NULL;
	xmlDocPtr doc;
	xmlNode *root, *n, *os, *dev;
	xmlBufferPtr b = NULL;
	xmlSaveCtxtPtr sv;
	const char *unit = "KiB";
	uint64_t mem = c->memory_bytes >> 10;

	if (vmconfig_validate(c, err) < 0)
		return NULL;
	if (c->memory_bytes % (1ULL << 20) == 0) {
		unit = "MiB";
		mem = c->memory_bytes >> 20;
	}
	doc = xmlNewDoc((const xmlChar *)"1.0");
	root = doc ? xmlNewDocNode(doc, NULL, (const xmlChar *)"domain", NULL) : NULL;
	if (!root)
		goto oom;
	xmlDocSetRootElement(doc, root);
	prop(root, "type", "kvm");
	child(root, "name", c->name);
	child(root, "uuid", uuid_format(c->uuid, u));
	if (c->description)
		child(root, "description", c->description);
	snprintf(num, sizeof(num), "%" PRIu64, mem);
	prop(child(root, "memory", num), "unit", unit);
	prop(child(root, "currentMemory", num), "unit", unit);
	snprintf(num, sizeof(num), "%u", c->vcpus);
	prop(child(root, "vcpu", num), "placement", "static");
	os = child(root, "os", NULL);
	if (!os)
		goto oom;
	prop(child(os, "type", "hvm"), "arch", "x86_64");
	child(os, "kernel", c->kernel);
	if (c->initrd)
		child(os, "initrd", c->initrd);
	if (c->cmdline)
		child(os, "cmdline", c->cmdline);
	child(root, "on_poweroff", action_name(c->on_poweroff));
	child(root, "on_reboot", action_name(c->on_reboot));
	dev = child(root, "devices", NULL);
	if (!dev)
		goto oom;
	for (int i = 0; i < c->ndisks; i++) {
		const struct vm_disk *d = &c->disks[i];
		n = child(dev, "disk", NULL);
		if (!n)
			goto oom;
		prop(n, "type", "file");
		prop(n, "device", "disk");
		xmlNode *drv = child(n, "driver", NULL);
		prop(drv, "name", "vmctl");
		prop(drv, "type", "vpc");
		prop(child(n, "source", NULL), "file", d->path);
		xmlNode *t = child(n, "target", NULL);
		prop(t, "dev", d->target);
		prop(t, "bus", "virtio");
		if (d->readonly)
			child(n, "readonly", NULL);
	}
	prop(child(dev, "serial", NULL), "type", "pty");
	b = xmlBufferCreate();
	if (!b)
		goto oom;
	sv = xmlSaveToBuffer(b, "UTF-8", XML_SAVE_FORMAT | XML_SAVE_NO_DECL);
	if (!sv)
		goto oom;
	long w = xmlSaveDoc(sv, doc);
	xmlSaveClose(sv);
	if (w < 0 || !xmlBufferContent(b))
		goto oom;
	out = strdup((const char *)xmlBufferContent(b));
	if (!out)
		goto oom;
	xmlBufferFree(b);
	xmlFreeDoc(doc);
	return out;
oom:
	if (b)
		xmlBufferFree(b);
	if (doc)
		xmlFreeDoc(doc);
	return error_set(err, EXIT_FAIL, "out of memory formatting VM '%s'", c->name), NULL;
}

int vmconfig_save(const struct vmconfig *c, const char *path, struct error *err)
{
	char *xml = vmconfig_format(c, err);
	int rc;

	if (!xml)
		return -1;
	rc = io_atomic_write(path, xml, strlen(xml), 0600, err);
	free(xml);
	return rc;
}
