/*
 * x86boot.h — the Linux x86 boot protocol pieces vmctl builds (zero page,
 * e820) as pure functions, so tests can check them against a real bzImage
 * without running it. Offsets are those of struct boot_params / setup_header
 * (Documentation/arch/x86/boot.rst).
 */
#ifndef VMSNAP_X86BOOT_H
#define VMSNAP_X86BOOT_H

#include <stdint.h>

#include "error.h"

#define BP_EXT_RAMDISK_IMAGE 0x0c0
#define BP_EXT_RAMDISK_SIZE  0x0c4
#define BP_EXT_CMD_LINE_PTR  0x0c8
#define BP_E820_ENTRIES      0x1e8
#define BP_SETUP_SECTS       0x1f1
#define BP_BOOT_FLAG         0x1fe
#define BP_HEADER            0x202
#define BP_VERSION           0x206
#define BP_TYPE_OF_LOADER    0x210
#define BP_LOADFLAGS         0x211
#define BP_RAMDISK_IMAGE     0x218
#define BP_RAMDISK_SIZE      0x21c
#define BP_HEAP_END_PTR      0x224
#define BP_CMD_LINE_PTR      0x228
#define BP_INITRD_ADDR_MAX   0x22c
#define BP_XLOADFLAGS        0x236
#define BP_CMDLINE_SIZE      0x238
#define BP_KERNEL_ALIGNMENT  0x230
#define BP_PREF_ADDRESS      0x258
#define BP_INIT_SIZE         0x260
#define BP_E820_TABLE        0x2d0

#define LOADED_HIGH   0x01
#define CAN_USE_HEAP  0x80
#define XLF_KERNEL_64 0x01

#define E820_RAM      1
#define E820_RESERVED 2

struct bzimage_info {
	uint16_t version;
	uint16_t xloadflags;
	unsigned setup_sects;
	uint64_t setup_len;      /* bytes before the protected-mode code */
	unsigned header_end;     /* end of the setup header in the image */
	uint32_t initrd_addr_max;
	uint32_t cmdline_size;
	uint32_t init_size;
	uint32_t kernel_alignment;
	uint64_t pref_address;
};

/* Where the decompressed kernel ends in guest memory (its initrd goes above):
 * it runs at max(load rounded up to kernel_alignment, pref_address). */
uint64_t x86_bzimage_kernel_end(const struct bzimage_info *bi, uint64_t load, uint64_t pm_len);

struct e820_entry {
	uint64_t addr, size;
	uint32_t type;
};

/* Check and decode a bzImage's setup header (boot protocol ≥ 2.12, 64-bit). */
int x86_bzimage_parse(const uint8_t *img, uint64_t len, struct bzimage_info *bi,
		      const char *what, struct error *err);
/* The e820 map vmctl gives a guest of ram_size bytes (n ≤ 8 entries). */
void x86_e820(uint64_t ram_size, struct e820_entry *e, int *n);
/* Fill the 4096-byte zero page (img/bi NULL for an ELF kernel). */
int x86_build_zero_page(uint8_t *zp, const uint8_t *img, uint64_t img_len,
			const struct bzimage_info *bi, uint64_t ram_size, uint64_t cmdline_gpa,
			uint32_t cmdline_len, uint64_t initrd_gpa, uint64_t initrd_len);
/* Where the initrd goes: highest page below limit, not under floor; 0 if none. */
uint64_t x86_initrd_addr(uint64_t initrd_len, uint64_t limit, uint64_t floor);

#endif
