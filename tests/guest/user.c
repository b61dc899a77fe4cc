/*
 * user.c — everything the guest does in ring 3 (native speed on nested
 * hosts): boot information, the command loop on the UART, memory and disk
 * patterns, the counters. Port I/O works from here because the kernel allows
 * every port (IOPL=3 and an all-zero TSS I/O bitmap); were both ignored, the
 * kernel's #GP handler would do each access for us (slowly).
 */
#include "guest.h"

#define VERSION     "1"
#define DEFAULT_HZ  250
#define FILL_BASE   (16ULL << 20)
#define MAP_LIMIT   (8ULL << 30)         /* entry.S maps 0..8 GiB */
#define IOBUF_SIZE  (1u << 20)
#define UART        0x3f8
#define POLL_TSC    (1u << 21)           /* UART poll period: ~1 ms of TSC */

static uint8_t iobuf[IOBUF_SIZE] __attribute__((aligned(4096)));

struct region {
	uint64_t start, end;
};
static struct region ram[16];
static int nram;
static uint64_t mem_bytes;
static unsigned ncpus = 1, next_ap;
static uint8_t apic_id[MAXCPU];
static const char *cmdline = "";

/* ---- output ---- */

static void reply(struct line *l)
{
	if (l->n >= sizeof(l->s))
		l->n = sizeof(l->s) - 1;
	l->s[l->n++] = '\n';
	outsb(UART, l->s, l->n);       /* from ring 3 still one exit per byte here */
	l->n = 0;
}

static void say(const char *s)
{
	struct line l = { .n = 0 };

	l_str(&l, s);
	reply(&l);
}

/* ---- numbers ---- */

/* like strtoull(s, NULL, base0 ? 0 : 10) plus "0x", whole string, no overflow */
static int parse_u64(const char *s, uint64_t *out, int base0)
{
	uint64_t v = 0, base = 10;

	if (!s || !*s)
		return -1;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
		if (!*s)
			return -1;
	} else if (base0 && s[0] == '0' && s[1]) {
		base = 8;
	}
	for (; *s; s++) {
		uint64_t d;
		if (*s >= '0' && *s <= '9')
			d = (uint64_t)(*s - '0');
		else if (*s >= 'a' && *s <= 'f')
			d = (uint64_t)(*s - 'a' + 10);
		else if (*s >= 'A' && *s <= 'F')
			d = (uint64_t)(*s - 'A' + 10);
		else
			return -1;
		if (d >= base || v > (UINT64_MAX - d) / base)
			return -1;
		v = v * base + d;
	}
	*out = v;
	return 0;
}

/* ---- boot information ---- */

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static void read_boot_params(uint64_t bp)
{
	const uint8_t *zp = (const uint8_t *)(uintptr_t)bp;
	uint64_t cl = get32(zp + 0x228) | (uint64_t)get32(zp + 0xc8) << 32;
	unsigned n = zp[0x1e8];
	uint64_t low_top = 0, high = 0;

	if (cl)
		cmdline = (const char *)(uintptr_t)cl;
	if (n > 128)
		n = 128;
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *e = zp + 0x2d0 + 20 * i;
		uint64_t a = get64(e), len = get64(e + 8);
		if (get32(e + 16) != 1 || !len)
			continue;
		if (a + len <= (4ULL << 30)) {
			if (a + len > low_top)
				low_top = a + len;
		} else {
			high += len;
		}
		if (nram < 16) {
			int j = nram++;
			while (j > 0 && ram[j - 1].start > a) {   /* keep them sorted */
				ram[j] = ram[j - 1];
				j--;
			}
			ram[j] = (struct region){ a, a + len };
		}
	}
	/* the size the VMM was asked for: top of low RAM plus RAM above 4 GiB */
	mem_bytes = low_top + high;
}

static const uint8_t *find_mp(uint64_t from, uint64_t to)
{
	for (uint64_t a = from; a + 16 <= to; a += 16) {
		const uint8_t *p = (const uint8_t *)(uintptr_t)a;
		uint8_t sum = 0;
		if (p[0] != '_' || p[1] != 'M' || p[2] != 'P' || p[3] != '_')
			continue;
		for (int i = 0; i < 16; i++)
			sum += p[i];
		if (!sum)
			return p;
	}
	return 0;
}

