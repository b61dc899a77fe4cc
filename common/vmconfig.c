/*
 * vmconfig.c — the VM definition in memory: construction, setters,
 * validation, formatting as libvirt <domain> XML (DESIGN.md §4), loading and
 * saving. Reading the XML is in vmconfig_parse.c.
 */
#include "vmconfig.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/tree.h>
#include <libxml/xmlsave.h>

#include "safeio.h"
#include "units.h"
#include "uuid.h"
#include "vmconfig_int.h"

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

/* NULL when fine, else a message in buf. */
const char *vmconfig_memory_problem(uint64_t bytes, char *buf, size_t size)
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

const char *vmconfig_vcpus_problem(uint64_t n, char *buf, size_t size)
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

bool vmconfig_target_ok(const char *t)
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
const char *vmconfig_text_problem(const char *s)
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

int vmconfig_action_parse(const char *s, enum vm_lifecycle_action *a)
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

	if (vmconfig_memory_problem(bytes, buf, sizeof(buf)))
		return error_set(err, EXIT_USAGE, "%s", buf);
	c->memory_bytes = bytes;
	return 0;
}

int vmconfig_set_vcpus(struct vmconfig *c, unsigned n, struct error *err)
{
	char buf[128];

	if (vmconfig_vcpus_problem(n, buf, sizeof(buf)))
		return error_set(err, EXIT_USAGE, "%s", buf);
	c->vcpus = n;
	return 0;
}

int vmconfig_set_str(char **field, const char *value, struct error *err)
{
	const char *why;
	char *s = NULL;

	if (value) {
		if ((why = vmconfig_text_problem(value)))
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
	if ((why = vmconfig_text_problem(path)))
		return error_set(err, EXIT_USAGE, "disk path '%s' %s", path, why);
	/* the first free name vda, vdb, ... */
	for (int l = 'a'; l <= 'z'; l++) {
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
	if (vmconfig_memory_problem(c->memory_bytes, buf, sizeof(buf)) ||
	    vmconfig_vcpus_problem(c->vcpus, buf, sizeof(buf)))
		return error_set(err, EXIT_DATAERR, "VM '%s': %s", c->name, buf);
	if (!c->kernel || !*c->kernel)
		return error_set(err, EXIT_DATAERR, "VM '%s' has no kernel", c->name);
	const char *strs[] = { c->kernel, c->initrd, c->cmdline, c->description };
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		if (strs[i] && (why = vmconfig_text_problem(strs[i])))
			return error_set(err, EXIT_DATAERR, "VM '%s': '%s' %s", c->name, strs[i],
					 why);
	if (c->initrd && !*c->initrd)
		return error_set(err, EXIT_DATAERR, "VM '%s': empty initrd path", c->name);
	if (c->ndisks < 0 || c->ndisks > VMCONFIG_MAX_DISKS)
		return error_set(err, EXIT_DATAERR, "VM '%s': %d disks (at most %d)", c->name,
				 c->ndisks, VMCONFIG_MAX_DISKS);
	for (int i = 0; i < c->ndisks; i++) {
		const struct vm_disk *d = &c->disks[i];
		if (!d->path || !*d->path || vmconfig_text_problem(d->path))
			return error_set(err, EXIT_DATAERR, "VM '%s': disk %s has a bad path",
					 c->name, d->target);
		if (!vmconfig_target_ok(d->target))
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
