/*
 * virtio.c — a polling virtio-blk driver (virtio 1.0, modern PCI), run in
 * ring 3. PCI configuration goes through ports 0xcf8/0xcfc (IOPL=3), the
 * device's registers through its BAR (mapped user-accessible).
 *
 * Every MMIO access from a nested guest costs tens of microseconds, so a
 * request costs exactly one: the notify write. Interrupts are suppressed
 * (VRING_AVAIL_F_NO_INTERRUPT) and completion is seen in the used ring,
 * which our VMM updates before the notify write returns.
 */
#include "guest.h"

#define PCI_VENDOR_VIRTIO 0x1af4
#define PCI_DEVICE_BLK    0x1042

#define CAP_COMMON 1
#define CAP_NOTIFY 2
#define CAP_ISR    3
#define CAP_DEVICE 4

/* common configuration registers */
#define C_DFSELECT 0x00
#define C_DF       0x04
#define C_GFSELECT 0x08
#define C_GF       0x0c
#define C_STATUS   0x14
#define C_QSELECT  0x16
#define C_QSIZE    0x18
#define C_QENABLE  0x1c
#define C_QNOTIFY  0x1e
#define C_QDESC    0x20
#define C_QAVAIL   0x28
#define C_QUSED    0x30

#define S_ACK         1
#define S_DRIVER      2
#define S_DRIVER_OK   4
#define S_FEATURES_OK 8

#define F_RO        (1ULL << 5)
#define F_FLUSH     (1ULL << 9)
#define F_VERSION_1 (1ULL << 32)

#define QSZ 16

struct vdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

static struct {
	struct vdesc desc[QSZ];                  /* 256 bytes */
	struct {
		uint16_t flags, idx, ring[QSZ], used_event;
	} avail __attribute__((aligned(64)));
	struct {
		uint16_t flags, idx;
		struct { uint32_t id, len; } ring[QSZ];
		uint16_t avail_event;
	} used __attribute__((aligned(64)));
	struct {
		uint32_t type, reserved;
		uint64_t sector;
	} hdr __attribute__((aligned(64)));
	volatile uint8_t status;
} vq __attribute__((aligned(4096)));

uint64_t vblk_sectors;
int vblk_present, vblk_ro, vblk_has_flush;
const char *vblk_error;
uint64_t vblk_mmio_count;
static uint64_t common, notify, device;
static uint16_t avail_idx;

static uint32_t pci_read(unsigned slot, unsigned reg)
{
	outl(0xcf8, 0x80000000u | slot << 11 | (reg & 0xfc));
	return inl(0xcfc);
}

static void pci_write16(unsigned slot, unsigned reg, uint16_t v)
{
	outl(0xcf8, 0x80000000u | slot << 11 | (reg & 0xfc));
	outw((uint16_t)(0xcfc + (reg & 2)), v);
}

static uint32_t rd32(uint64_t a) { vblk_mmio_count++; return mmio_read32(a); }
static uint16_t rd16(uint64_t a) { vblk_mmio_count++; return mmio_read16(a); }
static uint8_t rd8(uint64_t a) { vblk_mmio_count++; return mmio_read8(a); }
static void wr32(uint64_t a, uint32_t v) { vblk_mmio_count++; mmio_write32(a, v); }
static void wr16(uint64_t a, uint16_t v) { vblk_mmio_count++; mmio_write16(a, v); }
static void wr8(uint64_t a, uint8_t v) { vblk_mmio_count++; mmio_write8(a, v); }

static void wr64(uint64_t a, uint64_t v)
{
	wr32(a, (uint32_t)v);
	wr32(a + 4, (uint32_t)(v >> 32));
}

static uint64_t bar_addr(unsigned slot, unsigned bar)
{
	uint32_t lo = pci_read(slot, 0x10 + 4 * bar);
	uint64_t a = lo & ~0xfu;

	if ((lo & 0x7) == 0x4)                    /* 64-bit memory BAR */
		a |= (uint64_t)pci_read(slot, 0x14 + 4 * bar) << 32;
	return a;
}

static int fail(const char *why)
{
	vblk_error = why;
	if (common)
		wr8(common + C_STATUS, 0x80);     /* FAILED */
	return -1;
}

