/*
 * error.h — error reporting for common/: nothing in common/ prints or exits.
 *
 * A function that can fail takes a `struct error *` and returns -1 (or NULL)
 * after filling it with an exit code (DESIGN.md §7) and a message in err(3)
 * form without the program name, e.g.
 *     cannot open 'x.vhd': No such file or directory
 * cmd/ prints "prog: <message>" and exits with err->code.
 *
 * Warnings (things worth saying that do not fail the call) go to a handler
 * that cmd/ installs with error_set_warn_handler(); with none installed they
 * are dropped.
 */
#ifndef VMSNAP_ERROR_H
#define VMSNAP_ERROR_H

#include <stdarg.h>

enum exit_code {
	EXIT_OK = 0,
	EXIT_FAIL = 1,
	EXIT_CORRUPT = 2,    /* check: corruption found; compare: differ */
	EXIT_LEAKS = 3,      /* check: leaks only */
	EXIT_USAGE = 64,
	EXIT_DATAERR = 65,   /* bad XML, VHD, .vsv, stream */
	EXIT_NOINPUT = 66,   /* not found */
	EXIT_UNAVAILABLE = 69,
	EXIT_CANTCREAT = 73, /* output exists */
	EXIT_IOERR = 74,
	EXIT_TEMPFAIL = 75,  /* busy/locked, retry */
	EXIT_NOPERM = 77,
};

struct error {
	int code;
	char msg[1024];
};

void error_init(struct error *e);

/* Set code and message; returns -1 so callers can `return error_set(...)`. */
int error_set(struct error *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Message ": strerror(errnum)" appended; code from error_code_for_errno(). */
int error_errno(struct error *e, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prepend "<context>: " to an existing message. Returns -1. */
int error_prefix(struct error *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ENOENT→66, EACCES/EPERM→77, EEXIST→73, EWOULDBLOCK→75, else 74. */
int error_code_for_errno(int errnum);

/*
 * The static analyzer (clang-tidy's clang-analyzer-*) looks at one file at a
 * time and cannot see that these always return -1, so it would follow
 * `if (error_set(...) < 0)` style paths as if they succeeded. Tell it.
 */
#if defined(__clang_analyzer__) && !defined(VMSNAP_ERROR_IMPL)
#define error_set(e, ...) ((error_set)(e, __VA_ARGS__), -1)
#define error_errno(e, ...) ((error_errno)(e, __VA_ARGS__), -1)
#define error_prefix(e, ...) ((error_prefix)(e, __VA_ARGS__), -1)
#endif

typedef void (*warn_handler_fn)(const char *msg);
void error_set_warn_handler(warn_handler_fn fn);
void error_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
