/*
 * vhdtool map: which ranges of a disk hold data, and which layer of a chain
 * serves each (qemu-img map --output=json shape, under the key "map").
 */
#include <string.h>

#include "extent.h"
#include "image.h"
#include "vhdtool.h"

static bool mergeable(const struct extent *p, const struct extent *e)
{
	if (p->present != e->present || p->data != e->data || p->depth != e->depth)
		return false;
	if (!p->present)
		return true;
	return strcmp(p->file, e->file) == 0 && p->offset + p->length == e->offset;
}

static void emit(struct out *o, const struct extent *e)
{
	enum out_mode mode = out_mode(o);

	out_begin_object(o, NULL);
	out_u64(o, "start", e->start);
	out_u64(o, "length", e->length);
	out_u64(o, "depth", (uint64_t)e->depth);
	if (mode != OUT_TEXT) {
		out_bool(o, "present", e->present);
		out_bool(o, "zero", !e->data);
		out_bool(o, "data", e->data);
		if (e->present)
			out_u64(o, "offset", e->offset);
		else if (mode == OUT_TSV)
			out_str(o, "offset", NULL);
	}
	if (e->present || mode != OUT_JSON)
		out_str(o, "file", e->present ? e->file : NULL);
	out_end(o);
}

int cmd_map(struct cli *cli, int argc, const char **argv)
{
	const char *fmt = NULL;
	int rc;
	struct poptOption opts[] = {
		{ "format", 'f', POPT_ARG_STRING, &fmt, 0, "FILE is raw or vhd (default: detected)",
		  "FMT" },
		POPT_TABLEEND
	};
	struct extent_map *m = NULL;
	struct extent e, cur;
	struct error err;
	struct disk *d;
	struct out *o = NULL;
	uint64_t off = 0;
	bool have = false;

	error_init(&err);
	rc = cli_parse(cli, argc, argv, opts, CLI_REPORTS, 1, 1);
	if (rc == CLI_CONTINUE)
		rc = vhdtool_check_format(cli, "--format", fmt);
	if (rc != CLI_CONTINUE)
		return rc;
	d = vhdtool_open_image(cli->args[0], fmt, &err);
	if (!d)
		return cli_fail(cli, &err);
	m = extent_map_new(d, &err);
	o = out_new(cli->mode);
	if (!o)
		error_set(&err, EXIT_FAIL, "out of memory");
	if (!m || !o)
		goto fail;
	out_begin_table(o, "map");
	while (off < d->size) {
		if (extent_get(m, off, d->size - off, &e, &err) < 0)
			goto fail;
		off += e.length;
		if (have && mergeable(&cur, &e)) {
			cur.length += e.length;
			continue;
		}
		if (have)
			emit(o, &cur);
		cur = e;
		have = true;
	}
	if (have)
		emit(o, &cur);
	out_end(o);
	if (out_print(o, cli->out, &err) < 0)
		goto fail;
	rc = EXIT_OK;
	goto out;
fail:
	rc = cli_fail(cli, &err);
out:
	out_free(o);
	extent_map_free(m);
	disk_close(d);
	return rc;
}
