/* .vsv state files: round trip, and every kind of damage refused. */
#include <stdlib.h>

#include "endian.h"
#include "unit.h"
#include "vsv.h"

static struct vsv_writer sample(void)
{
	struct vsv_writer w;
	uint64_t regs[18];

	for (int i = 0; i < 18; i++)
		regs[i] = 0x1111111111111111ULL * (uint64_t)i;
	vsv_writer_init(&w, "unit test");
	vsv_put(&w, VSV_CONFIG, 0, "uuid=x", 6);
	vsv_put(&w, VSV_VCPU_REGS, 0, regs, sizeof(regs));
	vsv_put(&w, VSV_VCPU_REGS, 1, regs, 100); /* odd length: padded */
	vsv_put(&w, VSV_END, 0, NULL, 0);
	put_le32(w.buf + 16, w.count);
	return w;
}

TEST(vsv_round_trip)
{
	struct vsv_writer w = sample();
	struct error e;
	struct vsv_reader *r = vsv_parse(w.buf, w.len, "mem", &e);
	const void *p;
	size_t n;
	uint64_t regs[18];

	CHECK(r != NULL);
	if (!r)
		return;
	CHECK(r->major == VSV_MAJOR && !strcmp(r->creator, "unit test"));
	CHECK(vsv_get(r, VSV_CONFIG, 0, &p, &n) == 1 && n == 6 && !memcmp(p, "uuid=x", 6));
	CHECK(vsv_need(r, VSV_VCPU_REGS, 0, regs, sizeof(regs), "mem", &e) == 0);
	CHECK(regs[17] == 0x1111111111111111ULL * 17);
	CHECK(vsv_get(r, VSV_VCPU_REGS, 1, &p, &n) == 1 && n == 100);
	CHECK(vsv_get(r, VSV_VCPU_REGS, 2, &p, &n) == 0);
	CHECK(vsv_need(r, VSV_VCPU_REGS, 1, regs, sizeof(regs), "mem", &e) == -1 &&
	      strstr(e.msg, "is 100 bytes"));
	CHECK(vsv_need(r, VSV_VM_PIT2, 0, regs, 8, "mem", &e) == -1 && strstr(e.msg, "no PIT"));
	r->buf = NULL;
	vsv_free(r);
	vsv_writer_release(&w);
}

TEST(vsv_damage_refused)
{
	struct vsv_writer w = sample();
	struct error e;
	uint8_t *copy = malloc(w.len);

	memcpy(copy, w.buf, w.len);
	copy[VSV_HEADER_SIZE + VSV_SECTION_HEAD + 2] ^= 0x40; /* payload of the config section */
	CHECK(vsv_parse(copy, w.len, "f.vsv", &e) == NULL && e.code == EXIT_DATAERR &&
	      strstr(e.msg, "CRC mismatch in the config section"));
	memcpy(copy, w.buf, w.len);
	CHECK(vsv_parse(copy, w.len - 30, "f.vsv", &e) == NULL && strstr(e.msg, "truncated"));
	put_le16(copy + 8, VSV_MAJOR + 1);
	CHECK(vsv_parse(copy, w.len, "f.vsv", &e) == NULL && strstr(e.msg, "format version 2.0"));
	memcpy(copy, "NOTSTATE", 8);
	CHECK(vsv_parse(copy, w.len, "f.vsv", &e) == NULL && strstr(e.msg, "not a vmsnap state"));
	CHECK(vsv_parse(copy, 10, "f.vsv", &e) == NULL);
	free(copy);
	vsv_writer_release(&w);
}

TEST(crc32c_known_value)
{
	/* RFC 3720 test vector: 32 bytes of zeros */
	uint8_t z[32] = { 0 };

	CHECK(crc32c(0, z, sizeof(z)) == 0x8a9136aa);
	CHECK(crc32c(0, "123456789", 9) == 0xe3069283);
}

TEST(vsv_creator_fills_its_field)
{
	/* 40 bytes, NUL-padded: a 40-byte creator read from a file is written
	 * back whole (found by the vsv fuzzer: the writer kept 39 bytes) */
	const char *c40 = "0123456789012345678901234567890123456789";
	struct vsv_writer w;
	struct error e;

	vsv_writer_init(&w, c40);
	vsv_put(&w, VSV_END, 0, NULL, 0);
	put_le32(w.buf + 16, w.count);
	struct vsv_reader *r = vsv_parse(w.buf, w.len, "mem", &e);
	CHECK(r != NULL);
	if (r) {
		CHECK_STR(r->creator, c40);
		vsv_free(r);
	}
	vsv_writer_release(&w);
	vsv_writer_init(&w, "vmctl 0.1.0");
	vsv_put(&w, VSV_END, 0, NULL, 0);
	put_le32(w.buf + 16, w.count);
	r = vsv_parse(w.buf, w.len, "mem", &e);
	CHECK(r && !strcmp(r->creator, "vmctl 0.1.0") && w.buf[24 + 11] == 0 && w.buf[63] == 0);
	vsv_free(r);
	vsv_writer_release(&w);
}
