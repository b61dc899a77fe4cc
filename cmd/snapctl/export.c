/* snapctl export; the progress line export and import share */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safeio.h"
#include "snapctl.h"
#include "stream.h"
#include "units.h"

/* ---- progress and interruption ---- */

static const int stop_signals[3] = { SIGINT, SIGTERM, SIGHUP };
static volatile sig_atomic_t stop_signal;
static struct sigaction old_actions[3];

static void on_stop(int sig)
{
	stop_signal = sig;
}

void snap_progress_begin(struct snap_progress *p, struct cli *cli)
{
	struct sigaction sa;

	memset(p, 0, sizeof(*p));
	p->cli = cli;
	p->show = !cli->quiet && isatty(fileno(cli->errf));
	p->last = -1;
	stop_signal = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sa.sa_flags = 0;   /* no SA_RESTART: a read from a stalled pipe returns at once */
	sigemptyset(&sa.sa_mask);
	for (int i = 0; i < 3; i++) {
		sigaction(stop_signals[i], NULL, &old_actions[i]);
		if (old_actions[i].sa_handler != SIG_IGN)  /* nohup stays nohup */
			sigaction(stop_signals[i], &sa, NULL);
	}
}

int snap_progress_cb(void *ctx, const char *phase, uint64_t done, uint64_t total)
{
	struct snap_progress *p = ctx;
	char a[32], b[32];
	int pct;

	if (stop_signal)
		return 1;
	if (!p->show)
		return 0;
	pct = total && done < total ? (int)((double)done * 100.0 / (double)total) : 100;
	if (pct == p->last && p->phase == phase)
		return 0;
	if (p->shown && p->phase != phase)
		fputc('\n', p->cli->errf);
	p->last = pct;
	p->phase = phase;
	p->shown = true;
	fprintf(p->cli->errf, "\r%s: %s: %3d%% (%s of %s)", p->cli->fullname, phase, pct,
		units_format_size(done, a, sizeof(a)), units_format_size(total, b, sizeof(b)));
	fflush(p->cli->errf);
	return 0;
}

int snap_progress_end(struct snap_progress *p, int rc)
{
	int sig = stop_signal;

	if (p->shown)
		fputc('\n', p->cli->errf);
	for (int i = 0; i < 3; i++)
		sigaction(stop_signals[i], &old_actions[i], NULL);
	if (sig) {
		fflush(NULL);
		raise(sig);
	}
	return rc;
}

/* ---- export ---- */

/* A name for a temporary file beside path: "<dir>/.<base>.<random>". */
static void tmp_name(const char *path, char *out, size_t size)
{
	char dir[4096];
	uint8_t r[6];

	if (getrandom(r, sizeof(r), 0) != sizeof(r))
		memset(r, (int)getpid(), sizeof(r));
	snprintf(out, size, "%s/.%s.%02x%02x%02x%02x%02x%02x", io_dirname(path, dir, sizeof(dir)),
		 io_basename(path), r[0], r[1], r[2], r[3], r[4], r[5]);
}

/*
 * The stream into FILE, crash-safely: written to an unnamed file in FILE's
 * folder (O_TMPFILE; a crash leaves nothing), synced, then linked in as FILE
 * (never over an existing FILE unless force: then under a temporary name
 * renamed over it), folder synced. Without O_TMPFILE: a named temporary file.
 */
static int write_file(struct stream_export *x, const char *path, bool force,
		      struct stream_export_info *info, struct error *err)
{
	char dir[4096], tmp[4400], proc[64];
	bool named = false;
	int fd;

	io_dirname(path, dir, sizeof(dir));
	fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
		tmp_name(path, tmp, sizeof(tmp));
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		named = true;
	}
	if (fd < 0)
		return error_errno(err, errno, "cannot create a file in '%s'", dir);
	if (stream_export_write(x, fd, info, err) < 0)
		goto fail;
	if (fsync(fd) < 0) {
		error_errno(err, errno, "cannot write '%s'", path);
		goto fail;
	}
	if (!named) {
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		if (!force) {
			if (linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) == 0)
				goto linked;
			if (errno == EEXIST) {
				error_set(err, EXIT_CANTCREAT, "'%s' exists already (--force replaces it)", path);
				goto fail;
			}
			error_errno(err, errno, "cannot create '%s'", path);
			goto fail;
		}
		tmp_name(path, tmp, sizeof(tmp));
		if (linkat(AT_FDCWD, proc, AT_FDCWD, tmp, AT_SYMLINK_FOLLOW) < 0) {
			error_errno(err, errno, "cannot create '%s'", tmp);
			goto fail;
		}
		named = true;
	}
	if (force ? rename(tmp, path) : renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE)) {
		if (errno == EEXIST)
			error_set(err, EXIT_CANTCREAT, "'%s' exists already (--force replaces it)", path);
		else
			error_errno(err, errno, "cannot rename '%s' to '%s'", tmp, path);
		goto fail;
	}
linked:
	close(fd);
	if (io_fsync_parent_dir(path) < 0)
		return error_errno(err, errno, "cannot sync the folder of '%s'", path);
	return 0;
