/*
 * zeropage.c — `test-tool zeropage KERNEL MEM_BYTES CMDLINE INITRD_LEN`:
 * the zero page vmctl builds for a bzImage, printed as key=value lines for
 * tests/bats/linux-boot.bats. Nothing runs: it calls x86_bzimage_parse,
 * x86_initrd_addr and x86_build_zero_page the way x86_load_kernel does
 * (cmdline at GPA_CMDLINE; initrd at the highest page below
 * limit = min(RAM below the PCI hole, initrd_addr_max + 1) and not under
 * floor = the kernel's end as x86_bzimage_kernel_end() computes it (protected-mode
 * code), page-rounded), then reads every field back from the zero page.
 *
 * Exit 0; 65 when the file is not a usable bzImage; 64 (after printing) when
 * the command line is too long or the initrd does not fit, as vmctl refuses.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "endian.h"
#include "error.h"
#include "kvm.h"
#include "safeio.h"
#include "x86boot.h"

int tt_zeropage(const char *kernel, uint64_t mem, const char *cmdline, uint64_t initrd_len);

/* setup-header fields the loader writes (offset, length) */
static const unsigned loader_fields[][2] = {
	{ BP_TYPE_OF_LOADER, 1 }, { BP_LOADFLAGS, 1 }, { BP_RAMDISK_IMAGE, 4 },
	{ BP_RAMDISK_SIZE, 4 },   { BP_HEAP_END_PTR, 2 }, { BP_CMD_LINE_PTR, 4 },
};

static int loader_sets(unsigned off)
{
	for (size_t i = 0; i < sizeof(loader_fields) / sizeof(loader_fields[0]); i++)
		if (off >= loader_fields[i][0] && off < loader_fields[i][0] + loader_fields[i][1])
			return 1;
	return 0;
}

int tt_zeropage(const char *kernel, uint64_t mem, const char *cmdline, uint64_t initrd_len)
{
	static uint8_t zp[4096];
	struct bzimage_info bi;
	struct error e;
	struct stat st;
	uint8_t *img;
	int fd = open(kernel, O_RDONLY);
	int rc = 0;

	error_init(&e);
	if (fd < 0 || fstat(fd, &st) < 0 || !(img = malloc((size_t)st.st_size + 1)) ||
	    io_pread_full(fd, img, (size_t)st.st_size, 0) != st.st_size) {
		fprintf(stderr, "test-tool: cannot read '%s': %s\n", kernel, strerror(errno));
		return 66;
	}
	close(fd);
	uint64_t len = (uint64_t)st.st_size;
	if (x86_bzimage_parse(img, len, &bi, kernel, &e) < 0) {
		fprintf(stderr, "test-tool: %s\n", e.msg);
		free(img);
		return e.code;
	}

	/* the choices x86_load_kernel makes */
	uint64_t lowmem = mem < GPA_PCI_HOLE ? mem : GPA_PCI_HOLE;
	uint64_t pm_len = len - bi.setup_len;
	uint64_t kend = x86_bzimage_kernel_end(&bi, GPA_KERNEL, pm_len);
	uint64_t limit = lowmem, floor = (kend + 0xfff) & ~0xfffULL;
	size_t clen = strlen(cmdline);

	if (bi.initrd_addr_max && bi.initrd_addr_max + 1ULL < limit)
		limit = bi.initrd_addr_max + 1ULL;
	uint64_t initrd_gpa = initrd_len ? x86_initrd_addr(initrd_len, limit, floor) : 0;
	x86_build_zero_page(zp, img, len, &bi, mem, GPA_CMDLINE, (uint32_t)clen + 1, initrd_gpa,
			    initrd_len);

	printf("version=0x%04x\n", get_le16(zp + BP_VERSION));
	printf("setup_sects=%u\n", zp[BP_SETUP_SECTS]);
	printf("setup_len=%" PRIu64 "\n", bi.setup_len);
	printf("header_end=0x%x\n", bi.header_end);
	printf("xloadflags=0x%04x\n", get_le16(zp + BP_XLOADFLAGS));
	printf("initrd_addr_max=0x%08x\n", get_le32(zp + BP_INITRD_ADDR_MAX));
	printf("cmdline_size=%u\n", get_le32(zp + BP_CMDLINE_SIZE));
	printf("init_size=0x%08x\n", get_le32(zp + BP_INIT_SIZE));
	printf("pref_address=0x%" PRIx64 "\n", get_le64(zp + BP_PREF_ADDRESS));
	printf("kernel_alignment=0x%08x\n", get_le32(zp + 0x230));
	printf("relocatable_kernel=%u\n", zp[0x234]);
	printf("type_of_loader=0x%02x\n", zp[BP_TYPE_OF_LOADER]);
	printf("loadflags=0x%02x\n", zp[BP_LOADFLAGS]);
	printf("heap_end_ptr=0x%04x\n", get_le16(zp + BP_HEAP_END_PTR));
	printf("cmd_line_ptr=0x%" PRIx64 "\n",
	       (uint64_t)get_le32(zp + BP_EXT_CMD_LINE_PTR) << 32 | get_le32(zp + BP_CMD_LINE_PTR));
	printf("cmdline_len=%zu\n", clen);
	printf("kernel_load=0x%llx\n", (unsigned long long)GPA_KERNEL);
	printf("kernel_end=0x%" PRIx64 "\n", kend);
	printf("initrd_limit=0x%" PRIx64 "\n", limit);
	printf("ramdisk_image=0x%" PRIx64 "\n",
	       (uint64_t)get_le32(zp + BP_EXT_RAMDISK_IMAGE) << 32 | get_le32(zp + BP_RAMDISK_IMAGE));
	printf("ramdisk_size=%" PRIu64 "\n",
	       (uint64_t)get_le32(zp + BP_EXT_RAMDISK_SIZE) << 32 | get_le32(zp + BP_RAMDISK_SIZE));
	unsigned n = zp[BP_E820_ENTRIES];
	printf("e820_entries=%u\n", n);
	for (unsigned i = 0; i < n && i < 128; i++) {
		const uint8_t *p = zp + BP_E820_TABLE + 20 * i;
		printf("e820.%u=0x%" PRIx64 ":0x%" PRIx64 ":%u\n", i, get_le64(p), get_le64(p + 8),
		       get_le32(p + 16));
	}
	unsigned diff = 0;
	for (unsigned off = BP_SETUP_SECTS; off < bi.header_end && !diff; off++)
		if (!loader_sets(off) && zp[off] != img[off])
			diff = off;
	if (diff)
		printf("header_copy=differs@0x%x\n", diff);
	else
		printf("header_copy=ok\n");

	if (clen >= GPA_CMDLINE_MAX || (bi.cmdline_size && clen > bi.cmdline_size)) {
		printf("error=command line of %zu bytes is too long\n", clen);
		rc = EXIT_USAGE;
	}
	if (initrd_len && !initrd_gpa) {
		printf("error=initrd of %" PRIu64 " bytes does not fit between 0x%" PRIx64
		       " and 0x%" PRIx64 "\n", initrd_len, floor, limit);
		rc = EXIT_USAGE;
	}
	free(img);
	return rc;
}
