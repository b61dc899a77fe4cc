/* statedir: store root, VM folders, op.lock, run.lock, state, no symlinks. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "safeio.h"
#include "statedir.h"
#include "unit.h"

static void touch(const char *path, const char *content)
{
	struct error e;

	if (io_atomic_write(path, content, strlen(content), 0600, &e) < 0)
		fprintf(stderr, "#   %s\n", e.msg);
}

static char *slurp(const char *path)
{
	static char buf[1024];
	int fd = open(path, O_RDONLY);
	ssize_t n = fd < 0 ? -1 : io_read_full(fd, buf, sizeof(buf) - 1);

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

TEST(store_open_resolves_and_creates_root)
{
	struct store st;
	struct error e;
	char want[512], p[600];
	struct stat sb;
	char *old = getenv("VMCTL_ROOT") ? strdup(getenv("VMCTL_ROOT")) : NULL;

	error_init(&e);
	snprintf(want, sizeof(want), "%s/a/b/root", unit_tmpdir());
	CHECK(store_open(&st, want, &e) == 0);
	CHECK_STR(st.root, want);
	CHECK(stat(want, &sb) == 0 && S_ISDIR(sb.st_mode) && (sb.st_mode & 0777) == 0700);
	/* $VMCTL_ROOT when no option; relative paths made absolute */
	snprintf(want, sizeof(want), "%s/env", unit_tmpdir());
	setenv("VMCTL_ROOT", want, 1);
	CHECK(store_open(&st, NULL, &e) == 0);
	CHECK_STR(st.root, want);
	char cwd[512];
	CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
	CHECK(chdir(unit_tmpdir()) == 0);
	CHECK(store_open(&st, "rel", &e) == 0);
	snprintf(want, sizeof(want), "%s/rel", unit_tmpdir());
	CHECK_STR(st.root, want);
	CHECK(chdir(cwd) == 0);
	/* a file is not a store */
	snprintf(p, sizeof(p), "%s/file", unit_tmpdir());
	touch(p, "x");
	CHECK(store_open(&st, p, &e) == -1 && e.code == EXIT_USAGE);
	/* the default for users other than root: $XDG_DATA_HOME/vmctl */
	if (geteuid() != 0) {
		unsetenv("VMCTL_ROOT");
		setenv("XDG_DATA_HOME", unit_tmpdir(), 1);
		CHECK(store_open(&st, NULL, &e) == 0);
		snprintf(want, sizeof(want), "%s/vmctl", unit_tmpdir());
		CHECK_STR(st.root, want);
	}
	if (old)
		setenv("VMCTL_ROOT", old, 1);
	else
		unsetenv("VMCTL_ROOT");
	free(old);
}