fail:
	close(fd);
	if (named)
		unlink(tmp);
	return -1;
}

static int report(struct cli *cli, const char *vm, const char *file,
		  const struct stream_export_info *i)
{
	struct error err;
	char h[32];
	int rc;

	if (cli->mode == OUT_TEXT) {
		char what[400];
		if (i->snapshot[0])
			snprintf(what, sizeof(what), "snapshot '%s' of VM '%s' as a standalone VM",
				 i->snapshot_name, vm);
		else
			snprintf(what, sizeof(what), "VM '%s' with %d snapshot%s", vm, i->nsnapshots,
				 i->nsnapshots == 1 ? "" : "s");
		if (file)
			fprintf(cli->out, "exported %s (%d disk file%s) to '%s': %s\n", what, i->ndisks,
				i->ndisks == 1 ? "" : "s", file,
				units_format_size(i->stream_bytes, h, sizeof(h)));
		else
			cli_verbose(cli, "exported %s (%d disk files): %s", what, i->ndisks,
				    units_format_size(i->stream_bytes, h, sizeof(h)));
		return EXIT_OK;
	}
	struct out *o = out_new(cli->mode);
	out_str(o, "vm", vm);
	out_str(o, "kind", i->kind);
	if (i->snapshot[0]) {
		out_begin_object(o, "snapshot");
		out_str(o, "name", i->snapshot_name);
		out_str(o, "uuid", i->snapshot);
		out_end(o);
	} else {
		out_str(o, "snapshot", NULL);
	}
	out_str(o, "file", file);
	out_u64(o, "members", (uint64_t)i->nmembers);
	out_u64(o, "snapshots", (uint64_t)i->nsnapshots);
	out_u64(o, "disks", (uint64_t)i->ndisks);
	out_u64(o, "boot_files", (uint64_t)i->nboot);
	out_size(o, "payload_bytes", i->payload_bytes);
	out_size(o, "stream_bytes", i->stream_bytes);
	out_u64(o, "warnings", (uint64_t)i->nwarnings);
	rc = out_print(o, cli->out, &err) < 0 ? cli_fail(cli, &err) : EXIT_OK;
	out_free(o);
	return rc;
}

int cmd_export(struct cli *cli, int argc, const char **argv)
{
	const char *snap = NULL, *file = NULL, *wait = NULL;
	int force = 0, wait_secs, rc;
	struct poptOption opts[] = {
		{ "snapshot", 's', POPT_ARG_STRING, &snap, 0,
		  "export this snapshot alone, as a standalone VM with flattened disks", "SNAP" },
		{ "output", 'o', POPT_ARG_STRING, &file, 0, "write the stream to FILE (- : stdout)",
		  "FILE" },
		{ "force", 'f', POPT_ARG_NONE, &force, 0, "replace FILE if it exists", NULL },
		CLI_WAIT_OPTION(wait),
		POPT_TABLEEND
	};
	struct stream_export_info info;
	struct stream_export *x = NULL;
	struct snap_progress pr;
	struct snapvm vm;
	struct error err;
	struct stat st;
	bool to_stdout;

	error_init(&err);
	rc = cli_parse_wait(cli, argc, argv, opts, CLI_REPORTS, 1, 1, &wait, &wait_secs);
	if (rc != CLI_CONTINUE)
		return rc;
	to_stdout = !file || !strcmp(file, "-");
	if (to_stdout && cli->mode != OUT_TEXT)
		return cli_usage_error(cli, "the stream goes to standard output: use -o FILE with "
				       "--json or -H");
	if (to_stdout && isatty(STDOUT_FILENO))
		return cli_usage_error(cli, "will not write a tar stream to a terminal: use -o FILE "
				       "or a pipe");
	if (!to_stdout && !force && lstat(file, &st) == 0) {
		error_set(&err, EXIT_CANTCREAT, "'%s' exists already (--force replaces it)", file);
		return cli_fail(cli, &err);
	}
	if (snapvm_open(cli, cli->args[0], &vm, &err) < 0 ||
	    snapvm_lock(&vm, "export", wait_secs, &err) < 0) {
		snapvm_close(&vm);
		return cli_fail(cli, &err);
	}
	if (stream_recover(&vm.st, &err) < 0) {
		snapvm_close(&vm);
		return cli_fail(cli, &err);
	}
	snap_progress_begin(&pr, cli);
	struct stream_export_opts o = { .snapshot = snap, .tmp_dir = vm.st.root,
					.progress = snap_progress_cb, .ctx = &pr };
	if (stream_export_prepare(&x, vm.dir, vm.name, &o, &err) < 0 ||
	    (to_stdout ? stream_export_write(x, STDOUT_FILENO, &info, &err)
		       : write_file(x, file, force, &info, &err)) < 0)
		rc = -1;
	else
		rc = 0;
	stream_export_free(x);
	snapvm_close(&vm);
	rc = snap_progress_end(&pr, rc);
	if (rc < 0)
		return cli_fail(cli, &err);
	return report(cli, cli->args[0], to_stdout ? NULL : file, &info);
}
