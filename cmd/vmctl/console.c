/* vmctl console: the guest's serial port, interactively or for scripts. */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "safeio.h"
#include "statedir.h"
#include "vmctl.h"
#include "runtime.h"

#define ESCAPE 0x1d /* ^] */

int console_connect(const char *vmdir, struct error *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char path[4400], run[4300];
	int fd, dfd = -1;

	snprintf(path, sizeof(path), "%s/run/console.sock", vmdir);
	if (strlen(path) < sizeof(sa.sun_path)) {
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	} else {
		snprintf(run, sizeof(run), "%s/run", vmdir);
		dfd = open(run, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			return error_errno(err, errno, "cannot open '%s'", run);
		snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/console.sock", dfd);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		if (dfd >= 0)
			close(dfd);
		return error_errno(err, e, "cannot connect to the console '%s'", path);
	}
	if (dfd >= 0)
		close(dfd);
	return fd;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Relay stdin → guest and guest → stdout. With a terminal: raw mode, ^]
 * leaves. Otherwise: until `until` appears in the output (exit 0), timeout
 * passes (exit 75), or stdin ended and the output was idle `linger` s.
 */
int console_attach(struct cli *cli, const char *vmdir, const char *name, double timeout,
		   const char *until, double linger)
{
	struct termios saved, raw;
	bool tty = isatty(STDIN_FILENO), in_open = true;
	char *seen = NULL;
	size_t seen_len = 0, until_len = until ? strlen(until) : 0;
	double start = now_s(), last_out = now_s();
	struct error err;
	int fd, rc = EXIT_OK;

	error_init(&err);
	fd = console_connect(vmdir, &err);
	if (fd < 0) {
		if (vm_running(vmdir) != 1)
			error_set(&err, EXIT_FAIL, "VM '%s' is not running", name);
		return cli_fail(cli, &err);
	}
	if (tty) {
		tcgetattr(STDIN_FILENO, &saved);
		raw = saved;
		cfmakeraw(&raw);
		tcsetattr(STDIN_FILENO, TCSANOW, &raw);
		fprintf(stderr, "Connected to %s (escape: ^])\r\n", name);
	}
	if (until_len) {
		seen = malloc(until_len + 4096);
		if (!seen) {
			close(fd);
			return EXIT_FAIL;
		}
	}
	for (;;) {
		struct pollfd pf[2] = { { .fd = fd, .events = POLLIN },
					{ .fd = in_open ? STDIN_FILENO : -1, .events = POLLIN } };
		int wait_ms = 200;
		if (poll(pf, 2, wait_ms) < 0 && errno != EINTR)
			break;
		if (pf[0].revents) {
			char buf[4096];
			ssize_t n = read(fd, buf, sizeof(buf));
			if (n <= 0) {
				if (!tty && until_len) {
					error_set(&err, EXIT_FAIL, "VM '%s' stopped before '%s' appeared",
						  name, until);
					rc = cli_fail(cli, &err);
				}
				break;
			}
			if (io_write_full(STDOUT_FILENO, buf, (size_t)n) < 0) {
				rc = EXIT_IOERR;
				break;
			}
			last_out = now_s();
			if (until_len) {
				/* keep the tail that could start a match, plus the new bytes */
				size_t keep = seen_len < until_len - 1 ? seen_len : until_len - 1;
				memmove(seen, seen + seen_len - keep, keep);
				size_t add = (size_t)n < 4096 ? (size_t)n : 4096;
				memcpy(seen + keep, buf + n - add, add);
				seen_len = keep + add;
				if (memmem(seen, seen_len, until, until_len)) {
					/* print the rest of the line that holds the match */
					const char *m = memmem(buf, (size_t)n, until, until_len);
					bool eol = m && memchr(m, '\n', (size_t)(buf + n - m));
					struct pollfd p1 = { .fd = fd, .events = POLLIN };
					while (!eol && poll(&p1, 1, 500) > 0 &&
					       (n = read(fd, buf, sizeof(buf))) > 0) {
						(void)!write(STDOUT_FILENO, buf, (size_t)n);
						eol = memchr(buf, '\n', (size_t)n) != NULL;
					}
					break;
				}
			}
		}
		if (in_open && pf[1].revents) {
			char buf[4096];
			ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
			if (n <= 0) {
				in_open = false;
			} else {
				if (tty && memchr(buf, ESCAPE, (size_t)n))
					break;
				if (io_write_full(fd, buf, (size_t)n) < 0)
					break;
			}
		}
		if (timeout >= 0 && now_s() - start > timeout) {
			if (!tty && until_len) {
				error_set(&err, EXIT_TEMPFAIL, "'%s' did not appear on the console of '%s' "
					  "within %g s", until, name, timeout);
				rc = cli_fail(cli, &err);
			}
			break;
		}
		if (!tty && !in_open && !until_len && now_s() - last_out > linger)
			break;
	}
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
		fprintf(stderr, "\r\nDisconnected from %s\n", name);
	}
	free(seen);
	close(fd);
	return rc;
}

/* A number of seconds, 0..86400, fractions allowed; the whole string. */
static int parse_secs(const char *s, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end || !(v >= 0 && v <= 86400))
		return -1;
	*out = v;
	return 0;
}

int cmd_console(struct cli *cli, int argc, const char **argv)
{
	const char *timeout_s = NULL, *until = NULL, *linger_s = NULL;
	int show_log = 0, rc;
	struct poptOption opts[] = {
		{ "log", 'l', POPT_ARG_NONE, &show_log, 0,
		  "print what the guest wrote to its serial port (console.log)", NULL },
		{ "until", 'u', POPT_ARG_STRING, &until, 0,
		  "scripts: return when TEXT appears in the output", "TEXT" },
		{ "timeout", 't', POPT_ARG_STRING, &timeout_s, 0,
		  "scripts: give up after S seconds (exit 75 with --until)", "S" },
		{ "linger", '\0', POPT_ARG_STRING, &linger_s, 0,
		  "scripts: after end of input, wait for S idle seconds (default 1)", "S" },
		POPT_TABLEEND
	};
	struct vmctl_vm vm;
	struct error err;
	double timeout = -1, linger = 1.0;

	error_init(&err);
	rc = cli_parse(cli, argc, argv, opts, 0, 1, 1);
	if (rc != CLI_CONTINUE)
		return rc;
	if (timeout_s && parse_secs(timeout_s, &timeout) < 0)
		return cli_usage_error(cli, "invalid --timeout '%s': seconds", timeout_s);
	if (linger_s && parse_secs(linger_s, &linger) < 0)
		return cli_usage_error(cli, "invalid --linger '%s': seconds", linger_s);
	if (vmctl_vm_open(cli, cli->args[0], false, &vm, &err) < 0)
		return cli_fail(cli, &err);
	const char *dir = vm.dir;
	if (show_log) {
		char path[4400];
		for (int i = 1; i >= 0; i--) {
			int fd;
			snprintf(path, sizeof(path), "%s/console.log%s", dir, i ? ".1" : "");
			fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
			if (fd < 0)
				continue;
			char buf[65536];
			ssize_t n;
			while ((n = read(fd, buf, sizeof(buf))) > 0)
				if (io_write_full(STDOUT_FILENO, buf, (size_t)n) < 0)
					break;
			close(fd);
		}
		vmctl_vm_close(&vm);
		return EXIT_OK;
	}
	rc = console_attach(cli, dir, vm.name, timeout, until, linger);
	vmctl_vm_close(&vm);
	return rc;
}
