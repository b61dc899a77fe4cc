/*
 * vmm.c — the VMM process: holds run.lock for its whole life, runs the
 * machine, appends guest serial output to <vm>/console.log and serves the
 * console socket and the request files in <vm>/run/.
 */
#include "vmm.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "crashpoint.h"
#include "disk.h"
#include "kvm.h"
#include "safeio.h"
#include "statedir.h"
#include "units.h"
#include "uuid.h"
#include "vhd.h"
#include "vsv.h"

#define MAX_CLIENTS 16
#define CONSOLE_LOG_MAX (4u << 20)

struct vmm {
	struct vmm_params *p;
	char run[4200];
	int logfd;
	int conslog_fd;
	uint64_t conslog_size;
	int listen_fd;
	int clients[MAX_CLIENTS];
	int nclients;
	pthread_mutex_t cons_lock;
	struct disk *disks[VMCONFIG_MAX_DISKS];
	char *disk_paths[VMCONFIG_MAX_DISKS];  /* the top layer each disk writes to */
	int ndisks;
	struct machine *m;
	int exit_pipe[2];
	bool stop_requested;
	struct timespec stop_deadline;
	bool deadline_set;
	bool paused;
	bool saved;
};

char *vmm_config_text(const struct vmconfig *c)
{
	char u[UUID_STR_LEN], *t = NULL;

	if (asprintf(&t, "name=%s\nuuid=%s\nmemory=%llu\nvcpus=%u\ndisks=%d\n", c->name,
		     uuid_format(c->uuid, u), (unsigned long long)c->memory_bytes, c->vcpus,
		     c->ndisks) < 0)
		return NULL;
	return t;
}

char *vmm_bin_for(const char *vsv)
{
	size_t n = strlen(vsv);
	char *b = malloc(n + 5);

	if (!b)
		return NULL;
	memcpy(b, vsv, n + 1);
	if (n > 4 && !strcmp(b + n - 4, ".vsv"))
		b[n - 4] = '\0';
	strcat(b, ".bin");
	return b;
}

/* Equal identities but for the first line (the name, which a rename changes). */
static bool same_identity(const char *saved, size_t len, const char *mine)
{
	const char *a = memchr(saved, '\n', len), *b = strchr(mine, '\n');

	if (!a || !b)
		return false;
	return (size_t)(saved + len - a) == strlen(b) && memcmp(a, b, strlen(b)) == 0;
}

static void vlog(struct vmm *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void vlog(struct vmm *v, const char *fmt, ...)
{
	char line[1024], ts[40];
	va_list ap;
	int n;

	if (v->logfd < 0)
		return;
	units_format_time(time(NULL), ts, sizeof(ts));
	n = snprintf(line, sizeof(line), "%s ", ts);
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(line) - 1)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	(void)!write(v->logfd, line, (size_t)n);
}

static void machine_log_cb(void *ctx, const char *msg)
{
	vlog(ctx, "%s", msg);
}

