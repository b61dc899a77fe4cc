/* x86boot.c — kernel loading (bzImage, ELF64), zero page, e820, MP table,
 * CPUID and the 64-bit entry state of the boot vCPU (DESIGN §9). */
#include "machine.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "endian.h"
#include "safeio.h"
#include "x86boot.h"

static int read_file(const char *path, const char *what, uint8_t **out, uint64_t *len,
		     uint64_t max, struct error *err)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return error_errno(err, errno, "cannot open %s '%s'", what, path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return error_set(err, EXIT_DATAERR, "%s '%s' is not a regular file", what, path);
	}
	if ((uint64_t)st.st_size > max) {
		close(fd);
		return error_set(err, EXIT_DATAERR, "%s '%s' is too large (%lld bytes)", what, path,
				 (long long)st.st_size);
	}
	*out = malloc((size_t)st.st_size + 1);
	if (!*out) {
		close(fd);
		return error_set(err, EXIT_FAIL, "out of memory");
	}
	n = io_pread_full(fd, *out, (size_t)st.st_size, 0);
	close(fd);
	if (n != st.st_size) { /* e.g. a /sys file: its size is not what it reads */
		int e = n < 0 ? errno : EIO;
		free(*out);
		*out = NULL; /* the caller frees it too */
		return error_errno(err, e, "cannot read %s '%s'", what, path);
	}
	*len = (uint64_t)st.st_size;
	return 0;
}

/* ---- zero page ---- */

int x86_bzimage_parse(const uint8_t *img, uint64_t len, struct bzimage_info *bi,
		      const char *what, struct error *err)
{
	if (len < 0x1000 || get_le16(img + BP_BOOT_FLAG) != 0xaa55 ||
	    memcmp(img + BP_HEADER, "HdrS", 4) != 0)
		return error_set(err, EXIT_DATAERR, "'%s' is not a bzImage (no 'HdrS' header)", what);
	bi->version = get_le16(img + BP_VERSION);
	if (bi->version < 0x020c)
		return error_set(err, EXIT_DATAERR, "'%s': boot protocol %u.%02u is older than 2.12",
				 what, bi->version >> 8, bi->version & 0xff);
	bi->xloadflags = get_le16(img + BP_XLOADFLAGS);
	if (!(bi->xloadflags & XLF_KERNEL_64))
		return error_set(err, EXIT_DATAERR, "'%s' has no 64-bit entry point", what);
	bi->setup_sects = img[BP_SETUP_SECTS] ? img[BP_SETUP_SECTS] : 4;
	bi->setup_len = ((uint64_t)bi->setup_sects + 1) * 512;
	if (bi->setup_len >= len)
		return error_set(err, EXIT_DATAERR, "'%s': setup of %llu bytes is larger than the "
				 "file", what, (unsigned long long)bi->setup_len);
	bi->header_end = 0x202 + img[0x201];  /* the jump at 0x200 skips the header */
	if (bi->header_end > 0x1000 || bi->header_end < 0x268) /* 2.12 ends at 0x268 */
		return error_set(err, EXIT_DATAERR, "'%s': bad setup header length", what);
	bi->initrd_addr_max = get_le32(img + BP_INITRD_ADDR_MAX);
	bi->cmdline_size = get_le32(img + BP_CMDLINE_SIZE);
	bi->init_size = get_le32(img + BP_INIT_SIZE);
	bi->kernel_alignment = get_le32(img + BP_KERNEL_ALIGNMENT);
	bi->pref_address = get_le64(img + BP_PREF_ADDRESS);
	return 0;
}

uint64_t x86_bzimage_kernel_end(const struct bzimage_info *bi, uint64_t load, uint64_t pm_len)
{
	uint64_t align = bi->kernel_alignment && !(bi->kernel_alignment & (bi->kernel_alignment - 1))
				 ? bi->kernel_alignment : 0x200000;
	uint64_t run = (load + align - 1) & ~(align - 1);

	if (bi->pref_address > run)
		run = bi->pref_address;
	return run + bi->init_size > load + pm_len ? run + bi->init_size : load + pm_len;
}

void x86_e820(uint64_t ram_size, struct e820_entry *e, int *n)
{
	uint64_t low = ram_size < GPA_PCI_HOLE ? ram_size : GPA_PCI_HOLE;

	*n = 0;
	e[(*n)++] = (struct e820_entry){ 0, GPA_BASE_END, E820_RAM };
	e[(*n)++] = (struct e820_entry){ GPA_BASE_END, 0xa0000 - GPA_BASE_END, E820_RESERVED };
	e[(*n)++] = (struct e820_entry){ 0xf0000, 0x10000, E820_RESERVED };
	e[(*n)++] = (struct e820_entry){ GPA_EBDA_END, low - GPA_EBDA_END, E820_RAM };
	if (ram_size > low)
		e[(*n)++] = (struct e820_entry){ GPA_4G, ram_size - low, E820_RAM };
}

