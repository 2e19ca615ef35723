/*
 * Default paths of ratetap (see include/ratetap/paths.h).
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ratetap/paths.h"
#include "ratetap/proto.h"

static int
fits(int n, size_t len)
{
	return n >= 0 && (size_t)n < len ? 0 : -1;
}

static const char *
nonempty_env(const char *name)
{
	const char *v = getenv(name);

	return (v != NULL && v[0] != '\0') ? v : NULL;
}

int
rt_runtime_dir(char *buf, size_t len)
{
	const char *xdg = nonempty_env("XDG_RUNTIME_DIR");
	char run[64];
	struct stat st;

	if (xdg != NULL)
		return fits(snprintf(buf, len, "%s/ratetap", xdg), len);
	/* what XDG_RUNTIME_DIR would be in the user's login session
	   (pam_systemd): a program started without it (cron, sudo -u, ssh
	   without a session) still meets the session's daemon.  Only a
	   directory of ours that nobody else may enter or write. */
	snprintf(run, sizeof(run), "/run/user/%u", (unsigned)getuid());
	if (lstat(run, &st) == 0 && S_ISDIR(st.st_mode) &&
	    st.st_uid == getuid() && (st.st_mode & 077) == 0)
		return fits(snprintf(buf, len, "%s/ratetap", run), len);
	return fits(snprintf(buf, len, "/tmp/ratetap-%u",
	    (unsigned)getuid()), len);
}

int
rt_journal_path(const char *ingest, char *buf, size_t len)
{
	const char *slash = strrchr(ingest, '/');

	if (slash == NULL)
		return fits(snprintf(buf, len, "events.journal"), len);
	return fits(snprintf(buf, len, "%.*s/events.journal",
	    (int)(slash - ingest), ingest), len);
}

static int
socket_path(const char *var, const char *name, char *buf, size_t len)
{
	const char *v = nonempty_env(var);
	char dir[RT_FILE_MAX];

	if (v != NULL)
		return fits(snprintf(buf, len, "%s", v), len);
	if (rt_runtime_dir(dir, sizeof(dir)) == -1)
		return -1;
	return fits(snprintf(buf, len, "%s/%s", dir, name), len);
}

int
rt_ingest_path(char *buf, size_t len)
{
	return socket_path("RATETAP_SOCKET", "ingest.sock", buf, len);
}

int
rt_control_path(char *buf, size_t len)
{
	return socket_path("RATETAP_CONTROL", "control.sock", buf, len);
}

int
rt_home_dir(char *buf, size_t len)
{
	const char *home = nonempty_env("HOME");
	struct passwd pw, *res = NULL;
	char pwbuf[1024];

	if (home == NULL) {
		if (getpwuid_r(getuid(), &pw, pwbuf, sizeof(pwbuf), &res) != 0 ||
		    res == NULL || pw.pw_dir == NULL)
			return -1;
		home = pw.pw_dir;
	}
	return fits(snprintf(buf, len, "%s", home), len);
}

int
rt_state_dir(char *buf, size_t len)
{
	const char *xdg = nonempty_env("XDG_STATE_HOME");
	char home[RT_FILE_MAX];

	if (xdg != NULL)
		return fits(snprintf(buf, len, "%s/ratetap", xdg), len);
	if (rt_home_dir(home, sizeof(home)) == -1)
		return -1;
	return fits(snprintf(buf, len, "%s/.local/state/ratetap", home), len);
}

int
rt_env_flag(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && strcmp(v, "1") == 0;
}

unsigned long long
rt_journal_cap(void)
{
	const char *v = nonempty_env("RATETAP_JOURNAL_MAX");
	unsigned long long mb = RTJ_CAP_DEFAULT_MB;
	char *end;

	if (v != NULL) {
		unsigned long long x;

		errno = 0;
		x = strtoull(v, &end, 10);
		if (*end == '\0' && errno == 0 && x >= 1 &&
		    x <= RTJ_CAP_MAX_MB && v[0] != '-')
			mb = x;
	}
	return mb << 20;
}
