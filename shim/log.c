/*
 * The shim's one debug log: RATETAP_DEBUG=1 prints diagnostics on stderr,
 * one write(2) per line.  Nothing else in the shim prints.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "init.h"

static _Atomic int debug_state;		/* 0 unknown, 1 off, 2 on */

int
shim_env_flag(const char *name)
{
	char **e;

	for (e = environ; e != NULL && *e != NULL; e++) {
		const char *v = *e, *n = name;

		while (*n != '\0' && *v == *n) {
			v++;
			n++;
		}
		if (*n == '\0' && *v == '=')
			return v[1] == '1' && v[2] == '\0';
	}
	return 0;
}

void
shim_debug_reload(void)
{
	atomic_store_explicit(&debug_state,
	    shim_env_flag("RATETAP_DEBUG") ? 2 : 1, memory_order_relaxed);
}

int
shim_debug_on(void)
{
	int s = atomic_load_explicit(&debug_state, memory_order_relaxed);

	if (__builtin_expect(s == 0, 0)) {
		shim_debug_reload();
		s = atomic_load_explicit(&debug_state, memory_order_relaxed);
	}
	return s == 2;
}

void
shim_debug(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n, saved = errno;

	if (!shim_debug_on())
		return;
	memcpy(buf, "ratetap: ", 9);
	va_start(ap, fmt);
	n = vsnprintf(buf + 9, sizeof(buf) - 10, fmt, ap);
	va_end(ap);
	if (n < 0)
		goto out;
	n += 9;
	if ((size_t)n > sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	/* one write(2): no stdio locks, lines from threads stay whole */
	if (write(STDERR_FILENO, buf, (size_t)n) < 0)
		goto out;
out:
	errno = saved;
}