static void read_mp_table(void)
{
	const uint8_t *fp = find_mp(0x9fc00, 0xa0000), *cfg;

	if (!fp)
		fp = find_mp(0xf0000, 0x100000);
	if (!fp || !get32(fp + 4))
		return;
	cfg = (const uint8_t *)(uintptr_t)get32(fp + 4);
	if (cfg[0] != 'P' || cfg[1] != 'C' || cfg[2] != 'M' || cfg[3] != 'P')
		return;
	unsigned count = (unsigned)(cfg[34] | cfg[35] << 8), n = 0;
	uint8_t bsp = 0;
	const uint8_t *p = cfg + 44;
	for (unsigned i = 0; i < count; i++) {
		if (p[0] == 0) {
			if ((p[3] & 1) && n < MAXCPU) {
				if (p[3] & 2)
					bsp = p[1];
				apic_id[n++] = p[1];
			}
			p += 20;
		} else {
			p += 8;
		}
	}
	if (!n)
		return;
	/* the BSP first, the others in table order */
	for (unsigned i = 0; i < n; i++)
		if (apic_id[i] == bsp) {
			apic_id[i] = apic_id[0];
			apic_id[0] = bsp;
			break;
		}
	ncpus = n;
}

static const char *cmdline_opt(const char *name)
{
	size_t n = strlen(name);

	for (const char *p = cmdline; *p;) {
		while (*p == ' ')
			p++;
		if (!memcmp(p, name, n) && p[n] == '=')
			return p + n + 1;
		while (*p && *p != ' ')
			p++;
	}
	return 0;
}

static int cmdline_flag(const char *name)
{
	size_t n = strlen(name);

	for (const char *p = cmdline; *p;) {
		while (*p == ' ')
			p++;
		if (!memcmp(p, name, n) && (p[n] == ' ' || !p[n]))
			return 1;
		while (*p && *p != ' ')
			p++;
	}
	return 0;
}

static uint64_t cmdline_num(const char *name, uint64_t def)
{
	const char *v = cmdline_opt(name);
	char b[24];
	unsigned i = 0;
	uint64_t r;

	if (!v)
		return def;
	while (v[i] && v[i] != ' ' && i < sizeof(b) - 1) {
		b[i] = v[i];
		i++;
	}
	b[i] = 0;
	return parse_u64(b, &r, 0) ? def : r;
}

/* ---- counters, CPUs ---- */

/* The BSP's ring-3 loop: count for ~1 ms of TSC (2^21 cycles), then the
 * caller polls the UART. The unsigned difference also ends the wait when the
 * TSC jumps backwards (restored on another host). */
static void count_a_while(void)
{
	uint64_t t0 = rdtsc();

	do {
		for (int i = 0; i < 1024; i++)
			cpu_counter[0].n++;
	} while (rdtsc() - t0 < POLL_TSC);
}

static void start_next_ap(void)
{
	if (next_ap >= ncpus || (next_ap > 1 && !cpu_counter[next_ap - 1].alive))
		return;
	memcpy((void *)TRAMP_BASE, ap_tramp_start, (size_t)(ap_tramp_end - ap_tramp_start));
	svc(SVC_START_AP, next_ap, apic_id[next_ap]);
	next_ap++;
}

void ap_user_main(uint64_t cpu)
{
	cpu_counter[cpu].alive = 1;
	for (;;)
		cpu_counter[cpu].n++;
}

/* ---- memory patterns ---- */

/* Fill or check `mib` MiB of RAM from 16 MiB on, following the e820 map (the
 * PCI hole is skipped), with the seeded stream. 0 ok, 1 mismatch, -1 too big. */
static int mem_pattern(uint64_t seed, uint64_t mib, int check, uint64_t *bad)
{
	uint64_t left = mib << 20, st = seed;

	if (mib > (1ULL << 40))
		return -1;
	for (int i = 0; i < nram && left; i++) {
		uint64_t lo = ram[i].start > FILL_BASE ? ram[i].start : FILL_BASE;
		uint64_t hi = ram[i].end < MAP_LIMIT ? ram[i].end : MAP_LIMIT;
		lo = (lo + 7) & ~7ULL;
		hi &= ~7ULL;
		if (lo >= hi)
			continue;
		uint64_t n = hi - lo < left ? hi - lo : left;
		uint64_t *p = (uint64_t *)(uintptr_t)lo, *e = p + n / 8;
		if (check) {
			for (; p < e; p++) {
				uint64_t v = splitmix64(&st);
				if (*p != v) {
					uint64_t x = *p ^ v;
					unsigned b = 0;
					while (!(x & 0xff)) {
						x >>= 8;
						b++;
					}
					*bad = (uint64_t)(uintptr_t)p + b;
					return 1;
				}
			}
		} else {
			for (; p < e; p++)
				*p = splitmix64(&st);
		}
		left -= n;
	}
	return left ? -1 : 0;
}