int vblk_init(void)
{
	unsigned slot;
	uint32_t mult = 0;

	for (slot = 0; slot < 32; slot++)
		if (pci_read(slot, 0) == (PCI_DEVICE_BLK << 16 | PCI_VENDOR_VIRTIO))
			break;
	if (slot == 32)
		return 0;
	/* memory space and bus mastering on */
	pci_write16(slot, 0x04, (uint16_t)(pci_read(slot, 0x04) | 0x6));
	if (!(pci_read(slot, 0x04) & (0x10u << 16)))
		return fail("no capability list");
	for (unsigned cap = pci_read(slot, 0x34) & 0xfc, n = 0; cap && n < 48; n++) {
		uint32_t h = pci_read(slot, cap);
		if ((h & 0xff) == 0x09) {
			unsigned type = (h >> 24) & 0xff;
			uint64_t a = bar_addr(slot, pci_read(slot, cap + 4) & 0xff) +
				     pci_read(slot, cap + 8);
			if (type == CAP_COMMON && !common)
				common = a;
			else if (type == CAP_NOTIFY && !notify) {
				notify = a;
				mult = pci_read(slot, cap + 16);
			} else if (type == CAP_DEVICE && !device)
				device = a;
		}
		cap = (h >> 8) & 0xfc;
	}
	if (!common || !notify || !device)
		return fail("virtio capabilities missing");

	wr8(common + C_STATUS, 0);
	for (int i = 0; rd8(common + C_STATUS) != 0; i++)
		if (i == 1000)
			return fail("device does not reset");
	wr8(common + C_STATUS, S_ACK);
	wr8(common + C_STATUS, S_ACK | S_DRIVER);
	wr32(common + C_DFSELECT, 0);
	uint64_t f = rd32(common + C_DF);
	wr32(common + C_DFSELECT, 1);
	f |= (uint64_t)rd32(common + C_DF) << 32;
	if (!(f & F_VERSION_1))
		return fail("device does not offer VIRTIO_F_VERSION_1");
	uint64_t want = f & (F_VERSION_1 | F_FLUSH | F_RO);
	wr32(common + C_GFSELECT, 0);
	wr32(common + C_GF, (uint32_t)want);
	wr32(common + C_GFSELECT, 1);
	wr32(common + C_GF, (uint32_t)(want >> 32));
	wr8(common + C_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
	if (!(rd8(common + C_STATUS) & S_FEATURES_OK))
		return fail("device refused our features");
	vblk_ro = !!(want & F_RO);
	vblk_has_flush = !!(want & F_FLUSH);

	wr16(common + C_QSELECT, 0);
	uint16_t max = rd16(common + C_QSIZE);
	if (max < QSZ)
		return fail("queue too small");
	wr16(common + C_QSIZE, QSZ);
	vq.avail.flags = 1;                       /* VRING_AVAIL_F_NO_INTERRUPT: we poll */
	wr64(common + C_QDESC, (uint64_t)(uintptr_t)vq.desc);
	wr64(common + C_QAVAIL, (uint64_t)(uintptr_t)&vq.avail);
	wr64(common + C_QUSED, (uint64_t)(uintptr_t)&vq.used);
	notify += (uint64_t)rd16(common + C_QNOTIFY) * mult;
	wr16(common + C_QENABLE, 1);
	wr8(common + C_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
	vblk_sectors = rd32(device) | (uint64_t)rd32(device + 4) << 32;
	vblk_present = 1;
	return 1;
}

uint64_t vblk_device_addr(void)
{
	return device;
}

/* Submit the chain starting at descriptor 0 and wait for it. */
static int submit(void)
{
	uint16_t want = (uint16_t)(avail_idx + 1);
	uint64_t t0 = ticks, spins = 0;

	vq.status = 0xff;
	vq.avail.ring[avail_idx % QSZ] = 0;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	vq.avail.idx = want;
	avail_idx = want;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	wr16(notify, 0);
	/* our VMM completes the request inside the notify write; a device that
	 * works asynchronously gets ~10 s (or ~10^10 spins without a timer) */
	while (*(volatile uint16_t *)&vq.used.idx != want) {
		if (++spins > 10000000000ULL || (timer_hz && ticks - t0 > 10ULL * timer_hz))
			return -1;
		__asm__ volatile("pause");
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return vq.status;
}

int vblk_rw(int write, uint64_t lba, void *buf, uint32_t sectors)
{
	if (!vblk_present)
		return -2;
	vq.hdr.type = write ? 1 : 0;
	vq.hdr.reserved = 0;
	vq.hdr.sector = lba;
	vq.desc[0] = (struct vdesc){ (uint64_t)(uintptr_t)&vq.hdr, 16, 1, 1 };
	vq.desc[1] = (struct vdesc){ (uint64_t)(uintptr_t)buf, sectors * 512,
				     (uint16_t)(1 | (write ? 0 : 2)), 2 };
	vq.desc[2] = (struct vdesc){ (uint64_t)(uintptr_t)&vq.status, 1, 2, 0 };
	return submit();
}

int vblk_flush(void)
{
	if (!vblk_present)
		return -2;
	vq.hdr.type = 4;
	vq.hdr.reserved = 0;
	vq.hdr.sector = 0;
	vq.desc[0] = (struct vdesc){ (uint64_t)(uintptr_t)&vq.hdr, 16, 1, 1 };
	vq.desc[1] = (struct vdesc){ (uint64_t)(uintptr_t)&vq.status, 1, 2, 0 };
	return submit();
}
