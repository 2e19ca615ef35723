/*
 * ratetapd's log (see log.h): stderr, one sanitized line per message.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static const char *log_prog = "ratetapd";
static int log_debug_on;
static void (*log_sink)(int, const char *, void *);
static void *log_sink_arg;

void
log_init(const char *progname, int debug)
{
	log_prog = (progname != NULL && *progname != '\0') ? progname :
	    "ratetapd";
	log_debug_on = debug != 0;
}

void
log_set_debug(int debug)
{
	log_debug_on = debug != 0;
}

void
log_set_sink(void (*sink)(int level, const char *line, void *arg), void *arg)
{
	log_sink = sink;
	log_sink_arg = arg;
}

static const char *
level_name(int level)
{
	switch (level) {
	case LOG_L_DEBUG:
		return "debug";
	case LOG_L_INFO:
		return "info";
	case LOG_L_WARN:
		return "warning";
	default:
		return "fatal";
	}
}

/* Replace control characters, DEL and non-ASCII bytes by '?'. */
static void
sanitize(char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c >= 0x7f)
			*s = '?';
	}
}

/* Append src to buf (size len, holding used bytes), truncating. */
static size_t
append(char *buf, size_t len, size_t used, const char *src)
{
	size_t n;

	if (used + 1 >= len)
		return used;
	n = strlen(src);
	if (n > len - 1 - used)
		n = len - 1 - used;
	memcpy(buf + used, src, n);
	buf[used + n] = '\0';
	return used + n;
}

void
log_vlog(int level, int errnum, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	char msg[LOG_LINE_MAX];
	size_t used;
	int saved = errno;
	int n;

	if (level == LOG_L_DEBUG && !log_debug_on)
		return;
	if (fmt == NULL)
		fmt = "(null)";
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n < 0)
		strcpy(msg, "(unformattable message)");
	if (errnum >= 0) {
		size_t m = strlen(msg);

		m = append(msg, sizeof(msg), m, ": ");
		append(msg, sizeof(msg), m, strerror(errnum));
	}
	sanitize(msg);

	line[0] = '\0';
	used = append(line, sizeof(line), 0, log_prog);
	used = append(line, sizeof(line), used, ": ");
	used = append(line, sizeof(line), used, level_name(level));
	used = append(line, sizeof(line), used, ": ");
	append(line, sizeof(line), used, msg);
	/* the program name is caller-controlled too */
	sanitize(line);

	if (log_sink != NULL)
		log_sink(level, line, log_sink_arg);
	else
		fprintf(stderr, "%s\n", line);
	errno = saved;
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;
	int e = errno;

	va_start(ap, fmt);
	log_vlog(LOG_L_WARN, e, fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlog(LOG_L_WARN, -1, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlog(LOG_L_INFO, -1, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlog(LOG_L_DEBUG, -1, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;
	int e = errno;

	va_start(ap, fmt);
	log_vlog(LOG_L_FATAL, e, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlog(LOG_L_FATAL, -1, fmt, ap);
	va_end(ap);
	exit(1);
}
