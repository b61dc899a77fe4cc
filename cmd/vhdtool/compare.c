/*
 * vhdtool compare: content comparison of two images (raw or VHD chains).
 * Exit status as qemu-img compare: 0 identical, 1 differ, 2 any error
 * (usage errors included) — not the tool's usual 64..77 codes.
 */
#include <stdio.h>

#include "compare.h"
#include "image.h"
#include "progress.h"
#include "vhdtool.h"

#define COMPARE_DIFFER 1
#define COMPARE_ERROR 2

static int fail(struct cli *cli, const struct error *err)
{
	cli_fail(cli, err);
	return COMPARE_ERROR;
}

static int report(struct cli *cli, struct disk *a, struct disk *b, bool strict,
		  const struct compare_result *r)
{
	struct error err;
	struct out *o;
	int rc = EXIT_OK;

	error_init(&err);
	if (cli->mode == OUT_TEXT) {
		if (r->identical)
			fprintf(cli->out, "Images are identical.\n");
		else if (strict && r->size_mismatch &&
			 r->first_difference == (a->size < b->size ? a->size : b->size))
			fprintf(cli->out, "Strict mode: Image size mismatch!\n");
		else
			fprintf(cli->out, "Content mismatch at offset %llu!\n",
				(unsigned long long)r->first_difference);
		if (fflush(cli->out) != 0 || ferror(cli->out)) {
			error_set(&err, EXIT_IOERR, "cannot write to standard output");
			return fail(cli, &err);
		}
		return EXIT_OK;
	}
	o = out_new(cli->mode);
	if (!o) {
		error_set(&err, EXIT_FAIL, "out of memory");
		return fail(cli, &err);
	}
	out_bool(o, "identical", r->identical);
	if (r->identical)
		out_str(o, "first_difference", NULL);
	else
		out_u64(o, "first_difference", r->first_difference);
	out_bool(o, "size_mismatch", r->size_mismatch);
	out_bool(o, "strict", strict);
	out_str(o, "file_a", a->path);
	out_str(o, "format_a", a->format);
	out_size(o, "size_a", a->size);
	out_str(o, "file_b", b->path);
	out_str(o, "format_b", b->format);
	out_size(o, "size_b", b->size);
	if (out_print(o, cli->out, &err) < 0)
		rc = fail(cli, &err);
	out_free(o);
	return rc;
}

int cmd_compare(struct cli *cli, int argc, const char **argv)
{
	const char *fa = NULL, *fb = NULL;
	int strict = 0, show = 0, rc;
	struct poptOption opts[] = {
		{ "strict", 's', POPT_ARG_NONE, &strict, 0,
		  "images of different sizes differ, whatever their content", NULL },
		{ "format-a", 'f', POPT_ARG_STRING, &fa, 0, "A is raw or vhd (default: detected)",
		  "FMT" },
		{ "format-b", 'F', POPT_ARG_STRING, &fb, 0, "B is raw or vhd (default: detected)",
		  "FMT" },
		{ "progress", 'p', POPT_ARG_NONE, &show, 0,
		  "show progress on stderr even when it is not a terminal", NULL },
		POPT_TABLEEND
	};
	struct compare_result r;
	struct disk *a = NULL, *b = NULL;
	struct progress p;
	struct error err;

	error_init(&err);
	rc = cli_parse(cli, argc, argv, opts, CLI_REPORTS, 2, 2);
	if (rc == CLI_CONTINUE)
		rc = vhdtool_check_format(cli, "--format-a", fa);
	if (rc == CLI_CONTINUE)
		rc = vhdtool_check_format(cli, "--format-b", fb);
	if (rc != CLI_CONTINUE)
		return rc == EXIT_OK ? EXIT_OK : COMPARE_ERROR;
	a = vhdtool_open_image(cli->args[0], fa, &err);
	if (!a)
		return fail(cli, &err);
	b = vhdtool_open_image(cli->args[1], fb, &err);
	if (!b) {
		disk_close(a);
		return fail(cli, &err);
	}
	progress_begin(&p, cli, show, "comparing");
	rc = compare_disks(a, b, strict, progress_cb, &p, &r, &err);
	rc = progress_end(&p, rc);
	if (rc < 0) {
		rc = fail(cli, &err);
	} else {
		if (r.size_mismatch && !strict)
			cli_warn(cli, "image size mismatch: '%s' is %llu bytes, '%s' is %llu bytes",
				 a->path, (unsigned long long)a->size, b->path,
				 (unsigned long long)b->size);
		rc = report(cli, a, b, strict, &r);
		if (rc == EXIT_OK && !r.identical)
			rc = COMPARE_DIFFER;
	}
	disk_close(a);
	disk_close(b);
	return rc;
}
