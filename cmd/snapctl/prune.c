/* snapctl prune: retention (for cron) through snapops_delete() */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "snapctl.h"
#include "snapops.h"
#include "units.h"
#include "uuid.h"

struct prune_opts {
	long keep_last;         /* -1: not given */
	int64_t older_than;     /* seconds; -1: not given */
	const char *match;
	bool dry;
	int wait_secs;
};

/* "7d", "12h", "30m", "2w", "45s" and sums such as "1d12h". */
static int parse_duration(const char *s, int64_t *out, struct error *err)
{
	int64_t total = 0;
	const char *p = s;

	if (!*p)
		goto bad;
	while (*p) {
		char *end;
		unsigned long long n;
		int64_t unit;
		if (*p < '0' || *p > '9')
			goto bad;
		n = strtoull(p, &end, 10);
		switch (*end) {
		case 's': unit = 1; break;
		case 'm': unit = 60; break;
		case 'h': unit = 3600; break;
		case 'd': unit = 86400; break;
		case 'w': unit = 7 * 86400; break;
		default: goto bad;
		}
		if (n > (unsigned long long)(INT64_MAX / unit) || total > INT64_MAX - (int64_t)n * unit)
			goto bad;
		total += (int64_t)n * unit;
		p = end + 1;
	}
	*out = total;
	return 0;
bad:
	return error_set(err, EXIT_USAGE, "invalid duration '%s' (use e.g. 30m, 12h, 7d, 2w, 1d12h)",
			 s);
}