int x86_build_zero_page(uint8_t *zp, const uint8_t *img, uint64_t img_len,
			const struct bzimage_info *bi, uint64_t ram_size, uint64_t cmdline_gpa,
			uint32_t cmdline_len, uint64_t initrd_gpa, uint64_t initrd_len)
{
	struct e820_entry e[8];
	int n;

	memset(zp, 0, 4096);
	if (img && bi)
		memcpy(zp + BP_SETUP_SECTS, img + BP_SETUP_SECTS,
		       (size_t)(bi->header_end - BP_SETUP_SECTS));
	else {
		put_le16(zp + BP_BOOT_FLAG, 0xaa55);
		memcpy(zp + BP_HEADER, "HdrS", 4);
		put_le16(zp + BP_VERSION, 0x020c);
	}
	(void)img_len;
	zp[BP_TYPE_OF_LOADER] = 0xff;
	zp[BP_LOADFLAGS] |= LOADED_HIGH | CAN_USE_HEAP;
	put_le16(zp + BP_HEAP_END_PTR, 0xfe00);
	put_le32(zp + BP_CMD_LINE_PTR, (uint32_t)cmdline_gpa);
	put_le32(zp + BP_EXT_CMD_LINE_PTR, (uint32_t)(cmdline_gpa >> 32));
	if (!bi)
		put_le32(zp + BP_CMDLINE_SIZE, cmdline_len);
	put_le32(zp + BP_RAMDISK_IMAGE, (uint32_t)initrd_gpa);
	put_le32(zp + BP_RAMDISK_SIZE, (uint32_t)initrd_len);
	put_le32(zp + BP_EXT_RAMDISK_IMAGE, (uint32_t)(initrd_gpa >> 32));
	put_le32(zp + BP_EXT_RAMDISK_SIZE, (uint32_t)(initrd_len >> 32));
	x86_e820(ram_size, e, &n);
	zp[BP_E820_ENTRIES] = (uint8_t)n;
	for (int i = 0; i < n; i++) {
		uint8_t *p = zp + BP_E820_TABLE + 20 * i;
		put_le64(p, e[i].addr);
		put_le64(p + 8, e[i].size);
		put_le32(p + 16, e[i].type);
	}
	return 0;
}

/* Highest page-aligned address for the initrd under `limit` and above `floor`. */
uint64_t x86_initrd_addr(uint64_t initrd_len, uint64_t limit, uint64_t floor)
{
	uint64_t a;

	if (initrd_len > limit)
		return 0;
	a = (limit - initrd_len) & ~0xfffULL;
	return a >= floor ? a : 0;
}

static int load_elf(struct machine *m, const uint8_t *img, uint64_t len, uint64_t *entry,
		    uint64_t *end, struct error *err)
{
	const char *path = m->opts.kernel;
	uint64_t phoff = get_le64(img + 32);
	uint16_t phentsize = get_le16(img + 54), phnum = get_le16(img + 56);
	int loaded = 0;

	if (img[4] != 2 || img[5] != 1 || get_le16(img + 18) != 62)
		return error_set(err, EXIT_DATAERR, "'%s' is not a little-endian x86-64 ELF64", path);
	if (phentsize < 56 || phnum == 0 || phoff > len || (uint64_t)phentsize * phnum > len - phoff)
		return error_set(err, EXIT_DATAERR, "'%s': bad ELF program headers", path);
	*end = 0;
	for (unsigned i = 0; i < phnum; i++) {
		const uint8_t *ph = img + phoff + (uint64_t)i * phentsize;
		uint64_t off = get_le64(ph + 8), paddr = get_le64(ph + 24);
		uint64_t filesz = get_le64(ph + 32), memsz = get_le64(ph + 40);
		uint8_t *dst;
		if (get_le32(ph) != 1 /* PT_LOAD */)
			continue;
		if (filesz > memsz || off > len || filesz > len - off)
			return error_set(err, EXIT_DATAERR, "'%s': segment %u lies outside the file",
					 path, i);
		dst = gpa_to_hva(m, paddr, memsz);
		if (!dst || paddr < GPA_EBDA_END)
			return error_set(err, EXIT_DATAERR, "'%s': segment %u at 0x%llx+%llu does not fit "
					 "in guest RAM above 1 MiB", path, i,
					 (unsigned long long)paddr, (unsigned long long)memsz);
		memcpy(dst, img + off, filesz);
		memset(dst + filesz, 0, memsz - filesz);
		if (paddr + memsz > *end)
			*end = paddr + memsz;
		loaded++;
	}
	if (!loaded)
		return error_set(err, EXIT_DATAERR, "'%s' has no loadable segment", path);
	*entry = get_le64(img + 24);
	if (!gpa_to_hva(m, *entry, 1))
		return error_set(err, EXIT_DATAERR, "'%s': entry 0x%llx is outside guest RAM", path,
				 (unsigned long long)*entry);
	return 0;
}

