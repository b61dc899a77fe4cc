/*
 * vsv.c — fuzz target: .vsv state files (vsv_parse) and the device state
 * decoders that need no KVM: devices_restore (UART, i8042, CMOS),
 * pci_restore and virtio_blk_restore on a KVM-less machine, then one queue
 * notification so a restored queue (addresses, sizes, indices from the file)
 * is processed. The vCPU/VM sections go to ioctls and are only looked up
 * (vsv_get/vsv_need), as machine_restore_state does before it calls KVM.
 *
 * Invariant: the sections of a file that parses, written again with
 * vsv_writer, parse to the same sections.
 */
#include <stdlib.h>
#include <string.h>

#include "endian.h"
#include "fuzz_machine.h"
#include "fuzz_util.h"
#include "vsv.h"

static void rewrite_same(const struct vsv_reader *r)
{
	struct vsv_writer w;
	struct error e;

	vsv_writer_init(&w, r->creator);
	for (int i = 0; i < r->nsec; i++)
		vsv_put(&w, r->sec[i].type, r->sec[i].instance, r->sec[i].data, r->sec[i].len);
	vsv_put(&w, VSV_END, 0, NULL, 0);
	FUZZ_ASSERT(!w.failed);
	put_le32(w.buf + 16, w.count);
	struct vsv_reader *r2 = vsv_parse(w.buf, w.len, "rewritten", &e);
	FUZZ_ASSERT(r2 != NULL && r2->nsec == r->nsec);
	for (int i = 0; i < r->nsec; i++)
		FUZZ_ASSERT(r2->sec[i].type == r->sec[i].type &&
			    r2->sec[i].instance == r->sec[i].instance &&
			    r2->sec[i].len == r->sec[i].len &&
			    memcmp(r2->sec[i].data, r->sec[i].data, r->sec[i].len) == 0);
	FUZZ_ASSERT(strcmp(r2->creator, r->creator) == 0);
	vsv_free(r2);
	vsv_writer_release(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct error e;
	struct vsv_reader *r = vsv_parse(data, size, "fuzz.vsv", &e);
	uint8_t tmp[4096];
	const void *p;
	size_t n;

	if (!r)
		return 0;
	rewrite_same(r);
	for (uint32_t t = 0; t <= VSV_DEV_VIRTIO_BLK; t++)
		for (uint32_t i = 0; i < 4; i++)
			if (vsv_get(r, t, i, &p, &n) && n)
				FUZZ_ASSERT((const uint8_t *)p >= data &&
					    (const uint8_t *)p + n <= data + size);
	(void)vsv_need(r, VSV_RAM, 0, tmp, 16, "fuzz.vsv", &e);
	(void)vsv_need(r, VSV_DEV_PCI, 0xffffffffu, tmp, 4, "fuzz.vsv", &e);
	(void)vsv_need(r, VSV_VCPU_REGS, 0, tmp, sizeof(tmp), "fuzz.vsv", &e);

	struct machine *m = fuzz_machine();
	fuzz_machine_reset(m);
	(void)devices_restore(m, r, "fuzz.vsv", &e);
	(void)pci_restore(m, r, "fuzz.vsv", &e);
	if (virtio_blk_restore(m, r, "fuzz.vsv", &e) == 0) {
		uint8_t zero[8] = { 0 };
		fuzz_blk_mmio(m, 0x3000, zero, 2, true); /* notify: process the restored queue */
	}
	vsv_free(r);
	return 0;
}
