/*
 * statedir.c — the VM store, op.lock, run.lock and the VM's state
 * (DESIGN.md §2, §3).
 *
 * Files inside a VM folder are opened component by component with
 * O_NOFOLLOW, so a symbolic link planted in the folder (op.lock → /etc/x,
 * run → /) is refused, never followed.
 */
#include "statedir.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "safeio.h"
#include "units.h"
#include "vmconfig.h"

/* ---- the root ---- */

static int mkdir_p(const char *path, struct error *err)
{
	char buf[4096];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(buf))
		return error_set(err, EXIT_USAGE, "invalid store folder '%s'", path);
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; ; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;
			*p = '\0';
			if (mkdir(buf, 0700) < 0 && errno != EEXIST)
				return error_errno(err, errno, "cannot create folder '%s'", buf);
			*p = c;
			if (!c)
				break;
		}
	}
	return 0;
}

int store_open(struct store *st, const char *root_opt, struct error *err)
{
	char want[4096], *real;
	const char *env = getenv("VMCTL_ROOT");
	struct stat sb;

	if (root_opt && *root_opt) {
		snprintf(want, sizeof(want), "%s", root_opt);
	} else if (env && *env) {
		snprintf(want, sizeof(want), "%s", env);
	} else if (geteuid() == 0) {
		snprintf(want, sizeof(want), "/var/lib/vmctl");
	} else {
		const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
		if (xdg && xdg[0] == '/') {
			snprintf(want, sizeof(want), "%s/vmctl", xdg);
		} else {
			if (!home || home[0] != '/') {
				struct passwd *pw = getpwuid(geteuid());
				home = pw ? pw->pw_dir : NULL;
			}
			if (!home)
				return error_set(err, EXIT_USAGE, "no VM store: set --root, "
						 "$VMCTL_ROOT or $HOME");
			snprintf(want, sizeof(want), "%s/.local/share/vmctl", home);
		}
	}
	if (stat(want, &sb) < 0) {
		if (errno != ENOENT)
			return error_errno(err, errno, "cannot use VM store '%s'", want);
		if (mkdir_p(want, err) < 0)
			return -1;
	} else if (!S_ISDIR(sb.st_mode)) {
		return error_set(err, EXIT_USAGE, "VM store '%s' is not a folder", want);
	}
	real = realpath(want, NULL);
	if (!real)
		return error_errno(err, errno, "cannot resolve VM store '%s'", want);
	if (strlen(real) >= sizeof(st->root) - VMCONFIG_NAME_MAX - 64) {
		free(real);
		return error_set(err, EXIT_USAGE, "VM store path '%s' is too long", want);
	}
	snprintf(st->root, sizeof(st->root), "%s", real);
	free(real);
	return 0;
}

char *store_vm_dir(const struct store *st, const char *vm, struct error *err)
{
	char *s;

	if (!vmconfig_name_ok(vm))
		return error_set(err, EXIT_USAGE, "invalid VM name '%s': use 1 to 64 letters, "
				 "digits, '.', '_' or '-', starting with a letter or digit",
				 vm ? vm : ""),
		       NULL;
	if (asprintf(&s, "%s/%s", st->root, vm) < 0)
		return error_set(err, EXIT_FAIL, "out of memory"), NULL;
	return s;
}