static int newest_first(const void *a, const void *b)
{
	const struct snapshot *x = *(struct snapshot *const *)a, *y = *(struct snapshot *const *)b;

	if (x->created != y->created)
		return x->created > y->created ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Decide and delete for one VM; entries go into the open "vms" array of o. */
static int prune_vm(struct cli *cli, const char *name, const struct prune_opts *po,
		    struct out *o, uint64_t *freed_all, int *deleted_all, struct error *err)
{
	struct snap_delete_plan *plan = malloc(sizeof(*plan));
	struct snapshot **v = NULL;
	struct snaptree t;
	struct snapvm vm = { .lock = { .fd = -1 } };
	uint64_t freed = 0;
	time_t now = time(NULL);
	int n, rank = 0, ndel = 0, rc = -1;
	bool tree = false;
	char u[UUID_STR_LEN], ts[40], h[32];

	out_begin_object(o, NULL);
	out_str(o, "vm", name);
	out_begin_array(o, "snapshots");
	if (!plan) {
		error_set(err, EXIT_FAIL, "out of memory");
		goto out;
	}
	if (snapvm_open(cli, name, &vm, err) < 0 || snapvm_lock(&vm, "prune", po->wait_secs, err) < 0 ||
	    snaptree_load(&t, vm.dir, err) < 0)
		goto out;
	tree = true;
	n = t.n;
	if (!(v = malloc(((size_t)n + 1) * sizeof(*v)))) {
		error_set(err, EXIT_FAIL, "out of memory");
		goto out;
	}
	for (int i = 0; i < n; i++)
		v[i] = t.v[i];
	if (n > 1)
		qsort(v, (size_t)n, sizeof(*v), newest_first);
	for (int i = 0; i < n; i++) {
		struct snapshot *s = v[i];
		bool matched = !po->match || fnmatch(po->match, s->name, 0) == 0;
		bool current = t.has_current && !memcmp(t.current, s->uuid, 16);
		const char *reason = NULL;
		rank += matched;        /* the N newest matching ones, the current one counted */
		if (!matched)
			reason = "not_matched";
		else if (current)
			reason = "current";
		else if (po->keep_last >= 0 && rank <= po->keep_last)
			reason = "keep_last";
		else if (po->older_than >= 0 && (int64_t)(now - s->created) < po->older_than)
			reason = "newer";
		uuid_format(s->uuid, u);
		units_format_time(s->created, ts, sizeof(ts));
		out_begin_object(o, NULL);
		out_str(o, "name", s->name);
		out_str(o, "uuid", u);
		out_time(o, "created", s->created);
		out_str(o, "action", reason ? "keep" : "delete");
		out_str(o, "reason", reason);
		out_end(o);
		if (reason) {
			if (cli->mode == OUT_TEXT)
				cli_verbose(cli, "%s: keep '%s' (%s): %s", name, s->name, ts,
					    !strcmp(reason, "current") ? "the current snapshot"
					    : !strcmp(reason, "keep_last") ? "among the last kept"
					    : !strcmp(reason, "newer") ? "newer than --older-than"
					    : "does not match --match");
			continue;
		}
		if (snapops_delete(vm.dir, vm.name, u, po->dry, plan, err) < 0) {
			error_prefix(err, "VM '%s': cannot delete snapshot '%s'", name, s->name);
			goto out;
		}
		freed += plan->bytes_freed;
		ndel++;
		if (cli->mode == OUT_TEXT)
			fprintf(cli->out, "%s: %s '%s' (%s)\n", name, po->dry ? "would delete" : "deleted",
				s->name, ts);
	}
	rc = 0;
out:
	out_end(o);
	out_u64(o, "deleted", (uint64_t)ndel);
	out_size(o, po->dry ? "bytes_to_free" : "bytes_freed", freed);
	out_str(o, "error", rc < 0 ? err->msg : NULL);
	out_end(o);
	if (cli->mode == OUT_TEXT && ndel)
		fprintf(cli->out, "%s: %s %s\n", name, po->dry ? "would free" : "freed",
			units_format_size(freed, h, sizeof(h)));
	*freed_all += freed;
	*deleted_all += ndel;
	free(v);
	free(plan);
	if (tree)
		snaptree_release(&t);
	snapvm_close(&vm);
	return rc;
}

int cmd_prune(struct cli *cli, int argc, const char **argv)
{
	const char *keep = NULL, *older = NULL, *wait = NULL;
	int all = 0, dry = 0, rc, nvm = 0, deleted = 0, first_fail = 0;
	struct prune_opts po = { .keep_last = -1, .older_than = -1 };
	struct poptOption opts[] = {
		{ "keep-last", 'k', POPT_ARG_STRING, &keep, 0,
		  "keep the N newest (matching) snapshots", "N" },
		{ "older-than", 'o', POPT_ARG_STRING, &older, 0,
		  "delete only snapshots older than this (30m, 12h, 7d, 2w)", "DURATION" },
		{ "match", 'm', POPT_ARG_STRING, &po.match, 0,
		  "only snapshots whose name matches this shell pattern", "GLOB" },
		{ "all", 'a', POPT_ARG_NONE, &all, 0, "every VM of the store", NULL },
		{ "dry-run", 'n', POPT_ARG_NONE, &dry, 0, "say what would be deleted, delete nothing",
		  NULL },
		CLI_WAIT_OPTION(wait),
		POPT_TABLEEND
	};
	struct error err;
	struct store st;
	char **names = NULL;
	uint64_t freed = 0, v;

	error_init(&err);
	rc = cli_parse_wait(cli, argc, argv, opts, CLI_REPORTS, 0, 1, &wait, &po.wait_secs);
	if (rc != CLI_CONTINUE)
		return rc;
	if (all == (cli->nargs == 1))
		return cli_usage_error(cli, all ? "give a VM or --all, not both" : "give a VM or --all");
	if (!keep && !older)
		return cli_usage_error(cli, "say what to keep: --keep-last N and/or --older-than "
				       "DURATION");
	if (keep) {
		if (units_parse_u64(keep, &v, &err) < 0 || v > 1000000)
			return cli_usage_error(cli, "invalid --keep-last '%s'", keep);
		po.keep_last = (long)v;
	}
	if (older && parse_duration(older, &po.older_than, &err) < 0)
		return cli_usage_error(cli, "%s", err.msg);
	po.dry = dry;
	if (all) {
		if (store_open(&st, cli->root, &err) < 0 || !(names = store_list(&st, &nvm, &err)))
			return cli_fail(cli, &err);
	}
	struct out *o = out_new(cli->mode);
	out_bool(o, "dry_run", dry);
	out_begin_array(o, "vms");
	for (int i = 0; i < (all ? nvm : 1); i++) {
		error_init(&err);
		if (prune_vm(cli, all ? names[i] : cli->args[0], &po, o, &freed, &deleted, &err) < 0) {
			cli_fail(cli, &err);
			if (!first_fail)
				first_fail = err.code ? err.code : EXIT_FAIL;
		}
	}
	out_end(o);
	out_u64(o, "deleted", (uint64_t)deleted);
	out_size(o, dry ? "bytes_to_free" : "bytes_freed", freed);
	rc = EXIT_OK;
	if (cli->mode != OUT_TEXT && out_print(o, cli->out, &err) < 0)
		rc = cli_fail(cli, &err);
	else if (cli->mode == OUT_TEXT && !deleted)
		cli_verbose(cli, "nothing to delete");
	out_free(o);
	if (names)
		store_names_free(names, nvm);
	return first_fail ? first_fail : rc;
}
