/*
 * virtio_blk.c — fuzz target: the virtio-blk device model (common/
 * virtio_blk.c) driven the way a guest drives it, without KVM.
 *
 * Input: a count byte K (0..32), K register accesses of 8 bytes each
 * (offset u16 in BAR0, size code u8: 1/2/4/8 bytes, direction u8: bit 0 set
 * = write, value u32 little-endian), then guest RAM (64 KiB: the low half at
 * guest-physical 0, the high half at 4 GiB). A write of 0 at 0x3000 is the
 * queue notification: descriptor tables, the available ring and request
 * buffers all come from the fuzzed RAM, and requests read and write a 1 MiB
 * raw disk. Anything the guest controls must be checked against RAM and the
 * disk; ASan reports any access outside them.
 */
#include <string.h>

#include "endian.h"
#include "fuzz_machine.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t lens[4] = { 1, 2, 4, 8 };
	struct machine *m = fuzz_machine();
	size_t k, ops;

	if (size < 1)
		return 0;
	fuzz_machine_reset(m);
	ops = data[0] % 33;
	k = 1;
	if (size - k < ops * 8)
		ops = (size - k) / 8;
	size_t ram_at = k + ops * 8;
	size_t ram_len = size - ram_at < m->ram_size ? size - ram_at : m->ram_size;
	memcpy(m->ram, data + ram_at, ram_len);
	for (size_t i = 0; i < ops; i++) {
		const uint8_t *op = data + k + 8 * i;
		uint8_t val[8] = { 0 };
		uint32_t len = lens[op[2] & 3];
		put_le32(val, get_le32(op + 4));
		fuzz_blk_mmio(m, get_le16(op) & 0x3fff, val, len, op[3] & 1);
	}
	return 0;
}