TEST(store_vm_dirs_list_and_mkdir)
{
	struct store st;
	struct error e;
	char p[600], *dir;
	char **names;
	int n;

	error_init(&e);
	snprintf(p, sizeof(p), "%s/root", unit_tmpdir());
	CHECK(store_open(&st, p, &e) == 0);
	CHECK(store_vm_dir(&st, "../x", &e) == NULL && e.code == EXIT_USAGE);
	CHECK(store_vm_dir(&st, "", &e) == NULL && e.code == EXIT_USAGE);
	dir = store_vm_dir(&st, "web", &e);
	snprintf(p, sizeof(p), "%s/web", st.root);
	CHECK_STR(dir, p);
	CHECK(!store_vm_exists(&st, "web"));
	CHECK(store_mkdir(dir, &e) == 0);
	CHECK(store_mkdir(dir, &e) == 0); /* an existing folder is fine */
	CHECK(!store_vm_exists(&st, "web")); /* no vm.xml yet */
	snprintf(p, sizeof(p), "%s/vm.xml", dir);
	touch(p, "<domain/>");
	CHECK(store_vm_exists(&st, "web"));
	free(dir);
	/* more VMs, and things that are not VMs */
	const char *vms[] = { "b", "a", "C1" };
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s/%s", st.root, vms[i]);
		CHECK(store_mkdir(p, &e) == 0);
		snprintf(p, sizeof(p), "%s/%s/vm.xml", st.root, vms[i]);
		touch(p, "x");
	}
	snprintf(p, sizeof(p), "%s/.hidden", st.root);
	CHECK(mkdir(p, 0700) == 0);
	snprintf(p, sizeof(p), "%s/.hidden/vm.xml", st.root);
	touch(p, "x");
	snprintf(p, sizeof(p), "%s/empty", st.root);
	CHECK(mkdir(p, 0700) == 0);
	snprintf(p, sizeof(p), "%s/link", st.root);
	CHECK(symlink("web", p) == 0);
	CHECK(store_mkdir(p, &e) == -1 && e.code == EXIT_CANTCREAT && strstr(e.msg, "symbolic"));
	snprintf(p, sizeof(p), "%s/plain", st.root);
	touch(p, "x");
	CHECK(store_mkdir(p, &e) == -1 && e.code == EXIT_CANTCREAT);
	names = store_list(&st, &n, &e);
	CHECK(names != NULL);
	CHECK_EQ_U64(n, 4);
	if (names && n == 4) {
		CHECK_STR(names[0], "C1");
		CHECK_STR(names[1], "a");
		CHECK_STR(names[2], "b");
		CHECK_STR(names[3], "web");
	}
	store_names_free(names, n);
	/* an empty store lists nothing */
	snprintf(p, sizeof(p), "%s/empty", st.root);
	CHECK(store_open(&st, p, &e) == 0);
	names = store_list(&st, &n, &e);
	CHECK(names != NULL && n == 0);
	store_names_free(names, n);
}

static char *make_vm(struct store *st, const char *name)
{
	struct error e;
	char p[600];
	char *dir;

	snprintf(p, sizeof(p), "%s/root", unit_tmpdir());
	if (store_open(st, p, &e) < 0)
		return NULL;
	dir = store_vm_dir(st, name, &e);
	if (dir && store_mkdir(dir, &e) < 0) {
		free(dir);
		return NULL;
	}
	return dir;
}

TEST(oplock_holder_line_busy_message_and_wait)
{
	struct store st;
	struct error e;
	struct oplock a, b;
	char *dir = make_vm(&st, "web"), p[700], stat_line[1024];
	struct stat sb;

	CHECK(dir != NULL);
	if (!dir)
		return;
	error_init(&e);
	CHECK(oplock_acquire(&a, dir, "snapctl", "delete", 0, &e) == 0);
	snprintf(p, sizeof(p), "%s/op.lock", dir);
	CHECK(stat(p, &sb) == 0 && (sb.st_mode & 0777) == 0600);
	/* "pid starttime argv0 verb iso8601" */
	long pid = 0;
	unsigned long long start = 0;
	char tool[32], verb[32], when[40];
	CHECK(sscanf(slurp(p), "%ld %llu %31s %31s %39s", &pid, &start, tool, verb, when) == 5);
	CHECK(pid == (long)getpid());
	CHECK_STR(tool, "snapctl");
	CHECK_STR(verb, "delete");
	CHECK(strlen(when) == 20 && when[10] == 'T' && when[19] == 'Z');
	snprintf(stat_line, sizeof(stat_line), "%s", slurp("/proc/self/stat"));
	char *q = strrchr(stat_line, ')');
	for (int f = 2; f < 22 && q; f++)
		q = strchr(q + 1, ' ');
	CHECK(q && strtoull(q + 1, NULL, 10) == start);
	/* a second holder (another open file description) is refused at once */
	double t0 = mono();
	CHECK(oplock_acquire(&b, dir, "vmctl", "set", 0, &e) == -1);
	CHECK(e.code == EXIT_TEMPFAIL);
	char want[256];
	snprintf(want, sizeof(want), "VM 'web' is busy: pid %ld (snapctl delete) since %s",
		 (long)getpid(), when);
	CHECK_STR(e.msg, want);
	CHECK(mono() - t0 < 0.5);
	/* --wait=1 waits about a second, then gives up */
	t0 = mono();
	CHECK(oplock_acquire(&b, dir, "vmctl", "set", 1, &e) == -1 && e.code == EXIT_TEMPFAIL);
	CHECK(mono() - t0 >= 0.9 && mono() - t0 < 3);
	CHECK(strstr(e.msg, "gave up after 1 s") != NULL);
	/* a waiter gets the lock once the holder lets go */
	pid_t child = fork();
	if (child == 0) {
		struct oplock c;
		struct error ce;
		close(a.fd); /* a forked child shares the parent's lock until it does */
		int rc = oplock_acquire(&c, dir, "vmctl", "undefine", 10, &ce);
		_exit(rc == 0 ? 0 : 1);
	}
	struct timespec ts = { 0, 300 * 1000000L };
	nanosleep(&ts, NULL);
	oplock_release(&a);
	CHECK(a.fd == -1);
	int status = -1;
	CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) &&
	      WEXITSTATUS(status) == 0);
	/* released: free again, and the holder line was cleared */
	CHECK(oplock_acquire(&b, dir, "vmctl", "set", 0, &e) == 0);
	oplock_release(&b);
	CHECK_STR(slurp(p), "");
	/* wait forever (< 0) on a free lock returns at once */
	CHECK(oplock_acquire(&b, dir, "vmctl", "set", -1, &e) == 0);
	oplock_release(&b);
	oplock_release(&b); /* twice is harmless */
	free(dir);
}

