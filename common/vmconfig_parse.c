/*
 * vmconfig_parse.c — reading vm.xml: the libvirt <domain> subset of
 * DESIGN.md §4, strictly (unknown elements and attributes are errors naming
 * file:line).
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
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include "uuid.h"
#include "vmconfig_int.h"

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
	if ((why = vmconfig_text_problem(s))) {
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
	uint64_t v = 0, scale = 1024;
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
			if ((why = vmconfig_text_problem(d->path)))
				return perr(p, k, "disk path %s", why);
			if (strlen(d->path) >= PATH_MAX)
				return perr(p, k, "disk path too long");
		} else if (strcmp(nm, "target") == 0) {
			if (dup_check(p, k, dn, &seen, 2) < 0 || check_attrs(p, k, target_attrs) < 0 ||
			    attr_is(p, k, "bus", "virtio", false) < 0 || check_empty(p, k) < 0)
				return -1;
			char *dev = attr(k, "dev");
			int bad = !dev || !vmconfig_target_ok(dev);
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
			if (vmconfig_memory_problem(v, buf, sizeof(buf)))
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
			if (vmconfig_vcpus_problem(v, buf, sizeof(buf)))
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
			int bad = vmconfig_action_parse(s, a) < 0;
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