int x86_load_kernel(struct machine *m, struct error *err)
{
	uint8_t *img = NULL, *initrd = NULL;
	uint64_t len, ilen = 0, entry = 0, kend = 0, initrd_gpa = 0;
	struct bzimage_info bi;
	bool bz;
	const char *cmdline = m->opts.cmdline ? m->opts.cmdline : "";
	size_t clen = strlen(cmdline);
	uint8_t *zp = gpa_to_hva(m, GPA_ZERO_PAGE, 4096);
	uint8_t *cl = gpa_to_hva(m, GPA_CMDLINE, GPA_CMDLINE_MAX);
	int rc = -1;

	if (!m->opts.kernel)
		return error_set(err, EXIT_USAGE, "no kernel to boot");
	if (read_file(m->opts.kernel, "kernel", &img, &len, 512ULL << 20, err) < 0)
		return -1;
	bz = len >= 0x1000 && get_le16(img + BP_BOOT_FLAG) == 0xaa55 &&
	     !memcmp(img + BP_HEADER, "HdrS", 4);
	if (bz) {
		if (x86_bzimage_parse(img, len, &bi, m->opts.kernel, err) < 0)
			goto out;
		uint64_t pm_len = len - bi.setup_len;
		uint8_t *dst = gpa_to_hva(m, GPA_KERNEL, pm_len);
		if (!dst) {
			error_set(err, EXIT_DATAERR, "kernel '%s' does not fit in guest RAM",
				  m->opts.kernel);
			goto out;
		}
		memcpy(dst, img + bi.setup_len, pm_len);
		entry = GPA_KERNEL + 0x200;
		kend = x86_bzimage_kernel_end(&bi, GPA_KERNEL, pm_len);
		if (kend > m->lowmem) {
			error_set(err, EXIT_USAGE, "kernel '%s' needs %llu MiB of guest memory to "
				  "decompress, the VM has %llu MiB", m->opts.kernel,
				  (unsigned long long)((kend + (1 << 20) - 1) >> 20),
				  (unsigned long long)(m->ram_size >> 20));
			goto out;
		}
	} else if (len >= 64 && !memcmp(img, "\x7f" "ELF", 4)) {
		if (load_elf(m, img, len, &entry, &kend, err) < 0)
			goto out;
	} else {
		error_set(err, EXIT_DATAERR, "kernel '%s' is neither a bzImage nor an ELF64 file",
			  m->opts.kernel);
		goto out;
	}
	if (clen >= GPA_CMDLINE_MAX || (bz && bi.cmdline_size && clen > bi.cmdline_size)) {
		error_set(err, EXIT_USAGE, "kernel command line of %zu bytes is too long", clen);
		goto out;
	}
	memcpy(cl, cmdline, clen + 1);
	if (m->opts.initrd) {
		uint64_t limit = m->lowmem;
		if (read_file(m->opts.initrd, "initrd", &initrd, &ilen, m->lowmem, err) < 0)
			goto out;
		if (bz && bi.initrd_addr_max && bi.initrd_addr_max + 1ULL < limit)
			limit = bi.initrd_addr_max + 1ULL;
		initrd_gpa = x86_initrd_addr(ilen, limit, (kend + 0xfff) & ~0xfffULL);
		if (!initrd_gpa) {
			error_set(err, EXIT_USAGE, "initrd '%s' (%llu bytes) does not fit in guest RAM "
				  "below 0x%llx", m->opts.initrd, (unsigned long long)ilen,
				  (unsigned long long)limit);
			goto out;
		}
		memcpy(gpa_to_hva(m, initrd_gpa, ilen), initrd, ilen);
	}
	x86_build_zero_page(zp, bz ? img : NULL, len, bz ? &bi : NULL, m->ram_size, GPA_CMDLINE,
			    (uint32_t)clen + 1, initrd_gpa, ilen);
	m->entry = entry;
	rc = 0;
out:
	free(img);
	free(initrd);
	return rc;
}

