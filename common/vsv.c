#include "vsv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "endian.h"
#include "safeio.h"

uint32_t crc32c(uint32_t crc, const void *buf, size_t len)
{
	static uint32_t table[256];
	static int ready;
	const uint8_t *p = buf;

	if (!ready) {
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;
			for (int k = 0; k < 8; k++)
				c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
			table[i] = c;
		}
		ready = 1;
	}
	crc = ~crc;
	while (len--)
		crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

static void reserve(struct vsv_writer *w, size_t more)
{
	if (w->failed || w->len + more <= w->cap)
		return;
	size_t cap = w->cap ? w->cap : 65536;
	while (cap < w->len + more)
		cap *= 2;
	uint8_t *b = realloc(w->buf, cap);
	if (!b) {
		w->failed = 1;
		return;
	}
	w->buf = b;
	w->cap = cap;
}

void vsv_writer_init(struct vsv_writer *w, const char *creator)
{
	memset(w, 0, sizeof(*w));
	reserve(w, VSV_HEADER_SIZE);
	if (w->failed)
		return;
	memset(w->buf, 0, VSV_HEADER_SIZE);
	memcpy(w->buf, VSV_MAGIC, 8);
	put_le16(w->buf + 8, VSV_MAJOR);
	put_le16(w->buf + 10, VSV_MINOR);
	put_le32(w->buf + 12, VSV_HEADER_SIZE);
	/* 40 bytes, NUL-padded: a 40-byte creator fills the field (as vsv_parse reads it) */
	if (creator)
		memcpy(w->buf + 24, creator, strnlen(creator, 40));
	w->len = VSV_HEADER_SIZE;
}

void vsv_put(struct vsv_writer *w, uint32_t type, uint32_t instance, const void *data,
	     size_t len)
{
	size_t padded = (len + 7) & ~(size_t)7;

	reserve(w, VSV_SECTION_HEAD + padded);
	if (w->failed)
		return;
	uint8_t *h = w->buf + w->len;
	memset(h, 0, VSV_SECTION_HEAD + padded);
	put_le32(h, type);
	put_le32(h + 4, instance);
	put_le64(h + 8, len);
	put_le32(h + 16, crc32c(0, data, len));
	if (len)
		memcpy(h + VSV_SECTION_HEAD, data, len);
	w->len += VSV_SECTION_HEAD + padded;
	w->count++;
}

int vsv_writer_save(struct vsv_writer *w, const char *path, struct error *err)
{
	vsv_put(w, VSV_END, 0, NULL, 0);
	if (w->failed)
		return error_set(err, EXIT_FAIL, "out of memory writing '%s'", path);
	put_le32(w->buf + 16, w->count);
	return io_atomic_write(path, w->buf, w->len, 0600, err);
}

void vsv_writer_release(struct vsv_writer *w)
{
	free(w->buf);
	memset(w, 0, sizeof(*w));
}

static const char *type_name(uint32_t t)
{
	switch (t) {
	case VSV_CONFIG: return "config";
	case VSV_RAM: return "RAM";
	case VSV_VM_IRQCHIP: return "irqchip";
	case VSV_VM_PIT2: return "PIT";
	case VSV_VM_CLOCK: return "clock";
	case VSV_VCPU_MPSTATE: return "vCPU MP state";
	case VSV_VCPU_REGS: return "vCPU registers";
	case VSV_VCPU_SREGS: return "vCPU special registers";
	case VSV_VCPU_XSAVE: return "vCPU XSAVE";
	case VSV_VCPU_FPU: return "vCPU FPU";
	case VSV_VCPU_XCRS: return "vCPU XCRs";
	case VSV_VCPU_DEBUGREGS: return "vCPU debug registers";
	case VSV_VCPU_LAPIC: return "vCPU LAPIC";
	case VSV_VCPU_MSRS: return "vCPU MSRs";
	case VSV_VCPU_EVENTS: return "vCPU events";
	case VSV_VCPU_CPUID: return "vCPU CPUID";
	case VSV_VCPU_TSC_KHZ: return "vCPU TSC rate";
	case VSV_DEV_UART: return "UART";
	case VSV_DEV_I8042: return "i8042";
	case VSV_DEV_CMOS: return "CMOS";
	case VSV_DEV_PCI: return "PCI config";
	case VSV_DEV_VIRTIO_BLK: return "virtio-blk";
	default: return "unknown";
	}
}

struct vsv_reader *vsv_parse(const uint8_t *buf, size_t len, const char *what,
			     struct error *err)
{
	struct vsv_reader *r;
	size_t off;
	uint32_t count;