/* ---- disk ---- */

static void blk_err(struct line *l, int rc)
{
	l_str(l, "err ");
	if (rc == -1)
		l_str(l, "device timeout");
	else if (rc == -2)
		l_str(l, "no disk");
	else {
		l_str(l, "io error status=");
		l_dec(l, (uint64_t)rc);
	}
}

/* blk write|read|sum over [lba, lba+count) in IOBUF_SIZE pieces */
static void blk_stream(struct line *l, int op, uint64_t seed, uint64_t lba, uint64_t count)
{
	uint64_t st = seed, h = FNV_INIT;
	uint8_t first[32];
	int have_first = 0;

	if (!count || lba > vblk_sectors || count > vblk_sectors - lba) {
		l_str(l, "err range: disk has ");
		l_dec(l, vblk_sectors);
		l_str(l, " sectors");
		return;
	}
	if (op == 'w' && vblk_ro) {
		l_str(l, "err read-only disk");
		return;
	}
	while (count) {
		uint32_t n = count < IOBUF_SIZE / 512 ? (uint32_t)count : IOBUF_SIZE / 512;
		int rc;
		if (op == 'w') {
			uint64_t *p = (uint64_t *)iobuf;
			for (uint32_t i = 0; i < n * 64; i++)
				p[i] = splitmix64(&st);
		}
		rc = vblk_rw(op == 'w', lba, iobuf, n);
		if (rc) {
			blk_err(l, rc);
			return;
		}
		if (op == 'r' && !have_first) {
			memcpy(first, iobuf, 32);
			have_first = 1;
		}
		if (op == 's')
			h = fnv1a(h, iobuf, (size_t)n * 512);
		lba += n;
		count -= n;
	}
	l_str(l, "ok");
	if (op == 'r') {
		l_chr(l, ' ');
		l_hexbytes(l, first, 32);
	} else if (op == 's') {
		l_str(l, " 0x");
		l_hex(l, h, 16);
	}
}

static void cmd_blk(struct line *l, int argc, char **argv)
{
	uint64_t a[3];
	int n = 0;

	if (!vblk_present) {
		l_str(l, "err no disk");
		return;
	}
	if (argc < 2)
		argc = 0;               /* usage */
	for (int i = 2; i < argc && n < 3; i++, n++)
		if (parse_u64(argv[i], &a[n], i == 2 && argc == 5)) {
			l_str(l, "err bad number");
			return;
		}
	if (argc == 2 && streq(argv[1], "info")) {
		l_str(l, "ok sectors=");
		l_dec(l, vblk_sectors);
	} else if (argc == 5 && streq(argv[1], "write")) {
		blk_stream(l, 'w', a[0], a[1], a[2]);
	} else if (argc == 4 && streq(argv[1], "read")) {
		blk_stream(l, 'r', 0, a[0], a[1]);
	} else if (argc == 4 && streq(argv[1], "sum")) {
		blk_stream(l, 's', 0, a[0], a[1]);
	} else if (argc == 2 && streq(argv[1], "flush")) {
		int rc = vblk_has_flush ? vblk_flush() : 0;   /* no FLUSH feature: nothing cached */
		if (rc)
			blk_err(l, rc);
		else
			l_str(l, "ok");
	} else {
		l_str(l, "err usage: blk info | write SEED LBA COUNT | read LBA COUNT | "
			 "sum LBA COUNT | flush");
	}
}

/* ---- bench: what things cost on this host, in TSC ticks calibrated
 * against the PIT ---- */

static uint64_t tsc_per_s;

static void l_ns(struct line *l, const char *name, uint64_t cycles, uint64_t n)
{
	uint64_t ns = cycles * 1000 / (tsc_per_s / 1000000) / n;   /* tsc_per_s > 1 MHz */

	l_str(l, name);
	l_dec(l, ns / 1000);
	l_chr(l, '.');
	l_dec(l, ns % 1000 / 100);
}

