/*
 * Default paths of ratetap (see include/ratetap/paths.h).
 */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ratetap/paths.h"

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

	if (xdg != NULL)
		return fits(snprintf(buf, len, "%s/ratetap", xdg), len);
	return fits(snprintf(buf, len, "/tmp/ratetap-%u",
	    (unsigned)getuid()), len);
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
rt_state_dir(char *buf, size_t len)
{
	const char *xdg = nonempty_env("XDG_STATE_HOME");
	const char *home = nonempty_env("HOME");
	struct passwd pw, *res = NULL;
	char pwbuf[1024];

	if (xdg != NULL)
		return fits(snprintf(buf, len, "%s/ratetap", xdg), len);
	if (home == NULL) {
		if (getpwuid_r(getuid(), &pw, pwbuf, sizeof(pwbuf), &res) != 0 ||
		    res == NULL || pw.pw_dir == NULL)
			return -1;
		home = pw.pw_dir;
	}
	return fits(snprintf(buf, len, "%s/.local/state/ratetap", home), len);
}

int
rt_env_flag(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && strcmp(v, "1") == 0;
}
