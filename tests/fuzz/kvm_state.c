/*
 * kvm_state.c — fuzz target: the vCPU state decoder (vcpu_state_decode in
 * common/kvm_state.c), what machine_restore_state reads from a .vsv before it
 * hands each vCPU's state to KVM. The input is a .vsv (vsv_parse); every
 * vCPU index that has a vCPU section (types 20-31) is decoded, the XSAVE
 * limit taken from the header's reserved field (4 KiB + its low 14 bits, so
 * the seeds, which have 0 there, run with a struct kvm_xsave).
 *
 * Invariants of a decoded vCPU: CPUID entries at most VCPU_MAX_CPUID and
 * exactly the section; the XSAVE buffer at least a struct kvm_xsave, at most
 * the limit, the section's bytes then zeros; the MSR count exactly the
 * section's; and re-encoded as save_vcpu writes it (the MSRs' reserved words
 * as 0, a TSC section only when it is 4 bytes), every section parses and
 * decodes to the same state. A failed decode leaves nothing allocated (ASan's
 * leak check) and sets an error.
 */
#include <stdlib.h>
#include <string.h>

#include "endian.h"
#include "fuzz_util.h"
#include "machine.h"
#include "vsv.h"

#define MAX_VCPUS 64

static void encode(const struct vcpu_state *s, unsigned i, struct vsv_writer *w)
{
	vsv_put(w, VSV_VCPU_MPSTATE, i, &s->mp, sizeof(s->mp));
	vsv_put(w, VSV_VCPU_REGS, i, &s->regs, sizeof(s->regs));
	vsv_put(w, VSV_VCPU_SREGS, i, &s->sregs, sizeof(s->sregs));
	vsv_put(w, VSV_VCPU_DEBUGREGS, i, &s->dregs, sizeof(s->dregs));
	vsv_put(w, VSV_VCPU_LAPIC, i, &s->lapic, sizeof(s->lapic));
	vsv_put(w, VSV_VCPU_EVENTS, i, &s->ev, sizeof(s->ev));
	if (s->have_xcrs)
		vsv_put(w, VSV_VCPU_XCRS, i, &s->xcrs, sizeof(s->xcrs));
	if (s->xsave)
		vsv_put(w, VSV_VCPU_XSAVE, i, s->xsave, s->xsave_len);
	else
		vsv_put(w, VSV_VCPU_FPU, i, &s->fpu, sizeof(s->fpu));
	if (s->cpuid)
		vsv_put(w, VSV_VCPU_CPUID, i, s->cpuid->entries,
			s->cpuid->nent * sizeof(struct kvm_cpuid_entry2));
	if (s->have_tsc_khz) {
		uint8_t k[4];
		put_le32(k, s->tsc_khz);
		vsv_put(w, VSV_VCPU_TSC_KHZ, i, k, 4);
	}
	size_t n = 4 + (size_t)s->nmsrs * 16;
	uint8_t *mb = calloc(1, n);
	FUZZ_ASSERT(mb != NULL);
	put_le32(mb, s->nmsrs);
	for (uint32_t k = 0; k < s->nmsrs; k++) {
		put_le32(mb + 4 + 16 * (size_t)k, s->msrs[k].index);
		put_le64(mb + 12 + 16 * (size_t)k, s->msrs[k].value);
	}
	vsv_put(w, VSV_VCPU_MSRS, i, mb, n);
	free(mb);
}

static int zeros(const uint8_t *p, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (p[k])
			return 0;
	return 1;
}

static void check_decoded(const struct vsv_reader *r, unsigned i, size_t xmax,
			  const struct vcpu_state *s)
{
	const void *p;
	size_t n;

	if (s->cpuid) {
		FUZZ_ASSERT(vsv_get(r, VSV_VCPU_CPUID, i, &p, &n));
		FUZZ_ASSERT(s->cpuid->nent <= VCPU_MAX_CPUID);
		FUZZ_ASSERT(n == s->cpuid->nent * sizeof(struct kvm_cpuid_entry2));
		FUZZ_ASSERT(n == 0 || memcmp(p, s->cpuid->entries, n) == 0);
	} else {
		FUZZ_ASSERT(!vsv_get(r, VSV_VCPU_CPUID, i, &p, &n));
	}
	if (s->xsave) {
		FUZZ_ASSERT(vsv_get(r, VSV_VCPU_XSAVE, i, &p, &n) && n == s->xsave_len);
		FUZZ_ASSERT(s->xsave_size >= sizeof(struct kvm_xsave));
		FUZZ_ASSERT(s->xsave_size == (xmax > sizeof(struct kvm_xsave) ? xmax
									: sizeof(struct kvm_xsave)));
		FUZZ_ASSERT(s->xsave_len <= s->xsave_size);
		FUZZ_ASSERT(n == 0 || memcmp(p, s->xsave, n) == 0);
		FUZZ_ASSERT(zeros(s->xsave + n, s->xsave_size - n));
	} else {
		FUZZ_ASSERT(!vsv_get(r, VSV_VCPU_XSAVE, i, &p, &n));
		FUZZ_ASSERT(vsv_get(r, VSV_VCPU_FPU, i, &p, &n) && n == sizeof(s->fpu));
	}
	FUZZ_ASSERT(vsv_get(r, VSV_VCPU_MSRS, i, &p, &n));
	FUZZ_ASSERT(n >= 4 && get_le32(p) == s->nmsrs && n == 4 + 16 * (size_t)s->nmsrs);
	FUZZ_ASSERT(s->nmsrs == 0 || s->msrs != NULL);
	if (s->nmsrs) {
		const uint8_t *last = (const uint8_t *)p + 4 + 16 * ((size_t)s->nmsrs - 1);
		FUZZ_ASSERT(s->msrs[s->nmsrs - 1].index == get_le32(last) &&
			    s->msrs[s->nmsrs - 1].value == get_le64(last + 8));
	}
	FUZZ_ASSERT(s->have_tsc_khz ==
		    (vsv_get(r, VSV_VCPU_TSC_KHZ, i, &p, &n) && n == 4));
	FUZZ_ASSERT(s->have_xcrs == (vsv_get(r, VSV_VCPU_XCRS, i, &p, &n) != 0));
}

