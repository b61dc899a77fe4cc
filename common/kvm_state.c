/*
 * kvm_state.c — the whole machine as data: every vCPU's, the VM's and the
 * devices' state to and from a .vsv, and RAM to and from a sparse .bin.
 * Order of the restore follows what KVM needs (see KVM-HOST.md): CPUID, TSC
 * rate, sregs, regs, XSAVE, XCRs, debug registers, LAPIC, MSRs (TSC deadline
 * last), events, MP state; then PIT, clock, interrupt controllers.
 */
#include "machine.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "endian.h"
#include "safeio.h"
#include "vsv.h"

#define MSR_IA32_TSC_DEADLINE 0x6e0
#define MAX_MSRS 512

static int xsave_size(struct machine *m)
{
	int n = ioctl(m->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);

	return n > (int)sizeof(struct kvm_xsave) ? n : (int)sizeof(struct kvm_xsave);
}

static int msr_list(struct machine *m, uint32_t *idx, uint32_t max, struct error *err)
{
	struct kvm_msr_list *l = calloc(1, sizeof(*l) + max * sizeof(uint32_t));
	int n;

	if (!l)
		return error_set(err, EXIT_FAIL, "out of memory");
	l->nmsrs = max;
	if (ioctl(m->kvm_fd, KVM_GET_MSR_INDEX_LIST, l) < 0) {
		free(l);
		return error_errno(err, errno, "KVM_GET_MSR_INDEX_LIST");
	}
	n = (int)l->nmsrs;
	memcpy(idx, l->indices, (size_t)n * sizeof(uint32_t));
	free(l);
	return n;
}

static int get_msr(int fd, uint32_t index, uint64_t *value)
{
	struct { struct kvm_msrs h; struct kvm_msr_entry e; } b;

	memset(&b, 0, sizeof(b));
	b.h.nmsrs = 1;
	b.e.index = index;
	if (ioctl(fd, KVM_GET_MSRS, &b) != 1)
		return -1;
	*value = b.e.data;
	return 0;
}

static int set_msr(int fd, uint32_t index, uint64_t value)
{
	struct { struct kvm_msrs h; struct kvm_msr_entry e; } b;

	memset(&b, 0, sizeof(b));
	b.h.nmsrs = 1;
	b.e.index = index;
	b.e.data = value;
	return ioctl(fd, KVM_SET_MSRS, &b) == 1 ? 0 : -1;
}

#define GET(fd, req, ptr, name)                                                  \
	do {                                                                     \
		if (ioctl(fd, req, ptr) < 0)                                     \
			return error_errno(err, errno, "cannot read %s", name);  \
	} while (0)

