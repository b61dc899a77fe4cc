/*
 * vmctl status VM: state, pid, uptime, memory, vCPUs and each disk's chain
 * (opened read-only, without locks, so a running VM's disks can be shown).
 * A crashed VM also shows the last lines of run/log.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "safeio.h"
#include "uuid.h"
#include "vhd.h"
#include "vmctl.h"

#define LOG_LINES 10
#define LOG_TAIL_BYTES (64 * 1024)

/* Canonical form of a path that exists, else the path as given. */
static void emit_path(struct out *o, const char *key, const char *path)
{
	char *real = realpath(path, NULL);

	out_str(o, key, real ? real : path);
	free(real);
}

/* One disk: the chain from the top layer down, or what stopped the walk. */
static void emit_disk(struct out *o, const struct vmconfig *c, int i, const char *vmdir)
{
	unsigned flags = DISK_RDONLY | DISK_NOLOCK | VHD_NOPARENT;
	char *path = vmconfig_disk_path(c, i, vmdir);
	struct error e;
	struct vhd *top = NULL;

	error_init(&e);
	out_begin_object(o, NULL);
	out_str(o, "target", c->disks[i].target);
	out_str(o, "file", path ? path : c->disks[i].path);
	out_bool(o, "readonly", c->disks[i].readonly);
	out_begin_array(o, "chain");
	if (path && (top = vhd_open(path, flags, &e))) {
		out_str(o, NULL, path);
		for (struct vhd *v = top; v->footer.type == VHD_TYPE_DIFF; v = v->parent) {
			if (vhd_open_parent(v, flags, &e) < 0)
				break;
			emit_path(o, NULL, v->parent->path);
		}
	} else if (!path) {
		vmctl_oom(&e);
	}
	out_end(o);
	if (e.code || out_mode(o) != OUT_TEXT)
		out_str(o, "error", e.code ? e.msg : NULL);
	out_end(o);
	vhd_close(top);
	free(path);
}

/* Printable UTF-8 for the log: control bytes and broken sequences → '?'. */
static void clean_line(char *s)
{
	unsigned char *p = (unsigned char *)s;

	while (*p) {
		int len = *p < 0x80 ? 1 : (*p >> 5) == 6 ? 2 : (*p >> 4) == 14 ? 3 :
			  (*p >> 3) == 30 ? 4 : 0;
		bool ok = len > 0;
		for (int k = 1; ok && k < len; k++)
			ok = (p[k] & 0xc0) == 0x80;
		if (!ok || (len == 1 && *p < 0x20 && *p != '\t') || *p == 0x7f) {
			*p++ = '?';
			continue;
		}
		p += len;
	}
}

/* The last LOG_LINES lines of <vm>/run/log: the JSON / -H array last_log,
 * or in text mode a block printed after the rest. */
static void emit_last_log(struct cli *cli, struct out *o, const char *vmdir, FILE *text)
{
	char *buf = NULL, *lines[LOG_LINES], *end;
	int n = 0;
	struct error e;
	struct stat sb;
	int fd = store_openat(vmdir, "run/log", O_RDONLY | O_NONBLOCK, 0, &e);

	if (!text)
		out_begin_array(o, "last_log");
	else
		fputs("last log:\n", text);
	if (fd < 0) {
		if (e.code != EXIT_NOINPUT)
			cli_warn(cli, "%s", e.msg);
		goto out;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || !(buf = malloc(LOG_TAIL_BYTES + 1)))
		goto out;
	uint64_t off = (uint64_t)sb.st_size > LOG_TAIL_BYTES ?
			       (uint64_t)sb.st_size - LOG_TAIL_BYTES : 0;
	ssize_t got = io_pread_full(fd, buf, LOG_TAIL_BYTES, off);
	if (got < 0)
		goto out;
	buf[got] = '\0';
	end = buf + got;
	if (end > buf && end[-1] == '\n')
		*--end = '\0';
	/* walk back from the end over LOG_LINES newlines */
	char *p = end;
	while (n < LOG_LINES && p > buf) {
		char *nl = p - 1;
		while (nl > buf && *nl != '\n')
			nl--;
		if (*nl == '\n') {
			*nl = '\0';
			lines[n++] = nl + 1;
		} else {
			lines[n++] = nl;
		}
		p = nl;
	}
	/* a first line cut by the 64 KiB window is left out */
	if (off > 0 && n > 0 && lines[n - 1] == buf)
		n--;
	for (int i = n - 1; i >= 0; i--) {
		size_t len = strlen(lines[i]);
		if (len && lines[i][len - 1] == '\r')
			lines[i][len - 1] = '\0';
		clean_line(lines[i]);
		if (text)
			fprintf(text, "  %s\n", lines[i]);
		else
			out_str(o, NULL, lines[i]);
	}
out:
	if (!text)
		out_end(o);
	else if (n == 0)
		fputs("  (none)\n", text);
	free(buf);
	if (fd >= 0)
		close(fd);
}

