/*
 * guest.h — the vmsnap test guest: a tiny ring-0 kernel (kernel.c, entry.S)
 * that runs its workloads in ring 3 (user.c, virtio.c). See README.md.
 *
 * Shared by assembly (entry.S) and C; everything below __ASSEMBLER__ is C.
 */
#ifndef GUEST_H
#define GUEST_H

/* GDT selectors (entry.S builds the table; kernel.c fills the TSS slots) */
#define KCODE    0x08
#define KDATA    0x10
#define UDATA    0x1b            /* index 3, RPL 3 */
#define UCODE    0x23            /* index 4, RPL 3 */
#define TSS_SEL0 0x28            /* 16-byte descriptors from here, one per CPU */
#define MAXCPU   8
#define GDT_ENTRIES (5 + 2 * MAXCPU)

#define KSTACK_SIZE 8192
#define USTACK_SIZE 65536        /* BSP; APs get AP_USTACK_SIZE */
#define AP_USTACK_SIZE 8192

#define USER_RFLAGS 0x3202       /* IOPL=3, IF=1 */

/* vectors */
#define VEC_TIMER    0x20        /* PIC master base: IRQ0 */
#define VEC_KBD      0x21        /* IRQ1 */
#define VEC_SPUR_PIC 0x27        /* IRQ7 (spurious) */
#define VEC_SPUR_APIC 0xff

#define TRAMP_BASE   0x1000      /* AP real-mode trampoline (SIPI vector 1) */

/* ring-3 -> ring-0 service calls: rax = number, rdi/rsi = arguments,
 * raised with int3 (DPL3 gate) or ud2; result in rax */
#define SVC_NOP      0
#define SVC_TIMER    1           /* rdi = Hz (0: stop) */
#define SVC_START_AP 2           /* rdi = CPU index, rsi = LAPIC id */
#define SVC_HALT     3           /* sti; hlt: wait for the next interrupt */
#define SVC_POWEROFF 4

#ifndef __ASSEMBLER__
#include <stddef.h>
#include <stdint.h>

/* ---- trap frame (entry.S trap_common pushes it) ---- */
struct frame {
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp, r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t vec, err;
	uint64_t rip, cs, rflags, rsp, ss;
};

/* ---- state shared between the rings (all RAM is user-accessible) ---- */
struct percpu_counter {
	volatile uint64_t n;
	volatile uint64_t alive;
	uint8_t pad[48];
} __attribute__((aligned(64)));

extern volatile uint64_t ticks;                  /* timer interrupts (BSP) */
extern struct percpu_counter cpu_counter[MAXCPU];
extern volatile uint8_t kbd_buf[64];             /* raw i8042 bytes from IRQ 1 */
extern volatile uint32_t kbd_head;
extern volatile uint64_t pio_emulated;           /* ring-3 port I/O the #GP handler did */
extern volatile uint64_t svc_calls, irq_other;
extern volatile uint32_t timer_hz;
extern uint64_t boot_params;                     /* RSI at entry */
extern volatile uint64_t ap_boot_stack, ap_boot_cpu;
extern char ap_tramp_start[], ap_tramp_end[];
extern char _end[];

/* entry.S */
void enter_user(void (*fn)(uint64_t), uint64_t arg, uint64_t stack_top) __attribute__((noreturn));

/* ring 3 */
void user_main(uint64_t bp) __attribute__((noreturn));
void ap_user_main(uint64_t cpu) __attribute__((noreturn));

/* ---- port I/O (ring 0, and ring 3 with IOPL=3) ---- */
static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint16_t inw(uint16_t port) { uint16_t v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint32_t inl(uint16_t port) { uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }
/* a whole buffer to one port: KVM hands it to the VMM in one exit */
static inline void outsb(uint16_t port, const void *p, size_t n)
{
	__asm__ volatile("rep outsb" : "+S"(p), "+c"(n) : "d"(port) : "memory");
}

static inline uint64_t svc(uint64_t n, uint64_t a, uint64_t b)
{
	uint64_t r;
	__asm__ volatile("int3" : "=a"(r) : "a"(n), "D"(a), "S"(b) : "memory");
	return r;
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

#define mmio_read32(a)     (*(volatile uint32_t *)(uintptr_t)(a))
#define mmio_write32(a, v) (*(volatile uint32_t *)(uintptr_t)(a) = (v))
#define mmio_read16(a)     (*(volatile uint16_t *)(uintptr_t)(a))
#define mmio_write16(a, v) (*(volatile uint16_t *)(uintptr_t)(a) = (v))
#define mmio_read8(a)      (*(volatile uint8_t *)(uintptr_t)(a))
#define mmio_write8(a, v)  (*(volatile uint8_t *)(uintptr_t)(a) = (v))
#define barrier()          __asm__ volatile("" ::: "memory")

/* ---- lib.c: freestanding helpers ---- */
void *memcpy(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int streq(const char *a, const char *b);

/* a line being built for the UART */
struct line {
	char s[4608];          /* room for the banner with a 4 KiB cmdline */
	unsigned n;
};
void l_str(struct line *l, const char *s);
void l_chr(struct line *l, char c);
void l_dec(struct line *l, uint64_t v);
void l_hex(struct line *l, uint64_t v, int digits);   /* digits 0: as few as needed */
void l_hexbytes(struct line *l, const uint8_t *p, unsigned n);

/* seeded stream (= test-tool pattern) and FNV-1a 64 */
static inline uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}
#define FNV_INIT 0xcbf29ce484222325ULL
uint64_t fnv1a(uint64_t h, const uint8_t *p, size_t n);

/* ---- virtio.c (ring 3) ---- */
int vblk_init(void);                  /* 1 found, 0 none, <0 broken */
extern uint64_t vblk_sectors;
extern int vblk_present, vblk_ro, vblk_has_flush;
extern const char *vblk_error;        /* why vblk_init failed */
/* one request; buf is guest-physical = virtual; returns 0 or the status byte / -1 */
int vblk_rw(int write, uint64_t lba, void *buf, uint32_t sectors);
int vblk_flush(void);
extern uint64_t vblk_mmio_count;

#endif /* __ASSEMBLER__ */
#endif
