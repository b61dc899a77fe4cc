/*
 * fuzz_machine.h — a struct machine without KVM for the device fuzz targets:
 * guest RAM is a malloc'ed buffer (low half below the PCI hole, high half at
 * 4 GiB, so both gpa_to_hva paths are used), the UART/i8042/CMOS, the PCI
 * bus and one virtio-blk function backed by a raw temporary file. Nothing
 * here opens /dev/kvm: the vCPU and VM file descriptors are -1, so interrupt
 * line changes fail quietly (EBADF, logged to nowhere).
 */
#ifndef VMSNAP_FUZZ_MACHINE_H
#define VMSNAP_FUZZ_MACHINE_H

#include "machine.h"

#define FUZZ_RAM_SIZE (64u << 10)
#define FUZZ_DISK_SIZE (1u << 20)

/* Set up once per process; fuzz_machine_reset() before each input returns
 * the devices and disk to power-on state with RAM zeroed. */
struct machine *fuzz_machine(void);
void fuzz_machine_reset(struct machine *m);
/* Guest-physical address of RAM byte i (low half at 0, high half at 4 GiB). */
uint64_t fuzz_ram_gpa(size_t i);
/* An MMIO access at `off` in the virtio-blk BAR0 (data: 8 bytes, len <= 8). */
void fuzz_blk_mmio(struct machine *m, uint64_t off, uint8_t *data, uint32_t len, bool is_write);

#endif