	if (len < VSV_HEADER_SIZE || memcmp(buf, VSV_MAGIC, 8) != 0) {
		error_set(err, EXIT_DATAERR, "'%s' is not a vmsnap state file", what);
		return NULL;
	}
	if (get_le16(buf + 8) != VSV_MAJOR) {
		error_set(err, EXIT_DATAERR, "'%s' has state format version %u.%u; this vmctl "
			  "reads version %u.x", what, get_le16(buf + 8), get_le16(buf + 10), VSV_MAJOR);
		return NULL;
	}
	off = get_le32(buf + 12);
	count = get_le32(buf + 16);
	if (off < VSV_HEADER_SIZE || off > len || count > 100000) {
		error_set(err, EXIT_DATAERR, "'%s': bad state file header", what);
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (!r || !(r->sec = calloc(count ? count : 1, sizeof(*r->sec)))) {
		free(r);
		error_set(err, EXIT_FAIL, "out of memory");
		return NULL;
	}
	r->major = get_le16(buf + 8);
	r->minor = get_le16(buf + 10);
	memcpy(r->creator, buf + 24, 40);
	r->creator[40] = '\0';
	for (;;) {
		if (len - off < VSV_SECTION_HEAD) {
			error_set(err, EXIT_DATAERR, "'%s' is truncated (no end marker)", what);
			goto bad;
		}
		const uint8_t *h = buf + off;
		uint32_t type = get_le32(h), inst = get_le32(h + 4), crc = get_le32(h + 16);
		uint64_t l = get_le64(h + 8);
		if (type == VSV_END)
			break;
		if (l > VSV_MAX_SECTION || l > len - off - VSV_SECTION_HEAD) {
			error_set(err, EXIT_DATAERR, "'%s': %s section %u is truncated", what,
				  type_name(type), inst);
			goto bad;
		}
		if (crc32c(0, h + VSV_SECTION_HEAD, (size_t)l) != crc) {
			error_set(err, EXIT_DATAERR, "'%s': CRC mismatch in the %s section (instance %u)",
				  what, type_name(type), inst);
			goto bad;
		}
		if (r->nsec >= (int)count) {
			error_set(err, EXIT_DATAERR, "'%s': more sections than its header says", what);
			goto bad;
		}
		r->sec[r->nsec++] = (struct vsv_section){ type, inst, h + VSV_SECTION_HEAD, (size_t)l };
		off += VSV_SECTION_HEAD + (((size_t)l + 7) & ~(size_t)7);
		if (off > len) {
			error_set(err, EXIT_DATAERR, "'%s' is truncated", what);
			goto bad;
		}
	}
	return r;
bad:
	free(r->sec);
	free(r);
	return NULL;
}

struct vsv_reader *vsv_load(const char *path, struct error *err)
{
	struct stat st;
	struct vsv_reader *r;
	uint8_t *buf;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0) {
		error_errno(err, errno, "cannot open '%s'", path);
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)(1u << 30)) {
		close(fd);
		error_set(err, EXIT_DATAERR, "'%s' is not a state file", path);
		return NULL;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf || io_pread_full(fd, buf, (size_t)st.st_size, 0) != st.st_size) {
		free(buf);
		close(fd);
		error_errno(err, errno ? errno : EIO, "cannot read '%s'", path);
		return NULL;
	}
	close(fd);
	r = vsv_parse(buf, (size_t)st.st_size, path, err);
	if (!r) {
		free(buf);
		return NULL;
	}
	r->buf = buf;
	r->len = (size_t)st.st_size;
	return r;
}

int vsv_get(const struct vsv_reader *r, uint32_t type, uint32_t instance, const void **data,
	    size_t *len)
{
	for (int i = 0; i < r->nsec; i++)
		if (r->sec[i].type == type && r->sec[i].instance == instance) {
			*data = r->sec[i].data;
			*len = r->sec[i].len;
			return 1;
		}
	return 0;
}

int vsv_need(const struct vsv_reader *r, uint32_t type, uint32_t instance, void *out,
	     size_t len, const char *what, struct error *err)
{
	const void *p;
	size_t n;

	if (!vsv_get(r, type, instance, &p, &n))
		return error_set(err, EXIT_DATAERR, "'%s' has no %s section (instance %u)", what,
				 type_name(type), instance);
	if (n != len)
		return error_set(err, EXIT_DATAERR, "'%s': %s section (instance %u) is %zu bytes, "
				 "expected %zu", what, type_name(type), instance, n, len);
	memcpy(out, p, len);
	return 0;
}

void vsv_free(struct vsv_reader *r)
{
	if (!r)
		return;
	free(r->sec);
	free(r->buf);
	free(r);
}
