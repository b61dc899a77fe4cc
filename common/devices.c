/* devices.c — 8250 UART (COM1), i8042 keyboard controller, CMOS clock, the
 * power-off port, and the ISA ports Linux touches while booting. */
#include "machine.h"

#include "endian.h"
#include "vsv.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define UART_BASE 0x3f8
#define UART_IRQ 4
#define UART_RXBUF 4096

struct uart {
	struct machine *m;
	uint8_t ier, iir_fifo, lcr, mcr, scr, dll, dlm;
	bool thre_pending;    /* THR-empty interrupt waiting to be seen */
	int irq_level;
	uint8_t rx[UART_RXBUF];
	size_t rx_head, rx_len;
};

static void uart_update_irq(struct uart *u)
{
	int level = ((u->ier & 0x01) && u->rx_len) || ((u->ier & 0x02) && u->thre_pending);

	if (level != u->irq_level) {
		u->irq_level = level;
		machine_irq_line(u->m, UART_IRQ, level);
	}
}

void uart_input(struct uart *u, const uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len && u->rx_len < UART_RXBUF; i++) {
		u->rx[(u->rx_head + u->rx_len) % UART_RXBUF] = buf[i];
		u->rx_len++;
	}
	uart_update_irq(u);
}

static void uart_io(void *dev, uint64_t addr, uint8_t *data, uint32_t len, bool is_write)
{
	struct uart *u = dev;
	unsigned reg = (unsigned)(addr - UART_BASE);
	bool dlab = u->lcr & 0x80;

	if (len != 1) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	if (is_write) {
		uint8_t v = data[0];
		switch (reg) {
		case 0:
			if (dlab) {
				u->dll = v;
			} else {
				if (u->m->opts.console_out)
					u->m->opts.console_out(u->m->opts.console_ctx, &v, 1);
				u->thre_pending = true; /* sent at once: empty again */
			}
			break;
		case 1:
			if (dlab) {
				u->dlm = v;
			} else {
				/* enabling the THRE interrupt raises it when THR is empty */
				if ((v & 0x02) && !(u->ier & 0x02))
					u->thre_pending = true;
				u->ier = v & 0x0f;
			}
			break;
		case 2:
			u->iir_fifo = (v & 0x01) ? 0xc0 : 0;
			if (v & 0x02) { /* clear receive FIFO */
				u->rx_len = 0;
			}
			break;
		case 3: u->lcr = v; break;
		case 4: u->mcr = v; break;
		case 7: u->scr = v; break;
		default: break;
		}
	} else {
		uint8_t v = 0;
		switch (reg) {
		case 0:
			if (dlab) {
				v = u->dll;
			} else if (u->rx_len) {
				v = u->rx[u->rx_head];
				u->rx_head = (u->rx_head + 1) % UART_RXBUF;
				u->rx_len--;
			}
			break;
		case 1: v = dlab ? u->dlm : u->ier; break;
		case 2:
			if ((u->ier & 0x01) && u->rx_len) {
				v = 0x04;
			} else if ((u->ier & 0x02) && u->thre_pending) {
				v = 0x02;
				u->thre_pending = false; /* reading IIR acknowledges THRE */
			} else {
				v = 0x01;
			}
			v |= u->iir_fifo;
			break;
		case 3: v = u->lcr; break;
		case 4: v = u->mcr; break;
		case 5: v = 0x60 | (u->rx_len ? 0x01 : 0); break; /* THRE|TEMT, DR */
		case 6: v = 0xb0; break;                             /* DCD, DSR, CTS */
		case 7: v = u->scr; break;
		}
		data[0] = v;
	}
	uart_update_irq(u);
}

/* ---- i8042: enough of a controller and keyboard for Linux's probe, the
 * reset line, and Ctrl-Alt-Del from the host ---- */

#define KBD_IRQ 1

struct i8042 {
	struct machine *m;
	uint8_t cmd_byte;       /* bit 0: keyboard interrupt, bit 6: translate */
	uint8_t pending_cmd;    /* controller command waiting for its data byte */
	uint8_t kbd_cmd;        /* keyboard command waiting for its data byte */
	uint8_t out[32];
	unsigned out_head, out_len;
	int irq_level;
};

static void kbd_update_irq(struct i8042 *k)
{
	int level = k->out_len && (k->cmd_byte & 0x01);

	if (level != k->irq_level) {
		k->irq_level = level;
		machine_irq_line(k->m, KBD_IRQ, level);
	}
}

static void kbd_push(struct i8042 *k, uint8_t b)
{
	if (k->out_len < sizeof(k->out)) {
		k->out[(k->out_head + k->out_len) % sizeof(k->out)] = b;
		k->out_len++;
	}
}

