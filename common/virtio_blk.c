/*
 * virtio_blk.c — virtio 1.0 block device over PCI (modern interface, device
 * 0x1042), backed by the disk ops table (VHD chains or raw files).
 *
 * BAR0 (16 KiB, 32-bit memory): common config at 0x0000, ISR at 0x1000,
 * device config at 0x2000, notifications at 0x3000. Interrupts: INTx (level)
 * on the slot's GSI. Every guest-supplied address and length is checked
 * against guest RAM; a descriptor chain longer than the queue is a loop.
 * Requests are served synchronously in the notifying vCPU's thread.
 */
#include "machine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "endian.h"
#include "vsv.h"

#define VBLK_QUEUE_MAX 256
#define VBLK_BAR_SIZE 0x4000
#define OFF_COMMON 0x0000
#define OFF_ISR    0x1000
#define OFF_DEVICE 0x2000
#define OFF_NOTIFY 0x3000
#define NOTIFY_MULT 4
#define SEG_MAX 126

#define F_SEG_MAX   (1ULL << 2)
#define F_RO        (1ULL << 5)
#define F_BLK_SIZE  (1ULL << 6)
#define F_FLUSH     (1ULL << 9)
#define F_VERSION_1 (1ULL << 32)

#define S_ACKNOWLEDGE 1
#define S_DRIVER_OK   4
#define S_FEATURES_OK 8
#define S_NEEDS_RESET 64

#define T_IN    0
#define T_OUT   1
#define T_FLUSH 4
#define T_GET_ID 8

#define ST_OK     0
#define ST_IOERR  1
#define ST_UNSUPP 2

#define VRING_DESC_F_NEXT 1
#define VRING_DESC_F_WRITE 2

struct virtio_blk {
	struct machine *m;
	struct disk *disk;
	struct pci_device pci;
	int slot;
	unsigned gsi;
	uint64_t bar;
	uint64_t features;       /* offered */
	uint64_t driver_features;
	uint32_t dfselect, gfselect;
	uint8_t status;
	uint8_t isr;
	int irq_level;
	/* the one request queue */
	uint16_t qsize;
	uint16_t qenable;
	uint64_t qdesc, qavail, qused;
	uint16_t last_avail;
	uint16_t used_idx;
	unsigned index;
};

static void set_irq(struct virtio_blk *b, int level)
{
	if (level != b->irq_level) {
		b->irq_level = level;
		machine_irq_line(b->m, b->gsi, level);
	}
}

static void reset(struct virtio_blk *b)
{
	b->status = 0;
	b->driver_features = 0;
	b->qsize = VBLK_QUEUE_MAX;
	b->qenable = 0;
	b->qdesc = b->qavail = b->qused = 0;
	b->last_avail = b->used_idx = 0;
	b->isr = 0;
	set_irq(b, 0);
}

static void fail_device(struct virtio_blk *b, const char *why)
{
	machine_log(b->m, "virtio-blk %u: %s; device needs reset", b->index, why);
	b->status |= S_NEEDS_RESET;
	b->isr |= 2; /* configuration change */
	set_irq(b, 1);
}

struct seg {
	uint8_t *p;
	uint32_t len;
	bool writable;
};