static int save_vcpu(struct machine *m, unsigned i, struct vsv_writer *w, uint32_t *msrs,
		     int nmsrs, struct error *err)
{
	int fd = m->vcpu_fd[i];
	struct kvm_mp_state mp;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_xcrs xcrs;
	struct kvm_debugregs dregs;
	struct kvm_lapic_state lapic;
	struct kvm_vcpu_events ev;
	int xs = xsave_size(m);
	uint8_t *buf;

	GET(fd, KVM_GET_MP_STATE, &mp, "the MP state");
	GET(fd, KVM_GET_REGS, &regs, "the registers");
	GET(fd, KVM_GET_SREGS, &sregs, "the special registers");
	GET(fd, KVM_GET_DEBUGREGS, &dregs, "the debug registers");
	GET(fd, KVM_GET_LAPIC, &lapic, "the LAPIC");
	GET(fd, KVM_GET_VCPU_EVENTS, &ev, "the vCPU events");
	vsv_put(w, VSV_VCPU_MPSTATE, i, &mp, sizeof(mp));
	vsv_put(w, VSV_VCPU_REGS, i, &regs, sizeof(regs));
	vsv_put(w, VSV_VCPU_SREGS, i, &sregs, sizeof(sregs));
	vsv_put(w, VSV_VCPU_DEBUGREGS, i, &dregs, sizeof(dregs));
	vsv_put(w, VSV_VCPU_LAPIC, i, &lapic, sizeof(lapic));
	vsv_put(w, VSV_VCPU_EVENTS, i, &ev, sizeof(ev));
	if (ioctl(m->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XCRS) > 0) {
		GET(fd, KVM_GET_XCRS, &xcrs, "the XCRs");
		vsv_put(w, VSV_VCPU_XCRS, i, &xcrs, sizeof(xcrs));
	}
	buf = calloc(1, (size_t)xs > 16384 ? (size_t)xs : 16384);
	if (!buf)
		return error_set(err, EXIT_FAIL, "out of memory");
	if (ioctl(fd, xs > (int)sizeof(struct kvm_xsave) ? KVM_GET_XSAVE2 : KVM_GET_XSAVE, buf) < 0) {
		struct kvm_fpu fpu;
		free(buf);
		GET(fd, KVM_GET_FPU, &fpu, "the FPU");
		vsv_put(w, VSV_VCPU_FPU, i, &fpu, sizeof(fpu));
	} else {
		vsv_put(w, VSV_VCPU_XSAVE, i, buf, (size_t)xs);
		free(buf);
	}
	/* CPUID as it was set */
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + 256 * sizeof(struct kvm_cpuid_entry2));
	if (!c)
		return error_set(err, EXIT_FAIL, "out of memory");
	c->nent = 256;
	if (ioctl(fd, KVM_GET_CPUID2, c) < 0) {
		free(c);
		return error_errno(err, errno, "cannot read the CPUID");
	}
	vsv_put(w, VSV_VCPU_CPUID, i, c->entries, c->nent * sizeof(struct kvm_cpuid_entry2));
	free(c);
	int khz = ioctl(fd, KVM_GET_TSC_KHZ, 0);
	if (khz > 0) {
		uint8_t k[4];
		put_le32(k, (uint32_t)khz);
		vsv_put(w, VSV_VCPU_TSC_KHZ, i, k, 4);
	}
	/* MSRs one by one; those KVM cannot read are left out (and logged once) */
	uint8_t *mb = malloc(4 + (size_t)nmsrs * 16);
	uint32_t cnt = 0;
	if (!mb)
		return error_set(err, EXIT_FAIL, "out of memory");
	for (int k = 0; k < nmsrs; k++) {
		uint64_t v;
		if (get_msr(fd, msrs[k], &v) < 0) {
			if (i == 0)
				machine_log(m, "MSR 0x%x cannot be read; not saved", msrs[k]);
			continue;
		}
		put_le32(mb + 4 + 16 * cnt, msrs[k]);
		put_le32(mb + 8 + 16 * cnt, 0);
		put_le64(mb + 12 + 16 * cnt, v);
		cnt++;
	}
	put_le32(mb, cnt);
	vsv_put(w, VSV_VCPU_MSRS, i, mb, 4 + (size_t)cnt * 16);
	free(mb);
	return 0;
}

int machine_save_state(struct machine *m, const char *config, struct vsv_writer *w,
		       struct error *err)
{
	uint32_t *msrs = malloc(MAX_MSRS * sizeof(uint32_t));
	uint8_t ram[16];
	int nmsrs, rc = -1;