TEST(oplock_refuses_planted_symlinks)
{
	struct store st;
	struct error e;
	struct oplock l;
	char *dir = make_vm(&st, "evil"), p[700], target[700];
	struct stat sb;

	CHECK(dir != NULL);
	if (!dir)
		return;
	snprintf(target, sizeof(target), "%s/victim", unit_tmpdir());
	snprintf(p, sizeof(p), "%s/op.lock", dir);
	CHECK(symlink(target, p) == 0);
	CHECK(oplock_acquire(&l, dir, "vmctl", "set", 0, &e) == -1);
	CHECK(e.code == EXIT_NOPERM && strstr(e.msg, "symbolic link"));
	CHECK(lstat(target, &sb) == -1 && errno == ENOENT); /* never created */
	/* the VM folder itself a symlink */
	char link[700];
	snprintf(link, sizeof(link), "%s/evil2", st.root);
	CHECK(symlink(dir, link) == 0);
	CHECK(oplock_acquire(&l, link, "vmctl", "set", 0, &e) == -1 && e.code == EXIT_NOPERM);
	/* a missing VM folder */
	snprintf(link, sizeof(link), "%s/nope", st.root);
	CHECK(oplock_acquire(&l, link, "vmctl", "set", 0, &e) == -1 && e.code == EXIT_NOINPUT);
	/* files under run/ when run is a symlink */
	snprintf(p, sizeof(p), "%s/run", dir);
	CHECK(symlink(unit_tmpdir(), p) == 0);
	CHECK(store_openat(dir, "run/pid", O_RDONLY, 0, &e) == -1 && e.code == EXIT_NOPERM);
	CHECK(store_write_file(dir, "run/pid", "1\n", 2, &e) == -1 && e.code == EXIT_NOPERM);
	snprintf(target, sizeof(target), "%s/pid", unit_tmpdir());
	CHECK(lstat(target, &sb) == -1);
	CHECK(store_openat(dir, "../x", O_RDONLY, 0, &e) == -1 && e.code == EXIT_USAGE);
	CHECK(store_openat(dir, "/etc/passwd", O_RDONLY, 0, &e) == -1 && e.code == EXIT_USAGE);
	/* vm_status_read: run is not a folder here, so not "crashed" */
	struct vm_status s;
	CHECK(vm_status_read(dir, &s, &e) == 0 && s.state == VM_STATE_STOPPED);
	free(dir);
}

