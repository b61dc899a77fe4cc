/*
 * kernel.c — the ring-0 part of the test guest: IDT, TSS, PIC/PIT, the trap
 * handler (service calls from ring 3, emulation of ring-3 port I/O should a
 * host honour neither IOPL=3 nor the TSS I/O bitmap, keyboard interrupt,
 * panics) and AP start-up.
 *
 * On nested kvm_pvm hosts every instruction here is emulated (~1 µs each):
 * keep it short. All work that can run in ring 3 does.
 */
#include "guest.h"

struct tss {
	uint32_t reserved0;
	uint64_t rsp0, rsp1, rsp2;
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
	uint8_t iomap[8192 + 1];         /* I/O permission bitmap: 0 = allowed */
} __attribute__((packed));

struct gate {
	uint16_t off0, sel;
	uint8_t ist, type;
	uint16_t off1;
	uint32_t off2, zero;
};

extern uint64_t gdt[GDT_ENTRIES];
extern const uint64_t isr_table[32], isr_kbd;
extern char isr_timer[], isr_spurious[];

static struct gate idt[256] __attribute__((aligned(16)));
static struct tss tss[MAXCPU] __attribute__((aligned(16)));
static uint8_t kstack[MAXCPU][KSTACK_SIZE] __attribute__((aligned(16)));
uint8_t bsp_kstack[KSTACK_SIZE] __attribute__((aligned(16)));
uint8_t bsp_ustack[USTACK_SIZE] __attribute__((aligned(16)));
static uint8_t ap_ustack[MAXCPU][AP_USTACK_SIZE] __attribute__((aligned(16)));

/* shared with ring 3 */
volatile uint64_t ticks;
struct percpu_counter cpu_counter[MAXCPU];
volatile uint8_t kbd_buf[64];
volatile uint32_t kbd_head;
volatile uint64_t pio_emulated, svc_calls, irq_other;
volatile uint32_t timer_hz;
uint64_t boot_params;
volatile uint64_t ap_boot_stack, ap_boot_cpu;

#define LAPIC 0xfee00000UL

static void set_gate(unsigned v, uint64_t fn, unsigned dpl)
{
	struct gate *g = &idt[v];

	g->off0 = (uint16_t)fn;
	g->sel = KCODE;
	g->ist = 0;
	g->type = (uint8_t)(0x8e | dpl << 5);   /* present, 64-bit interrupt gate */
	g->off1 = (uint16_t)(fn >> 16);
	g->off2 = (uint32_t)(fn >> 32);
	g->zero = 0;
}

static void load_tss(unsigned cpu, uint64_t rsp0)
{
	uint64_t base = (uint64_t)(uintptr_t)&tss[cpu];
	unsigned idx = TSS_SEL0 / 8 + 2 * cpu;

	tss[cpu].rsp0 = rsp0;                      /* without it, the first ring-3 event triple-faults */
	/* Ring-3 port I/O: IOPL=3 in RFLAGS is what real hardware needs, but
	 * kvm_pvm ignores it (#GP) and honours the TSS bitmap instead, so both
	 * are set: every port allowed (bss is zero), then the terminating 0xff. */
	tss[cpu].iomap_base = __builtin_offsetof(struct tss, iomap);
	tss[cpu].iomap[8192] = 0xff;
	gdt[idx] = (sizeof(struct tss) - 1) | (base & 0xffffff) << 16 | 0x89ULL << 40 |
		   ((base >> 24) & 0xff) << 56;
	gdt[idx + 1] = base >> 32;
	__asm__ volatile("ltr %w0" : : "r"(TSS_SEL0 + 16 * cpu));
}

static void load_idt(void)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) p = { sizeof(idt) - 1, (uint64_t)(uintptr_t)idt };

	__asm__ volatile("lidt %0" : : "m"(p));
}

static void kputs(const char *s)
{
	while (*s)
		outb(0x3f8, (uint8_t)*s++);
}

