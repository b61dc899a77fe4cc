/* kvm.c — the VMM core: VM, memory, vCPU threads, exits, pause/resume. */
#include "machine.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define SIG_KICK SIGUSR1

static void kick_handler(int sig)
{
	(void)sig;
}

int kvm_available(struct error *err)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC), vm, v;

	if (fd < 0) {
		error_errno(err, errno, "cannot open /dev/kvm");
		err->code = EXIT_UNAVAILABLE;
		return -1;
	}
	v = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (v != KVM_API_VERSION) {
		close(fd);
		return error_set(err, EXIT_UNAVAILABLE, "/dev/kvm speaks API %d, not %d", v,
				 KVM_API_VERSION);
	}
	vm = ioctl(fd, KVM_CREATE_VM, 0);
	if (vm < 0) {
		int e = errno;
		close(fd);
		error_errno(err, e, "cannot create a KVM virtual machine");
		err->code = EXIT_UNAVAILABLE;
		return -1;
	}
	close(vm);
	close(fd);
	return 1;
}

void machine_log(struct machine *m, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	if (!m->opts.log)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	m->opts.log(m->opts.log_ctx, buf);
}

void *gpa_to_hva(struct machine *m, uint64_t gpa, uint64_t len)
{
	if (gpa < m->lowmem) {
		if (len > m->lowmem - gpa)
			return NULL;
		return m->ram + gpa;
	}
	if (gpa >= GPA_4G && m->ram_size > m->lowmem) {
		uint64_t hi = m->ram_size - m->lowmem, o = gpa - GPA_4G;
		if (o >= hi || len > hi - o)
			return NULL;
		return m->ram + m->lowmem + o;
	}
	return NULL;
}

static int add_range(struct io_range *t, int *n, uint64_t base, uint64_t len, void *dev,
		     io_fn fn)
{
	if (*n >= MACHINE_MAX_IO)
		return -1;
	t[*n] = (struct io_range){ base, len, dev, fn };
	(*n)++;
	return 0;
}

int machine_add_pio(struct machine *m, uint64_t base, uint64_t len, void *dev, io_fn fn)
{
	return add_range(m->pio, &m->npio, base, len, dev, fn);
}

int machine_add_mmio(struct machine *m, uint64_t base, uint64_t len, void *dev, io_fn fn)
{
	return add_range(m->mmio, &m->nmmio, base, len, dev, fn);
}

void machine_irq_line(struct machine *m, unsigned gsi, int level)
{
	struct kvm_irq_level irq = { 0 };

	irq.irq = gsi;
	irq.level = level;
	if (ioctl(m->vm_fd, KVM_IRQ_LINE, &irq) < 0)
		machine_log(m, "KVM_IRQ_LINE %u: %s", gsi, strerror(errno));
}

static void kick_all(struct machine *m)
{
	for (unsigned i = 0; i < m->nvcpus; i++) {
		m->run[i]->immediate_exit = 1;
		if (m->thread_started[i])
			pthread_kill(m->thread[i], SIG_KICK);
	}
}

void machine_exit_with(struct machine *m, enum machine_exit why)
{
	pthread_mutex_lock(&m->lock);
	if (m->exit == MACHINE_RUNNING)
		m->exit = why;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
	kick_all(m);
}

void machine_stop(struct machine *m, enum machine_exit why)
{
	machine_exit_with(m, why);
}

static void dispatch(struct machine *m, struct io_range *t, int n, uint64_t addr, uint8_t *data,
		     uint32_t len, bool is_write, const char *kind)
{
	static unsigned unknown_logged;

	for (int i = 0; i < n; i++) {
		if (addr >= t[i].base && addr - t[i].base < t[i].len) {
			pthread_mutex_lock(&m->dev_lock);
			t[i].fn(t[i].dev, addr, data, len, is_write);
			pthread_mutex_unlock(&m->dev_lock);
			return;
		}
	}
	/* unknown address: reads see all ones, writes are dropped */
	if (!is_write)
		memset(data, 0xff, len);
	if (unknown_logged < 32) {
		unknown_logged++;
		machine_log(m, "guest %s %s of %u bytes at 0x%llx ignored", kind,
			    is_write ? "write" : "read", len, (unsigned long long)addr);
	}
}

struct vcpu_arg {
	struct machine *m;
	unsigned id;
};

