/*
 * cli.h — popt glue shared by vmctl, vhdtool and snapctl.
 *
 * One exact-match verb table per tool (no prefix matching). Global options
 * come before the verb: --help, --usage, --version, -q, -v, --root DIR; every
 * verb also accepts -q, -v, --help, --usage and, when it reports, --json / -H.
 *
 * This module never exits and writes only to the streams in struct cli
 * (stdout/stderr of the tool), so it stays testable.
 *
 * Calling sequence (cmd/<tool>/main.c):
 *   static const struct cli_verb verbs[] = { { "create", cmd_create, ... }, { NULL } };
 *   int main(int argc, char **argv) { return cli_main("vhdtool", verbs, argc, argv); }
 * and in a verb:
 *   int rc = cli_parse(cli, argc, argv, opts, CLI_REPORTS, 2, 2);
 *   if (rc != CLI_CONTINUE) return rc;
 *   const char *file = cli->args[0];
 *   ...
 *   if (failed) return cli_fail(cli, &err);
 */
#ifndef VMSNAP_CLI_H
#define VMSNAP_CLI_H

#include <popt.h>
#include <stdbool.h>
#include <stdio.h>

#include "error.h"
#include "output.h"

#define CLI_CONTINUE (-1)

/* cli_parse flags */
#define CLI_REPORTS 0x1   /* accept --json and -H */

struct cli;

struct cli_verb {
	const char *name;
	int (*run)(struct cli *cli, int argc, const char **argv);
	const char *args;    /* argument synopsis, e.g. "[OPTIONS] FILE SIZE" */
	const char *summary; /* one line */
};

struct cli {
	const char *prog;
	const char *verb;
	const struct cli_verb *verbs;
	FILE *out, *errf;
	int verbose;
	int quiet;
	const char *root;
	enum out_mode mode;
	const char **args;   /* positional arguments after cli_parse */
	int nargs;
	poptContext ctx;     /* owns args */
	char *owned[32];     /* strings popt allocated for string options */
	int nowned;
	char fullname[64];   /* "vhdtool create" */
};

/* Parse argv, dispatch the verb, check stdout for write errors; exit code. */
int cli_main(const char *prog, const struct cli_verb *verbs, int argc, char **argv);

/*
 * Parse a verb's options (opts may be NULL) and require min..max positional
 * arguments (max < 0: no limit). Returns CLI_CONTINUE, or an exit code when
 * help was printed (0) or the command line is wrong (64, after a message).
 */
int cli_parse(struct cli *cli, int argc, const char **argv, const struct poptOption *opts,
	      unsigned flags, int min_args, int max_args);

/*
 * --wait[=SECS] for a mutating verb (DESIGN §3):
 *   const char *wait = NULL; int wait_secs;
 *   struct poptOption opts[] = { CLI_WAIT_OPTION(wait), ..., POPT_TABLEEND };
 *   rc = cli_parse_wait(cli, argc, argv, opts, 0, 1, 1, &wait, &wait_secs);
 * wait_secs: 0 (no --wait: a busy VM is exit 75 at once), SECS, or -1 (a
 * bare --wait: as long as it takes). A bare "--wait" before a positional
 * argument is not taken as its value.
 */
#define CLI_WAIT_OPTION(var)                                                               \
	{ "wait", '\0', POPT_ARG_STRING | POPT_ARGFLAG_OPTIONAL, &(var), 0,                 \
	  "when another command holds the VM, wait for it (at most SECS seconds)", "SECS" }
int cli_parse_wait(struct cli *cli, int argc, const char **argv, const struct poptOption *opts,
		   unsigned flags, int min_args, int max_args, const char **wait_arg,
		   int *wait_secs);

/* "prog: msg" on stderr; returns err->code (EXIT_FAIL if unset). */
int cli_fail(struct cli *cli, const struct error *err);
/* "prog VERB: msg" and the verb's usage line on stderr; returns 64. */
int cli_usage_error(struct cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Diagnostics on stderr: notes only with -v, warnings unless -q. */
void cli_verbose(struct cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cli_warn(struct cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
