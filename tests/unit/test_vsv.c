/* .vsv state files: round trip, and every kind of damage refused. */
#include <stdlib.h>

#include "endian.h"
#include "machine.h"
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

/* vcpu_state_decode (kvm_state.c): what restore_vcpu reads before any ioctl */
static void put_vcpu(struct vsv_writer *w, unsigned i, size_t cpuid_len, size_t xsave_len,
		     const uint8_t *msrs, size_t msrs_len)
{
	static uint8_t zero[16384];

	vsv_put(w, VSV_VCPU_MPSTATE, i, zero, sizeof(struct kvm_mp_state));
	vsv_put(w, VSV_VCPU_REGS, i, zero, sizeof(struct kvm_regs));
	vsv_put(w, VSV_VCPU_SREGS, i, zero, sizeof(struct kvm_sregs));
	vsv_put(w, VSV_VCPU_DEBUGREGS, i, zero, sizeof(struct kvm_debugregs));
	vsv_put(w, VSV_VCPU_LAPIC, i, zero, sizeof(struct kvm_lapic_state));
	vsv_put(w, VSV_VCPU_EVENTS, i, zero, sizeof(struct kvm_vcpu_events));
	vsv_put(w, VSV_VCPU_CPUID, i, zero, cpuid_len);
	if (xsave_len)
		vsv_put(w, VSV_VCPU_XSAVE, i, zero, xsave_len);
	else
		vsv_put(w, VSV_VCPU_FPU, i, zero, sizeof(struct kvm_fpu));
	vsv_put(w, VSV_VCPU_MSRS, i, msrs, msrs_len);
}

static int decode_one(size_t cpuid_len, size_t xsave_len, const uint8_t *msrs, size_t msrs_len,
		      struct vcpu_state *s, struct error *e)
{
	struct vsv_writer w;
	int rc = -1;

	vsv_writer_init(&w, "unit test");
	put_vcpu(&w, 0, cpuid_len, xsave_len, msrs, msrs_len);
	vsv_put(&w, VSV_END, 0, NULL, 0);
	put_le32(w.buf + 16, w.count);
	struct vsv_reader *r = vsv_parse(w.buf, w.len, "s.vsv", e);
	if (r) {
		rc = vcpu_state_decode(r, 0, sizeof(struct kvm_xsave), s, "s.vsv", e);
		vsv_free(r);
	}
	vsv_writer_release(&w);
	return rc;
}

TEST(vcpu_state_decode_checks_sizes)
{
	const size_t ent = sizeof(struct kvm_cpuid_entry2);
	uint8_t msrs[4 + 32] = { 2 };
	struct vcpu_state s;
	struct error e;

	put_le32(msrs + 4, 0x6e0);
	put_le64(msrs + 12, 77);
	put_le32(msrs + 20, 0x10);
	CHECK(decode_one(3 * ent, 4096, msrs, sizeof(msrs), &s, &e) == 0);
	CHECK(s.cpuid && s.cpuid->nent == 3 && s.xsave && s.xsave_len == 4096 &&
	      s.xsave_size == sizeof(struct kvm_xsave) && s.nmsrs == 2 &&
	      s.msrs[0].index == 0x6e0 && s.msrs[0].value == 77 && s.msrs[1].index == 0x10);
	vcpu_state_free(&s);
	CHECK(!s.cpuid && !s.xsave && !s.msrs);
	static const uint8_t none[4];
	CHECK(decode_one(0, 0, none, 4, &s, &e) == 0 && !s.xsave && s.nmsrs == 0); /* FPU */
	vcpu_state_free(&s);
	CHECK(decode_one(3 * ent + 1, 4096, msrs, sizeof(msrs), &s, &e) == -1 &&
	      e.code == EXIT_DATAERR && strstr(e.msg, "bad CPUID section"));
	CHECK(decode_one(257 * ent, 4096, msrs, sizeof(msrs), &s, &e) == -1 &&
	      e.code == EXIT_DATAERR && strstr(e.msg, "bad CPUID section"));
	CHECK(decode_one(ent, 4097, msrs, sizeof(msrs), &s, &e) == -1 &&
	      e.code == EXIT_UNAVAILABLE && strstr(e.msg, "XSAVE area of 4097 bytes"));
	CHECK(decode_one(ent, 4096, msrs, sizeof(msrs) - 16, &s, &e) == -1 &&
	      e.code == EXIT_DATAERR && strstr(e.msg, "bad or missing MSR section of vCPU 0"));
	CHECK(decode_one(ent, 4096, msrs, 3, &s, &e) == -1 && e.code == EXIT_DATAERR);
	CHECK(!s.cpuid && !s.xsave && !s.msrs); /* nothing left allocated */
}
