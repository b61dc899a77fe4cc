/*
 * machine.h — internals shared by the VMM's modules (kvm.c core, x86boot.c,
 * devices.c, pci.c, virtio_blk.c). Not for cmd/: use kvm.h.
 */
#ifndef VMSNAP_MACHINE_H
#define VMSNAP_MACHINE_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "kvm.h"

#define MACHINE_MAX_IO 32

struct machine;

typedef void (*io_fn)(void *dev, uint64_t addr, uint8_t *data, uint32_t len, bool is_write);

struct io_range {
	uint64_t base, len;
	void *dev;
	io_fn fn;
};

struct uart;
struct pci_bus;
struct virtio_blk;

struct machine {
	int kvm_fd, vm_fd;
	unsigned nvcpus;
	int vcpu_fd[MACHINE_MAX_VCPUS];
	struct kvm_run *run[MACHINE_MAX_VCPUS];
	size_t run_size;
	pthread_t thread[MACHINE_MAX_VCPUS];
	bool thread_started[MACHINE_MAX_VCPUS];

	uint8_t *ram;
	uint64_t ram_size;
	uint64_t lowmem;            /* RAM below the PCI hole; the rest is at 4 GiB */
	uint64_t entry;             /* kernel entry point */

	struct io_range pio[MACHINE_MAX_IO], mmio[MACHINE_MAX_IO];
	int npio, nmmio;
	pthread_mutex_t dev_lock;   /* devices are called with it held */

	pthread_mutex_t lock;       /* run state below */
	pthread_cond_t cond;
	enum machine_exit exit;
	bool pause_req;
	unsigned paused_vcpus;
	unsigned running_vcpus;
	char crash[256];

	struct uart *uart;
	struct pci_bus *pci;
	struct virtio_blk *blk[MACHINE_MAX_DISKS];
	int nblk;
	uint8_t kbd_pending_cad;   /* i8042: Ctrl-Alt-Del requested */

	struct machine_opts opts;
};

/* Host address of guest range [gpa, gpa+len) or NULL when not all RAM. */
void *gpa_to_hva(struct machine *m, uint64_t gpa, uint64_t len);
int machine_add_pio(struct machine *m, uint64_t base, uint64_t len, void *dev, io_fn fn);
int machine_add_mmio(struct machine *m, uint64_t base, uint64_t len, void *dev, io_fn fn);
void machine_irq_line(struct machine *m, unsigned gsi, int level);
void machine_log(struct machine *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Set the exit reason (first one wins) and wake machine_wait(). */
void machine_exit_with(struct machine *m, enum machine_exit why);

int machine_restore_state(struct machine *m, const struct vsv_reader *r, const char *what,
			  struct error *err);

/*
 * One vCPU's state as read from a .vsv (kvm_state.c), before any KVM ioctl.
 * vcpu_state_decode: the sections of vCPU i, every size checked (xsave_max:
 * the XSAVE area this host's KVM takes, at least a struct kvm_xsave); on
 * error (EXIT_DATAERR, EXIT_UNAVAILABLE for an XSAVE area too big, EXIT_FAIL)
 * nothing is left allocated. vcpu_state_free releases a decoded state.
 */
#define VCPU_MAX_CPUID 256
struct vcpu_msr {
	uint32_t index;
	uint64_t value;
};
struct vcpu_state {
	struct kvm_mp_state mp;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_debugregs dregs;
	struct kvm_lapic_state lapic;
	struct kvm_vcpu_events ev;
	struct kvm_cpuid2 *cpuid;  /* NULL: no CPUID section; else nent <= VCPU_MAX_CPUID */
	bool have_tsc_khz;         /* a 4-byte TSC rate section (other lengths are ignored) */
	uint32_t tsc_khz;
	uint8_t *xsave;            /* xsave_size bytes, the first xsave_len from the file; */
	size_t xsave_len, xsave_size; /* NULL: no XSAVE section, fpu holds the FPU section */
	struct kvm_fpu fpu;
	bool have_xcrs;
	struct kvm_xcrs xcrs;
	struct vcpu_msr *msrs;     /* in file order (the TSC deadline among them) */
	uint32_t nmsrs;
};
int vcpu_state_decode(const struct vsv_reader *r, unsigned i, size_t xsave_max,
		      struct vcpu_state *out, const char *what, struct error *err);
void vcpu_state_free(struct vcpu_state *s);

/* x86boot.c: load the kernel and prepare boot state of every vCPU. */
int x86_load_kernel(struct machine *m, struct error *err);
int x86_setup_vcpu(struct machine *m, unsigned cpu, struct error *err);
int x86_setup_cpuid(struct machine *m, unsigned cpu, struct error *err);
int x86_write_mptable(struct machine *m, struct error *err);

/* devices.c: UART, i8042, power-off and the ports Linux pokes at. */
int devices_init(struct machine *m, struct error *err);
void devices_free(struct machine *m);
void uart_input(struct uart *u, const uint8_t *buf, size_t len);

/* pci.c */
struct pci_device {
	uint8_t cfg[256];
	uint32_t bar_size[6];
	uint32_t bar_addr[6];       /* where the VMM placed each BAR */
	void *dev;
	/* BAR relocations by the guest are not supported: BARs are fixed. */
};
int pci_init(struct machine *m, struct error *err);
/* Register a function; returns its device number (slot) or -1. */
int pci_add(struct machine *m, struct pci_device *d);
void pci_free(struct machine *m);
/* Next free MMIO window of `size` bytes (aligned) for a BAR. */
uint64_t pci_alloc_mmio(struct machine *m, uint64_t size);
/* The GSI the slot's INTA# is routed to (also in the MP table). */
unsigned pci_irq_for_slot(unsigned slot);

/* state save/restore of the device models (kvm_state.c drives them) */
struct vsv_writer;
struct vsv_reader;
int devices_save(struct machine *m, struct vsv_writer *w);
int devices_restore(struct machine *m, const struct vsv_reader *r, const char *what,
		    struct error *err);
int pci_save(struct machine *m, struct vsv_writer *w);
int pci_restore(struct machine *m, const struct vsv_reader *r, const char *what,
		struct error *err);
int virtio_blk_save(struct machine *m, struct vsv_writer *w);
int virtio_blk_restore(struct machine *m, const struct vsv_reader *r, const char *what,
		       struct error *err);
void virtio_blk_set_disk(struct machine *m, int i, struct disk *d);

/* virtio_blk.c */
int virtio_blk_add(struct machine *m, struct disk *d, struct error *err);
void virtio_blk_free_all(struct machine *m);

#endif