/* ---- CPU state ---- */

int x86_setup_cpuid(struct machine *m, unsigned cpu, struct error *err)
{
	int nent = 128;
	struct kvm_cpuid2 *c;

	for (;;) {
		c = calloc(1, sizeof(*c) + (size_t)nent * sizeof(struct kvm_cpuid_entry2));
		if (!c)
			return error_set(err, EXIT_FAIL, "out of memory");
		c->nent = (uint32_t)nent;
		if (ioctl(m->kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
			break;
		free(c);
		if (errno != E2BIG || nent > 4096)
			return error_errno(err, errno, "KVM_GET_SUPPORTED_CPUID");
		nent *= 2;
	}
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];
		switch (e->function) {
		case 1:
			e->ebx = (e->ebx & 0x0000ffffu) | (cpu << 24) | (m->nvcpus << 16);
			e->ecx |= 1u << 31; /* hypervisor present */
			if (m->nvcpus > 1)
				e->edx |= 1u << 28; /* HTT: several logical processors */
			break;
		case 0xb:
		case 0x1f:
			e->edx = cpu;
			break;
		}
	}
	if (ioctl(m->vcpu_fd[cpu], KVM_SET_CPUID2, c) < 0) {
		int e = errno;
		free(c);
		return error_errno(err, e, "KVM_SET_CPUID2");
	}
	free(c);
	return 0;
}

static void seg(struct kvm_segment *s, uint16_t sel, uint8_t type, bool code)
{
	memset(s, 0, sizeof(*s));
	s->base = 0;
	s->limit = 0xffffffff;
	s->selector = sel;
	s->type = type;
	s->present = 1;
	s->s = 1;
	s->g = 1;
	s->l = code ? 1 : 0;
	s->db = code ? 0 : 1;
}

int x86_setup_vcpu(struct machine *m, unsigned cpu, struct error *err)
{
	struct kvm_sregs sr;
	struct kvm_regs r;
	struct kvm_fpu fpu;
	uint64_t *gdt, *pml4, *pdpt, *pd;

	memset(&fpu, 0, sizeof(fpu));
	fpu.fcw = 0x37f;
	fpu.mxcsr = 0x1f80;
	if (ioctl(m->vcpu_fd[cpu], KVM_SET_FPU, &fpu) < 0)
		return error_errno(err, errno, "KVM_SET_FPU");
	if (cpu != 0)
		return 0; /* application processors wait for INIT/SIPI */

	/* flat GDT: 0x10 code64, 0x18 data (Linux's __BOOT_CS/__BOOT_DS), 0x20 a
	 * 16-byte 64-bit TSS descriptor */
	gdt = gpa_to_hva(m, GPA_GDT, 6 * 8);
	gdt[0] = 0;
	gdt[1] = 0;
	gdt[2] = 0x00af9b000000ffffULL;
	gdt[3] = 0x00cf93000000ffffULL;
	gdt[4] = 0x00008b0000000067ULL;
	gdt[5] = 0;
	/* identity map of the low 4 GiB with 2 MiB pages */
	pml4 = gpa_to_hva(m, GPA_PML4, 6 * 4096);
	memset(pml4, 0, 6 * 4096);
	pdpt = pml4 + 512;
	pd = pml4 + 1024;
	pml4[0] = (GPA_PML4 + 0x1000) | 0x3;
	for (int i = 0; i < 4; i++) {
		pdpt[i] = (GPA_PML4 + 0x2000 + 0x1000ULL * i) | 0x3;
		for (int j = 0; j < 512; j++)
			pd[512 * i + j] = ((uint64_t)i << 30 | (uint64_t)j << 21) | 0x83;
	}

	if (ioctl(m->vcpu_fd[cpu], KVM_GET_SREGS, &sr) < 0)
		return error_errno(err, errno, "KVM_GET_SREGS");
	seg(&sr.cs, 0x10, 0xb, true);
	seg(&sr.ds, 0x18, 0x3, false);
	sr.es = sr.fs = sr.gs = sr.ss = sr.ds;
	memset(&sr.tr, 0, sizeof(sr.tr));
	sr.tr.selector = 0x20;
	sr.tr.limit = 0x67;
	sr.tr.type = 0xb;
	sr.tr.present = 1;
	sr.gdt.base = GPA_GDT;
	sr.gdt.limit = 6 * 8 - 1;
	sr.idt.base = 0;
	sr.idt.limit = 0;
	sr.cr0 = 0x80000011;   /* PG | ET | PE */
	sr.cr3 = GPA_PML4;
	sr.cr4 = 0x20;         /* PAE */
	sr.efer = 0x500;       /* LMA | LME */
	if (ioctl(m->vcpu_fd[cpu], KVM_SET_SREGS, &sr) < 0)
		return error_errno(err, errno, "KVM_SET_SREGS");

	memset(&r, 0, sizeof(r));
	r.rflags = 0x2;
	r.rip = m->entry;
	r.rsi = GPA_ZERO_PAGE;
	r.rsp = GPA_ZERO_PAGE - 16; /* a little stack below the zero page */
	if (ioctl(m->vcpu_fd[cpu], KVM_SET_REGS, &r) < 0)
		return error_errno(err, errno, "KVM_SET_REGS");
	return 0;
}