/* Serve one request; returns bytes written into device-writable buffers. */
static uint32_t serve(struct virtio_blk *b, struct seg *s, int n)
{
	uint8_t status = ST_OK, hdr[16];
	uint32_t written = 0, type;
	uint64_t sector, off;
	struct error err;
	size_t have = 0;
	int first_data = 0;

	/* header: 16 device-readable bytes, possibly split */
	while (first_data < n && have < sizeof(hdr) && !s[first_data].writable) {
		uint32_t k = s[first_data].len < sizeof(hdr) - have ? s[first_data].len
								    : (uint32_t)(sizeof(hdr) - have);
		memcpy(hdr + have, s[first_data].p, k);
		have += k;
		if (k < s[first_data].len) { /* header and data share a buffer */
			s[first_data].p += k;
			s[first_data].len -= k;
			break;
		}
		first_data++;
	}
	if (have < sizeof(hdr) || n - first_data < 1 || !s[n - 1].writable || s[n - 1].len < 1) {
		machine_log(b->m, "virtio-blk %u: malformed request dropped", b->index);
		return 0;
	}
	type = get_le32(hdr);
	sector = get_le64(hdr + 8);
	off = sector * 512;
	/* the status byte is the last byte of the last (device-writable) buffer */
	struct seg *st = &s[n - 1];
	uint8_t *status_p = st->p + st->len - 1;
	int last = n - 1;          /* data segments are [first_data, last) */
	if (st->len > 1) {         /* data and status share the last buffer */
		st->len -= 1;
		last = n;
	}

	uint64_t total = 0;
	for (int i = first_data; i < last; i++)
		total += s[i].len;
	if (sector > UINT64_MAX / 512 ||
	    ((type == T_IN || type == T_OUT) &&
	     (off > b->disk->size || total > b->disk->size - off))) {
		status = ST_IOERR;
		machine_log(b->m, "virtio-blk %u: request past the end (sector %llu)", b->index,
			    (unsigned long long)sector);
	} else if (type == T_IN || type == T_OUT) {
		for (int i = first_data; i < last && status == ST_OK; i++) {
			if ((type == T_IN) != s[i].writable) {
				status = ST_IOERR;
				break;
			}
			int rc = type == T_IN
				 ? b->disk->ops->read(b->disk, s[i].p, s[i].len, off, &err)
				 : (b->disk->readonly ? (error_set(&err, EXIT_NOPERM, "read-only"), -1)
						      : b->disk->ops->write(b->disk, s[i].p, s[i].len, off,
									    &err));
			if (rc < 0) {
				status = ST_IOERR;
				machine_log(b->m, "virtio-blk %u: %s", b->index, err.msg);
			} else if (type == T_IN) {
				written += s[i].len;
			}
			off += s[i].len;
		}
	} else if (type == T_FLUSH) {
		if (b->disk->ops->flush(b->disk, &err) < 0) {
			status = ST_IOERR;
			machine_log(b->m, "virtio-blk %u: %s", b->index, err.msg);
		}
	} else if (type == T_GET_ID) {
		char id[21];
		snprintf(id, sizeof(id), "vmsnap-disk%u", b->index);
		for (int i = first_data; i < last; i++) {
			if (!s[i].writable)
				continue;
			uint32_t k = s[i].len < 20 ? s[i].len : 20;
			memset(s[i].p, 0, s[i].len < 20 ? s[i].len : 20);
			memcpy(s[i].p, id, strlen(id) < k ? strlen(id) : k);
			written += k;
			break;
		}
	} else {
		status = ST_UNSUPP;
	}
	*status_p = status;
	return written + 1;
}

static void process_queue(struct virtio_blk *b)
{
	struct machine *m = b->m;
	uint16_t size = b->qsize;
	uint8_t *desc, *avail, *used;
	struct seg segs[VBLK_QUEUE_MAX];
	bool any = false;

	if (!(b->status & S_DRIVER_OK) || !b->qenable || (b->status & S_NEEDS_RESET))
		return;
	desc = gpa_to_hva(m, b->qdesc, 16ULL * size);
	avail = gpa_to_hva(m, b->qavail, 6 + 2ULL * size);
	used = gpa_to_hva(m, b->qused, 6 + 8ULL * size);
	if (!desc || !avail || !used) {
		fail_device(b, "queue rings lie outside guest RAM");
		return;
	}
	uint16_t avail_idx = get_le16(avail + 2);
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if ((uint16_t)(avail_idx - b->last_avail) > size) {
		fail_device(b, "available index ran ahead of the queue");
		return;
	}
	while (b->last_avail != avail_idx) {
		uint16_t head = get_le16(avail + 4 + 2 * (b->last_avail % size));
		uint16_t i = head;
		int n = 0;
		bool bad = false;

		b->last_avail++;
		if (head >= size) {
			fail_device(b, "descriptor index out of range");
			return;
		}
		for (;;) {
			const uint8_t *d = desc + 16 * i;
			uint64_t addr = get_le64(d);
			uint32_t len = get_le32(d + 8);
			uint16_t flags = get_le16(d + 12), next = get_le16(d + 14);
			if (n >= size || n >= SEG_MAX + 2) {
				bad = true; /* a loop, or more segments than we offered */
				break;
			}
			segs[n].p = gpa_to_hva(m, addr, len);
			segs[n].len = len;
			segs[n].writable = flags & VRING_DESC_F_WRITE;
			if (!segs[n].p || (flags & ~3u)) {
				bad = true; /* outside RAM, or indirect (not offered) */
				break;
			}
			n++;
			if (!(flags & VRING_DESC_F_NEXT))
				break;
			if (next >= size) {
				bad = true;
				break;
			}
			i = next;
		}
		if (bad) {
			fail_device(b, "bad descriptor chain (outside RAM, loop or indirect)");
			return;
		}
		uint32_t written = serve(b, segs, n);
		uint8_t *u = used + 4 + 8 * (b->used_idx % size);
		put_le32(u, head);
		put_le32(u + 4, written);
		b->used_idx++;
		any = true;
	}
	if (any) {
		__atomic_thread_fence(__ATOMIC_RELEASE);
		put_le16(used + 2, b->used_idx);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (!(get_le16(avail) & 1)) { /* VRING_AVAIL_F_NO_INTERRUPT */
			b->isr |= 1;
			set_irq(b, 1);
		}
	}
}