static void kputhex(uint64_t v)
{
	char b[19];

	b[0] = '0';
	b[1] = 'x';
	for (int i = 0; i < 16; i++)
		b[2 + i] = "0123456789abcdef"[(v >> (60 - 4 * i)) & 15];
	b[18] = 0;
	kputs(b);
}

static void __attribute__((noreturn)) panic(struct frame *f, const char *why)
{
	uint64_t cr2;

	__asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
	kputs("\npanic: ");
	kputs(why);
	kputs(" vector ");
	kputhex(f->vec);
	kputs(" err ");
	kputhex(f->err);
	kputs(" rip ");
	kputhex(f->rip);
	kputs(" cs ");
	kputhex(f->cs);
	kputs(" rsp ");
	kputhex(f->rsp);
	kputs(" cr2 ");
	kputhex(cr2);
	kputs("\n");
	outb(0x501, 1);                 /* power off: the host sees the guest stop */
	for (;;)
		__asm__ volatile("cli; hlt");
}

void kinit(void)
{
	for (unsigned v = 0; v < 32; v++)
		set_gate(v, isr_table[v], v == 3 ? 3 : 0);  /* int3 from ring 3: service call */
	set_gate(VEC_TIMER, (uint64_t)(uintptr_t)isr_timer, 0);
	set_gate(VEC_KBD, isr_kbd, 0);
	set_gate(VEC_SPUR_PIC, (uint64_t)(uintptr_t)isr_spurious, 0);
	set_gate(VEC_SPUR_PIC + 8, (uint64_t)(uintptr_t)isr_spurious, 0);
	set_gate(VEC_SPUR_APIC, (uint64_t)(uintptr_t)isr_spurious, 0);
	load_idt();
	load_tss(0, (uint64_t)(uintptr_t)(bsp_kstack + KSTACK_SIZE));
	/* 8259 pair: vectors 0x20/0x28, master in auto-EOI mode (the timer
	 * handler then needs no port write); IRQ 0 (PIT) and 1 (i8042) open */
	outb(0x20, 0x11);
	outb(0xa0, 0x11);
	outb(0x21, VEC_TIMER);
	outb(0xa1, VEC_TIMER + 8);
	outb(0x21, 0x04);
	outb(0xa1, 0x02);
	outb(0x21, 0x03);               /* 8086 mode, auto EOI */
	outb(0xa1, 0x01);
	outb(0x21, 0xfc);
	outb(0xa1, 0xff);
}

uint64_t ap_kinit(uint64_t cpu)
{
	load_tss((unsigned)cpu, (uint64_t)(uintptr_t)(kstack[cpu] + KSTACK_SIZE));
	load_idt();
	return (uint64_t)(uintptr_t)(ap_ustack[cpu] + AP_USTACK_SIZE);
}

static void timer_set(uint32_t hz)
{
	if (!hz) {
		timer_hz = 0;
		outb(0x43, 0x30);       /* mode 0, never reloaded */
		return;
	}
	if (hz < 19)                    /* the 16-bit divisor's limit */
		hz = 19;
	if (hz > 10000)
		hz = 10000;
	timer_hz = hz;
	uint32_t div = (1193182 + hz / 2) / hz;
	outb(0x43, 0x34);               /* channel 0, lo/hi, mode 2 (rate generator) */
	outb(0x40, (uint8_t)div);
	outb(0x40, (uint8_t)(div >> 8));
}

static uint64_t start_ap(uint64_t cpu, uint64_t apic_id)
{
	if (cpu == 0 || cpu >= MAXCPU)
		return (uint64_t)-1;
	ap_boot_cpu = cpu;
	ap_boot_stack = (uint64_t)(uintptr_t)(kstack[cpu] + KSTACK_SIZE);
	/* software-enable our LAPIC (spurious vector 0xff), then INIT, SIPI, SIPI */
	mmio_write32(LAPIC + 0xf0, 0x100 | VEC_SPUR_APIC);
	mmio_write32(LAPIC + 0x310, (uint32_t)apic_id << 24);
	mmio_write32(LAPIC + 0x300, 0x4500);                      /* INIT, assert */
	for (int i = 0; i < 2; i++) {
		mmio_write32(LAPIC + 0x310, (uint32_t)apic_id << 24);
		mmio_write32(LAPIC + 0x300, 0x4600 | (TRAMP_BASE >> 12)); /* SIPI */
	}
	return 0;
}

