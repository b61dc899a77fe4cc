/* runtime.h — vmctl's runtime verbs (start.c, runtime.c, console.c). */
#ifndef VMCTL_RUNTIME_H
#define VMCTL_RUNTIME_H

#include <stdbool.h>

#include "cli.h"
#include "vmm.h"

int cmd_start(struct cli *cli, int argc, const char **argv);
int cmd_stop(struct cli *cli, int argc, const char **argv);
int cmd_pause(struct cli *cli, int argc, const char **argv);
int cmd_resume(struct cli *cli, int argc, const char **argv);
int cmd_save(struct cli *cli, int argc, const char **argv);
int cmd_wait(struct cli *cli, int argc, const char **argv);
int cmd_console(struct cli *cli, int argc, const char **argv);

/* console.c: attach to a running VM's console socket. */
int console_attach(struct cli *cli, const char *vmdir, const char *name, double timeout,
		   const char *until, double linger);
/* Connect to <vmdir>/run/console.sock (long paths handled); -1 with err. */
int console_connect(const char *vmdir, struct error *err);

#endif