TEST(runlock_and_vm_state)
{
	struct store st;
	struct error e;
	struct vm_status s;
	char *dir = make_vm(&st, "web"), p[700];
	int fd, fd2;
	char *buf;

	CHECK(dir != NULL);
	if (!dir)
		return;
	error_init(&e);
	CHECK(vm_running(dir) == 0);
	CHECK(vm_status_read(dir, &s, &e) == 0 && s.state == VM_STATE_STOPPED && s.pid == 0);
	snprintf(p, sizeof(p), "%s/saved.vsv", dir);
	touch(p, "x");
	CHECK(vm_status_read(dir, &s, &e) == 0 && s.state == VM_STATE_SAVED);
	/* the VMM: run.lock, then run/ with pid, state, started */
	fd = runlock_acquire(dir, "web", &e);
	CHECK(fd >= 0);
	snprintf(p, sizeof(p), "%s/run.lock", dir);
	struct stat sb;
	CHECK(stat(p, &sb) == 0 && (sb.st_mode & 0777) == 0600);
	CHECK(vm_running(dir) == 1);
	CHECK(vm_status_read(dir, &s, &e) == 0 && s.state == VM_STATE_RUNNING && s.pid == 0);
	snprintf(p, sizeof(p), "%s/run", dir);
	CHECK(store_mkdir(p, &e) == 0);
	CHECK(store_write_file(dir, "run/pid", "4711\n", 5, &e) == 0);
	CHECK(store_write_file(dir, "run/started", "1700000000\n", 11, &e) == 0);
	CHECK(store_write_file(dir, "run/state", "paused\n", 7, &e) == 0);
	CHECK(vm_status_read(dir, &s, &e) == 0 && s.state == VM_STATE_PAUSED);
	CHECK(s.pid == 4711 && s.started == 1700000000);
	CHECK(store_write_file(dir, "run/state", "running\n", 8, &e) == 0);
	CHECK(vm_status_read(dir, &s, &e) == 0 && s.state == VM_STATE_RUNNING);
	CHECK(store_read_file(dir, "run/pid", &buf, NULL, 64, &e) == 0);
	CHECK_STR(buf, "4711\n");
	free(buf);
	CHECK(store_read_file(dir, "run/started", &buf, NULL, 4, &e) == -1 &&
	      e.code == EXIT_DATAERR);
	CHECK(store_read_file(dir, "run/nope", &buf, NULL, 4, &e) == -1 &&
	      e.code == EXIT_NOINPUT);
	/* a second VMM is refused, naming the pid */
	fd2 = runlock_acquire(dir, "web", &e);
	CHECK(fd2 == -1 && e.code == EXIT_TEMPFAIL);
	CHECK_STR(e.msg, "VM 'web' is already running (pid 4711)");
	/* the VMM dies without cleaning up: crashed (before saved) */
	close(fd);
	CHECK(vm_running(dir) == 0);
	CHECK(vm_status_read(dir, &s, &e) == 0 && s.state == VM_STATE_CRASHED && s.pid == 0);
	snprintf(p, sizeof(p), "%s/run", dir);
	CHECK(store_remove_tree(p, &e) == 0);
	CHECK(vm_status_read(dir, &s, &e) == 0 && s.state == VM_STATE_SAVED);
	free(dir);
}

TEST(store_remove_tree_does_not_follow_links)
{
	struct error e;
	char top[600], p[700], outside[600];
	struct stat sb;

	snprintf(outside, sizeof(outside), "%s/outside", unit_tmpdir());
	CHECK(mkdir(outside, 0700) == 0);
	snprintf(p, sizeof(p), "%s/keep", outside);
	touch(p, "keep");
	snprintf(top, sizeof(top), "%s/tree", unit_tmpdir());
	CHECK(mkdir(top, 0700) == 0);
	snprintf(p, sizeof(p), "%s/a", top);
	CHECK(mkdir(p, 0700) == 0);
	snprintf(p, sizeof(p), "%s/a/f", top);
	touch(p, "f");
	snprintf(p, sizeof(p), "%s/a/link", top);
	CHECK(symlink(outside, p) == 0);
	snprintf(p, sizeof(p), "%s/g", top);
	touch(p, "g");
	CHECK(store_remove_tree(top, &e) == 0);
	CHECK(lstat(top, &sb) == -1 && errno == ENOENT);
	snprintf(p, sizeof(p), "%s/keep", outside);
	CHECK(stat(p, &sb) == 0);
	CHECK(store_remove_tree(top, &e) == 0); /* already gone */
	CHECK_STR(vm_state_name(VM_STATE_CRASHED), "crashed");
	CHECK_STR(vm_state_name(VM_STATE_STOPPED), "stopped");
}