static void *vcpu_thread(void *p)
{
	struct vcpu_arg *a = p;
	struct machine *m = a->m;
	unsigned id = a->id;
	struct kvm_run *run = m->run[id];
	bool io_pending = false;
	sigset_t set;

	free(a);
	sigemptyset(&set);
	sigaddset(&set, SIG_KICK);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);

	for (;;) {
		pthread_mutex_lock(&m->lock);
		if (m->pause_req && m->exit == MACHINE_RUNNING && io_pending) {
			/* complete the port/MMIO access before stopping (state stays exact) */
			pthread_mutex_unlock(&m->lock);
			run->immediate_exit = 1;
			ioctl(m->vcpu_fd[id], KVM_RUN, 0);
			io_pending = false;
			continue;
		}
		while (m->pause_req && m->exit == MACHINE_RUNNING) {
			m->paused_vcpus++;
			pthread_cond_broadcast(&m->cond);
			pthread_cond_wait(&m->cond, &m->lock);
			m->paused_vcpus--;
		}
		if (m->exit != MACHINE_RUNNING) {
			pthread_mutex_unlock(&m->lock);
			break;
		}
		pthread_mutex_unlock(&m->lock);
		run->immediate_exit = 0;
		/* a kick between the check above and KVM_RUN: immediate_exit is set again */
		pthread_mutex_lock(&m->lock);
		if (m->pause_req || m->exit != MACHINE_RUNNING)
			run->immediate_exit = 1;
		pthread_mutex_unlock(&m->lock);

		int rc = ioctl(m->vcpu_fd[id], KVM_RUN, 0);
		io_pending = false;
		if (rc < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			snprintf(m->crash, sizeof(m->crash), "vCPU %u: KVM_RUN: %s", id, strerror(errno));
			machine_exit_with(m, MACHINE_CRASH);
			break;
		}
		switch (run->exit_reason) {
		case KVM_EXIT_IO: {
			uint8_t *data = (uint8_t *)run + run->io.data_offset;
			for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size)
				dispatch(m, m->pio, m->npio, run->io.port, data, run->io.size,
					 run->io.direction == KVM_EXIT_IO_OUT, "port");
			io_pending = true;
			break;
		}
		case KVM_EXIT_MMIO:
			dispatch(m, m->mmio, m->nmmio, run->mmio.phys_addr, run->mmio.data,
				 run->mmio.len, run->mmio.is_write, "MMIO");
			io_pending = true;
			break;
		case KVM_EXIT_INTR:
			break;
		case KVM_EXIT_HLT:
			/* not seen with the in-kernel irqchip (HLT waits in KVM); a
			 * KVM that exits anyway has no way to wake the vCPU: stop */
			machine_exit_with(m, MACHINE_POWEROFF);
			break;
		case KVM_EXIT_SHUTDOWN:
			machine_log(m, "vCPU %u: triple fault (shutdown)", id);
			machine_exit_with(m, MACHINE_RESET);
			break;
		case KVM_EXIT_SYSTEM_EVENT:
			machine_exit_with(m, run->system_event.type == KVM_SYSTEM_EVENT_RESET
						     ? MACHINE_RESET : MACHINE_POWEROFF);
			break;
		case KVM_EXIT_INTERNAL_ERROR: {
			struct kvm_regs r;
			memset(&r, 0, sizeof(r));
			ioctl(m->vcpu_fd[id], KVM_GET_REGS, &r);
			snprintf(m->crash, sizeof(m->crash),
				 "vCPU %u: KVM internal error, suberror %u, at rip 0x%llx", id,
				 run->internal.suberror, (unsigned long long)r.rip);
			machine_exit_with(m, MACHINE_CRASH);
			break;
		}
		case KVM_EXIT_FAIL_ENTRY:
			snprintf(m->crash, sizeof(m->crash), "vCPU %u: VM entry failed (reason 0x%llx)",
				 id, (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
			machine_exit_with(m, MACHINE_CRASH);
			break;
		default:
			snprintf(m->crash, sizeof(m->crash), "vCPU %u: unexpected KVM exit %u", id,
				 run->exit_reason);
			machine_exit_with(m, MACHINE_CRASH);
			break;
		}
	}
	pthread_mutex_lock(&m->lock);
	m->running_vcpus--;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

static int setup_memory(struct machine *m, struct error *err)
{
	struct kvm_userspace_memory_region r = { 0 };

	m->lowmem = m->ram_size < GPA_PCI_HOLE ? m->ram_size : GPA_PCI_HOLE;
	if (m->opts.ram_file) {
		/* resume: RAM loads lazily, page by page, from the saved image; the
		 * guest's writes stay private to this process */
		struct stat st;
		int fd = open(m->opts.ram_file, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return error_errno(err, errno, "cannot open '%s'", m->opts.ram_file);
		if (fstat(fd, &st) < 0 || (uint64_t)st.st_size != m->ram_size) {
			close(fd);
			return error_set(err, EXIT_DATAERR, "'%s' holds %lld bytes of RAM, the VM has "
					 "%llu: truncated or another VM's", m->opts.ram_file,
					 (long long)st.st_size, (unsigned long long)m->ram_size);
		}
		m->ram = mmap(NULL, m->ram_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE,
			      fd, 0);
		close(fd);
	} else {
		m->ram = mmap(NULL, m->ram_size, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	}
	if (m->ram == MAP_FAILED) {
		m->ram = NULL;
		return error_errno(err, errno, "cannot map %llu bytes of guest memory",
				   (unsigned long long)m->ram_size);
	}
	if (!m->opts.ram_file)
		madvise(m->ram, m->ram_size, MADV_HUGEPAGE); /* quick fork for copy-on-write saves */
	r.slot = 0;
	r.guest_phys_addr = 0;
	r.memory_size = m->lowmem;
	r.userspace_addr = (uint64_t)(uintptr_t)m->ram;
	if (ioctl(m->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
		return error_errno(err, errno, "KVM_SET_USER_MEMORY_REGION");
	if (m->ram_size > m->lowmem) {
		r.slot = 1;
		r.guest_phys_addr = GPA_4G;
		r.memory_size = m->ram_size - m->lowmem;
		r.userspace_addr = (uint64_t)(uintptr_t)(m->ram + m->lowmem);
		if (ioctl(m->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
			return error_errno(err, errno, "KVM_SET_USER_MEMORY_REGION (high)");
	}
	return 0;
}

struct machine *machine_create(const struct machine_opts *o, struct error *err)
{
	struct machine *m = calloc(1, sizeof(*m));
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	static bool handler_set;
	int max;

	if (!m) {
		error_set(err, EXIT_FAIL, "out of memory");
		return NULL;
	}
	if (!handler_set) {
		struct sigaction sa = { 0 };
		sa.sa_handler = kick_handler;
		sigemptyset(&sa.sa_mask);
		sigaction(SIG_KICK, &sa, NULL);
		handler_set = true;
	}
	m->opts = *o;
	m->kvm_fd = m->vm_fd = -1;
	for (unsigned i = 0; i < MACHINE_MAX_VCPUS; i++)
		m->vcpu_fd[i] = -1;
	pthread_mutex_init(&m->dev_lock, NULL);
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->cond, NULL);
	m->ram_size = o->mem_bytes;
	m->nvcpus = o->vcpus;
	if (m->nvcpus == 0 || m->nvcpus > MACHINE_MAX_VCPUS) {
		error_set(err, EXIT_USAGE, "%u vCPUs: between 1 and %d", m->nvcpus,
			  MACHINE_MAX_VCPUS);
		goto fail;
	}
	if (m->ram_size < (16ULL << 20) || m->ram_size % 4096) {
		error_set(err, EXIT_USAGE, "guest memory must be at least 16 MiB and whole pages");
		goto fail;
	}
	m->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (m->kvm_fd < 0) {
		error_errno(err, errno, "cannot open /dev/kvm");
		err->code = EXIT_UNAVAILABLE;
		goto fail;
	}
	max = ioctl(m->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (max <= 0)
		max = ioctl(m->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	if (max > 0 && (int)m->nvcpus > max) {
		error_set(err, EXIT_UNAVAILABLE, "this host's KVM runs at most %d vCPUs per VM, "
			  "%u asked", max, m->nvcpus);
		goto fail;
	}
	m->vm_fd = ioctl(m->kvm_fd, KVM_CREATE_VM, 0);
	if (m->vm_fd < 0) {
		error_errno(err, errno, "cannot create a KVM virtual machine");
		err->code = EXIT_UNAVAILABLE;
		goto fail;
	}
	if (ioctl(m->vm_fd, KVM_SET_TSS_ADDR, 0xfffbd000) < 0 ||
	    ioctl(m->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0 ||
	    ioctl(m->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
		error_errno(err, errno, "cannot create the interrupt controllers and timer");
		err->code = EXIT_UNAVAILABLE;
		goto fail;
	}
	if (setup_memory(m, err) < 0)
		goto fail;
	m->run_size = (size_t)ioctl(m->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	for (unsigned i = 0; i < m->nvcpus; i++) {
		m->vcpu_fd[i] = ioctl(m->vm_fd, KVM_CREATE_VCPU, i);
		if (m->vcpu_fd[i] < 0) {
			error_errno(err, errno, "cannot create vCPU %u", i);
			goto fail;
		}
		m->run[i] = mmap(NULL, m->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
				 m->vcpu_fd[i], 0);
		if (m->run[i] == MAP_FAILED) {
			m->run[i] = NULL;
			error_errno(err, errno, "cannot map vCPU %u", i);
			goto fail;
		}
		if (x86_setup_cpuid(m, i, err) < 0)
			goto fail;
	}
	if (devices_init(m, err) < 0 || pci_init(m, err) < 0)
		goto fail;
	for (int i = 0; i < o->ndisks; i++)
		if (virtio_blk_add(m, o->disks[i], err) < 0)
			goto fail;
	if (o->restore) {
		if (machine_restore_state(m, o->restore, o->restore_name ? o->restore_name : "state",
					  err) < 0)
			goto fail;
		return m;
	}
	if (x86_load_kernel(m, err) < 0 || x86_write_mptable(m, err) < 0)
		goto fail;
	for (unsigned i = 0; i < m->nvcpus; i++)
		if (x86_setup_vcpu(m, i, err) < 0)
			goto fail;
	return m;
fail:
	machine_destroy(m);
	return NULL;
}

int machine_start(struct machine *m, struct error *err)
{
	sigset_t set, old;

	/* threads start with SIG_KICK blocked and unblock it themselves */
	sigemptyset(&set);
	sigaddset(&set, SIG_KICK);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	for (unsigned i = 0; i < m->nvcpus; i++) {
		struct vcpu_arg *a = malloc(sizeof(*a));
		if (!a) {
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			return error_set(err, EXIT_FAIL, "out of memory");
		}
		a->m = m;
		a->id = i;
		pthread_mutex_lock(&m->lock);
		m->running_vcpus++;
		pthread_mutex_unlock(&m->lock);
		if (pthread_create(&m->thread[i], NULL, vcpu_thread, a) != 0) {
			free(a);
			pthread_mutex_lock(&m->lock);
			m->running_vcpus--;
			pthread_mutex_unlock(&m->lock);
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			machine_exit_with(m, MACHINE_CRASH);
			return error_set(err, EXIT_FAIL, "cannot start the vCPU %u thread", i);
		}
		m->thread_started[i] = true;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return 0;
}

enum machine_exit machine_wait(struct machine *m)
{
	enum machine_exit why;

	pthread_mutex_lock(&m->lock);
	while (m->exit == MACHINE_RUNNING)
		pthread_cond_wait(&m->cond, &m->lock);
	why = m->exit;
	pthread_mutex_unlock(&m->lock);
	kick_all(m);
	for (unsigned i = 0; i < m->nvcpus; i++)
		if (m->thread_started[i]) {
			pthread_join(m->thread[i], NULL);
			m->thread_started[i] = false;
		}
	return why;
}

int machine_pause(struct machine *m, struct error *err)
{
	pthread_mutex_lock(&m->lock);
	m->pause_req = true;
	pthread_mutex_unlock(&m->lock);
	kick_all(m);
	pthread_mutex_lock(&m->lock);
	while (m->paused_vcpus < m->running_vcpus && m->exit == MACHINE_RUNNING)
		pthread_cond_wait(&m->cond, &m->lock);
	bool stopped = m->exit != MACHINE_RUNNING;
	pthread_mutex_unlock(&m->lock);
	if (stopped)
		return error_set(err, EXIT_FAIL, "the guest stopped while being paused");
	return 0;
}

void machine_resume(struct machine *m)
{
	pthread_mutex_lock(&m->lock);
	m->pause_req = false;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
}

bool machine_paused(const struct machine *m)
{
	return m->pause_req;
}

const char *machine_crash_reason(const struct machine *m)
{
	return m->crash[0] ? m->crash : "unknown";
}

void machine_console_input(struct machine *m, const uint8_t *buf, size_t len)
{
	pthread_mutex_lock(&m->dev_lock);
	uart_input(m->uart, buf, len);
	pthread_mutex_unlock(&m->dev_lock);
}

void machine_destroy(struct machine *m)
{
	if (!m)
		return;
	for (unsigned i = 0; i < m->nvcpus; i++) {
		if (m->thread_started[i]) {
			machine_exit_with(m, MACHINE_STOPPED);
			machine_wait(m);
			break;
		}
	}
	virtio_blk_free_all(m);
	pci_free(m);
	devices_free(m);
	for (unsigned i = 0; i < MACHINE_MAX_VCPUS; i++) {
		if (m->run[i])
			munmap(m->run[i], m->run_size);
		if (m->vcpu_fd[i] >= 0)
			close(m->vcpu_fd[i]);
	}
	if (m->ram)
		munmap(m->ram, m->ram_size);
	if (m->vm_fd >= 0)
		close(m->vm_fd);
	if (m->kvm_fd >= 0)
		close(m->kvm_fd);
	pthread_mutex_destroy(&m->dev_lock);
	pthread_mutex_destroy(&m->lock);
	pthread_cond_destroy(&m->cond);
	free(m);
}

void machine_set_disk(struct machine *m, int i, struct disk *d)
{
	pthread_mutex_lock(&m->dev_lock);
	virtio_blk_set_disk(m, i, d);
	pthread_mutex_unlock(&m->dev_lock);
}
