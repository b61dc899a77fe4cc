/*
 * crashpoint.h — named points where the crash tests kill the process.
 *
 * With VMSNAP_CRASHPOINT=NAME (or NAME:N for the N-th time the point is
 * reached) set in the environment, crashpoint(NAME) sends the process
 * SIGKILL — exactly what `kill -9` at that moment would do. Unset (always,
 * outside tests) it costs one cached getenv.
 */
#ifndef VMSNAP_CRASHPOINT_H
#define VMSNAP_CRASHPOINT_H

void crashpoint(const char *name);

#endif
