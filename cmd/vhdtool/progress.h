/*
 * progress.h — progress lines and clean interruption for long verbs
 * (convert, compare).
 *
 * Progress goes to stderr when it is a terminal, or always with -p; never
 * with -q. SIGINT, SIGTERM and SIGHUP set a flag that the progress callback
 * turns into "stop", so the library unwinds (and removes its temporary
 * files); the verb then calls progress_end(), which re-raises the signal.
 *
 *   struct progress p;
 *   progress_begin(&p, cli, force_progress, "converting");
 *   lib_call(..., progress_cb, &p, ...);
 *   rc = progress_end(&p, rc);
 */
#ifndef VHDTOOL_PROGRESS_H
#define VHDTOOL_PROGRESS_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "cli.h"

struct progress {
	struct cli *cli;
	const char *what;
	bool show;
	bool shown;
	int last;                 /* last percentage printed */
	struct sigaction old[3];
};

void progress_begin(struct progress *p, struct cli *cli, bool force, const char *what);
/* Library callback: prints, and returns nonzero once a stop signal came. */
int progress_cb(void *ctx, uint64_t done, uint64_t total);
/* Ends the progress line, restores the signal handlers, re-raises a caught
 * signal (the process then dies of it); returns rc otherwise. */
int progress_end(struct progress *p, int rc);

#endif
