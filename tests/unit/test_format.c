/* Decode/encode round trips and format helpers. */
#include <errno.h>
#include <stdlib.h>

#include "endian.h"
#include "error.h"
#include "output.h"
#include "units.h"
#include "unit.h"
#include "uuid.h"
#include "vhd_format.h"

TEST(endian_round_trip)
{
	uint8_t b[8];

	put_be64(b, 0x0102030405060708ULL);
	CHECK(b[0] == 1 && b[7] == 8);
	CHECK_EQ_U64(get_be64(b), 0x0102030405060708ULL);
	put_le64(b, 0x0102030405060708ULL);
	CHECK(b[0] == 8 && b[7] == 1);
	CHECK_EQ_U64(get_le64(b), 0x0102030405060708ULL);
	put_be16(b, 0xbeef);
	CHECK_EQ_U64(get_be16(b), 0xbeef);
	put_le32(b, 0xdeadbeef);
	CHECK_EQ_U64(get_le32(b), 0xdeadbeef);
}

TEST(footer_round_trip)
{
	struct vhd_footer f, g;
	uint8_t b[VHD_FOOTER_SIZE];

	memset(&f, 0, sizeof(f)); /* padding too: the structs are compared whole */
	memset(&g, 0, sizeof(g));
	memcpy(f.cookie, "conectix", 8);
	f.features = 2;
	f.version = 0x10000;
	f.data_offset = 512;
	f.timestamp = 12345;
	memcpy(f.creator_app, "win ", 4);
	f.creator_version = 0xa0000;
	memcpy(f.creator_os, "Wi2k", 4);
	f.original_size = f.current_size = 4 << 20;
	vhd_geometry(f.current_size, &f.cylinders, &f.heads, &f.sectors);
	f.type = VHD_TYPE_DYNAMIC;
	for (int i = 0; i < 16; i++)
		f.uuid[i] = (uint8_t)i;
	vhd_footer_encode(&f, b);
	CHECK(vhd_footer_cookie_ok(b));
	CHECK(vhd_footer_checksum_ok(b));
	vhd_footer_decode(&g, b);
	CHECK(memcmp(&f, &g, sizeof(f)) == 0);
	b[100] ^= 1; /* reserved byte: still counted by the checksum */
	CHECK(!vhd_footer_checksum_ok(b));
	struct error e;
	CHECK(vhd_footer_validate(&g, "x", &e) == 0);
	g.type = 7;
	CHECK(vhd_footer_validate(&g, "x", &e) == -1 && e.code == EXIT_DATAERR);
	g.type = VHD_TYPE_FIXED; /* fixed needs an all-ones data offset */
	CHECK(vhd_footer_validate(&g, "x", &e) == -1);
	g.data_offset = VHD_NO_OFFSET;
	CHECK(vhd_footer_validate(&g, "x", &e) == 0);
	g.current_size = VHD_MAX_SIZE + 512;
	CHECK(vhd_footer_validate(&g, "x", &e) == -1 && strstr(e.msg, "2040 GiB"));
}

TEST(header_round_trip)
{
	struct vhd_header h, g;
	uint8_t b[VHD_HEADER_SIZE];
	struct error e;

	memset(&h, 0, sizeof(h));
	memset(&g, 0, sizeof(g));
	memcpy(h.cookie, "cxsparse", 8);
	h.data_offset = VHD_NO_OFFSET;
	h.table_offset = 1536;
	h.version = 0x10000;
	h.max_entries = 2;
	h.block_size = 2 << 20;
	h.parent_timestamp = 77;
	h.parent_uuid[3] = 9;
	h.loc[0] = (struct vhd_locator){ VHD_PLAT_W2KU, 4096, 30, 4096 };
	h.loc[1] = (struct vhd_locator){ VHD_PLAT_W2RU, 4096, 14, 8192 };
	CHECK(vhd_utf8_to_utf16("/x/p.vhd", true, h.parent_name, 512) == 16);
	vhd_header_encode(&h, b);
	CHECK(vhd_header_checksum_ok(b));
	vhd_header_decode(&g, b);
	CHECK(memcmp(&h, &g, sizeof(h)) == 0);
	CHECK(vhd_header_validate(&g, 4 << 20, "x", &e) == 0);
	g.block_size = 0;
	CHECK(vhd_header_validate(&g, 4 << 20, "x", &e) == -1 && strstr(e.msg, "block size 0"));
	g.block_size = 3 << 20;
	CHECK(vhd_header_validate(&g, 4 << 20, "x", &e) == -1);
	g.block_size = 1 << 20; /* 4 MiB needs 4 entries of 1 MiB */
	CHECK(vhd_header_validate(&g, 4 << 20, "x", &e) == -1 && strstr(e.msg, "needs 4"));
}

TEST(geometry_by_spec)
{
	uint16_t c;
	uint8_t h, s;

	vhd_geometry(4 << 20, &c, &h, &s); /* as Windows writes for 4 MiB */
	CHECK(c == 120 && h == 4 && s == 17);
	vhd_geometry(1ULL << 30, &c, &h, &s);
	CHECK(c == 2080 && h == 16 && s == 63);
	vhd_geometry(VHD_MAX_SIZE, &c, &h, &s);
	CHECK(c == 65535 && h == 16 && s == 255);
}