/* ---- MP table (Intel MultiProcessor Specification 1.4) ---- */

static uint8_t mp_sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return (uint8_t)(0 - s);
}

int x86_write_mptable(struct machine *m, struct error *err)
{
	uint8_t *base = gpa_to_hva(m, GPA_MPTABLE, GPA_MPTABLE_MAX), *p, *cfg;
	unsigned ioapic_id = m->nvcpus, entries = 0;
	size_t need = 16 + 44 + 20 * (size_t)m->nvcpus + 8 * (2 + 1 + 16 + (size_t)m->nblk + 2);

	if (!base || need > GPA_MPTABLE_MAX)
		return error_set(err, EXIT_FAIL, "no room for the MP table");
	memset(base, 0, need);
	/* floating pointer */
	memcpy(base, "_MP_", 4);
	put_le32(base + 4, (uint32_t)(GPA_MPTABLE + 16));
	base[8] = 1;
	base[9] = 4;
	base[10] = mp_sum(base, 16);
	cfg = base + 16;
	p = cfg + 44;
	for (unsigned i = 0; i < m->nvcpus; i++, p += 20, entries++) {
		p[0] = 0;                  /* processor */
		p[1] = (uint8_t)i;         /* LAPIC id */
		p[2] = 0x14;
		p[3] = 1 | (i == 0 ? 2 : 0); /* enabled, BSP */
		put_le32(p + 4, 0x600);
		put_le32(p + 8, 0x201);    /* FPU, APIC */
	}
	p[0] = 1; p[1] = 0; memcpy(p + 2, "PCI   ", 6); p += 8; entries++;
	p[0] = 1; p[1] = 1; memcpy(p + 2, "ISA   ", 6); p += 8; entries++;
	p[0] = 2; p[1] = (uint8_t)ioapic_id; p[2] = 0x11; p[3] = 1;
	put_le32(p + 4, 0xfec00000); p += 8; entries++;
	for (unsigned irq = 0; irq < 16; irq++, p += 8, entries++) {
		/* ISA IRQ n on IOAPIC pin n, the timer (IRQ 0) on pin 2 as KVM routes it */
		p[0] = 3; p[1] = 0; put_le16(p + 2, 0); p[4] = 1; p[5] = (uint8_t)irq;
		p[6] = (uint8_t)ioapic_id; p[7] = (uint8_t)(irq == 0 ? 2 : irq);
	}
	for (int s = 1; s <= m->nblk; s++, p += 8, entries++) {
		/* PCI slot s INTA#: level, active high */
		p[0] = 3; p[1] = 0; put_le16(p + 2, 0x000d); p[4] = 0; p[5] = (uint8_t)(s << 2);
		p[6] = (uint8_t)ioapic_id; p[7] = (uint8_t)pci_irq_for_slot((unsigned)s);
	}
	/* local interrupts: ExtINT on LINT0, NMI on LINT1 of every LAPIC */
	p[0] = 4; p[1] = 3; p[4] = 1; p[5] = 0; p[6] = 0xff; p[7] = 0; p += 8; entries++;
	p[0] = 4; p[1] = 1; p[4] = 1; p[5] = 0; p[6] = 0xff; p[7] = 1; p += 8; entries++;
	/* header */
	memcpy(cfg, "PCMP", 4);
	put_le16(cfg + 4, (uint16_t)(p - cfg));
	cfg[6] = 4;
	memcpy(cfg + 8, "VMSNAP  ", 8);
	memcpy(cfg + 16, "VMCTL       ", 12);
	put_le16(cfg + 34, (uint16_t)entries);
	put_le32(cfg + 36, 0xfee00000);
	cfg[7] = mp_sum(cfg, (size_t)(p - cfg));
	return 0;
}
