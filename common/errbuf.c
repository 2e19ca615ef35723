/*
 * A failing function's one-line reason (see include/ratetap/errbuf.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "ratetap/errbuf.h"

void
rt_vseterr(char *err, size_t errlen, const char *fmt, va_list ap)
{
	int e = errno;

	if (err != NULL && errlen > 0)
		vsnprintf(err, errlen, fmt, ap);
	errno = e;
}

void
rt_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rt_vseterr(err, errlen, fmt, ap);
	va_end(ap);
}
