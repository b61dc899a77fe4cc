#include "cli.h"

#include <limits.h>

#include "units.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static struct cli *current; /* for the warning handler */
static int opt_help, opt_usage, opt_version, opt_json, opt_tsv;

static void print_verbs(struct cli *cli, FILE *fp)
{
	fprintf(fp, "Usage: %s [-q|-v] [--root DIR] COMMAND [OPTIONS] [ARGS]\n\nCommands:\n",
		cli->prog);
	for (const struct cli_verb *v = cli->verbs; v->name; v++)
		fprintf(fp, "  %-10s %s\n", v->name, v->summary);
	fprintf(fp, "\nGlobal options: -q/--quiet, -v/--verbose, --root DIR, --help, --usage, "
		    "--version.\n'%s COMMAND --help' describes a command; man %s has the rest.\n",
		cli->prog, cli->prog);
}

static void warn_to_stderr(const char *msg)
{
	if (current && !current->quiet)
		fprintf(current->errf, "%s: warning: %s\n", current->prog, msg);
}

int cli_fail(struct cli *cli, const struct error *err)
{
	fprintf(cli->errf, "%s: %s\n", cli->prog, err->msg[0] ? err->msg : "failed");
	return err->code ? err->code : EXIT_FAIL;
}

static const struct cli_verb *find_verb(const struct cli *cli, const char *name)
{
	for (const struct cli_verb *v = cli->verbs; v->name; v++)
		if (strcmp(v->name, name) == 0)
			return v;
	return NULL;
}

static const struct cli_verb *this_verb(const struct cli *cli)
{
	return cli->verb ? find_verb(cli, cli->verb) : NULL;
}

int cli_usage_error(struct cli *cli, const char *fmt, ...)
{
	const struct cli_verb *v = this_verb(cli);
	va_list ap;

	fprintf(cli->errf, "%s: ", cli->fullname[0] ? cli->fullname : cli->prog);
	va_start(ap, fmt);
	vfprintf(cli->errf, fmt, ap);
	va_end(ap);
	fputc('\n', cli->errf);
	if (v)
		fprintf(cli->errf, "Usage: %s %s %s\n", cli->prog, v->name, v->args);
	return EXIT_USAGE;
}

void cli_verbose(struct cli *cli, const char *fmt, ...)
{
	va_list ap;

	if (!cli->verbose)
		return;
	fprintf(cli->errf, "%s: ", cli->prog);
	va_start(ap, fmt);
	vfprintf(cli->errf, fmt, ap);
	va_end(ap);
	fputc('\n', cli->errf);
}

void cli_warn(struct cli *cli, const char *fmt, ...)
{
	va_list ap;

	if (cli->quiet)
		return;
	fprintf(cli->errf, "%s: warning: ", cli->prog);
	va_start(ap, fmt);
	vfprintf(cli->errf, fmt, ap);
	va_end(ap);
	fputc('\n', cli->errf);
}

static struct poptOption common_opts[] = {
	{ "quiet", 'q', POPT_ARG_NONE, NULL, 'q', "print no warnings or progress", NULL },
	{ "verbose", 'v', POPT_ARG_NONE, NULL, 'v', "say more about what is done", NULL },
	{ "root", '\0', POPT_ARG_STRING, NULL, 0, "VM store (default $VMCTL_ROOT)", "DIR" },
	{ "help", 'h', POPT_ARG_NONE, &opt_help, 0, "show this help", NULL },
	{ "usage", '\0', POPT_ARG_NONE, &opt_usage, 0, "show a short usage message", NULL },
	POPT_TABLEEND
};

static struct poptOption report_opts[] = {
	{ "json", '\0', POPT_ARG_NONE, &opt_json, 0, "one JSON document on stdout (stable)", NULL },
	{ NULL, 'H', POPT_ARG_NONE, &opt_tsv, 0, "scripting mode: no header, tab-separated", NULL },
	POPT_TABLEEND
};

static int popt_error(struct cli *cli, poptContext ctx, int rc)
{
	return cli_usage_error(cli, "%s: %s", poptBadOption(ctx, POPT_BADOPTION_NOALIAS),
			       poptStrerror(rc));
}

/* String options popt filled in are malloc'ed: remember them to free at exit. */
#define MAX_STR_OPTS 32
struct str_snapshot {
	char **slot[MAX_STR_OPTS];
	char *before[MAX_STR_OPTS];
	int n;
};