/* Ring-3 port I/O trapped with #GP (IOPL=3 not honoured): do it here. */
static int emulate_pio(struct frame *f)
{
	const uint8_t *p = (const uint8_t *)(uintptr_t)f->rip;
	unsigned len = 0, size = 4, port;
	int rep = 0;

	for (;;) {
		uint8_t b = p[len];
		if (b == 0x66)
			size = 2;
		else if (b == 0xf3)
			rep = 1;
		else if ((b & 0xf0) != 0x40)
			break;
		len++;
		if (len > 4)
			return 0;
	}
	uint8_t op = p[len++];
	if (op == 0xe4 || op == 0xe6 || op == 0xec || op == 0xee || op == 0x6c || op == 0x6e)
		size = 1;
	if (op >= 0xe4 && op <= 0xe7)
		port = p[len++];
	else
		port = (uint16_t)f->rdx;
	switch (op) {
	case 0xe4: case 0xe5: case 0xec: case 0xed: {
		uint32_t v = size == 1 ? inb((uint16_t)port) : size == 2 ? inw((uint16_t)port)
								: inl((uint16_t)port);
		uint64_t mask = size == 4 ? 0xffffffffULL : ((1ULL << (8 * size)) - 1);
		f->rax = size == 4 ? v : (f->rax & ~mask) | v;
		break;
	}
	case 0xe6: case 0xe7: case 0xee: case 0xef:
		if (size == 1)
			outb((uint16_t)port, (uint8_t)f->rax);
		else if (size == 2)
			outw((uint16_t)port, (uint16_t)f->rax);
		else
			outl((uint16_t)port, (uint32_t)f->rax);
		break;
	case 0x6e:                      /* outsb (only the byte form is used) */
		do {
			if (rep && !f->rcx)
				break;
			outb((uint16_t)port, *(const uint8_t *)(uintptr_t)f->rsi);
			f->rsi++;
		} while (rep && --f->rcx);
		break;
	default:
		return 0;
	}
	f->rip += len;
	pio_emulated++;
	return 1;
}

static void service(struct frame *f)
{
	uint64_t r = 0;

	svc_calls++;
	switch (f->rax) {
	case SVC_NOP: break;
	case SVC_TIMER: timer_set((uint32_t)f->rdi); break;
	case SVC_START_AP: r = start_ap(f->rdi, f->rsi); break;
	case SVC_HALT: __asm__ volatile("sti; hlt; cli"); break;
	case SVC_POWEROFF: outb(0x501, 0); break;

	default: r = (uint64_t)-1; break;
	}
	f->rax = r;
}

void trap(struct frame *f)
{
	int user = (f->cs & 3) == 3;

	switch (f->vec) {
	case 3:                          /* int3 from ring 3 */
		if (user) {
			service(f);
			return;
		}
		break;
	case 6:                          /* ud2 from ring 3: the other service-call door */
		if (user && ((const uint8_t *)(uintptr_t)f->rip)[0] == 0x0f &&
		    ((const uint8_t *)(uintptr_t)f->rip)[1] == 0x0b) {
			f->rip += 2;
			service(f);
			return;
		}
		break;
	case 13:
		if (user && emulate_pio(f))
			return;
		break;
	case VEC_KBD:
		while (inb(0x64) & 1)
			kbd_buf[kbd_head++ % sizeof(kbd_buf)] = inb(0x60);
		return;
	}
	panic(f, user ? "exception in ring 3" : "exception in ring 0");
}
