/* snapctl import */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "snapctl.h"
#include "stream.h"
#include "units.h"

static int report(struct cli *cli, bool new_id, const struct stream_import_info *i)
{
	struct error err;
	char h[32];
	int rc;

	if (cli->mode == OUT_TEXT) {
		fprintf(cli->out, "imported VM '%s' (%s) with %d snapshot%s and %d disk file%s "
			"(%s verified) into '%s'\n", i->name, i->uuid, i->nsnapshots,
			i->nsnapshots == 1 ? "" : "s", i->ndisks, i->ndisks == 1 ? "" : "s",
			units_format_size(i->bytes, h, sizeof(h)), i->vmdir);
		return EXIT_OK;
	}
	struct out *o = out_new(cli->mode);
	out_str(o, "vm", i->name);
	out_str(o, "uuid", i->uuid);
	out_str(o, "kind", i->kind);
	out_bool(o, "new_id", new_id);
	out_str(o, "vm_dir", i->vmdir);
	out_str(o, "disk_dir", i->diskdir);
	out_u64(o, "snapshots", (uint64_t)i->nsnapshots);
	out_u64(o, "disks", (uint64_t)i->ndisks);
	out_u64(o, "boot_files", (uint64_t)i->nboot);
	out_size(o, "bytes", i->bytes);
	out_u64(o, "warnings", (uint64_t)i->nwarnings);
	rc = out_print(o, cli->out, &err) < 0 ? cli_fail(cli, &err) : EXIT_OK;
	out_free(o);
	return rc;
}

int cmd_import(struct cli *cli, int argc, const char **argv)
{
	const char *name = NULL, *dest = NULL;
	int new_id = 0, rc, fd;
	struct poptOption opts[] = {
		{ "name", 'n', POPT_ARG_STRING, &name, 0, "register the VM under this name", "NEW" },
		{ "new-id", '\0', POPT_ARG_NONE, &new_id, 0,
		  "give the VM and its snapshots new UUIDs (a copy beside the original)", NULL },
		{ "dest", 'd', POPT_ARG_STRING, &dest, 0,
		  "put the disk files into this folder (default <root>/<vm>/disks)", "DIR" },
		POPT_TABLEEND
	};
	struct stream_import_info info;
	struct snap_progress pr;
	struct store st;
	struct error err;
	const char *src;

	error_init(&err);
	rc = cli_parse(cli, argc, argv, opts, CLI_REPORTS, 1, 1);
	if (rc != CLI_CONTINUE)
		return rc;
	src = cli->args[0];
	if (name && !vmconfig_name_ok(name))
		return cli_usage_error(cli, "invalid VM name '%s'", name);
	if (!strcmp(src, "-")) {
		if (isatty(STDIN_FILENO))
			return cli_usage_error(cli, "will not read a stream from a terminal: give a "
					       "FILE or a pipe");
		fd = STDIN_FILENO;
	} else {
		struct stat sb;
		fd = open(src, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			error_errno(&err, errno, "cannot open '%s'", src);
			return cli_fail(cli, &err);
		}
		if (fstat(fd, &sb) == 0 && S_ISDIR(sb.st_mode)) {
			close(fd);
			error_set(&err, EXIT_USAGE, "'%s' is a folder, not an export stream", src);
			return cli_fail(cli, &err);
		}
	}
	if (store_open(&st, cli->root, &err) < 0 || stream_recover(&st, &err) < 0) {
		if (fd != STDIN_FILENO)
			close(fd);
		return cli_fail(cli, &err);
	}
	snap_progress_begin(&pr, cli);
	struct stream_import_opts o = { .name = name, .new_id = new_id, .dest = dest,
					.progress = snap_progress_cb, .ctx = &pr };
	rc = stream_import(&st, fd, strcmp(src, "-") ? src : "standard input", &o, &info, &err);
	if (fd != STDIN_FILENO)
		close(fd);
	rc = snap_progress_end(&pr, rc);
	if (rc < 0)
		return cli_fail(cli, &err);
	return report(cli, new_id, &info);
}
