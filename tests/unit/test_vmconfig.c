/* vmconfig: vm.xml parse → format → parse round trips and every refusal. */
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "safeio.h"
#include "unit.h"
#include "uuid.h"
#include "vmconfig.h"

#define FULL_XML                                                                  \
	"<!-- a comment -->\n"                                                    \
	"<domain type='kvm'>\n"                                                   \
	"  <name>web-1.test_a</name>\n"                                           \
	"  <uuid>4dea22b3-1d52-d8f3-2516-782e98ab3fa0</uuid>\n"                   \
	"  <description>a &amp; b &lt;c&gt; \"d\"</description>\n"               \
	"  <memory unit='KiB'>524288</memory>\n"                                  \
	"  <currentMemory unit='MiB'>512</currentMemory>\n"                       \
	"  <vcpu placement='static'>2</vcpu>\n"                                   \
	"  <os>\n"                                                                \
	"    <type arch='x86_64'>hvm</type>\n"                                    \
	"    <kernel>/boot/vmlinuz</kernel>\n"                                    \
	"    <initrd>/boot/initrd.img</initrd>\n"                                 \
	"    <cmdline>console=ttyS0 root=/dev/vda1</cmdline>\n"                   \
	"  </os>\n"                                                               \
	"  <on_poweroff>preserve</on_poweroff>\n"                                 \
	"  <on_reboot>destroy</on_reboot>\n"                                      \
	"  <devices>\n"                                                           \
	"    <disk type='file' device='disk'>\n"                                  \
	"      <driver name='vmctl' type='vpc'/>\n"                               \
	"      <source file='/var/lib/disks/a b&amp;.vhd'/>\n"                    \
	"      <target dev='vda' bus='virtio'/>\n"                                \
	"    </disk>\n"                                                           \
	"    <disk type='file' device='disk'>\n"                                  \
	"      <source file='rel/data.avhd'/>\n"                                  \
	"      <target dev='vdc'/>\n"                                             \
	"      <readonly/>\n"                                                     \
	"    </disk>\n"                                                           \
	"    <serial type='pty'/>\n"                                              \
	"    <console type='pty'/>\n"                                             \
	"  </devices>\n"                                                          \
	"</domain>\n"

static struct vmconfig *parse(const char *xml, struct error *e)
{
	error_init(e);
	return vmconfig_parse(xml, strlen(xml), "t.xml", e);
}

static void check_full(const struct vmconfig *c)
{
	char u[UUID_STR_LEN];

	CHECK_STR(c->name, "web-1.test_a");
	CHECK_STR(uuid_format(c->uuid, u), "4dea22b3-1d52-d8f3-2516-782e98ab3fa0");
	CHECK_STR(c->description, "a & b <c> \"d\"");
	CHECK_EQ_U64(c->memory_bytes, 512ULL << 20);
	CHECK_EQ_U64(c->vcpus, 2);
	CHECK_STR(c->kernel, "/boot/vmlinuz");
	CHECK_STR(c->initrd, "/boot/initrd.img");
	CHECK_STR(c->cmdline, "console=ttyS0 root=/dev/vda1");
	CHECK(c->on_poweroff == VM_ACTION_PRESERVE);
	CHECK(c->on_reboot == VM_ACTION_DESTROY);
	CHECK_EQ_U64(c->ndisks, 2);
	CHECK_STR(c->disks[0].path, "/var/lib/disks/a b&.vhd");
	CHECK_STR(c->disks[0].target, "vda");
	CHECK(!c->disks[0].readonly);
	CHECK_STR(c->disks[1].path, "rel/data.avhd");
	CHECK_STR(c->disks[1].target, "vdc");
	CHECK(c->disks[1].readonly);
}

TEST(vmconfig_parse_full_and_round_trip)
{
	struct error e;
	struct vmconfig *c = parse(FULL_XML, &e), *d = NULL, *dup = NULL;
	char *xml = NULL, *xml2 = NULL;

	CHECK(c != NULL);
	if (!c) {
		fprintf(stderr, "#   %s\n", e.msg);
		return;
	}
	check_full(c);
	xml = vmconfig_format(c, &e);
	CHECK(xml != NULL);
	if (!xml)
		goto out;
	CHECK(strstr(xml, "<memory unit=\"MiB\">512</memory>") != NULL);
	CHECK(strstr(xml, "<serial type=\"pty\"/>") != NULL);
	CHECK(strstr(xml, "a &amp; b &lt;c&gt;") != NULL);
	CHECK(strncmp(xml, "<domain type=\"kvm\">\n", 20) == 0);
	d = vmconfig_parse(xml, strlen(xml), "formatted", &e);
	CHECK(d != NULL);
	if (!d)
		goto out;
	check_full(d);
	xml2 = vmconfig_format(d, &e);
	CHECK(xml2 && strcmp(xml, xml2) == 0);
	dup = vmconfig_dup(d, &e);
	CHECK(dup != NULL);
	if (dup) {
		check_full(dup);
		CHECK(dup->kernel != d->kernel && dup->disks[1].path != d->disks[1].path);
	}
out:
	free(xml);
	free(xml2);
	vmconfig_free(c);
	vmconfig_free(d);
	vmconfig_free(dup);
}