static void cmd_bench(struct line *l)
{
	uint64_t t0, t1, k0, n;

	if (!timer_hz) {
		l_str(l, "err timer off (bench calibrates the TSC against it)");
		return;
	}
	/* TSC rate and ring-3 loop rate over 1/5 s of timer ticks */
	k0 = ticks;
	while (ticks == k0)
		;
	k0 = ticks;
	t0 = rdtsc();
	n = cpu_counter[0].n;
	while (ticks - k0 < (timer_hz + 1) / 2)
		cpu_counter[0].n++;
	t1 = rdtsc();
	n = cpu_counter[0].n - n;
	tsc_per_s = (t1 - t0) * timer_hz / (ticks - k0);
	l_str(l, "ok tsc_mhz=");
	l_dec(l, tsc_per_s / 1000000);
	l_str(l, " loop_per_s=");
	l_dec(l, n * timer_hz / (ticks - k0));

	t0 = rdtsc();
	for (int i = 0; i < 200; i++)
		(void)inb(UART + 5);
	l_ns(l, " pio_us=", rdtsc() - t0, 200);
	t0 = rdtsc();
	outsb(0x80, iobuf, 200);               /* POST-code port: a sink */
	l_ns(l, " outsb_us_per_byte=", rdtsc() - t0, 200);

	if (vblk_present) {
		extern uint64_t vblk_device_addr(void);
		uint64_t a = vblk_device_addr();
		t0 = rdtsc();
		for (int i = 0; i < 100; i++)
			(void)mmio_read32(a);
		l_ns(l, " mmio_us=", rdtsc() - t0, 100);
	}
	t0 = rdtsc();
	for (int i = 0; i < 100; i++)
		svc(SVC_NOP, 0, 0);
	l_ns(l, " int3_us=", rdtsc() - t0, 100);
	t0 = rdtsc();
	for (int i = 0; i < 100; i++) {
		uint64_t r;
		__asm__ volatile("ud2" : "=a"(r) : "a"(SVC_NOP) : "memory");
	}
	l_ns(l, " ud2_us=", rdtsc() - t0, 100);
	/* the timer interrupt: time the loop with and without it */
	t0 = rdtsc();
	for (int i = 0; i < 100000; i++)
		(void)rdtsc();
	l_ns(l, " rdtsc_ns=", (rdtsc() - t0) * 1000, 100000);
	/* time stolen from ring 3 over 1/2 s: the gaps in a rdtsc loop longer
	 * than 5 µs (timer interrupts, and host preemption) */
	uint64_t gap = 0, gaps = 0, prev, now, thr = tsc_per_s / 200000;
	t0 = prev = rdtsc();
	while (prev - t0 < tsc_per_s / 2) {
		now = rdtsc();
		if (now - prev > thr) {
			gap += now - prev;
			gaps++;
		}
		prev = now;
	}
	l_str(l, " gaps_per_s=");
	l_dec(l, gaps * 2);
	if (gaps)
		l_ns(l, " gap_us=", gap, gaps);
	l_str(l, " stolen_pct=");
	l_dec(l, gap * 100 / (prev - t0));
}

/* ---- commands ---- */

static void poweroff(void)
{
	outb(0x501, 0);
	svc(SVC_POWEROFF, 0, 0);     /* not reached */
}

