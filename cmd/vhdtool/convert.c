/* vhdtool convert: any image (raw, VHD, chain flattened) into a new raw file or VHD. */
#include <string.h>

#include "convert.h"
#include "image.h"
#include "progress.h"
#include "units.h"
#include "vhd.h"
#include "vhdtool.h"

static int parse_options(struct cli *cli, const char *ofmt, const char *type, const char *bsize,
			 struct convert_opts *o)
{
	struct error err;
	uint64_t v;

	error_init(&err);
	o->format = CONVERT_VHD;
	o->type = VHD_TYPE_DYNAMIC;
	if (ofmt && strcmp(ofmt, "raw") == 0)
		o->format = CONVERT_RAW;
	else if (ofmt && strcmp(ofmt, "vhd") != 0 && strcmp(ofmt, "vpc") != 0)
		return cli_usage_error(cli, "unknown output format '%s': use vhd or raw", ofmt);
	if (type && o->format == CONVERT_RAW)
		return cli_usage_error(cli, "--type applies to VHD output only");
	if (type && strcmp(type, "fixed") == 0)
		o->type = VHD_TYPE_FIXED;
	else if (type && strcmp(type, "dynamic") != 0)
		return cli_usage_error(cli, "unknown --type '%s': use fixed or dynamic", type);
	if (!bsize)
		return CLI_CONTINUE;
	if (o->format != CONVERT_VHD || o->type != VHD_TYPE_DYNAMIC)
		return cli_usage_error(cli, "--block-size applies to dynamic VHD output only");
	if (units_parse_size(bsize, &v, &err) < 0)
		return cli_fail(cli, &err);
	if (v < VHD_MIN_BLOCK || v > VHD_MAX_BLOCK || (v & (v - 1)))
		return cli_usage_error(cli, "block size '%s' is not a power of two between 4 KiB "
				       "and 256 MiB", bsize);
	o->block_size = (uint32_t)v;
	return CLI_CONTINUE;
}

int cmd_convert(struct cli *cli, int argc, const char **argv)
{
	const char *ofmt = NULL, *sfmt = NULL, *type = NULL, *bsize = NULL;
	int force = 0, show = 0, rc;
	struct poptOption opts[] = {
		{ "output-format", 'O', POPT_ARG_STRING, &ofmt, 0,
		  "vhd (default) or raw", "FMT" },
		{ "source-format", 'f', POPT_ARG_STRING, &sfmt, 0,
		  "raw or vhd (default: detected)", "FMT" },
		{ "type", 't', POPT_ARG_STRING, &type, 0,
		  "VHD output: dynamic (default) or fixed", "TYPE" },
		{ "block-size", 'b', POPT_ARG_STRING, &bsize, 0,
		  "dynamic output: block size, power of two, 4K..256M (default 2M)", "SIZE" },
		{ "force", '\0', POPT_ARG_NONE, &force, 0, "replace an existing DST", NULL },
		{ "progress", 'p', POPT_ARG_NONE, &show, 0,
		  "show progress on stderr even when it is not a terminal", NULL },
		POPT_TABLEEND
	};
	struct convert_opts o = { 0 };
	struct convert_stats st;
	struct progress p;
	struct error err;
	struct disk *src;
	char a[32], b[32], c[32];

	error_init(&err);
	rc = cli_parse(cli, argc, argv, opts, 0, 2, 2);
	if (rc != CLI_CONTINUE)
		return rc;
	rc = parse_options(cli, ofmt, type, bsize, &o);
	if (rc == CLI_CONTINUE)
		rc = vhdtool_check_format(cli, "--source-format", sfmt);
	if (rc != CLI_CONTINUE)
		return rc;
	o.force = force;
	src = vhdtool_open_image(cli->args[0], sfmt, &err);
	if (!src)
		return cli_fail(cli, &err);
	progress_begin(&p, cli, show, "converting");
	o.progress = progress_cb;
	o.ctx = &p;
	rc = convert_disk(src, cli->args[1], &o, &st, &err) < 0 ? -1 : EXIT_OK;
	disk_close(src);
	rc = progress_end(&p, rc);
	if (rc < 0)
		return cli_fail(cli, &err);
	if (st.padded)
		cli_warn(cli, "'%s' is not a whole number of 512-byte sectors: the VHD is padded "
			 "with zeros to %llu bytes", cli->args[0], (unsigned long long)st.size);
	cli_verbose(cli, "converted '%s' to '%s': %s, %s written, %s left unallocated",
		    cli->args[0], cli->args[1], units_format_size(st.size, a, sizeof(a)),
		    units_format_size(st.data_bytes, b, sizeof(b)),
		    units_format_size(st.zero_bytes, c, sizeof(c)));
	return EXIT_OK;
}