static void kbd_device_byte(struct i8042 *k, uint8_t v)
{
	if (k->kbd_cmd) { /* data for LEDs / scancode set / typematic */
		k->kbd_cmd = 0;
		kbd_push(k, 0xfa);
		return;
	}
	switch (v) {
	case 0xff: kbd_push(k, 0xfa); kbd_push(k, 0xaa); break;          /* reset */
	case 0xf2: kbd_push(k, 0xfa); kbd_push(k, 0xab); kbd_push(k, 0x83); break; /* id */
	case 0xed: case 0xf0: case 0xf3: k->kbd_cmd = v; kbd_push(k, 0xfa); break;
	case 0xee: kbd_push(k, 0xee); break;                              /* echo */
	default: kbd_push(k, 0xfa); break;
	}
}

static void i8042_io(void *dev, uint64_t addr, uint8_t *data, uint32_t len, bool is_write)
{
	struct i8042 *k = dev;
	uint8_t v = data[0];

	if (len != 1) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	if (addr == 0x64 && is_write) {
		switch (v) {
		case 0x20: kbd_push(k, k->cmd_byte); break;
		case 0x60: case 0xd1: case 0xd2: case 0xd3: case 0xd4: k->pending_cmd = v; break;
		case 0xaa: kbd_push(k, 0x55); break;      /* self test passed */
		case 0xab: case 0xa9: kbd_push(k, 0x00); break; /* interface tests */
		case 0xad: k->cmd_byte |= 0x10; break;
		case 0xae: k->cmd_byte &= (uint8_t)~0x10; break;
		case 0xa7: k->cmd_byte |= 0x20; break;
		case 0xa8: k->cmd_byte &= (uint8_t)~0x20; break;
		case 0xfe: machine_exit_with(k->m, MACHINE_RESET); break; /* pulse reset line */
		default: break;
		}
	} else if (addr == 0x64) {
		data[0] = (uint8_t)((k->out_len ? 0x01 : 0) | 0x04 | 0x10); /* OBF, SYS, unlocked */
	} else if (is_write) { /* port 0x60 */
		uint8_t c = k->pending_cmd;
		k->pending_cmd = 0;
		if (c == 0x60)
			k->cmd_byte = v;
		else if (c == 0xd2)
			kbd_push(k, v);
		else if (c == 0xd1 && !(v & 0x01))
			machine_exit_with(k->m, MACHINE_RESET); /* output port: reset bit low */
		else if (c == 0xd3 || c == 0xd4)
			; /* no mouse */
		else
			kbd_device_byte(k, v);
	} else {
		data[0] = 0;
		if (k->out_len) {
			data[0] = k->out[k->out_head];
			k->out_head = (k->out_head + 1) % sizeof(k->out);
			k->out_len--;
		}
	}
	kbd_update_irq(k);
}

static struct i8042 *g_kbd_for(struct machine *m);

void machine_request_shutdown(struct machine *m)
{
	/* Ctrl-Alt-Del as set-1 scancodes (the controller translates by default) */
	static const uint8_t cad[] = { 0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d };
	struct i8042 *k = g_kbd_for(m);

	pthread_mutex_lock(&m->dev_lock);
	if (k) {
		for (size_t i = 0; i < sizeof(cad); i++)
			kbd_push(k, cad[i]);
		kbd_update_irq(k);
	}
	m->kbd_pending_cad = 1;
	pthread_mutex_unlock(&m->dev_lock);
}

/* ---- CMOS real-time clock (read only, host time in BCD) ---- */

struct cmos {
	uint8_t index;
};

static uint8_t bcd(int v)
{
	return (uint8_t)((v / 10) << 4 | (v % 10));
}

static void cmos_io(void *dev, uint64_t addr, uint8_t *data, uint32_t len, bool is_write)
{
	struct cmos *c = dev;
	time_t now = time(NULL);
	struct tm tm;

	if (addr == 0x70) {
		if (is_write)
			c->index = data[0] & 0x7f;
		else
			data[0] = 0xff;
		return;
	}
	if (is_write)
		return;
	gmtime_r(&now, &tm);
	switch (c->index) {
	case 0x00: data[0] = bcd(tm.tm_sec); break;
	case 0x02: data[0] = bcd(tm.tm_min); break;
	case 0x04: data[0] = bcd(tm.tm_hour); break;
	case 0x06: data[0] = bcd(tm.tm_wday + 1); break;
	case 0x07: data[0] = bcd(tm.tm_mday); break;
	case 0x08: data[0] = bcd(tm.tm_mon + 1); break;
	case 0x09: data[0] = bcd(tm.tm_year % 100); break;
	case 0x32: data[0] = bcd((1900 + tm.tm_year) / 100); break;
	case 0x0a: data[0] = 0x26; break;
	case 0x0b: data[0] = 0x02; break; /* 24 hour, BCD */
	case 0x0d: data[0] = 0x80; break; /* valid RAM and time */
	default: data[0] = 0; break;
	}
	(void)len;
}

/* ---- power off, POST codes, A20 and the like ---- */

static void poweroff_io(void *dev, uint64_t addr, uint8_t *data, uint32_t len, bool is_write)
{
	struct machine *m = dev;

	if (is_write)
		machine_exit_with(m, MACHINE_POWEROFF);
	else
		memset(data, 0, len);
}

