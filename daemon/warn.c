/*
 * Warnings that act (see warn.h, docs/warnings.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "forecast.h"
#include "log.h"
#include "tracker.h"
#include "warn.h"

extern char **environ;

#define REARM_PCT	10.0	/* a fall this far below re-arms */
#define MAX_ARGS	32

struct wwin {			/* what has fired in one window instance */
	char name[TRK_WIN_NAME_LEN];
	time_t instance;	/* its reset time, 0 unknown */
	unsigned fired;		/* bit i: thresholds[i] */
	int forecast;		/* the exhaustion warning */
};

struct child {
	pid_t pid;
	time_t deadline;
	int killed;
};

struct warn {
	struct warn_config cfg;
	char path[4096];
	struct wwin win[TRK_WIN_MAX];
	int nwin;
	struct child kids[WARN_MAX_CHILDREN];
	long fired;
	int notify_ok;		/* notify-send found and a bus there */
};

int
warn_parse_thresholds(const char *s, struct warn_config *cfg)
{
	char buf[256], *tok, *rest, *end;
	int n = 0, i, j;
	double v, tmp;

	if (strlen(s) >= sizeof(buf) || s[0] == '\0')
		return -1;
	memcpy(buf, s, strlen(s) + 1);
	rest = buf;
	while ((tok = strsep(&rest, ",")) != NULL) {
		while (*tok == ' ')
			tok++;
		errno = 0;
		v = strtod(tok, &end);
		while (*end == ' ')
			end++;
		if (tok[0] == '\0' || *end != '\0' || errno != 0 ||
		    !isfinite(v) || v <= 0 || v > 1000 ||
		    n == WARN_MAX_THRESHOLDS)
			return -1;
		for (i = 0; i < n; i++)
			if (cfg->thresholds[i] == v)
				break;
		if (i == n)
			cfg->thresholds[n++] = v;
	}
	if (n == 0)
		return -1;
	for (i = 1; i < n; i++)		/* ascending */
		for (j = i; j > 0 && cfg->thresholds[j - 1] >
		    cfg->thresholds[j]; j--) {
			tmp = cfg->thresholds[j];
			cfg->thresholds[j] = cfg->thresholds[j - 1];
			cfg->thresholds[j - 1] = tmp;
		}
	cfg->nthresholds = n;
	return 0;
}

static int
in_path(const char *prog)
{
	const char *p = getenv("PATH");
	char dir[4096], full[4200];
	const char *c;
	size_t n;

	if (p == NULL)
		p = "/usr/bin:/bin";
	while (*p != '\0') {
		c = strchr(p, ':');
		n = c != NULL ? (size_t)(c - p) : strlen(p);
		if (n > 0 && n < sizeof(dir)) {
			memcpy(dir, p, n);
			dir[n] = '\0';
			snprintf(full, sizeof(full), "%s/%s", dir, prog);
			if (access(full, X_OK) == 0)
				return 1;
		}
		p += n;
		if (*p == ':')
			p++;
	}
	return 0;
}