	if (!msrs)
		return error_set(err, EXIT_FAIL, "out of memory");
	nmsrs = msr_list(m, msrs, MAX_MSRS, err);
	if (nmsrs < 0)
		goto out;
	vsv_put(w, VSV_CONFIG, 0, config, strlen(config));
	put_le64(ram, m->ram_size);
	put_le64(ram + 8, m->nvcpus);
	vsv_put(w, VSV_RAM, 0, ram, sizeof(ram));
	for (unsigned i = 0; i < m->nvcpus; i++)
		if (save_vcpu(m, i, w, msrs, nmsrs, err) < 0)
			goto out;
	for (uint32_t chip = 0; chip < 3; chip++) {
		struct kvm_irqchip ic;
		memset(&ic, 0, sizeof(ic));
		ic.chip_id = chip;
		if (ioctl(m->vm_fd, KVM_GET_IRQCHIP, &ic) < 0) {
			error_errno(err, errno, "cannot read interrupt controller %u", chip);
			goto out;
		}
		vsv_put(w, VSV_VM_IRQCHIP, chip, &ic, sizeof(ic));
	}
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clk;
	memset(&clk, 0, sizeof(clk));
	if (ioctl(m->vm_fd, KVM_GET_PIT2, &pit) < 0 || ioctl(m->vm_fd, KVM_GET_CLOCK, &clk) < 0) {
		error_errno(err, errno, "cannot read the PIT or the clock");
		goto out;
	}
	vsv_put(w, VSV_VM_PIT2, 0, &pit, sizeof(pit));
	vsv_put(w, VSV_VM_CLOCK, 0, &clk, sizeof(clk));
	pthread_mutex_lock(&m->dev_lock);
	devices_save(m, w);
	pci_save(m, w);
	virtio_blk_save(m, w);
	pthread_mutex_unlock(&m->dev_lock);
	rc = w->failed ? error_set(err, EXIT_FAIL, "out of memory") : 0;
out:
	free(msrs);
	return rc;
}

/*
 * Decoding of one vCPU's sections (pure: no KVM). Checks are in the order the
 * restore used to make them, so the first error reported is the same.
 */
int vcpu_state_decode(const struct vsv_reader *r, unsigned i, size_t xsave_max,
		      struct vcpu_state *out, const char *what, struct error *err)
{
	const void *p;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (vsv_need(r, VSV_VCPU_MPSTATE, i, &out->mp, sizeof(out->mp), what, err) < 0 ||
	    vsv_need(r, VSV_VCPU_REGS, i, &out->regs, sizeof(out->regs), what, err) < 0 ||
	    vsv_need(r, VSV_VCPU_SREGS, i, &out->sregs, sizeof(out->sregs), what, err) < 0 ||
	    vsv_need(r, VSV_VCPU_DEBUGREGS, i, &out->dregs, sizeof(out->dregs), what, err) < 0 ||
	    vsv_need(r, VSV_VCPU_LAPIC, i, &out->lapic, sizeof(out->lapic), what, err) < 0 ||
	    vsv_need(r, VSV_VCPU_EVENTS, i, &out->ev, sizeof(out->ev), what, err) < 0)
		return -1;
	if (vsv_get(r, VSV_VCPU_CPUID, i, &p, &n)) {
		size_t ne = n / sizeof(struct kvm_cpuid_entry2);
		if (n % sizeof(struct kvm_cpuid_entry2) || ne > VCPU_MAX_CPUID)
			return error_set(err, EXIT_DATAERR, "'%s': bad CPUID section", what);
		out->cpuid = calloc(1, sizeof(*out->cpuid) + n);
		if (!out->cpuid)
			return error_set(err, EXIT_FAIL, "out of memory");
		out->cpuid->nent = (uint32_t)ne;
		if (n)
			memcpy(out->cpuid->entries, p, n);
	}
	if (vsv_get(r, VSV_VCPU_TSC_KHZ, i, &p, &n) && n == 4) {
		out->have_tsc_khz = true;
		out->tsc_khz = get_le32(p);
	}
	if (vsv_get(r, VSV_VCPU_XSAVE, i, &p, &n)) {
		/* KVM_SET_XSAVE reads at least a struct kvm_xsave */
		if (xsave_max < sizeof(struct kvm_xsave))
			xsave_max = sizeof(struct kvm_xsave);
		if (n > xsave_max) {
			vcpu_state_free(out);
			return error_set(err, EXIT_UNAVAILABLE, "'%s': the state needs an XSAVE area "
					 "of %zu bytes, this host's KVM has %zu", what, n, xsave_max);
		}
		out->xsave = calloc(1, xsave_max);
		if (!out->xsave) {
			vcpu_state_free(out);
			return error_set(err, EXIT_FAIL, "out of memory");
		}
		if (n)
			memcpy(out->xsave, p, n);
		out->xsave_len = n;
		out->xsave_size = xsave_max;
	} else if (vsv_need(r, VSV_VCPU_FPU, i, &out->fpu, sizeof(out->fpu), what, err) < 0) {
		vcpu_state_free(out);
		return -1;
	}
	if (vsv_get(r, VSV_VCPU_XCRS, i, &p, &n)) {
		if (n != sizeof(out->xcrs)) {
			vcpu_state_free(out);
			return error_set(err, EXIT_DATAERR, "'%s': bad XCR section", what);
		}
		memcpy(&out->xcrs, p, n);
		out->have_xcrs = true;
	}
	if (!vsv_get(r, VSV_VCPU_MSRS, i, &p, &n) || n < 4 || n != 4 + 16ULL * get_le32(p)) {
		vcpu_state_free(out);
		return error_set(err, EXIT_DATAERR, "'%s': bad or missing MSR section of vCPU %u",
				 what, i);
	}
	const uint8_t *mp8 = p;
	uint32_t cnt = get_le32(mp8);
	out->msrs = calloc(cnt ? cnt : 1, sizeof(*out->msrs));
	if (!out->msrs) {
		vcpu_state_free(out);
		return error_set(err, EXIT_FAIL, "out of memory");
	}
	for (uint32_t k = 0; k < cnt; k++) {
		out->msrs[k].index = get_le32(mp8 + 4 + 16 * (size_t)k);
		out->msrs[k].value = get_le64(mp8 + 12 + 16 * (size_t)k);
	}
	out->nmsrs = cnt;
	return 0;
}