static void format_uptime(char *buf, size_t size, uint64_t s)
{
	if (s >= 86400)
		snprintf(buf, size, "%llud %lluh %llum %llus", (unsigned long long)(s / 86400),
			 (unsigned long long)(s / 3600 % 24), (unsigned long long)(s / 60 % 60),
			 (unsigned long long)(s % 60));
	else if (s >= 3600)
		snprintf(buf, size, "%lluh %llum %llus", (unsigned long long)(s / 3600),
			 (unsigned long long)(s / 60 % 60), (unsigned long long)(s % 60));
	else if (s >= 60)
		snprintf(buf, size, "%llum %llus", (unsigned long long)(s / 60),
			 (unsigned long long)(s % 60));
	else
		snprintf(buf, size, "%llus", (unsigned long long)s);
}

int cmd_status(struct cli *cli, int argc, const char **argv)
{
	bool text;
	char u[UUID_STR_LEN], up[64];
	struct vm_status s;
	struct vmctl_vm vm;
	struct error err;
	struct out *o = NULL;
	int rc;

	error_init(&err);
	rc = cli_parse(cli, argc, argv, NULL, CLI_REPORTS, 1, 1);
	if (rc != CLI_CONTINUE)
		return rc;
	text = cli->mode == OUT_TEXT;
	if (vmctl_vm_open(cli, cli->args[0], true, &vm, &err) < 0 ||
	    vm_status_read(vm.dir, &s, &err) < 0)
		goto fail;
	if (!(o = out_new(cli->mode))) {
		vmctl_oom(&err);
		goto fail;
	}
	bool up_now = s.state == VM_STATE_RUNNING || s.state == VM_STATE_PAUSED;
	time_t now = time(NULL);
	out_str(o, "name", vm.cfg->name);
	out_str(o, "uuid", uuid_format(vm.cfg->uuid, u));
	out_str(o, "state", vm_state_name(s.state));
	if (up_now && s.pid > 0)
		out_u64(o, "pid", (uint64_t)s.pid);
	else
		out_str(o, "pid", NULL);
	if (up_now && s.started > 0) {
		uint64_t secs = now > s.started ? (uint64_t)(now - s.started) : 0;
		if (text) {
			format_uptime(up, sizeof(up), secs);
			out_str(o, "uptime", up);
		} else {
			out_u64(o, "uptime_s", secs);
		}
		out_time(o, "started", s.started);
	} else {
		out_str(o, text ? "uptime" : "uptime_s", NULL);
		out_str(o, "started", NULL);
	}
	out_size(o, text ? "memory" : "memory_bytes", vm.cfg->memory_bytes);
	out_u64(o, "vcpus", vm.cfg->vcpus);
	out_begin_array(o, "disks");
	for (int i = 0; i < vm.cfg->ndisks; i++)
		emit_disk(o, vm.cfg, i, vm.dir);
	out_end(o);
	if (s.state == VM_STATE_CRASHED && !text)
		emit_last_log(cli, o, vm.dir, NULL);
	if (out_print(o, cli->out, &err) < 0)
		goto fail;
	if (s.state == VM_STATE_CRASHED && text) {
		emit_last_log(cli, o, vm.dir, cli->out);
		if (fflush(cli->out) != 0 || ferror(cli->out)) {
			error_errno(&err, errno ? errno : EIO, "cannot write output");
			goto fail;
		}
	}
	rc = EXIT_OK;
	goto out;
fail:
	rc = cli_fail(cli, &err);
out:
	out_free(o);
	vmctl_vm_close(&vm);
	return rc;
}
