/* vhdtool merge: Merge-VHD — fold a child (and layers between) into an ancestor. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "vhd_merge.h"
#include "vhdtool.h"

static void emit_plan(struct out *o, struct vhd_merge *m, bool dry_run, bool keep)
{
	out_str(o, "target", m->target ? m->target->path : NULL);
	out_begin_array(o, "sources");
	for (int i = 0; i < m->nsources; i++)
		out_str(o, NULL, m->sources[i]->path);
	out_end(o);
	out_bool(o, "dry_run", dry_run);
	out_bool(o, "resumed", m->resumed);
	if (dry_run)
		out_size(o, "bytes_to_write", m->copy_done ? 0 : m->bytes_to_write);
	else
		out_size(o, "bytes_written", m->bytes_written);
	out_size(o, "bytes_freed", m->bytes_freed);
	out_begin_array(o, dry_run ? "would_remove" : "removed");
	if (dry_run) {
		for (int i = 0; !keep && i < m->nsources; i++)
			out_str(o, NULL, m->sources[i]->path);
	} else {
		for (int i = 0; i < m->nremoved; i++)
			out_str(o, NULL, m->removed[i]);
	}
	out_end(o);
	out_begin_array(o, "conflicts");
	for (int i = 0; i < m->nconflicts; i++)
		out_str(o, NULL, m->conflicts[i]);
	out_end(o);
}

int cmd_merge(struct cli *cli, int argc, const char **argv)
{
	const char *into = NULL;
	int keep = 0, dry = 0, force = 0, rc;
	struct poptOption opts[] = {
		{ "into", '\0', POPT_ARG_STRING, &into, 0,
		  "merge into this ancestor, folding every layer between", "ANCESTOR" },
		{ "keep", 'k', POPT_ARG_NONE, &keep, 0, "keep the merged files", NULL },
		{ "dry-run", 'n', POPT_ARG_NONE, &dry, 0, "show what would be written and freed",
		  NULL },
		{ "force", 'f', POPT_ARG_NONE, &force, 0,
		  "merge although other files depend on a changed layer", NULL },
		POPT_TABLEEND
	};
	unsigned flags;
	struct vhd_merge m;
	struct error err;
	struct out *o;

	error_init(&err);
	rc = cli_parse(cli, argc, argv, opts, CLI_REPORTS, 1, 1);
	if (rc != CLI_CONTINUE)
		return rc;
	flags = force ? DISK_FORCE : 0;
	vhd_merge_init(&m);
	if (vhd_merge_prepare(&m, cli->args[0], into, flags, keep, &err) < 0) {
		/* the child is gone: perhaps an interrupted merge already copied it */
		struct error e2;
		int r;
		if (err.code != EXIT_NOINPUT || access(cli->args[0], F_OK) == 0 || dry) {
			vhd_merge_release(&m);
			return cli_fail(cli, &err);
		}
		vhd_merge_release(&m);
		vhd_merge_init(&m);
		r = vhd_merge_resume_orphan(&m, cli->args[0], &e2);
		if (r <= 0) {
			vhd_merge_release(&m);
			return cli_fail(cli, r < 0 ? &e2 : &err);
		}
	} else if (!dry && vhd_merge_run(&m, keep, flags, &err) < 0) {
		vhd_merge_release(&m);
		return cli_fail(cli, &err);
	}
	for (int i = 0; !dry && i < m.nconflicts; i++)
		cli_warn(cli, "%s (--force)", m.conflicts[i]);
	o = out_new(cli->mode);
	if (!o) {
		vhd_merge_release(&m);
		error_set(&err, EXIT_FAIL, "out of memory");
		return cli_fail(cli, &err);
	}
	if (cli->mode == OUT_TEXT && !dry) {
		if (m.resumed)
			fprintf(cli->out, "finished an interrupted merge (journal '%s')\n", m.journal);
		if (m.target)
			fprintf(cli->out, "merged %d layer%s into '%s': %llu bytes written\n",
				m.nsources, m.nsources == 1 ? "" : "s", m.target->path,
				(unsigned long long)m.bytes_written);
		for (int i = 0; i < m.nremoved; i++)
			fprintf(cli->out, "removed '%s'\n", m.removed[i]);
	} else {
		emit_plan(o, &m, dry, keep);
		if (out_print(o, cli->out, &err) < 0)
			rc = cli_fail(cli, &err);
	}
	if (rc == CLI_CONTINUE)
		rc = (dry && m.nconflicts && !force) ? EXIT_FAIL : EXIT_OK;
	out_free(o);
	vhd_merge_release(&m);
	return rc;
}