static void conslog_rotate(struct vmm *v)
{
	char a[4300], b[4300];

	snprintf(a, sizeof(a), "%s/console.log", v->p->vmdir);
	snprintf(b, sizeof(b), "%s/console.log.1", v->p->vmdir);
	close(v->conslog_fd);
	rename(a, b);
	v->conslog_fd = open(a, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	v->conslog_size = 0;
}

/* Guest serial output: the log, then every attached console (never blocking). */
static void console_out(void *ctx, const uint8_t *buf, size_t len)
{
	struct vmm *v = ctx;

	pthread_mutex_lock(&v->cons_lock);
	if (v->conslog_fd >= 0) {
		if (v->conslog_size + len > CONSOLE_LOG_MAX)
			conslog_rotate(v);
		if (v->conslog_fd >= 0 && write(v->conslog_fd, buf, len) == (ssize_t)len)
			v->conslog_size += len;
	}
	for (int i = 0; i < v->nclients; i++)
		(void)!send(v->clients[i], buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	pthread_mutex_unlock(&v->cons_lock);
}

static int write_run_file(struct vmm *v, const char *name, const char *content)
{
	char path[4400];
	struct error err;

	snprintf(path, sizeof(path), "%s/%s", v->run, name);
	if (io_atomic_write(path, content, strlen(content), 0600, &err) < 0) {
		vlog(v, "%s", err.msg);
		return -1;
	}
	return 0;
}

static void set_state(struct vmm *v, const char *state)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%s\n", state);
	write_run_file(v, "state", buf);
}

static void notify(struct vmm *v, int code, const char *msg)
{
	char buf[1200];
	int n;

	if (v->p->notify_fd < 0)
		return;
	if (code == 0)
		n = snprintf(buf, sizeof(buf), "ok %ld\n", (long)getpid());
	else
		n = snprintf(buf, sizeof(buf), "err %d %s\n", code, msg);
	(void)!write(v->p->notify_fd, buf, (size_t)n);
	close(v->p->notify_fd);
	v->p->notify_fd = -1;
}

static void unlink_in(const char *dir, const char *name)
{
	char path[4400];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
}

/* Give clients up to 2 s to read the answers we wrote just before exiting. */
static void wait_answers_read(const char *req)
{
	struct timespec ts = { 0, 10 * 1000000L };

	for (int i = 0; i < 200; i++) {
		struct dirent *de;
		bool pending = false;
		DIR *dp = opendir(req);
		if (!dp)
			return;
		while ((de = readdir(dp))) {
			size_t l = strlen(de->d_name);
			pending |= l > 5 && !strcmp(de->d_name + l - 5, ".done");
		}
		closedir(dp);
		if (!pending)
			return;
		nanosleep(&ts, NULL);
	}
}

/* Remove run/'s contents; keep_log leaves run/log (and run/) for `status`. */
static void clean_run(struct vmm *v, bool keep_log, bool wait_readers)
{
	char req[4300];

	snprintf(req, sizeof(req), "%s/requests", v->run);
	if (wait_readers)
		wait_answers_read(req);
	unlink_in(v->run, "console.sock");
	unlink_in(v->run, "pid");
	unlink_in(v->run, "state");
	unlink_in(v->run, "started");
	unlink_in(v->run, "disks");
	snprintf(req, sizeof(req), "%s/requests", v->run);
	{
		struct dirent *de;
		DIR *dp = opendir(req);
		if (dp) {
			while ((de = readdir(dp)))
				if (de->d_name[0] != '.' || (de->d_name[1] && de->d_name[1] != '.'))
					unlink_in(req, de->d_name);
			closedir(dp);
		}
	}
	rmdir(req);
	if (!keep_log) {
		unlink_in(v->run, "log");
		rmdir(v->run);
	}
}

static int listen_console(struct vmm *v, struct error *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char path[4400];
	int fd, dfd = -1;

	snprintf(path, sizeof(path), "%s/console.sock", v->run);
	unlink(path);
	if (strlen(path) < sizeof(sa.sun_path)) {
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	} else {
		/* long store paths: bind through the folder's descriptor */
		dfd = open(v->run, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			return error_errno(err, errno, "cannot open '%s'", v->run);
		snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/console.sock", dfd);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 8) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		if (dfd >= 0)
			close(dfd);
		return error_errno(err, e, "cannot create the console socket '%s'", path);
	}
	if (dfd >= 0)
		close(dfd);
	chmod(path, 0600);
	v->listen_fd = fd;
	return 0;
}

static void *waiter(void *arg)
{
	struct vmm *v = arg;
	int why = machine_wait(v->m);

	(void)!write(v->exit_pipe[1], &why, sizeof(why));
	return NULL;
}

static void write_disks_file(struct vmm *v);

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Managed save: state to <vm>/saved.vsv and RAM to <vm>/saved.bin, then stop. */
static int do_save(struct vmm *v, char *msg, size_t msgsz, struct error *err)
{
	char vsv[4400], bin[4400], tmp[4500];
	struct vsv_writer w;
	char *cfg = vmm_config_text(v->p->cfg);
	bool was_paused = v->paused;
	double t0 = mono(), t_state;
	uint64_t written = 0;
	pid_t child;
	int rc = -1;

	snprintf(vsv, sizeof(vsv), "%s/saved.vsv", v->p->vmdir);
	snprintf(bin, sizeof(bin), "%s/saved.bin", v->p->vmdir);
	snprintf(tmp, sizeof(tmp), "%s/.saved.bin.tmp", v->p->vmdir);
	vsv_writer_init(&w, "vmctl " VMSNAP_VERSION);
	if (!cfg) {
		error_set(err, EXIT_FAIL, "out of memory");
		goto out;
	}
	if (!was_paused && machine_pause(v->m, err) < 0)
		goto out;
	if (machine_save_state(v->m, cfg, &w, err) < 0)
		goto undo;
	/* an older managed save goes first: never an old .vsv beside a new .bin */
	if ((unlink(vsv) < 0 && errno != ENOENT) || io_fsync_parent_dir(vsv) < 0) {
		error_errno(err, errno, "cannot remove the older '%s'", vsv);
		goto undo;
	}
	crashpoint("vmm-save-begin");
	t_state = mono();
	if (machine_save_ram(v->m, tmp, false, &child, &written, err) < 0)
		goto undo;
	crashpoint("vmm-save-ram");
	chmod(tmp, 0400);
	if (rename(tmp, bin) < 0) {
		error_errno(err, errno, "cannot create '%s'", bin);
		unlink(tmp);
		goto undo;
	}
	crashpoint("vmm-save-bin");
	/* the .vsv last: its presence says a complete saved state exists */
	if (vsv_writer_save(&w, vsv, err) < 0) {
		unlink(bin);
		goto undo;
	}
	crashpoint("vmm-save-state");
	vlog(v, "saved: state %.1f ms, %llu bytes of RAM in %.1f ms", (t_state - t0) * 1000,
	     (unsigned long long)written, (mono() - t_state) * 1000);
	snprintf(msg, msgsz, "saved (%llu bytes of RAM written; guest stopped for %.1f ms)",
		 (unsigned long long)written, (mono() - t0) * 1000);
	v->saved = true;
	v->stop_requested = true;
	machine_stop(v->m, MACHINE_STOPPED);
	rc = 0;
	goto out;
undo:
	if (!was_paused)
		machine_resume(v->m);
out:
	vsv_writer_release(&w);
	free(cfg);
	return rc;
}

/*
 * Online snapshot (snapctl): pause; CPU/device state to VSV; RAM to BIN from
 * a copy-on-write view (fork) while the guest runs on; every disk switched
 * to the child layer the caller created on top of it. arg: VSV\tBIN\tNEW0...
 */
static int do_snapshot(struct vmm *v, char *arg, char *msg, size_t msgsz, struct error *err)
{
	char *fields[2 + VMCONFIG_MAX_DISKS], *save = NULL, *cfg = NULL;
	struct disk *newd[VMCONFIG_MAX_DISKS] = { 0 };
	struct vsv_writer w;
	int nf = 0, rc = -1, status = 0;
	bool was_paused = v->paused;
	double t0, t_paused = 0;
	pid_t child = 0;
	uint64_t written = 0;

	for (char *t = strtok_r(arg, "\t", &save); t && nf < 2 + VMCONFIG_MAX_DISKS;
	     t = strtok_r(NULL, "\t", &save))
		fields[nf++] = t;
	if (nf < 2 || nf != 2 + v->ndisks)
		return error_set(err, EXIT_USAGE, "snapshot: %d files for %d disks", nf - 2,
				 v->ndisks);
	/* open the new layers' metadata first: nothing changes if one is bad */
	for (int i = 0; i < v->ndisks; i++) {
		struct vhd *nv = vhd_open(fields[2 + i], DISK_RDONLY | DISK_NOLOCK | VHD_NOPARENT, err);
		if (!nv)
			return -1;
		bool ok = nv->footer.type == VHD_TYPE_DIFF && nv->disk.size == v->disks[i]->size;
		vhd_close(nv);
		if (!ok)
			return error_set(err, EXIT_DATAERR, "snapshot: '%s' is not a child layer the "
					 "size of disk %d", fields[2 + i], i);
	}
	vsv_writer_init(&w, "vmctl " VMSNAP_VERSION);
	cfg = vmm_config_text(v->p->cfg);
	if (!cfg) {
		error_set(err, EXIT_FAIL, "out of memory");
		goto out;
	}
	t0 = mono();
	if (!was_paused && machine_pause(v->m, err) < 0)
		goto out;
	bool disk_only = !strcmp(fields[0], "-");
	if (!disk_only && machine_save_state(v->m, cfg, &w, err) < 0)
		goto resume;
	/* switch the disks before forking the RAM writer, so that it holds none
	 * of the old layers' locks: flush, let go of the old top, open the new */
	for (int i = 0; i < v->ndisks; i++) {
		if (v->disks[i]->ops->flush(v->disks[i], err) < 0)
			goto rollback;
		disk_close(v->disks[i]);
		v->disks[i] = NULL;
		newd[i] = disk_open(fields[2 + i], 0, err);
		if (!newd[i])
			goto rollback;
		v->disks[i] = newd[i];
		machine_set_disk(v->m, i, newd[i]);
	}
	if (!disk_only && machine_save_ram(v->m, fields[1], true, &child, &written, err) < 0)
		goto rollback;
	for (int i = 0; i < v->ndisks; i++) {
		char *np = strdup(fields[2 + i]);
		if (np) {
			free(v->disk_paths[i]);
			v->disk_paths[i] = np;
		}
	}
	write_disks_file(v);
	if (!was_paused) {
		machine_clock_ctrl(v->m);
		machine_resume(v->m);
	}
	t_paused = mono() - t0;
	if (!disk_only && vsv_writer_save(&w, fields[0], err) < 0)
		goto wait_child;
	rc = 0;
wait_child:
	if (child > 0) {
		while (waitpid(child, &status, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			rc = error_set(err, EXIT_IOERR, "snapshot: writing RAM to '%s' failed", fields[1]);
			unlink(fields[0]);
		}
	}
	if (rc == 0) {
		const char *mode = disk_only ? "disks-only" : child > 0 ? "copy-on-write"
								 : "stop-and-copy";
		if (!disk_only)
			chmod(fields[1], 0400);
		vlog(v, "snapshot: guest paused %.2f ms (%s)", t_paused * 1000, mode);
		snprintf(msg, msgsz, "pause_ms=%.2f mode=%s", t_paused * 1000, mode);
	}
	goto out;
rollback:
	/* back to the old layers: the snapshot did not happen */
	for (int i = 0; i < v->ndisks; i++) {
		if (newd[i]) {
			disk_close(newd[i]);
			v->disks[i] = NULL;
		}
		if (!v->disks[i]) {
			char *path = vmconfig_disk_path(v->p->cfg, i, v->p->vmdir);
			struct error e2;
			v->disks[i] = path ? disk_open(path, v->p->cfg->disks[i].readonly ? DISK_RDONLY : 0,
							   &e2) : NULL;
			free(path);
			if (!v->disks[i]) {
				vlog(v, "snapshot rollback: disk %d cannot be reopened: stopping", i);
				machine_stop(v->m, MACHINE_CRASH);
				goto out;
			}
			machine_set_disk(v->m, i, v->disks[i]);
		}
	}
	if (child > 0) {
		waitpid(child, NULL, 0);
		child = 0;
	}
	if (!disk_only)
		unlink(fields[1]);
resume:
	if (!was_paused)
		machine_resume(v->m);
out:
	vsv_writer_release(&w);
	free(cfg);
	(void)written;
	return rc;
}

static void handle_request(struct vmm *v, const struct control_req *r)
{
	struct error err;
	char msg[256];
	int status = 0;

	error_init(&err);
	if (!strcmp(r->verb, "pause")) {
		if (v->paused) {
			snprintf(msg, sizeof(msg), "already paused");
		} else if (machine_pause(v->m, &err) < 0) {
			status = EXIT_FAIL;
			snprintf(msg, sizeof(msg), "%s", err.msg);
		} else {
			v->paused = true;
			set_state(v, "paused");
			vlog(v, "paused");
			snprintf(msg, sizeof(msg), "paused");
		}
	} else if (!strcmp(r->verb, "resume")) {
		if (v->paused) {
			machine_resume(v->m);
			v->paused = false;
			set_state(v, "running");
			vlog(v, "resumed");
		}
		snprintf(msg, sizeof(msg), "running");
	} else if (!strcmp(r->verb, "stop") || !strcmp(r->verb, "stop-force")) {
		int secs = (int)strtol(r->arg, NULL, 10); /* no number: 0, a forced stop */
		v->stop_requested = true;
		if (!strcmp(r->verb, "stop-force") || v->paused || secs <= 0) {
			vlog(v, "stop: forced");
			machine_stop(v->m, MACHINE_STOPPED);
		} else {
			vlog(v, "stop: Ctrl-Alt-Del, forced after %d s", secs);
			machine_request_shutdown(v->m);
			clock_gettime(CLOCK_MONOTONIC, &v->stop_deadline);
			v->stop_deadline.tv_sec += secs;
			v->deadline_set = true;
		}
		snprintf(msg, sizeof(msg), "stopping");
	} else if (!strcmp(r->verb, "save")) {
		if (do_save(v, msg, sizeof(msg), &err) < 0) {
			status = err.code ? err.code : EXIT_FAIL;
			snprintf(msg, sizeof(msg), "%s", err.msg);
			vlog(v, "save failed: %s", err.msg);
		}
	} else if (!strcmp(r->verb, "snapshot")) {
		char arg[sizeof(r->arg)];
		snprintf(arg, sizeof(arg), "%s", r->arg);
		if (do_snapshot(v, arg, msg, sizeof(msg), &err) < 0) {
			status = err.code ? err.code : EXIT_FAIL;
			snprintf(msg, sizeof(msg), "%s", err.msg);
			vlog(v, "snapshot failed: %s", err.msg);
		}
	} else if (!strcmp(r->verb, "status")) {
		snprintf(msg, sizeof(msg), "%s", v->paused ? "paused" : "running");
	} else {
		status = EXIT_USAGE;
		snprintf(msg, sizeof(msg), "unknown request '%s'", r->verb);
	}
	if (control_reply(v->p->vmdir, r, status, msg, &err) < 0)
		vlog(v, "%s", err.msg);
}

static void drain_requests(struct vmm *v)
{
	struct control_req r;
	struct error err;
	int rc;

	while ((rc = control_next(v->p->vmdir, &r, &err)) == 1)
		handle_request(v, &r);
	if (rc < 0)
		vlog(v, "%s", err.msg);
}

static void drop_client(struct vmm *v, int i)
{
	pthread_mutex_lock(&v->cons_lock);
	close(v->clients[i]);
	v->clients[i] = v->clients[--v->nclients];
	pthread_mutex_unlock(&v->cons_lock);
}

/* Serve sockets, signals and requests until the machine stops; why it stopped. */
static int event_loop(struct vmm *v, int sfd)
{
	for (;;) {
		struct pollfd pf[3 + MAX_CLIENTS];
		int n = 0, timeout = -1;

		pf[n++] = (struct pollfd){ .fd = v->exit_pipe[0], .events = POLLIN };
		pf[n++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		pf[n++] = (struct pollfd){ .fd = v->listen_fd, .events = POLLIN };
		for (int i = 0; i < v->nclients; i++)
			pf[n++] = (struct pollfd){ .fd = v->clients[i], .events = POLLIN };
		if (v->deadline_set) {
			struct timespec now;
			clock_gettime(CLOCK_MONOTONIC, &now);
			long ms = (v->stop_deadline.tv_sec - now.tv_sec) * 1000 +
				  (v->stop_deadline.tv_nsec - now.tv_nsec) / 1000000;
			timeout = ms < 0 ? 0 : (int)ms;
		}
		int rc = poll(pf, (nfds_t)n, timeout);
		if (rc < 0 && errno != EINTR)
			return MACHINE_CRASH;
		if (rc == 0 && v->deadline_set) {
			vlog(v, "stop: the guest did not shut down in time; forcing");
			v->deadline_set = false;
			machine_stop(v->m, MACHINE_STOPPED);
			continue;
		}
		if (pf[0].revents) {
			int why = MACHINE_CRASH;
			(void)!read(v->exit_pipe[0], &why, sizeof(why));
			return why;
		}
		if (pf[1].revents) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				if (si.ssi_signo == CONTROL_SIGNAL) {
					drain_requests(v);
				} else {
					vlog(v, "signal %u: stopping", si.ssi_signo);
					v->stop_requested = true;
					machine_stop(v->m, MACHINE_STOPPED);
				}
			}
		}
		if (pf[2].revents) {
			int c = accept4(v->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
			if (c >= 0) {
				pthread_mutex_lock(&v->cons_lock);
				if (v->nclients < MAX_CLIENTS)
					v->clients[v->nclients++] = c;
				else
					close(c);
				pthread_mutex_unlock(&v->cons_lock);
			}
		}
		for (int i = n - 1; i >= 3; i--) {
			if (!pf[i].revents)
				continue;
			uint8_t buf[4096];
			ssize_t k = read(pf[i].fd, buf, sizeof(buf));
			int idx = -1;
			for (int j = 0; j < v->nclients; j++)
				if (v->clients[j] == pf[i].fd)
					idx = j;
			if (k > 0)
				machine_console_input(v->m, buf, (size_t)k);
			else if (idx >= 0 && (k == 0 || (errno != EAGAIN && errno != EINTR)))
				drop_client(v, idx);
		}
	}
}

/* run/disks: the layer each disk writes to, one a line (snapctl reads it). */
static void write_disks_file(struct vmm *v)
{
	char buf[VMCONFIG_MAX_DISKS * 4200] = "";
	size_t n = 0;

	for (int i = 0; i < v->ndisks; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s\n",
				      v->disk_paths[i] ? v->disk_paths[i] : "");
	write_run_file(v, "disks", buf);
}

static int open_disks(struct vmm *v, struct error *err)
{
	for (int i = 0; i < v->p->cfg->ndisks; i++) {
		char *path = vmconfig_disk_path(v->p->cfg, i, v->p->vmdir);
		if (!path)
			return error_set(err, EXIT_FAIL, "out of memory");
		v->disks[i] = disk_open(path, v->p->cfg->disks[i].readonly ? DISK_RDONLY : 0, err);
		if (!v->disks[i]) {
			free(path);
			return -1;
		}
		v->disk_paths[i] = path;
		v->ndisks++;
	}
	write_disks_file(v);
	return 0;
}

int vmm_main(struct vmm_params *p)
{
	struct vmm v = { .p = p, .logfd = -1, .conslog_fd = -1, .listen_fd = -1,
			 .exit_pipe = { -1, -1 } };
	struct machine_opts o = { 0 };
	struct error err;
	char path[4400], buf[64];
	sigset_t set;
	int sfd = -1, why = MACHINE_CRASH, rc = EXIT_FAIL;
	struct vsv_reader *state = NULL;
	char *state_bin = NULL, *kernel = NULL, *initrd = NULL;
	bool first = true, crashed = false;

	double t_start = mono();

	error_init(&err);
	pthread_mutex_init(&v.cons_lock, NULL);
	snprintf(v.run, sizeof(v.run), "%s/run", p->vmdir);
	if (runlock_acquire(p->vmdir, p->name, &err) < 0) {
		notify(&v, err.code, err.msg);
		return err.code;
	}
	/* leftovers of a VMM that died: start clean */
	clean_run(&v, false, false);
	if (store_mkdir(v.run, &err) < 0) {
		notify(&v, err.code, err.msg);
		return err.code;
	}
	snprintf(path, sizeof(path), "%s/requests", v.run);
	if (store_mkdir(path, &err) < 0) {
		notify(&v, err.code, err.msg);
		return err.code;
	}
	snprintf(path, sizeof(path), "%s/log", v.run);
	v.logfd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	snprintf(path, sizeof(path), "%s/console.log", p->vmdir);
	v.conslog_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (v.conslog_fd >= 0) {
		struct stat st;
		if (fstat(v.conslog_fd, &st) == 0)
			v.conslog_size = (uint64_t)st.st_size;
	}
	vlog(&v, "vmm %ld starting VM '%s' (%u vCPUs, %llu bytes)", (long)getpid(), p->name,
	     p->cfg->vcpus, (unsigned long long)p->cfg->memory_bytes);

	sigemptyset(&set);
	sigaddset(&set, CONTROL_SIGNAL);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0 || pipe2(v.exit_pipe, O_CLOEXEC) < 0) {
		error_errno(&err, errno, "cannot set up the VMM's event loop");
		goto fail;
	}
	if (open_disks(&v, &err) < 0 || listen_console(&v, &err) < 0)
		goto fail;
	o.mem_bytes = p->cfg->memory_bytes;
	o.vcpus = p->cfg->vcpus;
	/* relative kernel and initrd paths are relative to the VM folder */
	kernel = vmconfig_resolve(p->cfg->kernel, p->vmdir);
	initrd = p->cfg->initrd ? vmconfig_resolve(p->cfg->initrd, p->vmdir) : NULL;
	if (!kernel || (p->cfg->initrd && !initrd)) {
		error_set(&err, EXIT_FAIL, "out of memory");
		goto fail;
	}
	o.kernel = kernel;
	o.initrd = initrd;
	o.cmdline = p->cfg->cmdline;
	for (int i = 0; i < v.ndisks; i++)
		o.disks[i] = v.disks[i];
	o.ndisks = v.ndisks;
	o.console_out = console_out;
	o.console_ctx = &v;
	o.log = machine_log_cb;
	o.log_ctx = &v;
	if (p->state) {
		const void *ct;
		size_t cl;
		char *mine = vmm_config_text(p->cfg);
		state = vsv_load(p->state, &err);
		if (!state) {
			free(mine);
			goto fail;
		}
		/* the state must be this VM's as configured now (the name may differ) */
		if (!vsv_get(state, VSV_CONFIG, 0, &ct, &cl) || !mine ||
		    !same_identity(ct, cl, mine)) {
			error_set(&err, EXIT_DATAERR, "'%s' is the state of another VM or of another "
				  "configuration of '%s'", p->state, p->name);
			free(mine);
			goto fail;
		}
		free(mine);
		state_bin = vmm_bin_for(p->state);
		o.restore = state;
		o.restore_name = p->state;
		o.ram_file = state_bin;
	}

	for (;;) {
		pthread_t wt;
		v.m = machine_create(&o, &err);
		if (!v.m)
			goto fail;
		if (first && p->start_paused) {
			machine_pause(v.m, &err);
			v.paused = true;
		}
		if (machine_start(v.m, &err) < 0)
			goto fail;
		if (pthread_create(&wt, NULL, waiter, &v) != 0) {
			error_set(&err, EXIT_FAIL, "cannot start the VMM's waiter thread");
			machine_stop(v.m, MACHINE_STOPPED);
			machine_wait(v.m);
			goto fail;
		}
		if (first) {
			snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
			write_run_file(&v, "pid", buf);
			snprintf(buf, sizeof(buf), "%ld\n", (long)time(NULL));
			write_run_file(&v, "started", buf);
			set_state(&v, v.paused ? "paused" : "running");
			if (p->state)
				vlog(&v, "resumed from '%s' in %.1f ms (VMM start to vCPUs running)",
				     p->state, (mono() - t_start) * 1000);
			else
				vlog(&v, "booting; vCPUs running %.1f ms after the VMM started",
				     (mono() - t_start) * 1000);
			/* the guest runs again: a managed save is used up (its RAM stays
			 * mapped), and a fresh boot discards it */
			if (p->state_is_managed || p->fresh) {
				char f[4400];
				snprintf(f, sizeof(f), "%s/saved.vsv", p->vmdir);
				unlink(f);
				snprintf(f, sizeof(f), "%s/saved.bin", p->vmdir);
				unlink(f);
				io_fsync_parent_dir(f);
			}
			notify(&v, 0, NULL);
			first = false;
			/* a reboot later boots the kernel afresh */
			o.restore = NULL;
			o.ram_file = NULL;
		}
		why = event_loop(&v, sfd);
		pthread_join(wt, NULL);
		if (why == MACHINE_CRASH)
			vlog(&v, "guest crashed: %s", machine_crash_reason(v.m));
		machine_destroy(v.m);
		v.m = NULL;
		v.paused = false;
		v.deadline_set = false;
		if (why == MACHINE_CRASH) {
			crashed = true;
			break;
		}
		if (v.stop_requested || why == MACHINE_STOPPED) {
			vlog(&v, "stopped");
			break;
		}
		if ((why == MACHINE_RESET && p->cfg->on_reboot == VM_ACTION_RESTART) ||
		    (why == MACHINE_POWEROFF && p->cfg->on_poweroff == VM_ACTION_RESTART)) {
			vlog(&v, "guest %s: restarting", why == MACHINE_RESET ? "reset" : "powered off");
			set_state(&v, "running");
			continue;
		}
		vlog(&v, "guest %s", why == MACHINE_RESET ? "reset: on_reboot=destroy" : "powered off");
		break;
	}
	rc = crashed ? EXIT_FAIL : EXIT_OK;
	goto out;
fail:
	vlog(&v, "%s", err.msg);
	notify(&v, err.code ? err.code : EXIT_FAIL, err.msg);
	rc = err.code ? err.code : EXIT_FAIL;
	crashed = !first; /* a failure after the guest ran is a crash */
out:
	if (v.m)
		machine_destroy(v.m);
	for (int i = 0; i < v.ndisks; i++) {
		struct error e2;
		if (v.disks[i]->ops->flush(v.disks[i], &e2) < 0)
			vlog(&v, "%s", e2.msg);
		disk_close(v.disks[i]);
		free(v.disk_paths[i]);
	}
	for (int i = 0; i < v.nclients; i++)
		close(v.clients[i]);
	if (v.listen_fd >= 0)
		close(v.listen_fd);
	if (sfd >= 0)
		close(sfd);
	if (v.exit_pipe[0] >= 0) {
		close(v.exit_pipe[0]);
		close(v.exit_pipe[1]);
	}
	if (v.conslog_fd >= 0)
		close(v.conslog_fd);
	clean_run(&v, crashed, true);
	if (v.logfd >= 0)
		close(v.logfd);
	vsv_free(state);
	free(state_bin);
	free(kernel);
	free(initrd);
	pthread_mutex_destroy(&v.cons_lock);
	return rc;
}

/* The child: detach from the caller's session and terminal, become the VMM. */
static void become_vmm(struct vmm_params *p, int notify_fd)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	setsid();
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		if (null > 2)
			close(null);
	}
	/* drop every inherited descriptor but the report pipe (the caller's
	 * op.lock stays the caller's: closing our copy does not unlock it) */
	if (notify_fd > 3)
		close_range(3, (unsigned)notify_fd - 1, 0);
	close_range((unsigned)notify_fd + 1, ~0u, 0);
	umask(077);
	p->notify_fd = notify_fd;
	_exit(vmm_main(p));
}

