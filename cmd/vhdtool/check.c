/* vhdtool check: exit 0 clean, 2 corruption, 3 leaks only (qemu-img check). */
#include <stdio.h>
#include <string.h>

#include "vhd.h"
#include "vhdtool.h"

static void emit_msgs(struct out *o, const char *key, const struct vhd *v,
		      enum vhd_severity sev, int *count)
{
	out_begin_array(o, key);
	for (int i = 0; i < v->nproblems; i++)
		if (v->problems[i].sev == sev) {
			out_str(o, NULL, v->problems[i].msg);
			(*count)++;
		}
	out_end(o);
}

/* Human output: one line per finding, then a verdict. */
static void print_text(struct cli *cli, const struct vhd *top, const char *fatal, int nerr,
		       int nleak)
{
	static const char *label[] = { "error", "leak", "warning" };
	int layers = 0;

	if (fatal)
		fprintf(cli->out, "error: %s\n", fatal);
	for (const struct vhd *v = top; v; v = v->parent, layers++)
		for (int i = 0; i < v->nproblems; i++)
			fprintf(cli->out, "%s: %s\n", label[v->problems[i].sev], v->problems[i].msg);
	fprintf(cli->out, "%s: %s (%d layer%s checked", cli->args[0],
		nerr ? "corrupt" : nleak ? "leaks only" : "no errors found", layers,
		layers == 1 ? "" : "s");
	if (nerr || nleak)
		fprintf(cli->out, "; %d error%s, %d leak%s", nerr, nerr == 1 ? "" : "s", nleak,
			nleak == 1 ? "" : "s");
	fprintf(cli->out, ")\n");
}

int cmd_check(struct cli *cli, int argc, const char **argv)
{
	int chain = 0, rc, nerr = 0, nleak = 0, nwarn = 0;
	struct poptOption opts[] = {
		{ "chain", 'c', POPT_ARG_NONE, &chain, 0, "check the parents too", NULL },
		POPT_TABLEEND
	};
	unsigned flags = DISK_RDONLY | VHD_NOPARENT | VHD_LENIENT;
	struct error err, perr;
	struct vhd *top, *v;
	struct out *o;
	const char *fatal = NULL;

	error_init(&err);
	error_init(&perr);
	rc = cli_parse(cli, argc, argv, opts, CLI_REPORTS, 1, 1);
	if (rc != CLI_CONTINUE)
		return rc;
	top = vhd_open(cli->args[0], flags, &err);
	if (!top) {
		/* a file that is a VHD but too damaged to walk is corrupt, not "bad input" */
		struct error e2;
		if (err.code != EXIT_DATAERR || vhd_probe(cli->args[0], &e2) != 1)
			return cli_fail(cli, &err);
		fatal = err.msg;
	}
	for (v = top; chain && v && v->footer.type == VHD_TYPE_DIFF; v = v->parent)
		if (vhd_open_parent(v, flags, &perr) < 0)
			break;
	for (v = top; v; v = v->parent)
		vhd_check_layer(v);

	o = out_new(cli->mode);
	if (!o) {
		vhd_close(top);
		error_set(&err, EXIT_FAIL, "out of memory");
		return cli_fail(cli, &err);
	}
	out_str(o, "file", cli->args[0]);
	out_begin_array(o, "layers");
	if (fatal) {
		out_begin_object(o, NULL);
		out_str(o, "file", cli->args[0]);
		out_begin_array(o, "errors");
		out_str(o, NULL, fatal);
		out_end(o);
		out_begin_array(o, "leaks");
		out_end(o);
		out_begin_array(o, "warnings");
		out_end(o);
		out_end(o);
		nerr++;
	}
	for (v = top; v; v = v->parent) {
		out_begin_object(o, NULL);
		out_str(o, "file", v->path);
		out_str(o, "type", vhd_type_name(v->footer.type));
		emit_msgs(o, "errors", v, VHD_SEV_ERROR, &nerr);
		emit_msgs(o, "leaks", v, VHD_SEV_LEAK, &nleak);
		emit_msgs(o, "warnings", v, VHD_SEV_WARNING, &nwarn);
		out_end(o);
	}
	out_end(o);
	out_u64(o, "errors", (uint64_t)nerr);
	out_u64(o, "leaks", (uint64_t)nleak);
	out_u64(o, "warnings", (uint64_t)nwarn);
	out_str(o, "result", nerr ? "corrupt" : nleak ? "leaks" : "clean");
	rc = nerr ? EXIT_CORRUPT : nleak ? EXIT_LEAKS : EXIT_OK;
	if (cli->mode == OUT_TEXT)
		print_text(cli, top, fatal, nerr, nleak);
	else if (out_print(o, cli->out, &err) < 0)
		rc = cli_fail(cli, &err);
	out_free(o);
	vhd_close(top);
	if (perr.code)
		rc = cli_fail(cli, &perr);
	return rc;
}