static uint64_t rd(const uint8_t *data, uint32_t len)
{
	switch (len) {
	case 1: return data[0];
	case 2: return get_le16(data);
	case 4: return get_le32(data);
	default: return get_le64(data);
	}
}

static void wr(uint8_t *data, uint32_t len, uint64_t v)
{
	switch (len) {
	case 1: data[0] = (uint8_t)v; break;
	case 2: put_le16(data, (uint16_t)v); break;
	case 4: put_le32(data, (uint32_t)v); break;
	default: put_le64(data, v); break;
	}
}

static void common_cfg(struct virtio_blk *b, unsigned off, uint8_t *data, uint32_t len,
		       bool is_write)
{
	uint64_t v = is_write ? rd(data, len) : 0;

	if (is_write) {
		switch (off) {
		case 0x00: b->dfselect = (uint32_t)v; break;
		case 0x08: b->gfselect = (uint32_t)v; break;
		case 0x0c:
			if (b->gfselect < 2 && !(b->status & S_FEATURES_OK)) {
				uint64_t sh = 32ULL * b->gfselect;
				b->driver_features = (b->driver_features & ~(0xffffffffULL << sh)) |
						     ((v & 0xffffffffULL) << sh);
			}
			break;
		case 0x14:
			if (v == 0) {
				reset(b);
			} else {
				if ((v & S_FEATURES_OK) && !(b->status & S_FEATURES_OK) &&
				    ((b->driver_features & ~b->features) ||
				     !(b->driver_features & F_VERSION_1)))
					v &= ~(uint64_t)S_FEATURES_OK; /* refused */
				b->status = (uint8_t)v;
			}
			break;
		case 0x16: break;  /* queue_select: only queue 0 exists */
		case 0x18:
			if (v && v <= VBLK_QUEUE_MAX && !(v & (v - 1)))
				b->qsize = (uint16_t)v;
			break;
		case 0x1c: b->qenable = (uint16_t)v; break;
		case 0x20: b->qdesc = (b->qdesc & ~0xffffffffULL) | (v & 0xffffffffULL);
			if (len == 8) b->qdesc = v;
			break;
		case 0x24: b->qdesc = (b->qdesc & 0xffffffffULL) | (v << 32); break;
		case 0x28: b->qavail = (b->qavail & ~0xffffffffULL) | (v & 0xffffffffULL);
			if (len == 8) b->qavail = v;
			break;
		case 0x2c: b->qavail = (b->qavail & 0xffffffffULL) | (v << 32); break;
		case 0x30: b->qused = (b->qused & ~0xffffffffULL) | (v & 0xffffffffULL);
			if (len == 8) b->qused = v;
			break;
		case 0x34: b->qused = (b->qused & 0xffffffffULL) | (v << 32); break;
		default: break;
		}
		return;
	}
	switch (off) {
	case 0x00: v = b->dfselect; break;
	case 0x04: v = b->dfselect < 2 ? (b->features >> (32 * b->dfselect)) & 0xffffffffULL : 0;
		break;
	case 0x08: v = b->gfselect; break;
	case 0x0c: v = b->gfselect < 2 ? (b->driver_features >> (32 * b->gfselect)) & 0xffffffffULL
				      : 0;
		break;
	case 0x10: v = 0xffff; break; /* no MSI-X */
	case 0x12: v = 1; break;
	case 0x14: v = b->status; break;
	case 0x15: v = 0; break;
	case 0x16: v = 0; break;
	case 0x18: v = b->qsize; break;
	case 0x1a: v = 0xffff; break;
	case 0x1c: v = b->qenable; break;
	case 0x1e: v = 0; break;
	case 0x20: v = len == 8 ? b->qdesc : b->qdesc & 0xffffffffULL; break;
	case 0x24: v = b->qdesc >> 32; break;
	case 0x28: v = len == 8 ? b->qavail : b->qavail & 0xffffffffULL; break;
	case 0x2c: v = b->qavail >> 32; break;
	case 0x30: v = len == 8 ? b->qused : b->qused & 0xffffffffULL; break;
	case 0x34: v = b->qused >> 32; break;
	default: v = 0; break;
	}
	wr(data, len, v);
}