int vmm_spawn(struct vmm_params *p, pid_t *pid_out, struct error *err)
{
	char msg[1300] = { 0 };
	int pfd[2];
	pid_t pid;
	ssize_t n;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return error_errno(err, errno, "cannot create a pipe");
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return error_errno(err, errno, "cannot start the VMM");
	}
	if (pid == 0) {
		close(pfd[0]);
		become_vmm(p, pfd[1]);
	}
	close(pfd[1]);
	n = io_read_full(pfd[0], msg, sizeof(msg) - 1);
	close(pfd[0]);
	if (n <= 0) {
		waitpid(pid, NULL, 0);
		return error_set(err, EXIT_FAIL, "the VMM for '%s' exited before the guest ran "
				 "(see %s/run/log)", p->name, p->vmdir);
	}
	msg[strcspn(msg, "\n")] = '\0';
	if (strncmp(msg, "ok", 2) != 0) {
		int code = EXIT_FAIL, off = 0;
		if (!strncmp(msg, "err ", 4)) { /* "err CODE message" */
			char *end;
			long c = strtol(msg + 4, &end, 10);
			if (end > msg + 4 && c > 0 && c < 256) {
				code = (int)c;
				off = (int)(end - msg) + (int)strspn(end, " ");
			}
		}
		waitpid(pid, NULL, 0);
		return error_set(err, code, "cannot start VM '%s': %s", p->name, msg + off);
	}
	*pid_out = pid;
	return 0;
}
