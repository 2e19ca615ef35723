/*
 * The CLI's error messages on stderr (see cli.h); cli_progname is defined
 * by main.c (and by each unit test).
 */
#include <stdarg.h>
#include <stdio.h>

#include "cli.h"

void
cli_errx(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", cli_progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