static int
session_bus(void)
{
	const char *a = getenv("DBUS_SESSION_BUS_ADDRESS"), *r;
	char path[4096];
	struct stat st;

	if (a != NULL && a[0] != '\0')
		return 1;
	if ((r = getenv("XDG_RUNTIME_DIR")) == NULL || r[0] != '/')
		return 0;
	snprintf(path, sizeof(path), "%s/bus", r);
	return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

static struct wwin *
wwin_get(struct warn *w, const char *name)
{
	int i;

	for (i = 0; i < w->nwin; i++)
		if (strcmp(w->win[i].name, name) == 0)
			return &w->win[i];
	if (w->nwin == TRK_WIN_MAX)
		return NULL;
	memset(&w->win[w->nwin], 0, sizeof(w->win[0]));
	snprintf(w->win[w->nwin].name, sizeof(w->win[0].name), "%s", name);
	return &w->win[w->nwin++];
}

/* warnings.json: {"version":1,"windows":{"<name>":{"instance":R,
   "fired":[50,80],"forecast":false}}} */
static void
load(struct warn *w)
{
	char buf[65536];
	const cJSON *ws, *o, *v, *e;
	ssize_t n;
	cJSON *j;
	int fd, i;

	if ((fd = open(w->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
	    O_NONBLOCK)) == -1)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	if ((j = cJSON_Parse(buf)) == NULL) {
		log_warnx("%s is not JSON: warnings start afresh", w->path);
		return;
	}
	ws = cJSON_GetObjectItemCaseSensitive(j, "windows");
	cJSON_ArrayForEach(o, ws) {
		struct wwin *ww;

		if (!cJSON_IsObject(o) || o->string == NULL ||
		    strlen(o->string) >= TRK_WIN_NAME_LEN ||
		    (ww = wwin_get(w, o->string)) == NULL)
			continue;
		v = cJSON_GetObjectItemCaseSensitive(o, "instance");
		ww->instance = cJSON_IsNumber(v) && v->valuedouble > 0 &&
		    v->valuedouble < 253402300800.0 ? (time_t)v->valuedouble :
		    0;
		v = cJSON_GetObjectItemCaseSensitive(o, "forecast");
		ww->forecast = cJSON_IsTrue(v);
		v = cJSON_GetObjectItemCaseSensitive(o, "fired");
		cJSON_ArrayForEach(e, v)
			for (i = 0; i < w->cfg.nthresholds; i++)
				if (cJSON_IsNumber(e) &&
				    e->valuedouble == w->cfg.thresholds[i])
					ww->fired |= 1u << i;
	}
	cJSON_Delete(j);
}

static int
save(struct warn *w)
{
	char tmp[4200], *s;
	cJSON *j, *ws, *o, *a;
	int fd, i, k, rc = -1;
	size_t len;

	if ((j = cJSON_CreateObject()) == NULL)
		return -1;
	cJSON_AddNumberToObject(j, "version", 1);
	ws = cJSON_AddObjectToObject(j, "windows");
	for (i = 0; ws != NULL && i < w->nwin; i++) {
		if ((o = cJSON_AddObjectToObject(ws, w->win[i].name)) == NULL)
			break;
		cJSON_AddNumberToObject(o, "instance",
		    (double)w->win[i].instance);
		a = cJSON_AddArrayToObject(o, "fired");
		for (k = 0; a != NULL && k < w->cfg.nthresholds; k++)
			if (w->win[i].fired & (1u << k))
				cJSON_AddItemToArray(a, cJSON_CreateNumber(
				    w->cfg.thresholds[k]));
		cJSON_AddBoolToObject(o, "forecast", w->win[i].forecast);
	}
	s = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	if (s == NULL)
		return -1;
	snprintf(tmp, sizeof(tmp), "%s.tmp", w->path);
	len = strlen(s);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0600)) != -1) {
		if (write(fd, s, len) == (ssize_t)len && fsync(fd) == 0 &&
		    close(fd) == 0) {
			fd = -1;
			rc = rename(tmp, w->path);
		}
		if (fd != -1)
			close(fd);
		if (rc == -1)
			unlink(tmp);
	}
	if (rc == -1)
		log_warn("cannot save %s", w->path);
	free(s);
	return rc;
}

struct warn *
warn_new(const struct warn_config *cfg)
{
	struct warn *w;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	w->cfg = *cfg;
	snprintf(w->path, sizeof(w->path), "%s/warnings.json",
	    cfg->state_dir);
	w->notify_ok = cfg->notify && in_path("notify-send") &&
	    session_bus();
	load(w);
	return w;
}

void
warn_free(struct warn *w)
{
	free(w);
}

long
warn_fired(const struct warn *w)
{
	return w != NULL ? w->fired : 0;
}