void vcpu_state_free(struct vcpu_state *s)
{
	free(s->cpuid);
	free(s->xsave);
	free(s->msrs);
	s->cpuid = NULL;
	s->xsave = NULL;
	s->msrs = NULL;
	s->xsave_len = s->xsave_size = 0;
	s->nmsrs = 0;
}

#define SET(fd, req, ptr, name)                                                         \
	do {                                                                            \
		if (ioctl(fd, req, ptr) < 0) {                                          \
			error_errno(err, errno, "cannot restore %s of vCPU %u", name, i); \
			goto out;                                                       \
		}                                                                       \
	} while (0)

static int restore_vcpu(struct machine *m, unsigned i, const struct vsv_reader *r,
			const char *what, struct error *err)
{
	int fd = m->vcpu_fd[i];
	struct vcpu_state s;
	bool have_deadline = false;
	uint64_t deadline = 0;
	int rc = -1;

	if (vcpu_state_decode(r, i, (size_t)xsave_size(m), &s, what, err) < 0)
		return -1;
	if (s.cpuid && ioctl(fd, KVM_SET_CPUID2, s.cpuid) < 0) {
		error_errno(err, errno, "cannot restore the CPUID of vCPU %u", i);
		goto out;
	}
	if (s.have_tsc_khz) {
		uint32_t want = s.tsc_khz;
		int have = ioctl(fd, KVM_GET_TSC_KHZ, 0);
		if (have > 0 && (uint32_t)have != want && ioctl(fd, KVM_SET_TSC_KHZ, want) < 0)
			machine_log(m, "TSC rate: saved %u kHz, this host runs %d kHz and cannot "
				    "scale; the guest sees the host rate", want, have);
	}
	SET(fd, KVM_SET_SREGS, &s.sregs, "the special registers");
	SET(fd, KVM_SET_REGS, &s.regs, "the registers");
	if (s.xsave) {
		if (ioctl(fd, KVM_SET_XSAVE, s.xsave) < 0) {
			error_errno(err, errno, "cannot restore the XSAVE area of vCPU %u", i);
			goto out;
		}
	} else {
		SET(fd, KVM_SET_FPU, &s.fpu, "the FPU");
	}
	if (s.have_xcrs) {
		if (ioctl(m->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XCRS) <= 0) {
			error_set(err, EXIT_UNAVAILABLE, "'%s': the state has XCRs and this "
				  "host's KVM cannot set them (no KVM_CAP_XCRS)", what);
			goto out;
		}
		SET(fd, KVM_SET_XCRS, &s.xcrs, "the XCRs");
	}
	SET(fd, KVM_SET_DEBUGREGS, &s.dregs, "the debug registers");
	SET(fd, KVM_SET_LAPIC, &s.lapic, "the LAPIC");
	for (uint32_t k = 0; k < s.nmsrs; k++) {
		uint32_t idx = s.msrs[k].index;
		uint64_t v = s.msrs[k].value;
		if (idx == MSR_IA32_TSC_DEADLINE) {
			have_deadline = true;
			deadline = v;
			continue;
		}
		if (set_msr(fd, idx, v) < 0)
			machine_log(m, "MSR 0x%x of vCPU %u could not be restored", idx, i);
	}
	SET(fd, KVM_SET_VCPU_EVENTS, &s.ev, "the vCPU events");
	SET(fd, KVM_SET_MP_STATE, &s.mp, "the MP state");
	/* after the LAPIC, or KVM drops it */
	if (have_deadline && set_msr(fd, MSR_IA32_TSC_DEADLINE, deadline) < 0)
		machine_log(m, "TSC deadline of vCPU %u could not be restored", i);
	rc = 0;
out:
	vcpu_state_free(&s);
	return rc;
}

