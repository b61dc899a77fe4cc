#include "control.h"

#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "safeio.h"
#include "statedir.h"

long control_vmm_pid(const char *vmdir)
{
	char path[4200], buf[32] = { 0 };
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/run/pid", vmdir);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? strtol(buf, NULL, 10) : 0;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

int control_request(const char *vmdir, const char *verb, const char *arg, int timeout_ms,
		    char *reply, size_t reply_size, struct error *err)
{
	char dir[4200], req[4300], done[4300], body[8300], id[64];
	static unsigned seq;
	long pid;
	int waited = 0, status;

	if (vm_running(vmdir) != 1)
		return error_set(err, EXIT_FAIL, "the VM is not running");
	pid = control_vmm_pid(vmdir);
	if (pid <= 0)
		return error_set(err, EXIT_FAIL, "the VM's run/pid is missing");
	snprintf(dir, sizeof(dir), "%s/run/requests", vmdir);
	/* ids sort in the order requests were made (the VMM takes the oldest first) */
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	snprintf(id, sizeof(id), "%020lld-%ld-%u",
		 (long long)now.tv_sec * 1000000000LL + now.tv_nsec, (long)getpid(), seq++);
	snprintf(req, sizeof(req), "%s/%s.req", dir, id);
	snprintf(done, sizeof(done), "%s/%s.done", dir, id);
	if (snprintf(body, sizeof(body), "%s %s\n", verb, arg ? arg : "") >= (int)sizeof(body))
		return error_set(err, EXIT_USAGE, "request '%s' is too long", verb);
	if (io_atomic_write(req, body, strlen(body), 0600, err) < 0)
		return -1;
	if (kill((pid_t)pid, CONTROL_SIGNAL) < 0) {
		unlink(req);
		return error_errno(err, errno, "cannot signal the VMM (pid %ld)", pid);
	}
	for (bool last = false;; ) {
		int fd = open(done, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd >= 0) {
			char buf[600] = { 0 };
			ssize_t n = read(fd, buf, sizeof(buf) - 1);
			close(fd);
			unlink(done);
			if (n <= 0)
				return error_set(err, EXIT_FAIL, "empty answer from the VMM");
			buf[strcspn(buf, "\n")] = '\0';
			char *end;
			long st = strtol(buf, &end, 10);
			if (end == buf || st < 0 || st > 255 || (*end && *end != ' '))
				return error_set(err, EXIT_FAIL, "malformed answer from the VMM: '%s'",
						 buf);
			status = (int)st;
			const char *msg = strchr(buf, ' ');
			snprintf(reply, reply_size, "%s", msg ? msg + 1 : "");
			return status;
		}
		if (last) {
			unlink(req);
			return error_set(err, EXIT_FAIL, "the VM stopped before answering '%s'", verb);
		}
		if (vm_running(vmdir) != 1) {
			last = true; /* it may have answered just before it exited: look once more */
			continue;
		}
		if (timeout_ms >= 0 && waited >= timeout_ms) {
			unlink(req);
			return error_set(err, EXIT_TEMPFAIL, "the VMM did not answer '%s' within %d ms",
					 verb, timeout_ms);
		}
		sleep_ms(5);
		waited += 5;
	}
}

int control_next(const char *vmdir, struct control_req *r, struct error *err)
{
	char dir[4200], path[4600], best[256] = "", buf[8300] = { 0 };
	struct dirent *de;
	DIR *dp;
	int fd;
	ssize_t n;

	snprintf(dir, sizeof(dir), "%s/run/requests", vmdir);
	dp = opendir(dir);
	if (!dp)
		return error_errno(err, errno, "cannot read '%s'", dir);
	while ((de = readdir(dp))) {
		size_t l = strlen(de->d_name);
		if (l < 5 || l >= sizeof(best) || strcmp(de->d_name + l - 4, ".req") ||
		    de->d_name[0] == '.')
			continue;
		if (!best[0] || strcmp(de->d_name, best) < 0)
			snprintf(best, sizeof(best), "%s", de->d_name);
	}
	closedir(dp);
	if (!best[0])
		return 0;
	snprintf(path, sizeof(path), "%s/%s", dir, best);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return error_errno(err, errno, "cannot read '%s'", path);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	unlink(path);
	memset(r, 0, sizeof(*r));
	snprintf(r->id, sizeof(r->id), "%.*s", (int)(strlen(best) - 4), best);
	if (n > 0) {
		buf[strcspn(buf, "\n")] = '\0';
		char *sp = strchr(buf, ' ');
		if (sp) {
			*sp = '\0';
			snprintf(r->arg, sizeof(r->arg), "%s", sp + 1);
		}
		snprintf(r->verb, sizeof(r->verb), "%s", buf);
	}
	return 1;
}

int control_reply(const char *vmdir, const struct control_req *r, int status, const char *msg,
		  struct error *err)
{
	char path[4400], body[600];

	snprintf(path, sizeof(path), "%s/run/requests/%s.done", vmdir, r->id);
	snprintf(body, sizeof(body), "%d %s\n", status, msg ? msg : "");
	return io_atomic_write(path, body, strlen(body), 0600, err);
}