static void run(char *s)
{
	char *argv[8];
	int argc = 0;
	struct line l = { .n = 0 };
	uint64_t a, b;

	while (*s && argc < 8) {
		while (*s == ' ' || *s == '\t')
			*s++ = 0;
		if (!*s)
			break;
		argv[argc++] = s;
		while (*s && *s != ' ' && *s != '\t')
			s++;
	}
	if (!argc)
		return;                         /* empty line: no answer */
	const char *c = argv[0];
	if (streq(c, "ping") && argc == 1) {
		l_str(&l, "ok pong");
	} else if (streq(c, "info") && argc == 1) {
		l_str(&l, "ok cpus=");
		l_dec(&l, ncpus);
		l_str(&l, " mem=");
		l_dec(&l, mem_bytes);
		l_str(&l, " ticks=");
		l_dec(&l, ticks);
	} else if (streq(c, "ticks") && argc == 1) {
		l_str(&l, "ok ");
		l_dec(&l, ticks);
	} else if (streq(c, "counter") && argc == 1) {
		l_str(&l, "ok ");
		l_dec(&l, cpu_counter[0].n);
	} else if (c[0] == 'c' && c[1] == 'p' && c[2] == 'u' && c[3] && argc == 1) {
		if (parse_u64(c + 3, &a, 0) || a >= ncpus) {
			l_str(&l, "err no such cpu (cpus=");
			l_dec(&l, ncpus);
			l_chr(&l, ')');
		} else {
			l_str(&l, "ok ");
			l_dec(&l, cpu_counter[a].n);
		}
	} else if ((streq(c, "fill") || streq(c, "verify")) && argc == 3) {
		uint64_t bad = 0;
		int rc;
		if (parse_u64(argv[1], &a, 1) || parse_u64(argv[2], &b, 0)) {
			l_str(&l, "err bad number");
		} else if ((rc = mem_pattern(a, b, c[0] == 'v', &bad)) < 0) {
			l_str(&l, "err not enough memory above 16 MiB");
		} else if (rc) {
			l_str(&l, "err mismatch at 0x");
			l_hex(&l, bad, 0);
		} else {
			l_str(&l, "ok");
		}
	} else if (streq(c, "blk")) {
		cmd_blk(&l, argc, argv);
	} else if (streq(c, "sleep") && argc == 2) {
		if (parse_u64(argv[1], &a, 0) || a > 86400000) {
			l_str(&l, "err bad number");
		} else if (!timer_hz) {
			l_str(&l, "err timer off");
		} else {
			uint64_t end = ticks + (a * timer_hz + 999) / 1000;
			while (ticks < end)
				cpu_counter[0].n++;
			l_str(&l, "ok");
		}
	} else if (streq(c, "stats") && argc == 1) {
		l_str(&l, "ok hz=");
		l_dec(&l, timer_hz);
		l_str(&l, " pio=");
		l_str(&l, pio_emulated ? "emulated" : "native");
		l_str(&l, " pio_emulated=");
		l_dec(&l, pio_emulated);
		l_str(&l, " svc=");
		l_dec(&l, svc_calls);
		l_str(&l, " blk_mmio=");
		l_dec(&l, vblk_mmio_count);
		l_str(&l, " cpus_up=");
		unsigned up = 1;
		for (unsigned i = 1; i < ncpus; i++)
			up += cpu_counter[i].alive ? 1 : 0;
		l_dec(&l, up);
	} else if (streq(c, "bench") && argc == 1) {
		cmd_bench(&l);
	} else if (streq(c, "poweroff") && argc == 1) {
		say("ok");
		poweroff();
	} else if (streq(c, "reboot") && argc == 1) {
		say("ok");
		outb(0x64, 0xfe);
		return;
	} else {
		l_str(&l, "err unknown command");
	}
	reply(&l);
}

/* ---- input: UART lines, Ctrl-Alt-Del from the i8042 ---- */

static char cmd[256];
static unsigned cmdlen, overflow;

static void poll_uart(void)
{
	while (inb(UART + 5) & 1) {
		char ch = (char)inb(UART);
		if (ch == '\n' || ch == '\r') {
			cmd[cmdlen] = 0;
			if (overflow)
				say("err line too long");
			else
				run(cmd);
			cmdlen = overflow = 0;
		} else if (cmdlen < sizeof(cmd) - 1) {
			cmd[cmdlen++] = ch;
		} else {
			overflow = 1;
		}
	}
}

static void poll_kbd(void)
{
	static uint32_t tail;
	static int ctrl, alt, e0;

	while (tail != kbd_head) {
		uint8_t sc = kbd_buf[tail++ % sizeof(kbd_buf)];
		if (sc == 0xe0) {
			e0 = 1;
			continue;
		}
		uint8_t key = sc & 0x7f;
		int down = !(sc & 0x80);
		if (key == 0x1d)
			ctrl = down;
		else if (key == 0x38)
			alt = down;
		else if (key == 0x53 && e0 && down && ctrl && alt) {
			say("shutdown requested");
			poweroff();
		}
		e0 = 0;
	}
}

void user_main(uint64_t bp)
{
	struct line l = { .n = 0 };

	read_boot_params(bp);
	read_mp_table();
	svc(SVC_TIMER, cmdline_num("hz", DEFAULT_HZ), 0);
	if (vblk_init() < 0) {
		l_str(&l, "vmsnap-guest: virtio-blk: ");
		l_str(&l, vblk_error);
		reply(&l);
	}
	next_ap = cmdline_flag("noap") ? ncpus : 1;   /* noap: leave the APs alone */
	start_next_ap();
	l_str(&l, "vmsnap-guest " VERSION " ready cpus=");
	l_dec(&l, ncpus);
	l_str(&l, " mem=");
	l_dec(&l, mem_bytes);
	l_str(&l, " cmdline=\"");
	l_str(&l, cmdline);
	l_chr(&l, '"');
	reply(&l);
	int idle = cmdline_flag("idle") && timer_hz;
	for (;;) {
		count_a_while();
		if (idle)                       /* give the host CPU back until the next tick */
			svc(SVC_HALT, 0, 0);
		poll_uart();
		poll_kbd();
		if (next_ap < ncpus)
			start_next_ap();
	}
}
