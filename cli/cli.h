/*
 * ratetap, the command line tool: `ratetap run`, `ratetap status`,
 * `ratetap doctor`.  Each command is a function taking its own argv (argv[0]
 * is the command name) and returning the process exit status.
 *
 * Exit statuses: 0 success, 1 the command's negative answer or failure (no
 * daemon, program not visible), 2 usage errors.  `ratetap run` returns its
 * command's status (125 when ratetap itself fails, 126/127 like a shell).
 */
#ifndef RATETAP_CLI_H
#define RATETAP_CLI_H

#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include <cjson/cJSON.h>

#define CLI_EXIT_USAGE		2
#define CLI_EXIT_RUN_FAIL	125	/* ratetap run could not start CMD */
#define CLI_EXIT_NOEXEC		126
#define CLI_EXIT_NOTFOUND	127

/* Longest answer accepted from the control socket. */
#define CLI_MAX_BODY		(16 * 1024 * 1024)

/* Program name for messages ("ratetap"). */
extern const char *cli_progname;

/* Print "ratetap: <message>\n" to stderr (cli/msg.c). */
void cli_errx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * GET path (e.g. "/v1/status") from the daemon's control socket sock (HTTP
 * over AF_UNIX), within timeout_ms.  On success *body is a malloc'ed,
 * NUL-terminated copy of the answer (*len bytes, caller frees) and *code
 * the HTTP status; returns 0.  Returns -1 when nothing answers or the answer
 * is unusable, with a one-line reason in err.
 */
int cli_control_get(const char *sock, const char *path, long timeout_ms,
    char **body, size_t *len, long *code, char *err, size_t errlen);

/* The same as cli_control_get(), POSTing data (dlen bytes, JSON). */
int cli_control_post(const char *sock, const char *path, const char *data,
    size_t dlen, long timeout_ms, char **body, size_t *len, long *code,
    char *err, size_t errlen);

/* 1 when a daemon answers GET /v1/health on sock within timeout_ms, else 0. */
int cli_control_alive(const char *sock, long timeout_ms);

/*
 * Resolve the control socket path: override when non-NULL, else
 * RATETAP_CONTROL, else the runtime dir default.  Returns 0 or -1.
 */
int cli_control_path(const char *override, char *buf, size_t len);

/* Rendering options of the status table. */
struct cli_render_opts {
	int color;		/* ANSI colours */
	time_t now;		/* reference time for "in 3h 12m" */
};

/*
 * Render the status JSON st (as served on GET /v1/status) as the human
 * table to out.  Unknown or missing values print as "–" / "unknown".
 * Returns 0, or -1 when st is not a JSON object.
 */
int cli_status_render(FILE *out, const cJSON *st,
    const struct cli_render_opts *o);

/*
 * Format a duration relative to now: secs > 0 "in 3h 12m", secs < 0
 * "3h 12m ago", 0 "now".  Two units at most (d h, h m, m s).
 */
void cli_fmt_relative(long long secs, char *buf, size_t len);

/* Format n with thousands separators ("1,234,567") into buf. */
void cli_fmt_count(long long n, char *buf, size_t len);

/*
 * Compute the LD_PRELOAD value that loads shim first: shim, then every
 * entry of existing (separated by ':' or blanks, may be NULL or empty)
 * except empty ones and those naming a libratetap.so (so the shim is never
 * loaded twice), joined by ':'.  Returns a malloc'ed string or NULL on ENOMEM.
 */
char *cli_preload_prepend(const char *existing, const char *shim);

/*
 * Find the shim: $RATETAP_SHIM, else libratetap.so beside the running
 * executable, else in RATETAP_LIBDIR.  Returns 0 with the path in buf, or -1
 * with the places looked at in err.
 */
int cli_find_shim(char *buf, size_t len, char *err, size_t errlen);

/* The commands; argv[0] is the command name. */
int cli_run_main(int argc, char **argv, const char *control);
int cli_status_main(int argc, char **argv, const char *control);
int cli_doctor_main(int argc, char **argv);
int cli_enable_main(int argc, char **argv);	/* also disable */

/* 1 when a shell start-up file carries `ratetap enable`'s block, else 0. */
int cli_enable_present(void);

/*
 * `ratetap doctor` without an argument: check the whole setup and print one
 * line per check.  Returns 0 when every check passes, else 1.
 */
int cli_setup_check(const char *control);

int cli_statusline_main(int argc, char **argv, const char *control);

/* `ratetap watch [--once]` (cli/watch.c); argv[0] is "watch". */
int cli_watch_main(int argc, char **argv, const char *control);

#endif /* RATETAP_CLI_H */