static void bar_io(void *dev, uint64_t addr, uint8_t *data, uint32_t len, bool is_write)
{
	struct virtio_blk *b = dev;
	unsigned off = (unsigned)(addr - b->bar);

	if (len != 1 && len != 2 && len != 4 && len != 8)
		return;
	if (off < OFF_COMMON + 0x38) {
		common_cfg(b, off - OFF_COMMON, data, len, is_write);
	} else if (off >= OFF_ISR && off < OFF_ISR + 4) {
		if (!is_write) {
			memset(data, 0, len);
			data[0] = b->isr;
			b->isr = 0;         /* reading ISR acknowledges the interrupt */
			set_irq(b, 0);
		}
	} else if (off >= OFF_DEVICE && off < OFF_DEVICE + 0x40) {
		uint8_t cfg[0x40] = { 0 };
		unsigned o = off - OFF_DEVICE;
		put_le64(cfg + 0, b->disk->size / 512);  /* capacity in sectors */
		put_le32(cfg + 12, SEG_MAX);             /* seg_max */
		put_le32(cfg + 20, 512);                 /* blk_size */
		if (!is_write) {
			if (o + len > sizeof(cfg))
				len = (uint32_t)(sizeof(cfg) - o);
			memcpy(data, cfg + o, len);
		}
	} else if (off >= OFF_NOTIFY && off < OFF_NOTIFY + NOTIFY_MULT) {
		if (is_write && rd(data, len) == 0)
			process_queue(b);
	} else if (!is_write) {
		memset(data, 0, len);
	}
}

static void add_cap(uint8_t *cfg, unsigned at, unsigned next, uint8_t type, uint32_t off,
		    uint32_t len, unsigned cap_len)
{
	cfg[at + 0] = 0x09;          /* vendor specific */
	cfg[at + 1] = (uint8_t)next;
	cfg[at + 2] = (uint8_t)cap_len;
	cfg[at + 3] = type;
	cfg[at + 4] = 0;             /* BAR0 */
	put_le32(cfg + at + 8, off);
	put_le32(cfg + at + 12, len);
}

