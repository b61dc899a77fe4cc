/*
 * kvm.h — a small x86-64 virtual machine monitor on <linux/kvm.h>.
 *
 *   struct machine_opts o = { .mem_bytes = 256 << 20, .vcpus = 2, .kernel = "k.elf", ... };
 *   struct machine *m = machine_create(&o, &err);    VM, irqchip, PIT, RAM, vCPUs,
 *                                                    devices, kernel loaded
 *   machine_start(m, &err);                          vCPU threads run
 *   enum machine_exit why = machine_wait(m);         poweroff, reset, crash, stop
 *   machine_pause(m); machine_resume(m);             from any thread
 *   machine_destroy(m);
 *
 * Devices: 8250 UART at 0x3f8 (IRQ 4), i8042 (reset through 0x64 <- 0xfe),
 * a power-off port, PCI conf1 at 0xcf8 with a host bridge and one modern
 * virtio-blk function per disk, PIT/PIC/IOAPIC/LAPIC in the kernel.
 * Guest entry (DESIGN §9): 64-bit mode, identity-mapped low 4 GiB, flat GDT,
 * interrupts off, RSI = zero page (boot_params) with e820, cmdline, initrd.
 */
#ifndef VMSNAP_KVM_H
#define VMSNAP_KVM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "disk.h"
#include "error.h"

#define MACHINE_MAX_VCPUS 64
#define MACHINE_MAX_DISKS 16

/* guest physical layout */
#define GPA_ZERO_PAGE   0x7000ULL
#define GPA_GDT         0x500ULL
#define GPA_PML4        0x9000ULL       /* PML4, PDPT, 4 page directories */
#define GPA_CMDLINE     0x20000ULL
#define GPA_CMDLINE_MAX 4096
#define GPA_BASE_END    0x9fc00ULL      /* end of base memory (639 KiB) */
#define GPA_MPTABLE     0xf0000ULL      /* in the BIOS area, reserved in e820 */
#define GPA_MPTABLE_MAX 0x10000ULL
#define GPA_EBDA_END    0x100000ULL
#define GPA_KERNEL      0x100000ULL     /* bzImage protected-mode code */
#define GPA_PCI_HOLE    0xc0000000ULL   /* 3 GiB..4 GiB: no RAM */
#define GPA_PCI_MMIO    0xe0000000ULL   /* BARs are placed from here */
#define GPA_4G          0x100000000ULL

/* I/O ports of our own devices */
#define PORT_POWEROFF   0x501           /* any byte written powers the guest off */

enum machine_exit {
	MACHINE_RUNNING = 0,
	MACHINE_POWEROFF,    /* guest powered off */
	MACHINE_RESET,       /* guest asked for a reset (i8042, triple fault) */
	MACHINE_CRASH,       /* KVM could not go on (internal error, bad exit) */
	MACHINE_STOPPED,     /* machine_stop() from the host */
};

struct machine;

/* Serial output sink and input source (the VMM connects these). */
typedef void (*console_out_fn)(void *ctx, const uint8_t *buf, size_t len);

struct machine_opts {
	uint64_t mem_bytes;
	unsigned vcpus;
	const char *kernel;        /* bzImage or ELF64 */
	const char *initrd;        /* optional */
	const char *cmdline;       /* optional */
	struct disk *disks[MACHINE_MAX_DISKS]; /* owned by the caller */
	int ndisks;
	console_out_fn console_out;
	void *console_ctx;
	void (*log)(void *ctx, const char *msg); /* VMM diagnostics (ignored guest I/O etc.) */
	void *log_ctx;
	/* resume instead of boot: RAM mapped privately from ram_file, state from restore */
	const char *ram_file;
	const struct vsv_reader *restore;
	const char *restore_name;   /* the .vsv's name for messages */
};

struct machine *machine_create(const struct machine_opts *o, struct error *err);
int machine_start(struct machine *m, struct error *err);
/* Block until the machine stops; why it stopped. */
enum machine_exit machine_wait(struct machine *m);
/* Ask the machine to stop (from any thread or a signal-safe context: no). */
void machine_stop(struct machine *m, enum machine_exit why);
/* Stop every vCPU at an instruction boundary / let them go on. */
int machine_pause(struct machine *m, struct error *err);
void machine_resume(struct machine *m);
bool machine_paused(const struct machine *m);
/* Feed bytes to the guest's serial port (console input). */
void machine_console_input(struct machine *m, const uint8_t *buf, size_t len);
/* Queue Ctrl-Alt-Del style graceful shutdown request (i8042). */
void machine_request_shutdown(struct machine *m);
/* Detail of a crash exit ("KVM_EXIT_INTERNAL_ERROR suberror 1 at rip ..."). */
const char *machine_crash_reason(const struct machine *m);
void machine_destroy(struct machine *m);

/*
 * State (kvm_state.c). machine_save_state: the machine must be paused; all
 * vCPU, VM and device sections plus `config` (the VM identity, text) go to w.
 * machine_save_ram: RAM to `path` (sized to RAM, zero pages are holes);
 * with cow, a forked child writes it from a copy-on-write view while the
 * caller resumes the guest (*child is its pid; waitpid() it: exit 0 = done);
 * without (or when fork fails, *child = 0) it is written before returning.
 */
struct vsv_writer;
struct vsv_reader;
int machine_save_state(struct machine *m, const char *config, struct vsv_writer *w,
		       struct error *err);
int machine_save_ram(struct machine *m, const char *path, bool cow, pid_t *child,
		     uint64_t *written, struct error *err);
/* Tell kvmclock guests they were paused (before resuming). */
void machine_clock_ctrl(struct machine *m);
/* Swap the disk behind virtio-blk device i (machine paused). */
void machine_set_disk(struct machine *m, int i, struct disk *d);

/* 1 if /dev/kvm can create a VM here, else 0 with err saying why (69). */
int kvm_available(struct error *err);

#endif
