#define VMSNAP_ERROR_IMPL /* the functions themselves, not error.h's analyzer macros */
#include "error.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static warn_handler_fn warn_handler;

void error_init(struct error *e)
{
	e->code = 0;
	e->msg[0] = '\0';
}

static void vset(struct error *e, int code, const char *fmt, va_list ap)
{
	e->code = code;
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
}

int error_set(struct error *e, int code, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return -1;
	va_start(ap, fmt);
	vset(e, code, fmt, ap);
	va_end(ap);
	return -1;
}

int error_code_for_errno(int errnum)
{
	switch (errnum) {
	case ENOENT:
	case ENOTDIR:
		return EXIT_NOINPUT;
	case EACCES:
	case EPERM:
	case EROFS:
		return EXIT_NOPERM;
	case EEXIST:
		return EXIT_CANTCREAT;
	case EWOULDBLOCK:
	case EBUSY:
	case ETXTBSY:
		return EXIT_TEMPFAIL;
	default:
		return EXIT_IOERR;
	}
}

int error_errno(struct error *e, int errnum, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	if (!e)
		return -1;
	va_start(ap, fmt);
	vset(e, error_code_for_errno(errnum), fmt, ap);
	va_end(ap);
	n = strlen(e->msg);
	snprintf(e->msg + n, sizeof(e->msg) - n, ": %s", strerror(errnum));
	return -1;
}

int error_prefix(struct error *e, const char *fmt, ...)
{
	char ctx[512], old[sizeof(e->msg)];
	va_list ap;

	if (!e)
		return -1;
	va_start(ap, fmt);
	vsnprintf(ctx, sizeof(ctx), fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof(old));
	size_t n = strlen(ctx);
	if (n > sizeof(e->msg) - 3)
		n = sizeof(e->msg) - 3;
	memcpy(e->msg, ctx, n);
	memcpy(e->msg + n, ": ", 2);
	size_t rest = strnlen(old, sizeof(old) - 1);
	if (rest > sizeof(e->msg) - n - 3)
		rest = sizeof(e->msg) - n - 3;
	memcpy(e->msg + n + 2, old, rest);
	e->msg[n + 2 + rest] = '\0';
	return -1;
}

void error_set_warn_handler(warn_handler_fn fn)
{
	warn_handler = fn;
}

void error_warn(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	if (!warn_handler)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	warn_handler(buf);
}
