/* vhdtool check: exit 0 clean, 2 corruption, 3 leaks only (qemu-img check);
 * with --chain, a parent that cannot be opened: its error's code (66 missing). */
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

/* The verdict: a parent that could not be opened (--chain) outranks the rest,
 * as its exit status does. */
static const char *result_of(const struct error *perr, int nerr, int nleak)
{
	if (perr->code)
		return perr->code == EXIT_NOINPUT ? "parent_missing" : "parent_unusable";
	return nerr ? "corrupt" : nleak ? "leaks" : "clean";
}

/* Human output: one line per finding, then a verdict. */
static void print_text(struct cli *cli, const struct vhd *top, const char *fatal,
		       const struct vhd *orphan, const struct error *perr,
		       const struct vhd_parent_candidate *cand, int ncand, int nerr, int nleak)
{
	static const char *label[] = { "error", "leak", "warning" };
	const char *verdict;
	int layers = 0;

	if (fatal)
		fprintf(cli->out, "error: %s\n", fatal);
	for (const struct vhd *v = top; v; v = v->parent, layers++)
		for (int i = 0; i < v->nproblems; i++)
			fprintf(cli->out, "%s: %s\n", label[v->problems[i].sev], v->problems[i].msg);
	if (orphan) {
		fprintf(cli->out, "error: %s\n", perr->msg);
		for (int i = 0; i < ncand && perr->code == EXIT_NOINPUT; i++)
			fprintf(cli->out, "  looked for '%s' (%s)\n", cand[i].path, cand[i].how);
	}
	if (orphan)
		verdict = perr->code == EXIT_NOINPUT ? "parent missing" : "parent unusable";
	else
		verdict = nerr ? "corrupt" : nleak ? "leaks only" : "no errors found";
	fprintf(cli->out, "%s: %s (%d layer%s checked", cli->args[0], verdict, layers,
		layers == 1 ? "" : "s");
	if (orphan)
		fprintf(cli->out, ", stopped at '%s'", orphan->path);
	if (nerr || nleak)
		fprintf(cli->out, "; %d error%s, %d leak%s", nerr, nerr == 1 ? "" : "s", nleak,
			nleak == 1 ? "" : "s");
	fprintf(cli->out, ")\n");
}

/* --json: what stopped the walk down the chain, or null. */
static void emit_parent_error(struct out *o, const struct vhd *orphan, const struct error *perr,
			      const struct vhd_parent_candidate *cand, int ncand)
{
	char name[1024];

	if (!orphan) {
		out_str(o, "parent_error", NULL);
		return;
	}
	out_begin_object(o, "parent_error");
	out_str(o, "file", orphan->path);
	out_str(o, "parent", vhd_parent_name(orphan, name, sizeof(name)) > 0 ? name : NULL);
	out_str(o, "reason", perr->code == EXIT_NOINPUT ? "not_found" : "unusable");
	out_str(o, "message", perr->msg);
	out_u64(o, "exit_status", (uint64_t)perr->code);
	out_begin_array(o, "looked_for");
	for (int i = 0; i < ncand; i++) {
		out_begin_object(o, NULL);
		out_str(o, "path", cand[i].path);
		out_str(o, "from", cand[i].how);
		out_end(o);
	}
	out_end(o);
	out_end(o);
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
	struct vhd_parent_candidate cand[VHD_MAX_PARENT_CANDIDATES];
	struct vhd *top, *v, *orphan = NULL;
	struct out *o;
	const char *fatal = NULL;
	int ncand = 0;

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
		if (vhd_open_parent(v, flags, &perr) < 0) {
			orphan = v;
			ncand = vhd_parent_candidates(v, cand);
			break;
		}
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
	emit_parent_error(o, orphan, &perr, cand, ncand);
	out_str(o, "result", result_of(&perr, nerr, nleak));
	rc = nerr ? EXIT_CORRUPT : nleak ? EXIT_LEAKS : EXIT_OK;
	if (cli->mode == OUT_TEXT)
		print_text(cli, top, fatal, orphan, &perr, cand, ncand, nerr, nleak);
	else if (out_print(o, cli->out, &err) < 0)
		rc = cli_fail(cli, &err);
	out_free(o);
	vhd_close(top);
	if (perr.code)
		rc = cli_fail(cli, &perr);
	return rc;
}
