/*
 * ratetapd's log: one line per message on stderr, "ratetapd: LEVEL: text".
 * Control characters and non-ASCII bytes in the formatted text are replaced
 * by '?' so that a hostile string (a model name, a path) can neither forge
 * lines nor drive a terminal.  Not for the shim: the shim is a guest in
 * other programs and must not export these names.
 */
#ifndef RATETAP_LOG_H
#define RATETAP_LOG_H

#include <stdarg.h>

enum log_level {
	LOG_L_DEBUG,
	LOG_L_INFO,
	LOG_L_WARN,
	LOG_L_FATAL
};

/* Longest line written, prefix included; longer messages are truncated. */
#define LOG_LINE_MAX	1024

/*
 * Set the program name used as prefix (kept by pointer: pass a string that
 * lives as long as the program, NULL for "ratetapd") and whether debug
 * messages are shown.  Safe to skip: the defaults are "ratetapd", no debug.
 */
void log_init(const char *progname, int debug);

/* Show (1) or hide (0) debug messages from now on. */
void log_set_debug(int debug);

/*
 * Test hook: send each finished line (sanitized, without the trailing
 * newline) to sink instead of stderr; NULL restores stderr.  fatal() and
 * fatalx() still exit.
 */
void log_set_sink(void (*sink)(int level, const char *line, void *arg),
    void *arg);

/* Warning with ": strerror(errno)" appended. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Warning. */
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Informational message. */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Diagnostic, shown only when debug is on. */
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Log with ": strerror(errno)" appended and exit(1). */
void fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

/* Log and exit(1). */
void fatalx(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

/* va_list form of the above; errnum >= 0 appends strerror(errnum). */
void log_vlog(int level, int errnum, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#endif /* RATETAP_LOG_H */