static void same_state(const struct vcpu_state *a, const struct vcpu_state *b)
{
	FUZZ_ASSERT(memcmp(&a->mp, &b->mp, sizeof(a->mp)) == 0);
	FUZZ_ASSERT(memcmp(&a->regs, &b->regs, sizeof(a->regs)) == 0);
	FUZZ_ASSERT(memcmp(&a->sregs, &b->sregs, sizeof(a->sregs)) == 0);
	FUZZ_ASSERT(memcmp(&a->dregs, &b->dregs, sizeof(a->dregs)) == 0);
	FUZZ_ASSERT(memcmp(&a->lapic, &b->lapic, sizeof(a->lapic)) == 0);
	FUZZ_ASSERT(memcmp(&a->ev, &b->ev, sizeof(a->ev)) == 0);
	FUZZ_ASSERT(!a->cpuid == !b->cpuid);
	if (a->cpuid)
		FUZZ_ASSERT(a->cpuid->nent == b->cpuid->nent &&
			    memcmp(a->cpuid->entries, b->cpuid->entries,
				   a->cpuid->nent * sizeof(struct kvm_cpuid_entry2)) == 0);
	FUZZ_ASSERT(a->have_tsc_khz == b->have_tsc_khz && a->tsc_khz == b->tsc_khz);
	FUZZ_ASSERT(!a->xsave == !b->xsave && a->xsave_len == b->xsave_len &&
		    a->xsave_size == b->xsave_size);
	if (a->xsave)
		FUZZ_ASSERT(memcmp(a->xsave, b->xsave, a->xsave_size) == 0);
	else
		FUZZ_ASSERT(memcmp(&a->fpu, &b->fpu, sizeof(a->fpu)) == 0);
	FUZZ_ASSERT(a->have_xcrs == b->have_xcrs);
	if (a->have_xcrs)
		FUZZ_ASSERT(memcmp(&a->xcrs, &b->xcrs, sizeof(a->xcrs)) == 0);
	FUZZ_ASSERT(a->nmsrs == b->nmsrs);
	for (uint32_t k = 0; k < a->nmsrs; k++)
		FUZZ_ASSERT(a->msrs[k].index == b->msrs[k].index &&
			    a->msrs[k].value == b->msrs[k].value);
}

static void round_trip(const struct vcpu_state *s, unsigned i, size_t xmax)
{
	struct vsv_writer w;
	struct vcpu_state s2;
	struct error e;

	vsv_writer_init(&w, "fuzz");
	encode(s, i, &w);
	vsv_put(&w, VSV_END, 0, NULL, 0);
	FUZZ_ASSERT(!w.failed);
	put_le32(w.buf + 16, w.count);
	struct vsv_reader *r2 = vsv_parse(w.buf, w.len, "re-encoded", &e);
	FUZZ_ASSERT(r2 != NULL);
	FUZZ_ASSERT(vcpu_state_decode(r2, i, xmax, &s2, "re-encoded", &e) == 0);
	same_state(s, &s2);
	vcpu_state_free(&s2);
	vsv_free(r2);
	vsv_writer_release(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct error e;
	struct vsv_reader *r = vsv_parse(data, size, "fuzz.vsv", &e);
	uint32_t cpus[MAX_VCPUS];
	unsigned ncpus = 0;

	if (!r)
		return 0;
	size_t xmax = sizeof(struct kvm_xsave) + (get_le32(data + 20) & 0x3fff);
	for (int k = 0; k < r->nsec && ncpus < MAX_VCPUS; k++) {
		const struct vsv_section *sec = &r->sec[k];
		unsigned j;
		if (sec->type < VSV_VCPU_MPSTATE || sec->type > VSV_VCPU_TSC_KHZ)
			continue;
		for (j = 0; j < ncpus && cpus[j] != sec->instance; j++)
			;
		if (j == ncpus)
			cpus[ncpus++] = sec->instance;
	}
	for (unsigned j = 0; j < ncpus; j++) {
		struct vcpu_state s;
		memset(&e, 0, sizeof(e));
		memset(&s, 0xa5, sizeof(s));
		if (vcpu_state_decode(r, cpus[j], xmax, &s, "fuzz.vsv", &e) < 0) {
			FUZZ_ASSERT(e.code != 0 && e.msg[0] != '\0');
			FUZZ_ASSERT(!s.cpuid && !s.xsave && !s.msrs);
			continue;
		}
		check_decoded(r, cpus[j], xmax, &s);
		round_trip(&s, cpus[j], xmax);
		vcpu_state_free(&s);
		FUZZ_ASSERT(!s.cpuid && !s.xsave && !s.msrs && s.nmsrs == 0);
	}
	vsv_free(r);
	return 0;
}