int machine_restore_state(struct machine *m, const struct vsv_reader *r, const char *what,
			  struct error *err)
{
	uint8_t ram[16];
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clk;

	if (vsv_need(r, VSV_RAM, 0, ram, sizeof(ram), what, err) < 0)
		return -1;
	if (get_le64(ram) != m->ram_size || get_le64(ram + 8) != m->nvcpus)
		return error_set(err, EXIT_DATAERR, "'%s' is the state of a machine with %llu bytes "
				 "and %llu vCPUs; this VM has %llu bytes and %u vCPUs", what,
				 (unsigned long long)get_le64(ram), (unsigned long long)get_le64(ram + 8),
				 (unsigned long long)m->ram_size, m->nvcpus);
	for (unsigned i = 0; i < m->nvcpus; i++)
		if (restore_vcpu(m, i, r, what, err) < 0)
			return -1;
	if (vsv_need(r, VSV_VM_PIT2, 0, &pit, sizeof(pit), what, err) < 0 ||
	    vsv_need(r, VSV_VM_CLOCK, 0, &clk, sizeof(clk), what, err) < 0)
		return -1;
	if (ioctl(m->vm_fd, KVM_SET_PIT2, &pit) < 0)
		return error_errno(err, errno, "cannot restore the PIT");
	clk.flags = 0;
	if (ioctl(m->vm_fd, KVM_SET_CLOCK, &clk) < 0)
		return error_errno(err, errno, "cannot restore the clock");
	for (uint32_t chip = 0; chip < 3; chip++) {
		struct kvm_irqchip ic;
		if (vsv_need(r, VSV_VM_IRQCHIP, chip, &ic, sizeof(ic), what, err) < 0)
			return -1;
		if (ic.chip_id != chip)
			return error_set(err, EXIT_DATAERR, "'%s': interrupt controller %u is labelled %u",
					 what, chip, ic.chip_id);
		if (ioctl(m->vm_fd, KVM_SET_IRQCHIP, &ic) < 0)
			return error_errno(err, errno, "cannot restore interrupt controller %u", chip);
	}
	if (devices_restore(m, r, what, err) < 0 || pci_restore(m, r, what, err) < 0 ||
	    virtio_blk_restore(m, r, what, err) < 0)
		return -1;
	machine_clock_ctrl(m);
	return 0;
}