static void sink_io(void *dev, uint64_t addr, uint8_t *data, uint32_t len, bool is_write)
{
	if (!is_write)
		memset(data, addr == 0x92 ? 0x02 : 0x00, len);
}

struct devices {
	struct uart uart;
	struct i8042 kbd;
	struct cmos cmos;
};

static struct i8042 *g_kbd_for(struct machine *m)
{
	return m->uart ? &((struct devices *)(void *)m->uart)->kbd : NULL;
}

int devices_init(struct machine *m, struct error *err)
{
	struct devices *d = calloc(1, sizeof(*d));

	if (!d)
		return error_set(err, EXIT_FAIL, "out of memory");
	d->uart.m = m;
	d->kbd.m = m;
	d->kbd.cmd_byte = 0x45; /* keyboard interrupt, SYS, translate */
	m->uart = &d->uart;     /* first member: frees the whole struct devices */
	if (machine_add_pio(m, UART_BASE, 8, &d->uart, uart_io) < 0 ||
	    machine_add_pio(m, 0x60, 1, &d->kbd, i8042_io) < 0 ||
	    machine_add_pio(m, 0x64, 1, &d->kbd, i8042_io) < 0 ||
	    machine_add_pio(m, 0x70, 2, &d->cmos, cmos_io) < 0 ||
	    machine_add_pio(m, PORT_POWEROFF, 1, m, poweroff_io) < 0 ||
	    machine_add_pio(m, 0x80, 1, NULL, sink_io) < 0 ||
	    machine_add_pio(m, 0x92, 1, NULL, sink_io) < 0 ||
	    machine_add_pio(m, 0xed, 1, NULL, sink_io) < 0)
		return error_set(err, EXIT_FAIL, "too many I/O ranges");
	return 0;
}

void devices_free(struct machine *m)
{
	free(m->uart);
	m->uart = NULL;
}

/* ---- state (.vsv) ---- */

int devices_save(struct machine *m, struct vsv_writer *w)
{
	struct devices *d = (struct devices *)(void *)m->uart;
	struct uart *u = &d->uart;
	struct i8042 *k = &d->kbd;
	uint8_t *b = malloc(32 + UART_RXBUF);
	size_t n = 0;

	if (!b)
		return -1;
	b[n++] = u->ier; b[n++] = u->iir_fifo; b[n++] = u->lcr; b[n++] = u->mcr;
	b[n++] = u->scr; b[n++] = u->dll; b[n++] = u->dlm; b[n++] = u->thre_pending;
	b[n++] = (uint8_t)u->irq_level;
	put_le32(b + n, (uint32_t)u->rx_len);
	n += 4;
	for (size_t i = 0; i < u->rx_len; i++)
		b[n++] = u->rx[(u->rx_head + i) % UART_RXBUF];
	vsv_put(w, VSV_DEV_UART, 0, b, n);
	n = 0;
	b[n++] = k->cmd_byte; b[n++] = k->pending_cmd; b[n++] = k->kbd_cmd;
	b[n++] = (uint8_t)k->irq_level; b[n++] = (uint8_t)k->out_len;
	for (unsigned i = 0; i < k->out_len; i++)
		b[n++] = k->out[(k->out_head + i) % sizeof(k->out)];
	vsv_put(w, VSV_DEV_I8042, 0, b, n);
	b[0] = d->cmos.index;
	vsv_put(w, VSV_DEV_CMOS, 0, b, 1);
	free(b);
	return 0;
}

int devices_restore(struct machine *m, const struct vsv_reader *r, const char *what,
		    struct error *err)
{
	struct devices *d = (struct devices *)(void *)m->uart;
	struct uart *u = &d->uart;
	struct i8042 *k = &d->kbd;
	const uint8_t *p;
	size_t n;

	if (!vsv_get(r, VSV_DEV_UART, 0, (const void **)&p, &n) || n < 13 ||
	    get_le32(p + 9) > UART_RXBUF || n != 13 + get_le32(p + 9))
		return error_set(err, EXIT_DATAERR, "'%s': bad or missing UART state", what);
	u->ier = p[0]; u->iir_fifo = p[1]; u->lcr = p[2]; u->mcr = p[3]; u->scr = p[4];
	u->dll = p[5]; u->dlm = p[6]; u->thre_pending = p[7]; u->irq_level = p[8];
	u->rx_head = 0;
	u->rx_len = get_le32(p + 9);
	memcpy(u->rx, p + 13, u->rx_len);
	if (!vsv_get(r, VSV_DEV_I8042, 0, (const void **)&p, &n) || n < 5 ||
	    p[4] > sizeof(k->out) || n != 5u + p[4])
		return error_set(err, EXIT_DATAERR, "'%s': bad or missing i8042 state", what);
	k->cmd_byte = p[0]; k->pending_cmd = p[1]; k->kbd_cmd = p[2]; k->irq_level = p[3];
	k->out_head = 0;
	k->out_len = p[4];
	memcpy(k->out, p + 5, k->out_len);
	if (vsv_get(r, VSV_DEV_CMOS, 0, (const void **)&p, &n) && n == 1)
		d->cmos.index = p[0];
	return 0;
}
