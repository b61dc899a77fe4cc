/* snapshot metadata: format/parse round trip and refusals. */
#include <stdlib.h>

#include "snapshot.h"
#include "unit.h"

static struct snapshot *sample(void)
{
	struct error e;
	struct snapshot *s = snapshot_new("before upgrade", &e);

	s->description = strdup("a <test> & more");
	s->online = true;
	s->memory = strdup("/var/lib/vmctl/web/snapshots/x.bin");
	s->has_parent = true;
	memset(s->parent, 0x11, 16);
	s->parent_name = strdup("base");
	s->domain = vmconfig_new("web", &e);
	s->domain->kernel = strdup("/boot/k.elf");
	snprintf(s->disks[0].target, 16, "vda");
	s->disks[0].file = strdup("/vm/web.vhd");
	s->ndisks = 1;
	return s;
}

TEST(snapshot_round_trip)
{
	struct error e;
	struct snapshot *s = sample(), *r;
	char *xml = snapshot_format(s, &e);

	CHECK(xml != NULL);
	if (!xml)
		return;
	CHECK(strstr(xml, "<domainsnapshot>") && strstr(xml, "<state>running</state>"));
	r = snapshot_parse(xml, strlen(xml), "x.xml", &e);
	CHECK(r != NULL);
	if (r) {
		CHECK(!memcmp(r->uuid, s->uuid, 16));
		CHECK_STR(r->name, "before upgrade");
		CHECK_STR(r->description, "a <test> & more");
		CHECK(r->online && r->has_parent && !memcmp(r->parent, s->parent, 16));
		CHECK_STR(r->parent_name, "base");
		CHECK(r->ndisks == 1 && !strcmp(r->disks[0].file, "/vm/web.vhd"));
		CHECK_STR(r->domain->name, "web");
		CHECK(r->created == s->created);
		snapshot_free(r);
	}
	free(xml);
	snapshot_free(s);
}

TEST(snapshot_refusals)
{
	struct error e;
	const char *doctype = "<!DOCTYPE x [<!ENTITY a 'aaaa'>]><domainsnapshot/>";
	const char *nocookie = "<domainsnapshot><name>a</name></domainsnapshot>";

	CHECK(snapshot_parse(doctype, strlen(doctype), "d.xml", &e) == NULL &&
	      strstr(e.msg, "DOCTYPE"));
	CHECK(snapshot_parse(nocookie, strlen(nocookie), "n.xml", &e) == NULL &&
	      strstr(e.msg, "identity"));
	CHECK(snapshot_parse("<x/>", 4, "x.xml", &e) == NULL && strstr(e.msg, "not a"));
	CHECK(!snapshot_name_ok("") && !snapshot_name_ok("a/b") && !snapshot_name_ok("@current"));
	CHECK(snapshot_name_ok("web (2026-11-26 10:00:00)"));
}

/* A second <domain> or <memory> replaces the first, which is freed (the
 * snapshot fuzzer found both leaking; tests/fixtures/fuzz/snapshot/). Under
 * make valgrind or SANITIZE=address the leak fails the run. */
TEST(snapshot_repeated_elements_replace)
{
	struct error e;
	const char *xml =
		"<domainsnapshot><name>s</name>"
		"<memory file=\"/a.bin\"/><memory file=\"/b.bin\"/>"
		"<cookie xmlns:vmsnap=\"urn:vmsnap:snapshot:1\">"
		"<vmsnap:snapshot uuid=\"994ba1c0-8d22-4bbd-80e4-d9b20f78dacd\"/></cookie>"
		"<domain type=\"kvm\"><name>one</name><uuid>6e1a0768-dbd2-454e-8655-5813dd0e52c6</uuid>"
		"<memory unit=\"MiB\">64</memory><vcpu>1</vcpu><os><type>hvm</type>"
		"<kernel>/k1</kernel></os></domain>"
		"<domain type=\"kvm\"><name>two</name><uuid>6e1a0768-dbd2-454e-8655-5813dd0e52c6</uuid>"
		"<memory unit=\"MiB\">64</memory><vcpu>1</vcpu><os><type>hvm</type>"
		"<kernel>/k2</kernel></os></domain>"
		"</domainsnapshot>";
	struct snapshot *s = snapshot_parse(xml, strlen(xml), "r.xml", &e);

	CHECK(s != NULL);
	if (!s) {
		fprintf(stderr, "#   %s\n", e.msg);
		return;
	}
	CHECK_STR(s->memory, "/b.bin");
	CHECK(s->domain != NULL);
	if (s->domain)
		CHECK_STR(s->domain->name, "two");
	snapshot_free(s);
}
