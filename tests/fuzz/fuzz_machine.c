/* fuzz_machine.c — the KVM-less machine of fuzz_machine.h. */
#include "fuzz_machine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_util.h"

static struct machine *mach;
static char disk_path[512];

static void die(const char *what, const struct error *e)
{
	fprintf(stderr, "fuzz machine: %s: %s\n", what, e ? e->msg : "");
	abort();
}

static void build(struct machine *m)
{
	struct error e;
	struct disk *d;

	if (truncate(disk_path, 0) < 0 || truncate(disk_path, FUZZ_DISK_SIZE) < 0)
		die("cannot size the disk file", NULL);
	d = disk_open_raw(disk_path, DISK_NOLOCK, &e);
	if (!d)
		die("disk", &e);
	if (devices_init(m, &e) < 0)
		die("devices", &e);
	if (pci_init(m, &e) < 0)
		die("pci", &e);
	if (virtio_blk_add(m, d, &e) < 0)
		die("virtio-blk", &e);
	m->opts.disks[0] = d;
	m->opts.ndisks = 1;
}

/* FUZZ_VERBOSE=1: print the device model's diagnostics (debugging a seed) */
static void log_msg(void *ctx, const char *msg)
{
	(void)ctx;
	fprintf(stderr, "vmm: %s\n", msg);
}

static void teardown(struct machine *m)
{
	virtio_blk_free_all(m);
	pci_free(m);
	devices_free(m);
	disk_close(m->opts.disks[0]);
	m->opts.disks[0] = NULL;
	m->npio = m->nmmio = 0;
}

struct machine *fuzz_machine(void)
{
	if (mach)
		return mach;
	mach = calloc(1, sizeof(*mach));
	if (!mach)
		abort();
	mach->kvm_fd = mach->vm_fd = -1;
	for (int i = 0; i < MACHINE_MAX_VCPUS; i++)
		mach->vcpu_fd[i] = -1;
	mach->ram_size = FUZZ_RAM_SIZE;
	mach->lowmem = FUZZ_RAM_SIZE / 2;
	mach->ram = malloc(FUZZ_RAM_SIZE);
	if (!mach->ram)
		abort();
	if (getenv("FUZZ_VERBOSE"))
		mach->opts.log = log_msg;
	pthread_mutex_init(&mach->dev_lock, NULL);
	pthread_mutex_init(&mach->lock, NULL);
	pthread_cond_init(&mach->cond, NULL);
	fuzz_path(disk_path, sizeof(disk_path), "blk.raw");
	fuzz_write_file(disk_path, "", 0);
	build(mach);
	return mach;
}

void fuzz_machine_reset(struct machine *m)
{
	teardown(m);
	memset(m->ram, 0, m->ram_size);
	build(m);
}

uint64_t fuzz_ram_gpa(size_t i)
{
	return i < FUZZ_RAM_SIZE / 2 ? i : GPA_4G + (i - FUZZ_RAM_SIZE / 2);
}

void fuzz_blk_mmio(struct machine *m, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	for (int i = 0; i < m->nmmio; i++)
		if (m->mmio[i].dev == m->blk[0]) {
			/* as kvm.c's dispatch: the start must be inside, len <= 8 */
			if (off < m->mmio[i].len && len <= 8)
				m->mmio[i].fn(m->mmio[i].dev, m->mmio[i].base + off, data, len,
					      is_write);
			return;
		}
}
