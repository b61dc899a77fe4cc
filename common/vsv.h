/*
 * vsv.h — the .vsv state file: a VM's CPU, interrupt-controller, timer and
 * device state (RAM is in the .bin beside it). Little-endian throughout:
 *
 *   header (64 bytes): "VMSNAPSV" | major u16 | minor u16 | header size u32 |
 *                      section count u32 | reserved u32 | creator (40 bytes, NUL-padded)
 *   section (24-byte head + payload, padded to 8):
 *                      type u32 | instance u32 | length u64 | crc32c u32 | reserved u32
 *                      payload[length]
 *   the last section has type VSV_END and no payload.
 *
 * A reader refuses an unknown major version or a bad CRC (EXIT_DATAERR, the
 * message says which section); unknown section types of a known major are
 * skipped, so minors can add sections.
 *
 *   struct vsv_writer w; vsv_writer_init(&w);
 *   vsv_put(&w, VSV_VCPU_REGS, cpu, &regs, sizeof(regs));
 *   vsv_writer_save(&w, "saved.vsv", &err);   atomic replace, fsync
 *   vsv_writer_release(&w);
 *
 *   struct vsv_reader *r = vsv_load("saved.vsv", &err);
 *   const void *p; size_t n;
 *   vsv_get(r, VSV_VCPU_REGS, cpu, &p, &n)   → 1 found, 0 missing
 *   vsv_free(r);
 */
#ifndef VMSNAP_VSV_H
#define VMSNAP_VSV_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define VSV_MAGIC "VMSNAPSV"
#define VSV_MAJOR 1
#define VSV_MINOR 0
#define VSV_HEADER_SIZE 64
#define VSV_SECTION_HEAD 24
#define VSV_MAX_SECTION (64u << 20)

enum vsv_type {
	VSV_END = 0,
	VSV_CONFIG = 1,        /* the VM identity the state belongs to (text) */
	VSV_RAM = 2,           /* machine: RAM size u64, vCPU count u64 */
	VSV_VM_IRQCHIP = 10,   /* instance 0..2: PIC master, PIC slave, IOAPIC */
	VSV_VM_PIT2 = 11,
	VSV_VM_CLOCK = 12,
	VSV_VCPU_MPSTATE = 20,
	VSV_VCPU_REGS = 21,
	VSV_VCPU_SREGS = 22,
	VSV_VCPU_XSAVE = 23,
	VSV_VCPU_FPU = 24,
	VSV_VCPU_XCRS = 25,
	VSV_VCPU_DEBUGREGS = 26,
	VSV_VCPU_LAPIC = 27,
	VSV_VCPU_MSRS = 28,    /* count u32, then (index u32, reserved u32, value u64)* */
	VSV_VCPU_EVENTS = 29,
	VSV_VCPU_CPUID = 30,
	VSV_VCPU_TSC_KHZ = 31,
	VSV_DEV_UART = 40,
	VSV_DEV_I8042 = 41,
	VSV_DEV_CMOS = 42,
	VSV_DEV_PCI = 43,      /* instance = slot: 256 bytes of config space */
	VSV_DEV_VIRTIO_BLK = 44,
};

uint32_t crc32c(uint32_t crc, const void *buf, size_t len);

struct vsv_writer {
	uint8_t *buf;
	size_t len, cap;
	uint32_t count;
	int failed;
};

void vsv_writer_init(struct vsv_writer *w, const char *creator);
void vsv_put(struct vsv_writer *w, uint32_t type, uint32_t instance, const void *data,
	     size_t len);
/* Append the end marker and write the file atomically (0600). */
int vsv_writer_save(struct vsv_writer *w, const char *path, struct error *err);
void vsv_writer_release(struct vsv_writer *w);

struct vsv_section {
	uint32_t type, instance;
	const uint8_t *data;
	size_t len;
};

struct vsv_reader {
	uint8_t *buf;
	size_t len;
	uint16_t major, minor;
	char creator[41];
	struct vsv_section *sec;
	int nsec;
};

struct vsv_reader *vsv_parse(const uint8_t *buf, size_t len, const char *what,
			     struct error *err);
struct vsv_reader *vsv_load(const char *path, struct error *err);
/* 1 and the payload when present, 0 when not. */
int vsv_get(const struct vsv_reader *r, uint32_t type, uint32_t instance, const void **data,
	    size_t *len);
/* As vsv_get, but a missing section or one of another length is an error. */
int vsv_need(const struct vsv_reader *r, uint32_t type, uint32_t instance, void *out,
	     size_t len, const char *what, struct error *err);
void vsv_free(struct vsv_reader *r);

#endif