static void snapshot_strings(struct str_snapshot *ss, const struct poptOption *t)
{
	for (; t && (t->longName || t->shortName || t->argInfo); t++) {
		unsigned kind = t->argInfo & POPT_ARG_MASK;
		if (kind == POPT_ARG_INCLUDE_TABLE) {
			snapshot_strings(ss, t->arg);
		} else if (kind == POPT_ARG_STRING && t->arg && ss->n < MAX_STR_OPTS) {
			ss->slot[ss->n] = t->arg;
			ss->before[ss->n] = *(char **)t->arg;
			ss->n++;
		}
	}
}

static void own_changed_strings(struct cli *cli, const struct str_snapshot *ss)
{
	for (int i = 0; i < ss->n; i++)
		if (*ss->slot[i] && *ss->slot[i] != ss->before[i] &&
		    cli->nowned < (int)(sizeof(cli->owned) / sizeof(cli->owned[0])))
			cli->owned[cli->nowned++] = *ss->slot[i];
}

int cli_parse(struct cli *cli, int argc, const char **argv, const struct poptOption *opts,
	      unsigned flags, int min_args, int max_args)
{
	struct poptOption table[4];
	const struct cli_verb *v = this_verb(cli);
	int n = 0, rc;

	common_opts[0].arg = NULL;
	common_opts[2].arg = (void *)&cli->root;
	if (opts)
		table[n++] = (struct poptOption){ NULL, '\0', POPT_ARG_INCLUDE_TABLE,
						  (void *)opts, 0, "Options:", NULL };
	if (flags & CLI_REPORTS)
		table[n++] = (struct poptOption){ NULL, '\0', POPT_ARG_INCLUDE_TABLE,
						  report_opts, 0, "Output:", NULL };
	table[n++] = (struct poptOption){ NULL, '\0', POPT_ARG_INCLUDE_TABLE, common_opts, 0,
					  "Common options:", NULL };
	table[n] = (struct poptOption)POPT_TABLEEND;

	opt_help = opt_usage = opt_json = opt_tsv = 0;
	if (cli->ctx)
		poptFreeContext(cli->ctx);
	cli->ctx = poptGetContext(cli->fullname, argc, argv, table, 0);
	if (!cli->ctx) {
		fprintf(cli->errf, "%s: out of memory\n", cli->prog);
		return EXIT_FAIL;
	}
	if (v)
		poptSetOtherOptionHelp(cli->ctx, v->args);
	struct str_snapshot ss = { .n = 0 };
	snapshot_strings(&ss, table);
	while ((rc = poptGetNextOpt(cli->ctx)) > 0) {
		if (rc == 'q')
			cli->quiet = 1;
		else if (rc == 'v')
			cli->verbose++;
	}
	own_changed_strings(cli, &ss);
	if (rc < -1)
		return popt_error(cli, cli->ctx, rc);
	if (opt_help) {
		if (v)
			fprintf(cli->out, "%s\n\n", v->summary);
		poptPrintHelp(cli->ctx, cli->out, 0);
		return EXIT_OK;
	}
	if (opt_usage) {
		poptPrintUsage(cli->ctx, cli->out, 0);
		return EXIT_OK;
	}
	if (opt_json && opt_tsv)
		return cli_usage_error(cli, "--json and -H cannot be combined");
	cli->mode = opt_json ? OUT_JSON : opt_tsv ? OUT_TSV : OUT_TEXT;
	cli->args = poptGetArgs(cli->ctx);
	cli->nargs = 0;
	while (cli->args && cli->args[cli->nargs])
		cli->nargs++;
	if (cli->nargs < min_args)
		return cli_usage_error(cli, "missing argument");
	if (max_args >= 0 && cli->nargs > max_args)
		return cli_usage_error(cli, "unexpected argument '%s'", cli->args[max_args]);
	return CLI_CONTINUE;
}