TEST(vmconfig_minimal_defaults_and_units)
{
	struct error e;
	struct vmconfig *c = parse("<domain type='kvm'><name>m</name><memory>16384</memory>"
				   "<os><type>hvm</type><kernel>k</kernel><cmdline/></os>"
				   "</domain>", &e);

	CHECK(c != NULL);
	if (!c)
		return;
	CHECK_EQ_U64(c->memory_bytes, 16ULL << 20); /* default unit KiB */
	CHECK_EQ_U64(c->vcpus, 1);
	CHECK(!uuid_is_null(c->uuid));            /* generated */
	CHECK(c->initrd == NULL && c->cmdline == NULL && c->description == NULL);
	CHECK(c->on_poweroff == VM_ACTION_DESTROY && c->on_reboot == VM_ACTION_RESTART);
	CHECK_EQ_U64(c->ndisks, 0);
	vmconfig_free(c);

	static const struct { const char *mem; uint64_t bytes; } units[] = {
		{ "<memory unit='b'>33554432</memory>", 32ULL << 20 },
		{ "<memory unit='bytes'>33554432</memory>", 32ULL << 20 },
		{ "<memory unit='M'>64</memory>", 64ULL << 20 },
		{ "<memory unit='GiB'>1</memory>", 1ULL << 30 },
		{ "<memory unit='G'>2</memory>", 2ULL << 30 },
		{ "<memory unit='MB'>128</memory>", 128000000ULL },
		{ "<memory unit='KB'>64000</memory>", 64000000ULL },
		{ "<memory unit='TiB'>1</memory>", 1ULL << 40 },
		{ "<memory unit='k'> 65536 </memory>", 64ULL << 20 },
	};
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		char xml[512];
		snprintf(xml, sizeof(xml), "<domain type='kvm'><name>m</name>%s<os><type>hvm"
			 "</type><kernel>k</kernel></os></domain>", units[i].mem);
		c = parse(xml, &e);
		CHECK(c != NULL);
		if (c)
			CHECK_EQ_U64(c->memory_bytes, units[i].bytes);
		else
			fprintf(stderr, "#   %s: %s\n", units[i].mem, e.msg);
		vmconfig_free(c);
	}
}

/* Wraps body parts in a valid domain; each case replaces one part. */
struct bad {
	const char *xml;
	const char *msg; /* expected substring of the message, after "t.xml:" */
};

