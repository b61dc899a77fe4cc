/* snapctl apply, undo */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "safeio.h"
#include "snapctl.h"
#include "snapops.h"
#include "uuid.h"

/* Applying without --save-current discards "now": Hyper-V asks first. */
static bool confirm(struct cli *cli, const char *vm, const char *snap)
{
	char line[32];

	if (!isatty(STDIN_FILENO))
		return true;
	fprintf(stderr, "Applying '%s' discards what VM '%s' changed since its current snapshot. "
		"Apply? [y/N] ", snap, vm);
	fflush(stderr);
	if (!fgets(line, sizeof(line), stdin))
		return false;
	return line[0] == 'y' || line[0] == 'Y';
}

static int report(struct cli *cli, const char *vm, struct snap_apply *a, const char *what)
{
	char u[UUID_STR_LEN], s[UUID_STR_LEN];
	struct error err;
	int rc;

	if (cli->mode == OUT_TEXT) {
		if (a->did_save)
			fprintf(cli->out, "saved the current state as snapshot %s (undo returns to it)\n",
				uuid_format(a->saved, s));
		fprintf(cli->out, "%s snapshot %s to VM '%s': %s\n", what, uuid_format(a->applied, u),
			vm, a->state);
		return EXIT_OK;
	}
	struct out *o = out_new(cli->mode);
	out_str(o, "vm", vm);
	out_str(o, "applied", uuid_format(a->applied, u));
	out_str(o, "saved_current", a->did_save ? uuid_format(a->saved, s) : NULL);
	out_str(o, "state", a->state);
	rc = out_print(o, cli->out, &err) < 0 ? cli_fail(cli, &err) : EXIT_OK;
	out_free(o);
	return rc;
}

int cmd_apply(struct cli *cli, int argc, const char **argv)
{
	const char *save = NULL, *wait = NULL;
	int running = 0, paused = 0, stopped = 0, yes = 0, wait_secs, rc;
	struct poptOption opts[] = {
		{ "save-current", 's', POPT_ARG_STRING | POPT_ARGFLAG_OPTIONAL, &save, 0,
		  "first snapshot the current state (so `undo` can return to it)", "NAME" },
		{ "running", '\0', POPT_ARG_NONE, &running, 0, "leave the VM running", NULL },
		{ "paused", '\0', POPT_ARG_NONE, &paused, 0, "leave the VM paused", NULL },
		{ "stopped", '\0', POPT_ARG_NONE, &stopped, 0, "leave the VM stopped", NULL },
		{ "yes", 'y', POPT_ARG_NONE, &yes, 0, "do not ask before discarding changes", NULL },
		CLI_WAIT_OPTION(wait),
		POPT_TABLEEND
	};
	struct snap_apply a = { 0 };
	struct snapvm vm;
	struct error err;

	error_init(&err);
	/* a bare --save-current before VM must not swallow it */
	const char **av = calloc((size_t)argc + 1, sizeof(*av));
	if (!av)
		return EXIT_FAIL;
	/* a bare --save-current or -s never takes the next word as its NAME (that
	 * is the VM): give a name as --save-current=NAME or -sNAME */
	for (int i = 0; i < argc; i++)
		av[i] = (i > 0 && (!strcmp(argv[i], "--save-current") || !strcmp(argv[i], "-s")))
				? "--save-current=" : argv[i];
	if (cli->nowned < (int)(sizeof(cli->owned) / sizeof(cli->owned[0])))
		cli->owned[cli->nowned++] = (char *)av;
	rc = cli_parse_wait(cli, argc, av, opts, CLI_REPORTS, 2, 2, &wait, &wait_secs);
	if (rc != CLI_CONTINUE)
		return rc;
	if (running + paused + stopped > 1)
		return cli_usage_error(cli, "--running, --paused and --stopped exclude each other");
	a.spec = cli->args[1];
	a.run = running ? SNAP_RUN_RUNNING : paused ? SNAP_RUN_PAUSED
			: stopped ? SNAP_RUN_STOPPED : SNAP_RUN_DEFAULT;
	a.save_current = save;
	a.record_undo = save != NULL;
	if (!save && !yes && !confirm(cli, cli->args[0], cli->args[1])) {
		error_set(&err, EXIT_FAIL, "not applied");
		return cli_fail(cli, &err);
	}
	if (snapvm_open(cli, cli->args[0], &vm, &err) < 0 ||
	    snapvm_lock(&vm, "apply", wait_secs, &err) < 0 ||
	    snapops_apply(vm.dir, vm.name, &a, &err) < 0) {
		snapvm_close(&vm);
		return cli_fail(cli, &err);
	}
	snapvm_close(&vm);
	return report(cli, cli->args[0], &a, "applied");
}

int cmd_undo(struct cli *cli, int argc, const char **argv)
{
	const char *wait = NULL;
	int keep = 0, wait_secs, rc;
	struct poptOption opts[] = {
		{ "keep", 'k', POPT_ARG_NONE, &keep, 0, "keep the automatic snapshot", NULL },
		CLI_WAIT_OPTION(wait),
		POPT_TABLEEND
	};
	struct snap_apply a = { 0 };
	struct snap_delete_plan plan;
	struct snapvm vm;
	struct error err;
	char path[4200], buf[64] = { 0 }, u[UUID_STR_LEN];
	FILE *fp;

	error_init(&err);
	rc = cli_parse_wait(cli, argc, argv, opts, CLI_REPORTS, 1, 1, &wait, &wait_secs);
	if (rc != CLI_CONTINUE)
		return rc;
	if (snapvm_open(cli, cli->args[0], &vm, &err) < 0 ||
	    snapvm_lock(&vm, "undo", wait_secs, &err) < 0)
		goto fail;
	snprintf(path, sizeof(path), "%s/undo", vm.dir);
	fp = fopen(path, "re");
	if (!fp) {
		error_set(&err, EXIT_NOINPUT, "VM '%s' has nothing to undo (no apply --save-current)",
			  vm.name);
		goto fail;
	}
	if (!fgets(buf, sizeof(buf), fp))
		buf[0] = '\0';
	fclose(fp);
	buf[strcspn(buf, "\n")] = '\0';
	snprintf(u, sizeof(u), "%s", buf);
	a.spec = u;
	if (snapops_apply(vm.dir, vm.name, &a, &err) < 0)
		goto fail;
	if (!keep && snapops_delete(vm.dir, vm.name, u, false, &plan, &err) < 0)
		goto fail;
	if (unlink(path) < 0 && errno != ENOENT) {
		error_errno(&err, errno, "cannot remove '%s'", path);
		goto fail;
	}
	io_fsync_parent_dir(path);
	snapvm_close(&vm);
	return report(cli, cli->args[0], &a, "returned to");
fail:
	snapvm_close(&vm);
	return cli_fail(cli, &err);
}