int store_vm_exists(const struct store *st, const char *vm)
{
	char path[4096 + 128];
	struct stat sb;

	if (!vmconfig_name_ok(vm))
		return 0;
	snprintf(path, sizeof(path), "%s/%s", st->root, vm);
	if (lstat(path, &sb) < 0 || !S_ISDIR(sb.st_mode))
		return 0;
	/* a symlink counts, so that loading it reports the refusal */
	snprintf(path, sizeof(path), "%s/%s/vm.xml", st->root, vm);
	return lstat(path, &sb) == 0 && (S_ISREG(sb.st_mode) || S_ISLNK(sb.st_mode));
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char **store_list(const struct store *st, int *n, struct error *err)
{
	DIR *d = opendir(st->root);
	struct dirent *e;
	char **names = NULL;
	int cap = 0;

	*n = 0;
	if (!d)
		return error_errno(err, errno, "cannot read VM store '%s'", st->root), NULL;
	while ((errno = 0, e = readdir(d))) {
		if (!store_vm_exists(st, e->d_name))
			continue;
		if (*n + 1 >= cap) {
			cap = cap ? cap * 2 : 16;
			char **t = realloc(names, (size_t)cap * sizeof(*names));
			if (!t)
				goto oom;
			names = t;
		}
		if (!(names[*n] = strdup(e->d_name)))
			goto oom;
		(*n)++;
	}
	if (errno) {
		error_errno(err, errno, "cannot read VM store '%s'", st->root);
		goto fail;
	}
	closedir(d);
	if (!names && !(names = calloc(1, sizeof(*names))))
		return error_set(err, EXIT_FAIL, "out of memory"), NULL;
	qsort(names, (size_t)*n, sizeof(*names), cmp_names);
	names[*n] = NULL;
	return names;
oom:
	error_set(err, EXIT_FAIL, "out of memory");
fail:
	closedir(d);
	store_names_free(names, *n);
	*n = 0;
	return NULL;
}

void store_names_free(char **names, int n)
{
	if (!names)
		return;
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int store_mkdir(const char *path, struct error *err)
{
	struct stat sb;

	if (mkdir(path, 0700) == 0) {
		if (io_fsync_parent_dir(path) < 0)
			return error_errno(err, errno, "cannot sync the folder holding '%s'", path);
		return 0;
	}
	if (errno != EEXIST)
		return error_errno(err, errno, "cannot create folder '%s'", path);
	if (lstat(path, &sb) < 0)
		return error_errno(err, errno, "cannot stat '%s'", path);
	if (!S_ISDIR(sb.st_mode))
		return error_set(err, EXIT_CANTCREAT, "'%s' exists and is not a folder%s", path,
				 S_ISLNK(sb.st_mode) ? " (a symbolic link)" : "");
	return 0;
}

/* ---- files inside a VM folder, never through a symbolic link ---- */

/* A folder, refusing a symbolic link (O_DIRECTORY|O_NOFOLLOW on a link
 * fails with ELOOP or ENOTDIR). */
static int open_dir_nofollow(int at, const char *name, const char *shown, struct error *err)
{
	struct stat sb;
	int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd >= 0)
		return fd;
	if (errno == ELOOP ||
	    (errno == ENOTDIR && fstatat(at, name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
	     S_ISLNK(sb.st_mode)))
		return error_set(err, EXIT_NOPERM, "'%s' is a symbolic link: refused", shown);
	return error_errno(err, errno, "cannot open folder '%s'", shown);
}

int store_openat(const char *vmdir, const char *rel, int flags, mode_t mode, struct error *err)
{
	char buf[1024], *comp, *next;
	int dfd, fd;

	if (snprintf(buf, sizeof(buf), "%s", rel) >= (int)sizeof(buf) || !*rel || rel[0] == '/')
		return error_set(err, EXIT_USAGE, "invalid path '%s' in '%s'", rel, vmdir);
	dfd = open_dir_nofollow(AT_FDCWD, vmdir, vmdir, err);
	if (dfd < 0)
		return -1;
	for (comp = buf; (next = strchr(comp, '/')); comp = next + 1) {
		*next = '\0';
		if (!*comp || strcmp(comp, "..") == 0) {
			close(dfd);
			return error_set(err, EXIT_USAGE, "invalid path '%s' in '%s'", rel, vmdir);
		}
		char shown[4096 + 1024];
		snprintf(shown, sizeof(shown), "%s/%s", vmdir, buf);
		int nfd = open_dir_nofollow(dfd, comp, shown, err);
		close(dfd);
		if (nfd < 0)
			return -1;
		*next = '/';
		dfd = nfd;
	}
	if (!*comp || strcmp(comp, "..") == 0) {
		close(dfd);
		return error_set(err, EXIT_USAGE, "invalid path '%s' in '%s'", rel, vmdir);
	}
	fd = openat(dfd, comp, flags | O_NOFOLLOW | O_CLOEXEC, mode);
	int saved = errno;
	close(dfd);
	if (fd < 0) {
		if (saved == ELOOP)
			return error_set(err, EXIT_NOPERM, "'%s/%s' is a symbolic link: refused", vmdir,
					 rel);
		return error_errno(err, saved, "cannot open '%s/%s'", vmdir, rel);
	}
	return fd;
}

int store_read_file(const char *vmdir, const char *rel, char **buf, size_t *len, size_t max,
		    struct error *err)
{
	struct stat sb;
	ssize_t n;
	int fd = store_openat(vmdir, rel, O_RDONLY | O_NONBLOCK, 0, err);

	*buf = NULL;
	if (len)
		*len = 0;
	if (fd < 0)
		return -1;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return error_set(err, EXIT_DATAERR, "'%s/%s' is not a regular file", vmdir, rel);
	}
	if ((uint64_t)sb.st_size > max) {
		close(fd);
		return error_set(err, EXIT_DATAERR, "'%s/%s' is too large (%lld bytes, at most %zu)",
				 vmdir, rel, (long long)sb.st_size, max);
	}
	*buf = malloc(max + 1);
	if (!*buf) {
		close(fd);
		return error_set(err, EXIT_FAIL, "out of memory");
	}
	n = io_read_full(fd, *buf, max);
	int saved = errno;
	close(fd);
	if (n < 0) {
		free(*buf);
		*buf = NULL;
		return error_errno(err, saved, "cannot read '%s/%s'", vmdir, rel);
	}
	(*buf)[n] = '\0';
	if (len)
		*len = (size_t)n;
	return 0;
}

int store_write_file(const char *vmdir, const char *rel, const void *data, size_t len,
		     struct error *err)
{
	char path[4096 + 1024], sub[1024];
	const char *slash = strrchr(rel, '/');
	int rc;

	if (snprintf(path, sizeof(path), "%s/%s", vmdir, rel) >= (int)sizeof(path))
		return error_set(err, EXIT_USAGE, "path too long: '%s/%s'", vmdir, rel);
	/* the folder holding the file must be a real folder of the VM */
	if (slash) {
		snprintf(sub, sizeof(sub), "%.*s/.", (int)(slash - rel), rel);
		int dfd = store_openat(vmdir, sub, O_RDONLY | O_DIRECTORY, 0, err);
		if (dfd < 0)
			return -1;
		close(dfd);
	} else {
		int dfd = open_dir_nofollow(AT_FDCWD, vmdir, vmdir, err);
		if (dfd < 0)
			return -1;
		close(dfd);
	}
	rc = io_atomic_write(path, data, len, 0600, err);
	return rc;
}

static int remove_at(int dfd, const char *name, const char *top, int depth, struct error *err)
{
	struct stat sb;

	if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		return error_errno(err, errno, "cannot stat '%s' in '%s'", name, top);
	}
	if (S_ISDIR(sb.st_mode)) {
		if (depth > 32)
			return error_set(err, EXIT_FAIL, "'%s': folders nested too deep", top);
		int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return error_errno(err, errno, "cannot open '%s' in '%s'", name, top);
		DIR *d = fdopendir(fd);
		if (!d) {
			close(fd);
			return error_errno(err, errno, "cannot read '%s' in '%s'", name, top);
		}
		struct dirent *e;
		int rc = 0;
		while (rc == 0 && (e = readdir(d)))
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
				rc = remove_at(dirfd(d), e->d_name, top, depth + 1, err);
		closedir(d);
		if (rc < 0)
			return -1;
		if (unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
			return error_errno(err, errno, "cannot remove '%s' in '%s'", name, top);
		return 0;
	}
	if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
		return error_errno(err, errno, "cannot remove '%s' in '%s'", name, top);
	return 0;
}

int store_remove_tree(const char *path, struct error *err)
{
	if (remove_at(AT_FDCWD, path, path, 0, err) < 0)
		return -1;
	if (io_fsync_parent_dir(path) < 0)
		return error_errno(err, errno, "cannot sync the folder holding '%s'", path);
	return 0;
}

/* ---- op.lock ---- */

static unsigned long long self_starttime(void)
{
	char buf[1024], *p;
	int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	ssize_t n;
	unsigned long long v = 0;

	if (fd < 0)
		return 0;
	n = io_read_full(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* the command name may hold spaces and ')' */
	if (!p)
		return 0;
	/* fields after ')' start at 3 (state); starttime is field 22 */
	for (int field = 2; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	if (p)
		v = strtoull(p + 1, NULL, 10);
	return v;
}

/* One token of the holder line: no blanks, printable. */
static void token(char *dst, size_t size, const char *src)
{
	size_t i = 0;

	for (; src && *src && i + 1 < size; src++)
		dst[i++] = (isgraph((unsigned char)*src)) ? *src : '_';
	if (i == 0 && size > 1)
		dst[i++] = '-';
	dst[i] = '\0';
}

static void busy_message(int fd, const char *vmdir, struct error *err)
{
	char line[512], pid[32], start[32], tool[64], verb[64], when[64];
	const char *vm = io_basename(vmdir);
	ssize_t n = io_pread_full(fd, line, sizeof(line) - 1, 0);

	if (n > 0) {
		line[n] = '\0';
		line[strcspn(line, "\n")] = '\0';
		if (sscanf(line, "%31s %31s %63s %63s %63s", pid, start, tool, verb, when) == 5) {
			error_set(err, EXIT_TEMPFAIL, "VM '%s' is busy: pid %s (%s %s) since %s", vm,
				  pid, tool, verb, when);
			return;
		}
	}
	error_set(err, EXIT_TEMPFAIL, "VM '%s' is busy: another command holds '%s/op.lock'", vm,
		  vmdir);
}

static void write_holder(int fd, const char *tool, const char *verb)
{
	char line[512], t[64], v[64], when[40];

	token(t, sizeof(t), tool);
	token(v, sizeof(v), verb);
	units_format_time(time(NULL), when, sizeof(when));
	int n = snprintf(line, sizeof(line), "%ld %llu %s %s %s\n", (long)getpid(),
			 self_starttime(), t, v, when);
	/* written in place (renaming would drop the lock): new line first, then
	 * cut what is left of an older, longer one */
	if (io_pwrite_full(fd, line, (size_t)n, 0) == 0 && ftruncate(fd, n) < 0)
		error_warn("cannot truncate op.lock: %s", strerror(errno));
}

static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int oplock_acquire(struct oplock *l, const char *vmdir, const char *tool, const char *verb,
		   int wait_secs, struct error *err)
{
	double deadline = mono_now() + (wait_secs > 0 ? wait_secs : 0);
	char path[4096 + 16];

	l->fd = -1;
	snprintf(path, sizeof(path), "%s/op.lock", vmdir);
	for (int attempt = 0; attempt < 100; attempt++) {
		struct stat a, b;
		int fd = store_openat(vmdir, "op.lock", O_RDWR | O_CREAT, 0600, err);
		int got = 0, empty_reads = 0;

		if (fd < 0)
			return -1;
		while (!got) {
			if (wait_secs < 0) {
				got = flock(fd, LOCK_EX) == 0;
				if (!got && errno != EINTR) {
					error_errno(err, errno, "cannot lock '%s'", path);
					close(fd);
					return -1;
				}
				continue;
			}
			if (flock(fd, LOCK_EX | LOCK_NB) == 0)
				break;
			if (errno != EWOULDBLOCK && errno != EINTR) {
				error_errno(err, errno, "cannot lock '%s'", path);
				close(fd);
				return -1;
			}
			/* the holder may not have written its line yet: look again soon */
			struct stat sb;
			if (fstat(fd, &sb) == 0 && sb.st_size == 0 && empty_reads < 20) {
				empty_reads++;
				nap_ms(10);
				continue;
			}
			if (mono_now() >= deadline) {
				busy_message(fd, vmdir, err);
				if (wait_secs > 0) {
					size_t m = strlen(err->msg);
					snprintf(err->msg + m, sizeof(err->msg) - m,
						 " (gave up after %d s)", wait_secs);
				}
				close(fd);
				return -1;
			}
			nap_ms(50);
		}
		/* still the file at that path? (undefine may have replaced the folder) */
		if (fstat(fd, &a) == 0 && lstat(path, &b) == 0 && a.st_dev == b.st_dev &&
		    a.st_ino == b.st_ino) {
			write_holder(fd, tool, verb);
			l->fd = fd;
			return 0;
		}
		close(fd);
	}
	return error_set(err, EXIT_TEMPFAIL, "cannot lock '%s': it keeps being replaced", path);
}

void oplock_release(struct oplock *l)
{
	if (!l || l->fd < 0)
		return;
	if (ftruncate(l->fd, 0) < 0)
		error_warn("cannot clear op.lock: %s", strerror(errno));
	close(l->fd); /* drops the flock */
	l->fd = -1;
}

/* ---- run.lock and the VM's state ---- */

int vm_running(const char *vmdir)
{
	struct error e;
	int fd = store_openat(vmdir, "run.lock", O_RDONLY, 0, &e), rc;

	if (fd < 0)
		return e.code == EXIT_NOINPUT ? 0 : -1;
	if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		flock(fd, LOCK_UN);
		rc = 0;
	} else {
		rc = errno == EWOULDBLOCK ? 1 : -1;
	}
	close(fd);
	return rc;
}

/* A small number from a one-line file of the VM; 0 if absent or junk. */
static long long read_number(const char *vmdir, const char *rel)
{
	struct error e;
	char *buf, *end;
	long long v;

	if (store_read_file(vmdir, rel, &buf, NULL, 64, &e) < 0)
		return 0;
	errno = 0;
	v = strtoll(buf, &end, 10);
	if (errno || end == buf || (*end && *end != '\n') || v < 0)
		v = 0;
	free(buf);
	return v;
}

int runlock_acquire(const char *vmdir, const char *vm, struct error *err)
{
	int fd = store_openat(vmdir, "run.lock", O_RDWR | O_CREAT, 0600, err);

	if (fd < 0)
		return -1;
	/* a status probe holds the lock shared for an instant: try a few times */
	for (int i = 0; i < 20; i++) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return fd;
		if (errno != EWOULDBLOCK && errno != EINTR) {
			error_errno(err, errno, "cannot lock '%s/run.lock'", vmdir);
			close(fd);
			return -1;
		}
		nap_ms(10);
	}
	close(fd);
	long long pid = read_number(vmdir, "run/pid");
	if (pid > 0)
		return error_set(err, EXIT_TEMPFAIL, "VM '%s' is already running (pid %lld)", vm,
				 pid);
	return error_set(err, EXIT_TEMPFAIL, "VM '%s' is already running", vm);
}

const char *vm_state_name(enum vm_state s)
{
	switch (s) {
	case VM_STATE_RUNNING:
		return "running";
	case VM_STATE_PAUSED:
		return "paused";
	case VM_STATE_SAVED:
		return "saved";
	case VM_STATE_CRASHED:
		return "crashed";
	case VM_STATE_STOPPED:
	default:
		return "stopped";
	}
}

int vm_status_read(const char *vmdir, struct vm_status *s, struct error *err)
{
	char path[4096 + 32];
	struct stat sb;
	int r = vm_running(vmdir);

	memset(s, 0, sizeof(*s));
	if (r < 0)
		return error_errno(err, errno ? errno : EIO, "cannot probe '%s/run.lock'", vmdir);
	if (r == 1) {
		struct error e;
		char *word;
		s->state = VM_STATE_RUNNING;
		if (store_read_file(vmdir, "run/state", &word, NULL, 64, &e) == 0) {
			if (strncmp(word, "paused", 6) == 0 && (!word[6] || isspace((unsigned char)word[6])))
				s->state = VM_STATE_PAUSED;
			free(word);
		}
		s->pid = (pid_t)read_number(vmdir, "run/pid");
		s->started = (time_t)read_number(vmdir, "run/started");
		return 0;
	}
	/* a saved state does not hide a crash (start still resumes it) */
	snprintf(path, sizeof(path), "%s/run", vmdir);
	if (lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
		s->state = VM_STATE_CRASHED;
		return 0;
	}
	snprintf(path, sizeof(path), "%s/saved.vsv", vmdir);
	if (lstat(path, &sb) == 0 && S_ISREG(sb.st_mode))
		s->state = VM_STATE_SAVED;
	else
		s->state = VM_STATE_STOPPED;
	return 0;
}
