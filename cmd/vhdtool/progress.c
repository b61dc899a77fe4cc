/* progress lines and clean interruption for convert and compare */
#include "progress.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "units.h"

static const int stop_signals[3] = { SIGINT, SIGTERM, SIGHUP };
static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
	stop_signal = sig;
}

void progress_begin(struct progress *p, struct cli *cli, bool force, const char *what)
{
	struct sigaction sa;

	memset(p, 0, sizeof(*p));
	p->cli = cli;
	p->what = what;
	p->show = !cli->quiet && (force || isatty(fileno(cli->errf)));
	p->last = -1;
	stop_signal = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	for (int i = 0; i < 3; i++) {
		/* a signal ignored at start (nohup, background jobs) stays ignored */
		sigaction(stop_signals[i], NULL, &p->old[i]);
		if (p->old[i].sa_handler != SIG_IGN)
			sigaction(stop_signals[i], &sa, NULL);
	}
}

int progress_cb(void *ctx, uint64_t done, uint64_t total)
{
	struct progress *p = ctx;
	char a[32], b[32];
	int pct;

	if (stop_signal)
		return 1;
	if (!p->show)
		return 0;
	pct = total && done < total ? (int)((double)done * 100.0 / (double)total) : 100;
	if (pct == p->last)
		return 0;
	p->last = pct;
	p->shown = true;
	fprintf(p->cli->errf, "\r%s: %s: %3d%% (%s of %s)", p->cli->prog, p->what, pct,
		units_format_size(done, a, sizeof(a)), units_format_size(total, b, sizeof(b)));
	fflush(p->cli->errf);
	return 0;
}

int progress_end(struct progress *p, int rc)
{
	int sig = stop_signal;

	if (p->shown)
		fputc('\n', p->cli->errf);
	for (int i = 0; i < 3; i++)
		sigaction(stop_signals[i], &p->old[i], NULL);
	if (sig) {
		fflush(NULL);
		raise(sig);
	}
	return rc;
}
