/*
 * Default locations shared by the shim, the daemon and the CLI, resolved
 * from the environment as docs/architecture.md and README.md describe:
 *
 *   runtime dir  $XDG_RUNTIME_DIR/ratetap; when unset /run/user/$UID/ratetap
 *                if /run/user/$UID is the user's private directory (the
 *                session's, so that cron jobs and sudo -u reach the
 *                session's daemon), else /tmp/ratetap-$UID
 *   ingest       $RATETAP_SOCKET  or <runtime dir>/ingest.sock
 *   journal      events.journal in the ingest socket's directory
 *   control      $RATETAP_CONTROL or <runtime dir>/control.sock
 *   state dir    $XDG_STATE_HOME/ratetap or ~/.local/state/ratetap
 *
 * Each function writes a NUL-terminated path into buf (size len) and returns
 * 0, or -1 when the result would not fit (or, for the state dir, when no
 * home directory is known).  They only read the environment (getenv) and
 * getuid()/getpwuid_r(): safe to call from the shim.
 */
#ifndef RATETAP_PATHS_H
#define RATETAP_PATHS_H

#include <stddef.h>

#define RT_PATH_MAX	108	/* sizeof(sun_path): sockets must fit it */
#define RT_FILE_MAX	4096	/* other paths */

#define RT_DEFAULT_HOSTS	"api.anthropic.com"
#define RT_DEFAULT_API_BASE	"https://api.anthropic.com"
#define RT_DEFAULT_POLL_SECS	300

int rt_runtime_dir(char *buf, size_t len);
int rt_ingest_path(char *buf, size_t len);
int rt_control_path(char *buf, size_t len);
int rt_state_dir(char *buf, size_t len);

/* The user's home directory: $HOME when set and not empty, else the
 * password database's.  0, or -1 when unknown or too long for buf. */
int rt_home_dir(char *buf, size_t len);

/* The journal beside the ingest socket at ingest (see proto.h). */
int rt_journal_path(const char *ingest, char *buf, size_t len);

/* The journal's cap in bytes: RATETAP_JOURNAL_MAX (MiB, 1-65536) or
 * RTJ_CAP_DEFAULT_MB. */
unsigned long long rt_journal_cap(void);

/* 1 when the environment variable name is set to "1", else 0. */
int rt_env_flag(const char *name);

#endif /* RATETAP_PATHS_H */
