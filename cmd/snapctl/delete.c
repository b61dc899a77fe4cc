/* snapctl delete */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snapctl.h"
#include "snapops.h"
#include "units.h"
#include "uuid.h"

/* Descendants of s first (post-order), then s; fails if @current is among them. */
static int subtree(struct snaptree *t, struct snapshot *s, char specs[][UUID_STR_LEN], int *n,
		   int max)
{
	struct snapshot *kids[256];
	int k = snaptree_children(t, s, kids, 256);

	for (int i = 0; i < k; i++)
		if (subtree(t, kids[i], specs, n, max) < 0)
			return -1;
	if (*n >= max)
		return -1;
	uuid_format(s->uuid, specs[(*n)++]);
	return 0;
}

int cmd_delete(struct cli *cli, int argc, const char **argv)
{
	const char *wait = NULL;
	int sub = 0, dry = 0, wait_secs, rc, nspec = 0;
	struct poptOption opts[] = {
		{ "subtree", 'r', POPT_ARG_NONE, &sub, 0, "also delete every descendant", NULL },
		{ "dry-run", 'n', POPT_ARG_NONE, &dry, 0, "print the plan and the bytes freed", NULL },
		CLI_WAIT_OPTION(wait),
		POPT_TABLEEND
	};
	char (*specs)[UUID_STR_LEN] = calloc(512, UUID_STR_LEN);
	struct snap_delete_plan *plan = malloc(sizeof(*plan));
	struct snapvm vm;
	struct snaptree t;
	struct error err;
	struct out *o = NULL;
	uint64_t freed = 0;

	error_init(&err);
	if (!specs || !plan) {
		free(specs);
		free(plan);
		return EXIT_FAIL;
	}
	rc = cli_parse_wait(cli, argc, argv, opts, CLI_REPORTS, 2, -1, &wait, &wait_secs);
	if (rc != CLI_CONTINUE)
		goto done;
	if (snapvm_open(cli, cli->args[0], &vm, &err) < 0 ||
	    snapvm_lock(&vm, "delete", wait_secs, &err) < 0 || snaptree_load(&t, vm.dir, &err) < 0)
		goto fail_vm;
	/* resolve every argument first: nothing is deleted if one is wrong */
	for (int i = 1; i < cli->nargs; i++) {
		struct snapshot *s = snaptree_find(&t, cli->args[i], &err);
		if (!s) {
			snaptree_release(&t);
			goto fail_vm;
		}
		if (sub) {
			int before = nspec;
			if (subtree(&t, s, specs, &nspec, 512) < 0) {
				error_set(&err, EXIT_FAIL, "too many snapshots below '%s'", s->name);
				snaptree_release(&t);
				goto fail_vm;
			}
			for (int k = before; k < nspec; k++) {
				uint8_t u[16];
				uuid_parse(specs[k], u);
				if (t.has_current && !memcmp(u, t.current, 16) && memcmp(u, s->uuid, 16)) {
					error_set(&err, EXIT_FAIL, "the current snapshot is below '%s': apply "
						  "another snapshot first", s->name);
					snaptree_release(&t);
					goto fail_vm;
				}
			}
		} else {
			uuid_format(s->uuid, specs[nspec++]);
		}
	}
	/* each snapshot once, in the order first named */
	for (int i = 0; i < nspec; i++)
		for (int k = i + 1; k < nspec; k++)
			if (!strcmp(specs[i], specs[k])) {
				memmove(specs[k], specs[k + 1], (size_t)(nspec - k - 1) * UUID_STR_LEN);
				nspec--;
				k--;
			}
	snaptree_release(&t);
	o = out_new(cli->mode);
	if (dry && cli->mode == OUT_TEXT)
		fprintf(cli->out, "dry run, nothing changes:\n");
	out_str(o, "vm", vm.name);
	out_bool(o, "dry_run", dry);
	out_begin_array(o, "plan");
	for (int i = 0; i < nspec; i++) {
		if (snapops_delete(vm.dir, vm.name, specs[i], dry, plan, &err) < 0) {
			out_free(o);
			goto fail_vm;
		}
		freed += plan->bytes_freed;
		for (int k = 0; k < plan->nlines; k++) {
			if (cli->mode == OUT_TEXT)
				fprintf(cli->out, "%s%s\n", dry ? "  " : "", plan->lines[k]);
			out_str(o, NULL, plan->lines[k]);
		}
	}
	out_end(o);
	out_size(o, dry ? "bytes_to_free" : "bytes_freed", freed);
	if (cli->mode == OUT_TEXT) {
		char h[32];
		fprintf(cli->out, "%s %s\n", dry ? "would free" : "freed",
			units_format_size(freed, h, sizeof(h)));
		rc = EXIT_OK;
	} else {
		rc = out_print(o, cli->out, &err) < 0 ? cli_fail(cli, &err) : EXIT_OK;
	}
	out_free(o);
	snapvm_close(&vm);
	goto done;
fail_vm:
	snapvm_close(&vm);
	rc = cli_fail(cli, &err);
done:
	free(specs);
	free(plan);
	return rc;
}