void machine_clock_ctrl(struct machine *m)
{
	/* tell a kvmclock guest it was paused (its watchdogs then ignore the gap) */
	for (unsigned i = 0; i < m->nvcpus; i++)
		ioctl(m->vcpu_fd[i], KVM_KVMCLOCK_CTRL, 0);
}

/* ---- RAM ---- */

static bool swap_active(void)
{
	char line[256];
	FILE *fp = fopen("/proc/swaps", "re");
	int n = 0;

	if (!fp)
		return true;
	while (fgets(line, sizeof(line), fp))
		n++;
	fclose(fp);
	return n > 1;
}

static bool page_zero(const uint64_t *p)
{
	for (int i = 0; i < 512; i++)
		if (p[i])
			return false;
	return true;
}

/*
 * Write RAM to fd (already sized): pages never touched (mincore, when there
 * is no swap) and all-zero pages stay holes. No allocation: safe in a child
 * forked from a threaded VMM. `vec` holds ram_size/4096 bytes.
 */
static int write_ram(const uint8_t *ram, uint64_t size, int fd, unsigned char *vec,
		     uint64_t *written)
{
	const uint64_t run_max = 8u << 20;
	bool use_mincore = vec && mincore((void *)ram, size, vec) == 0;
	uint64_t pages = size / 4096, start = 0, len = 0;

	*written = 0;
	for (uint64_t pg = 0; pg <= pages; pg++) {
		bool data = pg < pages && (!use_mincore || (vec[pg] & 1)) &&
			    !page_zero((const uint64_t *)(ram + pg * 4096));
		if (data && len == 0)
			start = pg * 4096;
		if (data)
			len += 4096;
		if ((!data || len >= run_max) && len) {
			if (io_pwrite_full(fd, ram + start, len, start) < 0)
				return -1;
			*written += len;
			len = 0;
		}
	}
	return fsync(fd);
}

static int open_bin(const char *path, uint64_t size, struct error *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0)
		return error_errno(err, errno, "cannot create '%s'", path);
	if (ftruncate(fd, (off_t)size) < 0) {
		int e = errno;
		close(fd);
		unlink(path);
		return error_errno(err, e, "cannot size '%s'", path);
	}
	return fd;
}

int machine_save_ram(struct machine *m, const char *path, bool cow, pid_t *child,
		     uint64_t *written, struct error *err)
{
	/* mincore tells untouched pages only for anonymous RAM: after a resume RAM
	 * maps the saved image, whose pages may simply have left the page cache */
	unsigned char *vec = (swap_active() || m->opts.ram_file) ? NULL
								 : malloc(m->ram_size / 4096 + 1);
	int fd = open_bin(path, m->ram_size, err);
	uint64_t w = 0;

	*child = 0;
	if (fd < 0) {
		free(vec);
		return -1;
	}
	if (cow) {
		pid_t pid = fork();
		if (pid == 0) {
			/* the child sees RAM as it was at fork time */
			_exit(write_ram(m->ram, m->ram_size, fd, vec, &w) < 0 ? 74 : 0);
		}
		if (pid > 0) {
			close(fd);
			free(vec);
			*child = pid;
			return 0;
		}
		machine_log(m, "fork for a copy-on-write save failed (%s): stop-and-copy",
			    strerror(errno));
	}
	if (write_ram(m->ram, m->ram_size, fd, vec, &w) < 0) {
		int e = errno;
		close(fd);
		free(vec);
		unlink(path);
		return error_errno(err, e, "cannot write '%s'", path);
	}
	close(fd);
	free(vec);
	if (written)
		*written = w;
	return 0;
}