TEST(utf16_conversions)
{
	uint8_t b[64];
	char s[64];
	int n = vhd_utf8_to_utf16("a\xc3\xa9\xf0\x9f\x98\x80", false, b, sizeof(b));

	CHECK(n == 8); /* a, é, one surrogate pair */
	CHECK(b[0] == 'a' && b[1] == 0);
	CHECK(vhd_utf16_to_utf8(b, (size_t)n, false, s, sizeof(s)) == 7);
	CHECK_STR(s, "a\xc3\xa9\xf0\x9f\x98\x80");
	n = vhd_utf8_to_utf16(".\\p.vhd", true, b, sizeof(b));
	CHECK(n == 14 && b[0] == 0 && b[1] == '.');
	CHECK(vhd_utf16_to_utf8(b, (size_t)n, true, s, sizeof(s)) == 7);
	b[0] = 0xdc; /* lone low surrogate */
	b[1] = 0x00;
	CHECK(vhd_utf16_to_utf8(b, 2, true, s, sizeof(s)) == -1);
	CHECK(vhd_utf8_to_utf16("abc", false, b, 4) == -1); /* too long */
	CHECK(vhd_utf8_to_utf16("\xff", false, b, sizeof(b)) == -1);
}

TEST(size_parsing)
{
	uint64_t v;
	struct error e;

	CHECK(units_parse_size("4G", &v, &e) == 0 && v == 4ULL << 30);
	CHECK(units_parse_size("512M", &v, &e) == 0 && v == 512ULL << 20);
	CHECK(units_parse_size("4GiB", &v, &e) == 0 && v == 4ULL << 30);
	CHECK(units_parse_size("1048576", &v, &e) == 0 && v == 1048576);
	CHECK(units_parse_size("1.5G", &v, &e) == -1 && e.code == EXIT_USAGE);
	CHECK(units_parse_size("4X", &v, &e) == -1);
	CHECK(units_parse_size("-1", &v, &e) == -1);
	CHECK(units_parse_size("", &v, &e) == -1);
	CHECK(units_parse_size("99999999999T", &v, &e) == -1 && strstr(e.msg, "too large"));
	char b[32];
	CHECK_STR(units_format_size(4 << 20, b, sizeof(b)), "4 MiB");
	CHECK_STR(units_format_size(1536, b, sizeof(b)), "1.5 KiB");
	CHECK_STR(units_format_time(0, b, sizeof(b)), "1970-01-01T00:00:00Z");
}

TEST(uuid_round_trip)
{
	uint8_t u[16], w[16];
	char s[UUID_STR_LEN];

	CHECK(uuid_generate(u) == 0);
	CHECK((u[6] >> 4) == 4);
	CHECK(uuid_parse(uuid_format(u, s), w) == 0);
	CHECK(memcmp(u, w, 16) == 0);
	CHECK(uuid_parse("not-a-uuid", w) == -1);
	CHECK(!uuid_is_null(u));
}

TEST(error_codes)
{
	struct error e;

	error_init(&e);
	CHECK(error_errno(&e, ENOENT, "cannot open '%s'", "x.vhd") == -1);
	CHECK(e.code == EXIT_NOINPUT);
	CHECK_STR(e.msg, "cannot open 'x.vhd': No such file or directory");
	error_errno(&e, EACCES, "x");
	CHECK(e.code == EXIT_NOPERM);
	error_errno(&e, ENOSPC, "x");
	CHECK(e.code == EXIT_IOERR);
	error_errno(&e, EEXIST, "x");
	CHECK(e.code == EXIT_CANTCREAT);
	error_prefix(&e, "ctx");
	CHECK(strncmp(e.msg, "ctx: x:", 7) == 0);
}

static char *render(enum out_mode m)
{
	struct out *o = out_new(m);
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);
	struct error e;

	out_str(o, "file", "a/b.vhd");
	out_size(o, "virtual_size", 4 << 20);
	out_bool(o, "ok", true);
	out_str(o, "parent", NULL);
	out_begin_table(o, "rows");
	out_begin_object(o, NULL);
	out_str(o, "name", "x");
	out_u64(o, "n", 1);
	out_end(o);
	out_end(o);
	CHECK(out_print(o, fp, &e) == 0);
	fclose(fp);
	out_free(o);
	return buf;
}

TEST(output_modes)
{
	char *j = render(OUT_JSON), *t = render(OUT_TSV), *x = render(OUT_TEXT);

	CHECK(strstr(j, "\"file\": \"a/b.vhd\"") != NULL);
	CHECK(strstr(j, "\"virtual_size\": 4194304") != NULL);
	CHECK(strstr(j, "\"parent\": null") != NULL);
	CHECK(strstr(t, "file\ta/b.vhd\n") != NULL);
	CHECK(strstr(t, "virtual_size\t4194304\n") != NULL);
	CHECK(strstr(t, "x\t1\n") != NULL); /* table rows, no header */
	CHECK(strstr(x, "virtual size: 4 MiB (4194304 bytes)") != NULL);
	CHECK(strstr(x, "NAME") != NULL);
	free(j);
	free(t);
	free(x);
}