TEST(vmconfig_refusals_name_file_and_line)
{
	static const struct bad cases[] = {
		{ "<domain type='kvm'>\n<name>a</name>\n<memory unit='MiB'>64</memory>\n"
		  "<os><type>hvm</type><kernel>k</kernel></os>\n<devices>\n<foo/>\n</devices>\n"
		  "</domain>", "t.xml:6: unknown element <foo> in <devices>" },
		{ "<domain type='kvm'>\n<name>a</name>\n<memory unit='MiB'>0</memory>\n</domain>",
		  "t.xml:3: memory 0 is below the minimum of 16 MiB" },
		{ "<domain type='kvm'>\n<name>a</name>\n<memory unit='TiB'>10</memory>\n</domain>",
		  "t.xml:3: memory 10 TiB is above the maximum of 1 TiB" },
		{ "<domain type='kvm'>\n<name>a</name>\n<memory unit='KiB'>16385</memory>\n"
		  "</domain>", "t.xml:3: memory 16778240 bytes is not a multiple of 4 KiB" },
		{ "<domain type='kvm'><name>a</name><memory unit='EiB'>99999</memory></domain>",
		  "value is too large" },
		{ "<domain type='kvm'><name>a</name><memory unit='parsecs'>1</memory></domain>",
		  "unknown unit 'parsecs'" },
		{ "<domain type='kvm'><name>a</name><memory>-5</memory></domain>",
		  "invalid number '-5' in <memory>" },
		{ "<domain type='kvm'><name>a</name><memory>12x</memory></domain>",
		  "invalid number '12x'" },
		{ "<domain type='kvm'><name>a</name><memory unit='MiB'>64</memory>"
		  "<currentMemory unit='MiB'>32</currentMemory><os><type>hvm</type>"
		  "<kernel>k</kernel></os></domain>",
		  "<currentMemory> differs from <memory>" },
		{ "<domain type='kvm'><name>a</name><vcpu>0</vcpu></domain>", "vCPU count 0" },
		{ "<domain type='kvm'><name>a</name><vcpu>65</vcpu></domain>",
		  "vCPU count 65 is above the maximum of 64" },
		{ "<domain type='kvm'><name>a</name><vcpu placement='auto'>1</vcpu></domain>",
		  "unsupported placement='auto' on <vcpu>" },
		{ "<domain type='kvm'><name>-a</name></domain>", "invalid name '-a'" },
		{ "<domain type='kvm'><name>a/b</name></domain>", "invalid name 'a/b'" },
		{ "<domain type='kvm'><name>"
		  "a1234567890123456789012345678901234567890123456789012345678901234"
		  "</name></domain>", "invalid name" },
		{ "<domain type='kvm'><name></name></domain>", "invalid name ''" },
		{ "<domain type='kvm'><name>a</name><name>b</name></domain>",
		  "duplicate element <name> in <domain>" },
		{ "<domain type='kvm'><name>a</name><uuid>nope</uuid></domain>",
		  "invalid UUID 'nope'" },
		{ "<domain type='kvm'><name>a</name>"
		  "<uuid>00000000-0000-0000-0000-000000000000</uuid></domain>", "all zeros" },
		{ "<domain type='qemu'><name>a</name></domain>",
		  "unsupported type='qemu' on <domain> (only 'kvm')" },
		{ "<domain><name>a</name></domain>", "<domain> needs type='kvm'" },
		{ "<domain type='kvm' id='3'><name>a</name></domain>",
		  "unknown attribute 'id' on <domain>" },
		{ "<domain type='kvm' xmlns:x='urn:x'><name>a</name></domain>",
		  "unexpected namespace declaration" },
		{ "<domain type='kvm'><x:name xmlns:x='urn:x'>a</x:name></domain>",
		  "unknown element <name> in <domain>" },
		{ "<vm type='kvm'/>", "t.xml:1: the root element is <vm>, not <domain>" },
		{ "<domain type='kvm'>hello<name>a</name></domain>",
		  "unexpected text in <domain>" },
		{ "<domain type='kvm'><name>a<b/></name></domain>", "unknown element <b> in <name>" },
		{ "<domain type='kvm'><name>a</name><memory unit='MiB'>64</memory></domain>",
		  "t.xml:1: <domain> has no <os>" },
		{ "<domain type='kvm'><name>a</name><os><type>hvm</type></os></domain>",
		  "<os> has no <kernel>" },
		{ "<domain type='kvm'><memory unit='MiB'>64</memory></domain>", "has no <name>" },
		{ "<domain type='kvm'><name>a</name><os><type>hvm</type><kernel>k</kernel></os>"
		  "</domain>", "<domain> has no <memory>" },
		{ "<domain type='kvm'><name>a</name><os><kernel>k</kernel></os></domain>",
		  "<os> needs <type arch='x86_64'>hvm</type>" },
		{ "<domain type='kvm'><name>a</name><os><type arch='i686'>hvm</type></os>"
		  "</domain>", "unsupported arch='i686' on <type>" },
		{ "<domain type='kvm'><name>a</name><os><type>xen</type></os></domain>",
		  "unsupported OS type 'xen'" },
		{ "<domain type='kvm'><name>a</name><os><type>hvm</type><kernel></kernel></os>"
		  "</domain>", "empty <kernel>" },
		{ "<domain type='kvm'><name>a</name><os><boot dev='hd'/></os></domain>",
		  "unknown element <boot> in <os>" },
		{ "<domain type='kvm'><name>a</name><on_reboot>explode</on_reboot></domain>",
		  "unknown <on_reboot> action 'explode'" },
		{ "<domain type='kvm'><name>a</name><on_crash>destroy</on_crash></domain>",
		  "unknown element <on_crash> in <domain>" },
		{ "<domain type='kvm'><name>a</name><devices><disk type='file'>\n"
		  "<target dev='vda'/></disk></devices></domain>",
		  "t.xml:1: <disk> has no <source file='...'/>" },
		{ "<domain type='kvm'><name>a</name><devices>\n<disk type='file'>"
		  "<source file='x'/></disk></devices></domain>",
		  "t.xml:2: <disk> has no <target dev='vdX'/>" },
		{ "<domain type='kvm'><name>a</name><devices><disk type='file'>"
		  "<source/></disk></devices></domain>", "<source> needs a file='...'" },
		{ "<domain type='kvm'><name>a</name><devices><disk type='block'>"
		  "</disk></devices></domain>", "unsupported type='block' on <disk>" },
		{ "<domain type='kvm'><name>a</name><devices><disk>"
		  "</disk></devices></domain>", "<disk> needs type='file'" },
		{ "<domain type='kvm'><name>a</name><devices><disk type='file' device='cdrom'>"
		  "</disk></devices></domain>", "unsupported device='cdrom'" },
		{ "<domain type='kvm'><name>a</name><devices><disk type='file'>"
		  "<driver name='qemu' type='qcow2'/></disk></devices></domain>",
		  "unsupported name='qemu' on <driver> (only 'vmctl')" },
		{ "<domain type='kvm'><name>a</name><devices><disk type='file'>"
		  "<driver name='vmctl' type='raw'/></disk></devices></domain>",
		  "unsupported type='raw' on <driver> (only 'vpc')" },
		{ "<domain type='kvm'><name>a</name><devices><disk type='file'>"
		  "<target dev='sda'/></disk></devices></domain>", "invalid target dev='sda'" },
		{ "<domain type='kvm'><name>a</name><devices><disk type='file'>"
		  "<target dev='vda' bus='ide'/></disk></devices></domain>",
		  "unsupported bus='ide'" },
		{ "<domain type='kvm'><name>a</name><devices><disk type='file'>"
		  "<source file='x' startupPolicy='optional'/></disk></devices></domain>",
		  "unknown attribute 'startupPolicy' on <source>" },
		{ "<domain type='kvm'><name>a</name><devices><disk type='file'>"
		  "<source file='x'><seclabel/></source></disk></devices></domain>",
		  "unknown element <seclabel> in <source>" },
		{ "<domain type='kvm'><name>a</name><devices><disk type='file'>"
		  "<readonly/><readonly/></disk></devices></domain>",
		  "duplicate element <readonly> in <disk>" },
		{ "<domain type='kvm'><name>a</name><devices>"
		  "<disk type='file'><source file='x'/><target dev='vda'/></disk>\n"
		  "<disk type='file'><source file='y'/><target dev='vda'/></disk>"
		  "</devices></domain>", "t.xml:2: disk target 'vda' is used twice" },
		{ "<domain type='kvm'><name>a</name><devices><serial type='file'/></devices>"
		  "</domain>", "unsupported type='file' on <serial> (only 'pty')" },
		{ "<domain type='kvm'><name>a</name><devices><serial type='pty'>"
		  "<target port='0'/></serial></devices></domain>",
		  "unknown element <target> in <serial>" },
		{ "<domain type='kvm'><name>a</name><devices><serial type='pty'/>"
		  "<serial type='pty'/></devices></domain>", "duplicate element <serial>" },
		{ "<domain type='kvm'><name>a</name><devices><interface type='network'/>"
		  "</devices></domain>", "unknown element <interface> in <devices>" },
		{ "<domain type='kvm'><name>a</name>", "not well-formed XML" },
		{ "", "not well-formed XML" },
		{ "<domain type='kvm'><name>&nope;</name></domain>",
		  "t.xml:1: not well-formed XML: Entity 'nope' not defined" },
		{ "<domain type='kvm'><name>a</name></domain><?pi x?>",
		  "unexpected content outside <domain>" },
		{ "<domain type='kvm'><name>a</name><description>\x01</description></domain>",
		  "not well-formed" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct error e;
		struct vmconfig *c = parse(cases[i].xml, &e);
		CHECK(c == NULL);
		CHECK(e.code == EXIT_DATAERR);
		CHECK(strncmp(e.msg, "t.xml:", 6) == 0);
		if (!strstr(e.msg, cases[i].msg)) {
			fprintf(stderr, "#   case %zu: got \"%s\", expected \"%s\"\n", i, e.msg,
				cases[i].msg);
			unit_failed_checks++;
		}
		vmconfig_free(c);
	}
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

TEST(vmconfig_refuses_doctype_entities_without_expanding)
{
	static const char *cases[] = {
		/* external entity (XXE) */
		"<?xml version='1.0'?>\n<!DOCTYPE domain [\n"
		"<!ENTITY x SYSTEM 'file:///etc/passwd'>]>\n"
		"<domain type='kvm'><name>&x;</name></domain>",
		/* billion laughs */
		"<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n"
		" <!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
		" <!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">\n"
		" <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"
		" <!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">\n"
		" <!ENTITY lol5 \"&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;\">\n"
		" <!ENTITY lol6 \"&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;\">\n"
		" <!ENTITY lol7 \"&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;\">\n"
		" <!ENTITY lol8 \"&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;\">\n"
		" <!ENTITY lol9 \"&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;\">\n"
		"]>\n<domain type='kvm'><name>a</name><description>&lol9;</description>"
		"</domain>",
		/* external DTD, network */
		"<!DOCTYPE domain SYSTEM 'http://127.0.0.1:9/x.dtd'>\n"
		"<domain type='kvm'><name>a</name></domain>",
		/* parameter entity */
		"<!DOCTYPE d [<!ENTITY % p SYSTEM 'file:///etc/hostname'> %p;]>"
		"<domain type='kvm'/>",
	};
	static const int lines[] = { 2, 1, 1, 1 };
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct error e;
		double t0 = now_s();
		struct vmconfig *c = parse(cases[i], &e);
		char want[64];
		CHECK(c == NULL);
		CHECK(e.code == EXIT_DATAERR);
		CHECK(strstr(e.msg, "DOCTYPE declarations are not allowed") != NULL);
		snprintf(want, sizeof(want), "t.xml:%d: ", lines[i]);
		CHECK(strncmp(e.msg, want, strlen(want)) == 0);
		CHECK(strstr(e.msg, "root:") == NULL);
		CHECK(now_s() - t0 < 0.5); /* refused up front, nothing expanded */
		if (!c && !strstr(e.msg, "DOCTYPE"))
			fprintf(stderr, "#   case %zu: %s\n", i, e.msg);
		vmconfig_free(c);
	}
}

TEST(vmconfig_new_setters_and_validation)
{
	struct error e;
	struct vmconfig *c;
	char *xml, *p;

	error_init(&e);
	CHECK(vmconfig_new("bad name", &e) == NULL && e.code == EXIT_USAGE);
	c = vmconfig_new("vm1", &e);
	CHECK(c != NULL);
	if (!c)
		return;
	CHECK_EQ_U64(c->vcpus, 1);
	CHECK_EQ_U64(c->memory_bytes, 512ULL << 20);
	CHECK(!uuid_is_null(c->uuid));
	/* no kernel yet: cannot be formatted */
	CHECK(vmconfig_format(c, &e) == NULL && strstr(e.msg, "has no kernel"));
	CHECK(vmconfig_set_memory(c, 0, &e) == -1 && e.code == EXIT_USAGE);
	CHECK(vmconfig_set_memory(c, 10ULL << 40, &e) == -1 && strstr(e.msg, "10 TiB"));
	CHECK(vmconfig_set_memory(c, (16ULL << 20) + 1, &e) == -1);
	CHECK(vmconfig_set_memory(c, 1ULL << 30, &e) == 0 && c->memory_bytes == 1ULL << 30);
	CHECK(vmconfig_set_vcpus(c, 0, &e) == -1 && e.code == EXIT_USAGE);
	CHECK(vmconfig_set_vcpus(c, 65, &e) == -1);
	CHECK(vmconfig_set_vcpus(c, 64, &e) == 0 && c->vcpus == 64);
	CHECK(vmconfig_set_str(&c->kernel, "/k", &e) == 0);
	CHECK(vmconfig_set_str(&c->cmdline, "a\001b", &e) == -1 && e.code == EXIT_USAGE);
	CHECK(vmconfig_set_str(&c->cmdline, "\xff\xfe", &e) == -1);
	CHECK(vmconfig_set_str(&c->cmdline, "console=ttyS0 é", &e) == 0);
	CHECK(vmconfig_add_disk(c, "/d/a.vhd", false, &e) == 0);
	CHECK(vmconfig_add_disk(c, "b.vhd", true, &e) == 0);
	CHECK(vmconfig_add_disk(c, "", false, &e) == -1);
	CHECK_STR(c->disks[0].target, "vda");
	CHECK_STR(c->disks[1].target, "vdb");
	p = vmconfig_disk_path(c, 0, "/store/vm1");
	CHECK_STR(p, "/d/a.vhd");
	free(p);
	p = vmconfig_disk_path(c, 1, "/store/vm1");
	CHECK_STR(p, "/store/vm1/b.vhd");
	free(p);
	CHECK(vmconfig_disk_path(c, 2, "/x") == NULL);
	for (int i = 2; i < VMCONFIG_MAX_DISKS; i++)
		CHECK(vmconfig_add_disk(c, "x.vhd", false, &e) == 0);
	CHECK(vmconfig_add_disk(c, "x.vhd", false, &e) == -1 && strstr(e.msg, "at most 16"));
	CHECK_STR(c->disks[15].target, "vdp");
	xml = vmconfig_format(c, &e);
	CHECK(xml != NULL);
	if (xml) {
		struct vmconfig *d = vmconfig_parse(xml, strlen(xml), "x", &e);
		CHECK(d && d->ndisks == 16 && d->vcpus == 64 && d->memory_bytes == 1ULL << 30);
		CHECK(d && memcmp(d->uuid, c->uuid, 16) == 0);
		CHECK(d && strcmp(d->cmdline, "console=ttyS0 é") == 0);
		vmconfig_free(d);
	}
	free(xml);
	/* a target used twice is caught when formatting */
	memcpy(c->disks[1].target, "vda", 4);
	CHECK(vmconfig_format(c, &e) == NULL && strstr(e.msg, "used twice"));
	vmconfig_free(c);
	CHECK(vmconfig_name_ok("a") && vmconfig_name_ok("A.b_c-1"));
	CHECK(!vmconfig_name_ok("") && !vmconfig_name_ok(".a") && !vmconfig_name_ok("_a"));
	CHECK(!vmconfig_name_ok("a b") && !vmconfig_name_ok("a/b") && !vmconfig_name_ok("é"));
	CHECK(vmconfig_name_ok("a123456789012345678901234567890123456789012345678901234567890123"));
	CHECK(!vmconfig_name_ok("a1234567890123456789012345678901234567890123456789012345678901234"));
}

TEST(vmconfig_load_and_save)
{
	char path[512], link[512];
	struct error e;
	struct vmconfig *c, *d;
	struct stat st;

	snprintf(path, sizeof(path), "%s/vm.xml", unit_tmpdir());
	snprintf(link, sizeof(link), "%s/link.xml", unit_tmpdir());
	error_init(&e);
	CHECK(vmconfig_load(path, &e) == NULL && e.code == EXIT_NOINPUT);
	CHECK(strstr(e.msg, "vm.xml") != NULL);
	CHECK(io_atomic_write(path, FULL_XML, strlen(FULL_XML), 0644, &e) == 0);
	c = vmconfig_load(path, &e);
	CHECK(c != NULL);
	if (!c)
		return;
	check_full(c);
	CHECK(vmconfig_save(c, path, &e) == 0);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	d = vmconfig_load(path, &e);
	CHECK(d != NULL);
	if (d)
		check_full(d);
	vmconfig_free(d);
	/* a symlink is refused by vmconfig_load, followed with VMCONFIG_FOLLOW */
	CHECK(symlink(path, link) == 0);
	CHECK(vmconfig_load(link, &e) == NULL && e.code == EXIT_NOPERM);
	d = vmconfig_load_ex(link, VMCONFIG_FOLLOW, &e);
	CHECK(d != NULL);
	vmconfig_free(d);
	/* a file error names the file and line */
	const char *bad = "<domain type='kvm'>\n<name>a</name>\n<memory>0</memory></domain>";
	CHECK(io_atomic_write(path, bad, strlen(bad), 0600, &e) == 0);
	CHECK(vmconfig_load(path, &e) == NULL && e.code == EXIT_DATAERR);
	char want[600];
	snprintf(want, sizeof(want), "%s:3: memory 0", path);
	CHECK(strncmp(e.msg, want, strlen(want)) == 0);
	/* too large, not a regular file */
	size_t big = (1 << 20) + 1;
	char *junk = malloc(big);
	if (junk) {
		memset(junk, ' ', big);
		CHECK(io_atomic_write(path, junk, big, 0600, &e) == 0);
		CHECK(vmconfig_load(path, &e) == NULL && e.code == EXIT_DATAERR &&
		      strstr(e.msg, "too large"));
		CHECK(vmconfig_parse(junk, big, "j", &e) == NULL && e.code == EXIT_DATAERR);
		free(junk);
	}
	CHECK(vmconfig_load(unit_tmpdir(), &e) == NULL && e.code == EXIT_DATAERR);
	vmconfig_free(c);
}
