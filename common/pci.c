/* pci.c — PCI configuration mechanism #1 (0xcf8/0xcfc), bus 0: a host bridge
 * at slot 0 and the functions devices register. BARs are placed by the VMM
 * and do not move; the sizing protocol (write all ones) works. */
#include "machine.h"

#include <stdlib.h>
#include <string.h>

#include "endian.h"
#include "vsv.h"

#define PCI_MAX_SLOTS 32

struct pci_bus {
	uint32_t addr;                    /* last value written to 0xcf8 */
	struct pci_device bridge;
	struct pci_device *slot[PCI_MAX_SLOTS];
	uint64_t next_mmio;
};

unsigned pci_irq_for_slot(unsigned slot)
{
	return 16 + (slot % 8);
}

uint64_t pci_alloc_mmio(struct machine *m, uint64_t size)
{
	uint64_t a = (m->pci->next_mmio + size - 1) & ~(size - 1);

	m->pci->next_mmio = a + size;
	return a;
}

int pci_add(struct machine *m, struct pci_device *d)
{
	for (unsigned s = 1; s < PCI_MAX_SLOTS; s++) {
		if (!m->pci->slot[s]) {
			m->pci->slot[s] = d;
			d->cfg[0x3c] = (uint8_t)pci_irq_for_slot(s); /* interrupt line */
			d->cfg[0x3d] = 1;                            /* INTA# */
			return (int)s;
		}
	}
	return -1;
}

static void cfg_rw(struct pci_device *d, unsigned reg, uint8_t *data, uint32_t len,
		   bool is_write)
{
	if (reg + len > 256)
		len = 256 - reg;
	if (!is_write) {
		memcpy(data, d->cfg + reg, len);
		return;
	}
	if (reg >= 0x10 && reg < 0x28) {
		/* BARs: a dword of all ones asks for the size mask; anything else puts
		 * the BAR back where the VMM placed it (BARs do not move) */
		unsigned bar = (reg - 0x10) / 4;
		uint32_t size = d->bar_size[bar], flags = d->cfg[0x10 + bar * 4] & 0xf;
		if (!size || len != 4 || reg % 4)
			return;
		if (get_le32(data) == 0xffffffffu)
			put_le32(d->cfg + reg, ~(size - 1) | flags);
		else
			put_le32(d->cfg + reg, d->bar_addr[bar] | flags);
		return;
	}
	for (uint32_t i = 0; i < len; i++) {
		unsigned r = reg + i;
		/* writable: command, cache line size, latency timer, interrupt line */
		if (r == 0x04 || r == 0x05 || r == 0x0c || r == 0x0d || r == 0x3c)
			d->cfg[r] = data[i];
	}
}

static void pci_io(void *dev, uint64_t port, uint8_t *data, uint32_t len, bool is_write)
{
	struct machine *m = dev;
	struct pci_bus *b = m->pci;

	if (port >= 0xcf8 && port < 0xcfc) {
		if (len == 4 && port == 0xcf8) {
			if (is_write)
				b->addr = get_le32(data);
			else
				put_le32(data, b->addr);
		} else if (!is_write) {
			memset(data, 0xff, len);
		}
		return;
	}
	unsigned bus = (b->addr >> 16) & 0xff, slot = (b->addr >> 11) & 0x1f,
		 fn = (b->addr >> 8) & 0x7, reg = (b->addr & 0xfc) + (unsigned)(port - 0xcfc);
	struct pci_device *d = NULL;

	if ((b->addr & 0x80000000u) && bus == 0 && fn == 0)
		d = slot == 0 ? &b->bridge : b->slot[slot];
	if (!d) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	cfg_rw(d, reg, data, len, is_write);
}

int pci_init(struct machine *m, struct error *err)
{
	struct pci_bus *b = calloc(1, sizeof(*b));

	if (!b)
		return error_set(err, EXIT_FAIL, "out of memory");
	m->pci = b;
	b->next_mmio = GPA_PCI_MMIO;
	put_le16(b->bridge.cfg + 0x00, 0x8086);   /* Intel */
	put_le16(b->bridge.cfg + 0x02, 0x29c0);   /* a host bridge Linux knows */
	b->bridge.cfg[0x0b] = 0x06;               /* bridge */
	b->bridge.cfg[0x0a] = 0x00;               /* host bridge */
	if (machine_add_pio(m, 0xcf8, 8, m, pci_io) < 0)
		return error_set(err, EXIT_FAIL, "too many I/O ranges");
	return 0;
}

void pci_free(struct machine *m)
{
	free(m->pci);
	m->pci = NULL;
}

int pci_save(struct machine *m, struct vsv_writer *w)
{
	vsv_put(w, VSV_DEV_PCI, 0, m->pci->bridge.cfg, 256);
	for (unsigned s = 1; s < PCI_MAX_SLOTS; s++)
		if (m->pci->slot[s])
			vsv_put(w, VSV_DEV_PCI, s, m->pci->slot[s]->cfg, 256);
	vsv_put(w, VSV_DEV_PCI, 0xffffffffu, &m->pci->addr, 4);
	return 0;
}

int pci_restore(struct machine *m, const struct vsv_reader *r, const char *what,
		struct error *err)
{
	uint8_t cfg[256];

	for (unsigned s = 0; s < PCI_MAX_SLOTS; s++) {
		/* NOLINTNEXTLINE(clang-analyzer-core.NullDereference): &m->pci->bridge is not NULL */
		struct pci_device *d = s ? m->pci->slot[s] : &m->pci->bridge;
		if (!d)
			continue;
		if (vsv_need(r, VSV_DEV_PCI, s, cfg, sizeof(cfg), what, err) < 0)
			return -1;
		/* identity and BAR placement are the VMM's: a mismatch means another machine */
		if (memcmp(cfg, d->cfg, 4) != 0)
			return error_set(err, EXIT_DATAERR, "'%s': PCI slot %u holds another device "
					 "than this VM has", what, s);
		memcpy(d->cfg, cfg, sizeof(cfg));
	}
	uint8_t a[4];
	if (vsv_need(r, VSV_DEV_PCI, 0xffffffffu, a, 4, what, err) < 0)
		return -1;
	m->pci->addr = get_le32(a);
	return 0;
}