/* posix_spawnp argv with extra environment; the child is tracked. */
static void
spawn(struct warn *w, char **argv, char **extra, time_t now)
{
	char *envp[512];
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int i, n = 0, k, slot = -1, rc;

	for (k = 0; k < WARN_MAX_CHILDREN; k++)
		if (w->kids[k].pid == 0) {
			slot = k;
			break;
		}
	if (slot == -1) {
		log_warnx("warning command not run: %d still running",
		    WARN_MAX_CHILDREN);
		return;
	}
	for (i = 0; environ[i] != NULL && n < 480; i++) {
		if (strncmp(environ[i], "RATETAP_WINDOW=", 15) == 0 ||
		    strncmp(environ[i], "RATETAP_THRESHOLD=", 18) == 0 ||
		    strncmp(environ[i], "RATETAP_UTILIZATION=", 20) == 0 ||
		    strncmp(environ[i], "RATETAP_RESETS_AT=", 18) == 0 ||
		    strncmp(environ[i], "RATETAP_FORECAST=", 17) == 0 ||
		    strncmp(environ[i], "RATETAP_WARNING=", 16) == 0 ||
		    strncmp(environ[i], "RATETAP_OAUTH_TOKEN=", 20) == 0 ||
		    strncmp(environ[i], "CLAUDE_CODE_OAUTH_TOKEN=", 24) == 0)
			continue;
		envp[n++] = environ[i];
	}
	for (i = 0; extra[i] != NULL; i++)
		envp[n++] = extra[i];
	envp[n] = NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0) {
		errno = rc;
		log_warn("cannot run %s", argv[0]);
		return;
	}
	w->kids[slot].pid = pid;
	w->kids[slot].deadline = now + WARN_TIMEOUT_SECS;
	w->kids[slot].killed = 0;
}

static void
fmt_utc(time_t t, char *buf, size_t len)
{
	if (t > 0)
		rt_time_format(t, buf, len);
	else
		buf[0] = '\0';
}

static void
fire(struct warn *w, const char *name, const char *kind, double thr,
    double util, time_t reset, time_t exhausted, time_t now)
{
	char e_win[80], e_thr[48], e_util[48], e_res[64], e_fc[64], e_kind[48];
	char r[32], f[32], cmd[1024], title[160], body[160], *argv[MAX_ARGS];
	char *extra[7], *save, *tok;
	int n = 0;

	fmt_utc(reset, r, sizeof(r));
	fmt_utc(exhausted, f, sizeof(f));
	snprintf(e_win, sizeof(e_win), "RATETAP_WINDOW=%s", name);
	if (thr > 0)
		snprintf(e_thr, sizeof(e_thr), "RATETAP_THRESHOLD=%g", thr);
	else
		snprintf(e_thr, sizeof(e_thr), "RATETAP_THRESHOLD=");
	snprintf(e_util, sizeof(e_util), "RATETAP_UTILIZATION=%.1f", util);
	snprintf(e_res, sizeof(e_res), "RATETAP_RESETS_AT=%s", r);
	snprintf(e_fc, sizeof(e_fc), "RATETAP_FORECAST=%s", f);
	snprintf(e_kind, sizeof(e_kind), "RATETAP_WARNING=%s", kind);
	extra[0] = e_win;
	extra[1] = e_thr;
	extra[2] = e_util;
	extra[3] = e_res;
	extra[4] = e_fc;
	extra[5] = e_kind;
	extra[6] = NULL;
	if (thr > 0)
		log_info("%s window at %.1f%%: crossed %g%% (resets %s)", name,
		    util, thr, r[0] != '\0' ? r : "unknown");
	else
		log_warnx("%s window at %.1f%% will reach 100%% at %s, before "
		    "its reset %s", name, util, f, r);
	w->fired++;
	if (w->cfg.command != NULL && w->cfg.command[0] != '\0') {
		snprintf(cmd, sizeof(cmd), "%s", w->cfg.command);
		for (tok = strtok_r(cmd, " \t", &save); tok != NULL &&
		    n < MAX_ARGS - 1; tok = strtok_r(NULL, " \t", &save))
			argv[n++] = tok;
		argv[n] = NULL;
		if (n > 0)
			spawn(w, argv, extra, now);
	}
	if (w->notify_ok) {
		char *nargv[] = { "notify-send", "-a", "ratetap", title, body,
		    NULL };

		if (thr > 0)
			snprintf(title, sizeof(title), "ratetap: %s at %.0f %%",
			    name, util);
		else
			snprintf(title, sizeof(title), "ratetap: %s runs out "
			    "before its reset", name);
		snprintf(body, sizeof(body), "%s%s%s", thr > 0 ? "" :
		    "100 % at ", thr > 0 ? "resets " : f, thr > 0 ?
		    (r[0] != '\0' ? r : "unknown") : "");
		spawn(w, nargv, extra, now);
	}
}

