/* vhdtool read, write, cat: raw access through the chain. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safeio.h"
#include "units.h"
#include "vhd.h"
#include "vhdtool.h"

#define CHUNK (1u << 20)

/* Output fd for -o: stdout ("-" or none) or a new file. */
static int open_output(struct cli *cli, const char *path, struct error *err)
{
	int fd;

	if (!path || strcmp(path, "-") == 0) {
		if (isatty(STDOUT_FILENO))
			return error_set(err, EXIT_USAGE, "refusing to write disk data to a terminal "
					 "(redirect it or use -o FILE)");
		return STDOUT_FILENO;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return error_errno(err, errno, "cannot create '%s'", path);
	return fd;
}

static int copy_out(struct cli *cli, const char *file, unsigned flags, uint64_t off,
		    uint64_t len, const char *outpath, bool whole)
{
	struct error err;
	struct vhd *v;
	uint8_t *buf = NULL;
	int fd = -1, rc = EXIT_OK;

	error_init(&err);
	v = vhd_open(file, flags, &err);
	if (!v)
		return cli_fail(cli, &err);
	if (whole) {
		off = 0;
		len = v->disk.size;
	} else if (off > v->disk.size || len > v->disk.size - off) {
		error_set(&err, EXIT_USAGE, "'%s': range %llu+%llu is outside the disk (size %llu "
			  "bytes)", file, (unsigned long long)off, (unsigned long long)len,
			  (unsigned long long)v->disk.size);
		goto fail;
	}
	fd = open_output(cli, outpath, &err);
	if (fd < 0)
		goto fail;
	buf = malloc(CHUNK);
	if (!buf) {
		error_set(&err, EXIT_FAIL, "out of memory");
		goto fail;
	}
	while (len > 0) {
		size_t n = len < CHUNK ? (size_t)len : CHUNK;
		if (vhd_read(v, buf, n, off, &err) < 0)
			goto fail;
		if (io_write_full(fd, buf, n) < 0) {
			error_errno(&err, errno, "cannot write %s",
				    fd == STDOUT_FILENO ? "to standard output" : outpath);
			goto fail;
		}
		off += n;
		len -= n;
	}
	if (fd != STDOUT_FILENO && close(fd) < 0) {
		fd = -1;
		error_errno(&err, errno, "cannot write '%s'", outpath);
		goto fail;
	}
	fd = -1;
	goto out;
fail:
	rc = cli_fail(cli, &err);
out:
	if (fd > STDOUT_FILENO)
		close(fd);
	free(buf);
	vhd_close(v);
	return rc;
}

int cmd_read(struct cli *cli, int argc, const char **argv)
{
	const char *outp = NULL;
	int force = 0, rc;
	struct poptOption opts[] = {
		{ "output", 'o', POPT_ARG_STRING, &outp, 0, "write to OUT instead of stdout", "OUT" },
		{ "force", 'f', POPT_ARG_NONE, &force, 0,
		  "read images with bad checksums or a parent UUID mismatch", NULL },
		POPT_TABLEEND
	};
	uint64_t off, len;
	struct error err;

	error_init(&err);
	rc = cli_parse(cli, argc, argv, opts, 0, 3, 3);
	if (rc != CLI_CONTINUE)
		return rc;
	if (units_parse_size(cli->args[1], &off, &err) < 0 ||
	    units_parse_size(cli->args[2], &len, &err) < 0)
		return cli_fail(cli, &err);
	return copy_out(cli, cli->args[0], DISK_RDONLY | (force ? DISK_FORCE : 0), off, len, outp,
			false);
}

int cmd_cat(struct cli *cli, int argc, const char **argv)
{
	const char *outp = NULL;
	int force = 0, rc;
	struct poptOption opts[] = {
		{ "output", 'o', POPT_ARG_STRING, &outp, 0, "write to OUT instead of stdout", "OUT" },
		{ "force", 'f', POPT_ARG_NONE, &force, 0,
		  "read images with bad checksums or a parent UUID mismatch", NULL },
		POPT_TABLEEND
	};

	rc = cli_parse(cli, argc, argv, opts, 0, 1, 1);
	if (rc != CLI_CONTINUE)
		return rc;
	return copy_out(cli, cli->args[0], DISK_RDONLY | (force ? DISK_FORCE : 0), 0, 0, outp,
			true);
}

int cmd_write(struct cli *cli, int argc, const char **argv)
{
	const char *inp = NULL;
	int rc, fd = STDIN_FILENO;
	struct poptOption opts[] = {
		{ "input", 'i', POPT_ARG_STRING, &inp, 0, "read from IN instead of stdin", "IN" },
		POPT_TABLEEND
	};
	uint64_t off, total = 0;
	struct error err;
	struct stat st;
	struct vhd *v;
	uint8_t *buf = NULL;

	error_init(&err);
	rc = cli_parse(cli, argc, argv, opts, 0, 2, 2);
	if (rc != CLI_CONTINUE)
		return rc;
	if (units_parse_size(cli->args[1], &off, &err) < 0)
		return cli_fail(cli, &err);
	if (inp && strcmp(inp, "-") != 0) {
		fd = open(inp, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			error_errno(&err, errno, "cannot open '%s'", inp);
			return cli_fail(cli, &err);
		}
	}
	v = vhd_open(cli->args[0], 0, &err);
	if (!v)
		goto fail;
	/* a regular input file is checked whole before anything is written */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    disk_check_range(&v->disk, (size_t)st.st_size, off, &err) < 0)
		goto fail;
	buf = malloc(CHUNK);
	if (!buf) {
		error_set(&err, EXIT_FAIL, "out of memory");
		goto fail;
	}
	for (;;) {
		ssize_t n = io_read_full(fd, buf, CHUNK);
		if (n < 0) {
			error_errno(&err, errno, "cannot read %s", inp ? inp : "standard input");
			goto fail;
		}
		if (n == 0)
			break;
		if (vhd_write(v, buf, (size_t)n, off, &err) < 0)
			goto fail;
		off += (uint64_t)n;
		total += (uint64_t)n;
	}
	if (vhd_flush(v, &err) < 0)
		goto fail;
	cli_verbose(cli, "wrote %llu bytes to '%s'", (unsigned long long)total, cli->args[0]);
	goto out;
fail:
	rc = cli_fail(cli, &err);
out:
	if (rc == CLI_CONTINUE)
		rc = EXIT_OK;
	if (fd != STDIN_FILENO)
		close(fd);
	free(buf);
	vhd_close(v);
	return rc;
}
