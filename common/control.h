/*
 * control.h — requests to a running VMM through files (DESIGN §3).
 *
 * Client:  control_request(vmdir, "pause", NULL, 5000, reply, sizeof(reply), &err)
 *          writes run/requests/<id>.req atomically ("verb arg\n"), signals the
 *          pid in run/pid with SIGUSR2 after checking the VM holds run.lock,
 *          and waits for run/requests/<id>.done ("status message\n").
 *          Returns the status (0 ok, else an exit code) or -1 with err.
 * VMM:     control_next() takes the oldest pending request (removing it);
 *          control_reply() answers it atomically.
 */
#ifndef VMSNAP_CONTROL_H
#define VMSNAP_CONTROL_H

#include <stddef.h>

#include "error.h"

#define CONTROL_SIGNAL SIGUSR2

int control_request(const char *vmdir, const char *verb, const char *arg, int timeout_ms,
		    char *reply, size_t reply_size, struct error *err);

struct control_req {
	char id[64];
	char verb[32];
	char arg[8192];
};
/* 1 when a request was taken, 0 when none is pending, -1 on error. */
int control_next(const char *vmdir, struct control_req *r, struct error *err);
int control_reply(const char *vmdir, const struct control_req *r, int status, const char *msg,
		  struct error *err);

/* pid of the VMM from run/pid (0 if unknown). */
long control_vmm_pid(const char *vmdir);

#endif