static void
reap(struct warn *w, time_t now)
{
	int k, st;
	pid_t r;

	for (k = 0; k < WARN_MAX_CHILDREN; k++) {
		if (w->kids[k].pid == 0)
			continue;
		r = waitpid(w->kids[k].pid, &st, WNOHANG);
		if (r == w->kids[k].pid || (r == -1 && errno == ECHILD)) {
			if (r > 0 && WIFEXITED(st) && WEXITSTATUS(st) != 0)
				log_warnx("warning command exited with %d",
				    WEXITSTATUS(st));
			w->kids[k].pid = 0;
			continue;
		}
		if (now >= w->kids[k].deadline && !w->kids[k].killed) {
			log_warnx("warning command still running after %d s: "
			    "killed", WARN_TIMEOUT_SECS);
			(void)kill(w->kids[k].pid, SIGKILL);
			w->kids[k].killed = 1;
		}
	}
}

void
warn_check(struct warn *w, const struct trk *t, time_t now)
{
	int i, k, changed = 0;

	if (w == NULL)
		return;
	reap(w, now);
	for (i = 0; i < t->nwin; i++) {
		const struct trk_window *win = &t->win[i];
		time_t reset = trk_win_reset(t, i, NULL);
		struct fc_result f;
		struct wwin *ww;
		unsigned fresh = 0;

		if (!win->has_util || win->source == TRK_SRC_NONE ||
		    win->source == TRK_SRC_ROLLOVER ||
		    (ww = wwin_get(w, win->name)) == NULL)
			continue;
		/* a new instance re-arms everything */
		if (reset != 0 && (ww->instance == 0 ||
		    reset > ww->instance + FC_JITTER_SECS ||
		    reset < ww->instance - FC_JITTER_SECS)) {
			if (ww->instance != 0 && (ww->fired || ww->forecast)) {
				ww->fired = 0;
				ww->forecast = 0;
			}
			ww->instance = reset;
			changed = 1;
		}
		for (k = 0; k < w->cfg.nthresholds; k++) {
			double thr = w->cfg.thresholds[k];

			if (win->utilization >= thr && !(ww->fired &
			    (1u << k)))
				fresh |= 1u << k;
			else if ((ww->fired & (1u << k)) &&
			    win->utilization < thr - REARM_PCT) {
				ww->fired &= ~(1u << k);	/* unseen reset */
				changed = 1;
			}
		}
		memset(&f, 0, sizeof(f));
		if (!ww->forecast && win->utilization < 100.0 &&
		    fc_estimate(&win->fc, 1, win->utilization, reset,
		    fc_window_length(win->name), now, &f) == 0 &&
		    f.exhausted_at > 0) {
			ww->forecast = 1;
			changed = 1;
			fresh |= 1u << 31;
		}
		if (fresh == 0)
			continue;
		ww->fired |= fresh & ~(1u << 31);
		/* remembered before anything runs: a restart never repeats */
		if (save(w) == 0)
			changed = 0;
		for (k = 0; k < w->cfg.nthresholds; k++)
			if (fresh & (1u << k))
				fire(w, win->name, "threshold",
				    w->cfg.thresholds[k], win->utilization,
				    reset, f.exhausted_at, now);
		if (fresh & (1u << 31))
			fire(w, win->name, "forecast", 0, win->utilization,
			    reset, f.exhausted_at, now);
	}
	if (changed)
		(void)save(w);
}