int cli_main(const char *prog, const struct cli_verb *verbs, int argc, char **argv)
{
	struct cli cli = { .prog = prog, .verbs = verbs, .out = stdout, .errf = stderr };
	struct poptOption global[] = {
		{ "quiet", 'q', POPT_ARG_NONE, NULL, 'q', "print no warnings or progress", NULL },
		{ "verbose", 'v', POPT_ARG_NONE, NULL, 'v', "say more", NULL },
		{ "root", '\0', POPT_ARG_STRING, &cli.root, 0, "VM store", "DIR" },
		{ "help", 'h', POPT_ARG_NONE, &opt_help, 0, "show help", NULL },
		{ "usage", '\0', POPT_ARG_NONE, &opt_usage, 0, "short usage", NULL },
		{ "version", 'V', POPT_ARG_NONE, &opt_version, 0, "show the version", NULL },
		POPT_TABLEEND
	};
	const struct cli_verb *v;
	const char **rest;
	poptContext ctx;
	int rc, nrest = 0;

	current = &cli;
	error_set_warn_handler(warn_to_stderr);
	snprintf(cli.fullname, sizeof(cli.fullname), "%s", prog);
	ctx = poptGetContext(prog, argc, (const char **)argv, global, POPT_CONTEXT_POSIXMEHARDER);
	if (!ctx)
		return EXIT_FAIL;
	struct str_snapshot ss = { .n = 0 };
	snapshot_strings(&ss, global);
	while ((rc = poptGetNextOpt(ctx)) > 0) {
		if (rc == 'q')
			cli.quiet = 1;
		else if (rc == 'v')
			cli.verbose++;
	}
	own_changed_strings(&cli, &ss);
	if (rc < -1) {
		fprintf(cli.errf, "%s: %s: %s\n", prog, poptBadOption(ctx, POPT_BADOPTION_NOALIAS),
			poptStrerror(rc));
		print_verbs(&cli, cli.errf);
		poptFreeContext(ctx);
		return EXIT_USAGE;
	}
	rest = poptGetArgs(ctx);
	while (rest && rest[nrest])
		nrest++;
	if (opt_version) {
		fprintf(cli.out, "%s %s\n", prog, VMSNAP_VERSION);
		rc = EXIT_OK;
	} else if (opt_help || opt_usage || (nrest == 1 && strcmp(rest[0], "help") == 0)) {
		print_verbs(&cli, cli.out);
		rc = EXIT_OK;
	} else if (nrest == 0) {
		print_verbs(&cli, cli.errf);
		rc = EXIT_USAGE;
	} else if (strcmp(rest[0], "help") == 0 && find_verb(&cli, rest[1])) {
		const char *hargv[] = { rest[1], "--help", NULL };
		v = find_verb(&cli, rest[1]);
		cli.verb = v->name;
		snprintf(cli.fullname, sizeof(cli.fullname), "%s %s", prog, v->name);
		rc = v->run(&cli, 2, hargv);
	} else if (!(v = find_verb(&cli, rest[0]))) {
		fprintf(cli.errf, "%s: unknown command '%s' (see '%s --help')\n", prog,
			strcmp(rest[0], "help") ? rest[0] : rest[1], prog);
		rc = EXIT_USAGE;
	} else {
		if (!cli.root)
			cli.root = getenv("VMCTL_ROOT");
		cli.verb = v->name;
		snprintf(cli.fullname, sizeof(cli.fullname), "%s %s", prog, v->name);
		rc = v->run(&cli, nrest, rest);
	}
	if (cli.ctx)
		poptFreeContext(cli.ctx);
	poptFreeContext(ctx);
	for (int i = 0; i < cli.nowned; i++)
		free(cli.owned[i]);
	errno = 0;
	if ((fflush(stdout) != 0 || ferror(stdout)) && rc == EXIT_OK) {
		fprintf(stderr, "%s: cannot write to standard output: %s\n", prog,
			strerror(errno ? errno : EIO));
		rc = EXIT_IOERR;
	}
	current = NULL;
	return rc;
}

int cli_parse_wait(struct cli *cli, int argc, const char **argv, const struct poptOption *opts,
		   unsigned flags, int min_args, int max_args, const char **wait_arg,
		   int *wait_secs)
{
	const char **av = argv;
	uint64_t v;
	struct error err;
	int rc;

	*wait_secs = 0;
	/* a bare "--wait" becomes "--wait=forever"; the copy lives as long as
	 * popt's context (cli_main frees cli->owned after it) */
	if (cli->nowned < (int)(sizeof(cli->owned) / sizeof(cli->owned[0]))) {
		const char **copy = calloc((size_t)argc + 1, sizeof(*copy));
		bool opts_end = false;
		if (!copy) {
			error_set(&err, EXIT_FAIL, "out of memory");
			return cli_fail(cli, &err);
		}
		for (int i = 0; i < argc; i++) {
			opts_end |= i > 0 && strcmp(argv[i], "--") == 0;
			copy[i] = (!opts_end && i > 0 && strcmp(argv[i], "--wait") == 0) ?
					  "--wait=forever" : argv[i];
		}
		cli->owned[cli->nowned++] = (char *)copy;
		av = copy;
	}
	rc = cli_parse(cli, argc, av, opts, flags, min_args, max_args);
	if (rc != CLI_CONTINUE || !*wait_arg)
		return rc;
	if (strcmp(*wait_arg, "forever") == 0) {
		*wait_secs = -1;
		return CLI_CONTINUE;
	}
	error_init(&err);
	if (units_parse_u64(*wait_arg, &v, &err) < 0 || v > INT_MAX)
		return cli_usage_error(cli, "--wait: invalid number of seconds '%s'", *wait_arg);
	*wait_secs = (int)v;
	return CLI_CONTINUE;
}