int virtio_blk_add(struct machine *m, struct disk *d, struct error *err)
{
	struct virtio_blk *b = calloc(1, sizeof(*b));
	uint8_t *c;

	if (!b)
		return error_set(err, EXIT_FAIL, "out of memory");
	b->m = m;
	b->disk = d;
	b->index = (unsigned)m->nblk;
	b->features = F_VERSION_1 | F_SEG_MAX | F_BLK_SIZE | F_FLUSH | (d->readonly ? F_RO : 0);
	reset(b);
	b->slot = pci_add(m, &b->pci);
	if (b->slot < 0) {
		free(b);
		return error_set(err, EXIT_USAGE, "too many PCI devices");
	}
	b->gsi = pci_irq_for_slot((unsigned)b->slot);
	b->bar = pci_alloc_mmio(m, VBLK_BAR_SIZE);
	c = b->pci.cfg;
	put_le16(c + 0x00, 0x1af4);          /* Red Hat / virtio */
	put_le16(c + 0x02, 0x1042);          /* modern virtio-blk */
	put_le16(c + 0x06, 0x0010);          /* status: capability list */
	c[0x08] = 1;                         /* revision 1: modern only */
	c[0x0a] = 0x00;
	c[0x0b] = 0x01;                      /* mass storage (SCSI class, as qemu) */
	put_le16(c + 0x2c, 0x1af4);
	put_le16(c + 0x2e, 0x0002);
	put_le32(c + 0x10, (uint32_t)b->bar);/* BAR0: 32-bit memory */
	b->pci.bar_size[0] = VBLK_BAR_SIZE;
	b->pci.bar_addr[0] = (uint32_t)b->bar;
	c[0x34] = 0x40;
	add_cap(c, 0x40, 0x50, 1, OFF_COMMON, 0x38, 16);
	add_cap(c, 0x50, 0x64, 2, OFF_NOTIFY, NOTIFY_MULT, 20);
	put_le32(c + 0x50 + 16, NOTIFY_MULT);
	add_cap(c, 0x64, 0x74, 3, OFF_ISR, 4, 16);
	add_cap(c, 0x74, 0x00, 4, OFF_DEVICE, 0x40, 16);
	if (machine_add_mmio(m, b->bar, VBLK_BAR_SIZE, b, bar_io) < 0) {
		free(b);
		return error_set(err, EXIT_FAIL, "too many MMIO ranges");
	}
	m->blk[m->nblk++] = b;
	return 0;
}

void virtio_blk_free_all(struct machine *m)
{
	for (int i = 0; i < m->nblk; i++)
		free(m->blk[i]);
	m->nblk = 0;
}

#define VBLK_STATE_LEN 64

int virtio_blk_save(struct machine *m, struct vsv_writer *w)
{
	for (int i = 0; i < m->nblk; i++) {
		struct virtio_blk *b = m->blk[i];
		uint8_t s[VBLK_STATE_LEN] = { 0 };
		put_le64(s + 0, b->driver_features);
		put_le32(s + 8, b->dfselect);
		put_le32(s + 12, b->gfselect);
		s[16] = b->status;
		s[17] = b->isr;
		s[18] = (uint8_t)b->irq_level;
		put_le16(s + 20, b->qsize);
		put_le16(s + 22, b->qenable);
		put_le64(s + 24, b->qdesc);
		put_le64(s + 32, b->qavail);
		put_le64(s + 40, b->qused);
		put_le16(s + 48, b->last_avail);
		put_le16(s + 50, b->used_idx);
		put_le64(s + 56, b->disk->size);
		vsv_put(w, VSV_DEV_VIRTIO_BLK, (uint32_t)i, s, sizeof(s));
	}
	return 0;
}

int virtio_blk_restore(struct machine *m, const struct vsv_reader *r, const char *what,
		       struct error *err)
{
	for (int i = 0; i < m->nblk; i++) {
		struct virtio_blk *b = m->blk[i];
		uint8_t s[VBLK_STATE_LEN];
		if (vsv_need(r, VSV_DEV_VIRTIO_BLK, (uint32_t)i, s, sizeof(s), what, err) < 0)
			return -1;
		if (get_le64(s + 56) != b->disk->size)
			return error_set(err, EXIT_DATAERR, "'%s': disk %d was %llu bytes when saved, "
					 "it is %llu now", what, i, (unsigned long long)get_le64(s + 56),
					 (unsigned long long)b->disk->size);
		b->driver_features = get_le64(s + 0);
		b->dfselect = get_le32(s + 8);
		b->gfselect = get_le32(s + 12);
		b->status = s[16];
		b->isr = s[17];
		b->irq_level = s[18];
		b->qsize = get_le16(s + 20);
		b->qenable = get_le16(s + 22);
		b->qdesc = get_le64(s + 24);
		b->qavail = get_le64(s + 32);
		b->qused = get_le64(s + 40);
		b->last_avail = get_le16(s + 48);
		b->used_idx = get_le16(s + 50);
		if (!b->qsize || b->qsize > VBLK_QUEUE_MAX || (b->qsize & (b->qsize - 1)))
			return error_set(err, EXIT_DATAERR, "'%s': bad virtio queue size %u", what,
					 b->qsize);
	}
	return 0;
}

/* Swap the disk behind device i (online snapshot: the new top layer). */
void virtio_blk_set_disk(struct machine *m, int i, struct disk *d)
{
	m->blk[i]->disk = d;
}
