/*
 * `ratetap statusline`: Claude Code's statusLine command.  Claude Code runs
 * it with a JSON object on stdin; it hands the object's `rate_limits` to
 * ratetapd (POST /v1/statusline: a source of window figures of its own),
 * and prints one line from what the daemon answers, or from stdin alone
 * when no daemon answers in time.  Whatever the input, it prints a line
 * and exits 0: a status line never shows an error code.
 *
 * `--install` / `--uninstall` edit Claude Code's settings.json: every
 * other setting kept in its order, a backup made, the file replaced
 * atomically, another statusLine replaced only with --force (and put back
 * by --uninstall).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"

#define SL_STDIN_MAX	(1024 * 1024)	/* more stdin is not read */
#define SL_STDIN_MS	100		/* for stdin to reach its end */
#define SL_DAEMON_MS	150		/* for the daemon's answer, in all */
#define SL_SETTINGS_MAX	(4 * 1024 * 1024)
#define SL_MODEL_LEN	48
#define SL_LINE_MAX	1024
#define SL_DEFAULT_FMT	"{model}5h {five_hour}{five_hour_reset}" \
			"{five_hour_forecast} | 7d {seven_day}" \
			"{seven_day_reset}{seven_day_forecast}"
#define SL_PREV_SUFFIX	".ratetap-previous"	/* the statusLine we replaced */
#define SL_BACKUP_SUFFIX ".ratetap-backup"

/* One window as the line shows it. */
struct sl_win {
	int has_util;
	double util;		/* percent */
	time_t resets_at;	/* 0: unknown */
	time_t exhausted_at;	/* forecast, 0: none */
	int has_pace;
	double pace;
};

struct sl_view {
	char model[SL_MODEL_LEN];	/* printable ASCII, "" unknown */
	struct sl_win w[2];		/* five_hour, seven_day */
	int from_daemon;
};

static const char *const sl_keys[2] = { "five_hour", "seven_day" };

/* Read stdin to its end, at most SL_STDIN_MAX bytes within SL_STDIN_MS;
 * a terminal is not read.  NULL (nothing usable) or a NUL-ended copy. */
static char *
read_stdin(size_t *lenp)
{
	char *buf;
	size_t len = 0;
	ssize_t n;
	int64_t deadline;
	struct pollfd pfd = { STDIN_FILENO, POLLIN, 0 };
	struct timespec ts;

	*lenp = 0;
	if (isatty(STDIN_FILENO))
		return NULL;
	if ((buf = malloc(SL_STDIN_MAX + 1)) == NULL)
		return NULL;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	deadline = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 +
	    SL_STDIN_MS;
	while (len < SL_STDIN_MAX) {
		int64_t left;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		left = deadline - ((int64_t)ts.tv_sec * 1000 +
		    ts.tv_nsec / 1000000);
		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			break;
		n = read(STDIN_FILENO, buf + len, SL_STDIN_MAX - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*lenp = len;
	return buf;
}

/* A number in [lo, hi], or -1. */
static int
number_in(const cJSON *v, double lo, double hi, double *out)
{
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) ||
	    v->valuedouble < lo || v->valuedouble > hi)
		return -1;
	*out = v->valuedouble;
	return 0;
}

/* Copy s as printable ASCII (others dropped) into out. */
static void
printable(const char *s, char *out, size_t len)
{
	size_t i = 0;

	for (; s != NULL && *s != '\0' && i + 1 < len; s++)
		if (*s >= 0x20 && *s < 0x7f)
			out[i++] = *s;
	out[i] = '\0';
}

/*
 * Take what the line needs from Claude Code's object: the model's name
 * and the rate limits, each checked.  fwd gets the checked rate limits
 * for the daemon (NULL when there are none).
 */
static void
parse_input(const cJSON *in, struct sl_view *v, cJSON **fwd)
{
	const cJSON *m, *rl, *w;
	double d;
	int i;

	*fwd = NULL;
	if (!cJSON_IsObject(in))
		return;
	m = cJSON_GetObjectItemCaseSensitive(in, "model");
	if (cJSON_IsObject(m)) {
		const cJSON *dn = cJSON_GetObjectItemCaseSensitive(m,
		    "display_name");

		if (!cJSON_IsString(dn))
			dn = cJSON_GetObjectItemCaseSensitive(m, "id");
		if (cJSON_IsString(dn))
			printable(dn->valuestring, v->model,
			    sizeof(v->model));
	}
	rl = cJSON_GetObjectItemCaseSensitive(in, "rate_limits");
	if (!cJSON_IsObject(rl))
		return;
	for (i = 0; i < 2; i++) {
		cJSON *o = NULL;

		w = cJSON_GetObjectItemCaseSensitive(rl, sl_keys[i]);
		if (!cJSON_IsObject(w))
			continue;
		if (number_in(cJSON_GetObjectItemCaseSensitive(w,
		    "used_percentage"), 0, 1e6, &d) == 0) {
			v->w[i].has_util = 1;
			v->w[i].util = d;
		}
		if (number_in(cJSON_GetObjectItemCaseSensitive(w,
		    "resets_at"), 1, 253402300799.0, &d) == 0)
			v->w[i].resets_at = (time_t)d;
		if (!v->w[i].has_util && v->w[i].resets_at == 0)
			continue;
		if (*fwd == NULL && (*fwd = cJSON_CreateObject()) == NULL)
			return;
		if ((o = cJSON_AddObjectToObject(*fwd, sl_keys[i])) == NULL)
			continue;
		if (v->w[i].has_util)
			(void)cJSON_AddNumberToObject(o, "used_percentage",
			    v->w[i].util);
		if (v->w[i].resets_at != 0)
			(void)cJSON_AddNumberToObject(o, "resets_at",
			    (double)v->w[i].resets_at);
	}
}

/* RFC 3339 UTC ("2026-11-28T20:00:00Z") to time_t; 0 when not one. */
static time_t
rfc3339(const cJSON *v)
{
	struct tm tm;
	const char *e;

	if (!cJSON_IsString(v))
		return 0;
	memset(&tm, 0, sizeof(tm));
	e = strptime(v->valuestring, "%Y-%m-%dT%H:%M:%S", &tm);
	if (e == NULL)
		return 0;
	if (*e == '.')
		while (*++e >= '0' && *e <= '9')
			;
	if (strcmp(e, "Z") != 0)
		return 0;
	return timegm(&tm);
}

/* Fill what stdin did not give from the daemon's status JSON. */
static void
merge_status(const cJSON *st, struct sl_view *v)
{
	const cJSON *ws, *w, *f, *x;
	double d;
	int i;

	ws = cJSON_GetObjectItemCaseSensitive(st, "windows");
	if (!cJSON_IsObject(ws))
		return;
	v->from_daemon = 1;
	for (i = 0; i < 2; i++) {
		if (!cJSON_IsObject(w = cJSON_GetObjectItemCaseSensitive(ws,
		    sl_keys[i])))
			continue;
		if (!v->w[i].has_util && number_in(
		    cJSON_GetObjectItemCaseSensitive(w, "utilization"), 0,
		    1e6, &d) == 0) {
			v->w[i].has_util = 1;
			v->w[i].util = d;
		}
		if (v->w[i].resets_at == 0)
			v->w[i].resets_at = rfc3339(
			    cJSON_GetObjectItemCaseSensitive(w, "resets_at"));
		f = cJSON_GetObjectItemCaseSensitive(w, "forecast");
		if (!cJSON_IsObject(f))
			continue;
		v->w[i].exhausted_at = rfc3339(
		    cJSON_GetObjectItemCaseSensitive(f, "exhausted_at"));
		x = cJSON_GetObjectItemCaseSensitive(f, "pace");
		if (number_in(x, -1e9, 1e9, &d) == 0) {
			v->w[i].has_pace = 1;
			v->w[i].pace = d;
		}
	}
}

/* Ask the daemon (POST the rate limits, or GET the status). */
static void
ask_daemon(const char *control, const cJSON *fwd, struct sl_view *v)
{
	char path[4096], err[512], *body = NULL, *data = NULL;
	size_t len;
	long code = 0;
	cJSON *st;
	int rc;

	if (cli_control_path(control, path, sizeof(path)) == -1)
		return;
	if (fwd != NULL) {
		if ((data = cJSON_PrintUnformatted(fwd)) == NULL)
			return;
		rc = cli_control_post(path, "/v1/statusline", data,
		    strlen(data), SL_DAEMON_MS, &body, &len, &code, err,
		    sizeof(err));
		free(data);
	} else
		rc = cli_control_get(path, "/v1/status", SL_DAEMON_MS, &body,
		    &len, &code, err, sizeof(err));
	if (rc == -1 || code != 200) {
		free(body);
		return;
	}
	if ((st = cJSON_ParseWithLength(body, len)) != NULL)
		merge_status(st, v);
	cJSON_Delete(st);
	free(body);
}

/* "2h 10m" / "3d 4h" / "45s" from secs (>= 0). */
static void
span(long long secs, char *buf, size_t len)
{
	char rel[64];

	cli_fmt_relative(secs, rel, sizeof(rel));
	snprintf(buf, len, "%s", strncmp(rel, "in ", 3) == 0 ? rel + 3 : rel);
}

struct sl_style {
	const char *red, *yellow, *green, *dim, *reset;
};

/* Append s to out (cap len), returning the new length. */
static size_t
put(char *out, size_t at, size_t len, const char *s)
{
	size_t n = strlen(s);

	if (at + n >= len)
		n = at < len - 1 ? len - 1 - at : 0;
	memcpy(out + at, s, n);
	out[at + n] = '\0';
	return at + n;
}

/* The value of a {field}, or -1 for an unknown name. */
static int
field(const char *name, size_t nlen, const struct sl_view *v, time_t now,
    const struct sl_style *sty, char *buf, size_t len)
{
	char t[96];
	const struct sl_win *w;
	const char *rest;
	int i;

	buf[0] = '\0';
	if (nlen == 5 && strncmp(name, "model", 5) == 0) {
		if (v->model[0] != '\0')
			snprintf(buf, len, "%s | ", v->model);
		return 0;
	}
	if (nlen == 10 && strncmp(name, "model_name", 10) == 0) {
		snprintf(buf, len, "%s", v->model);
		return 0;
	}
	if (nlen == 6 && strncmp(name, "source", 6) == 0) {
		snprintf(buf, len, "%s", v->from_daemon ? "ratetapd" :
		    "claude");
		return 0;
	}
	for (i = 0; i < 2; i++) {
		size_t kl = strlen(sl_keys[i]);

		if (nlen < kl || strncmp(name, sl_keys[i], kl) != 0)
			continue;
		w = &v->w[i];
		rest = name + kl;
		nlen -= kl;
		if (nlen == 0) {
			const char *c = !w->has_util ? "" : w->util >= 80 ?
			    sty->red : w->util >= 50 ? sty->yellow :
			    sty->green;

			if (w->has_util)
				snprintf(buf, len, "%s%.0f%%%s", c, w->util,
				    c[0] != '\0' ? sty->reset : "");
			else
				snprintf(buf, len, "?%%");
			return 0;
		}
		if (nlen == 6 && strncmp(rest, "_reset", 6) == 0) {
			if (w->resets_at > now) {
				span((long long)(w->resets_at - now), t,
				    sizeof(t));
				snprintf(buf, len, " %s(resets in %s)%s",
				    sty->dim, t, sty->reset);
			}
			return 0;
		}
		if (nlen == 9 && strncmp(rest, "_forecast", 9) == 0) {
			if (w->exhausted_at > now && (w->resets_at == 0 ||
			    w->exhausted_at < w->resets_at)) {
				span((long long)(w->exhausted_at - now), t,
				    sizeof(t));
				snprintf(buf, len, " %sruns out in %s%s",
				    sty->red, t, sty->reset);
			}
			return 0;
		}
		if (nlen == 5 && strncmp(rest, "_pace", 5) == 0) {
			if (w->has_pace)
				snprintf(buf, len, "%.2f", w->pace);
			return 0;
		}
		if (nlen == 4 && strncmp(rest, "_pct", 4) == 0) {
			if (w->has_util)
				snprintf(buf, len, "%.0f", w->util);
			return 0;
		}
		return -1;
	}
	return -1;
}

/*
 * Render fmt into out: {field} replaced (see docs/claude-code.md), "{{"
 * a '{', an unknown field left as written.  Only printable text results.
 */
static void
render(const char *fmt, const struct sl_view *v, time_t now,
    const struct sl_style *sty, char *out, size_t len)
{
	char val[256], one[2] = { 0, 0 };
	const char *p, *e;
	size_t at = 0;

	out[0] = '\0';
	for (p = fmt; *p != '\0'; p++) {
		if (*p == '{' && p[1] == '{') {
			at = put(out, at, len, "{");
			p++;
			continue;
		}
		if (*p == '{' && (e = strchr(p, '}')) != NULL &&
		    field(p + 1, (size_t)(e - p - 1), v, now, sty, val,
		    sizeof(val)) == 0) {
			at = put(out, at, len, val);
			p = e;
			continue;
		}
		one[0] = (*p >= 0x20 && *p < 0x7f) ? *p : ' ';
		at = put(out, at, len, one);
	}
}

static int
use_color(int mode)
{
	const char *nc = getenv("NO_COLOR");

	if (mode != -1)
		return mode;
	if (nc != NULL && nc[0] != '\0')
		return 0;
	return isatty(STDOUT_FILENO);
}

/* -- settings.json ------------------------------------------------------ */

/* Claude Code's settings file: the first of CLAUDE_CONFIG_DIR's list, or
 * ~/.claude. */
static int
settings_path(char *buf, size_t len)
{
	const char *dir = getenv("CLAUDE_CONFIG_DIR"), *home;
	size_t n;
	int r;

	if (dir != NULL && dir[0] != '\0') {
		n = strcspn(dir, ",");
		r = snprintf(buf, len, "%.*s/settings.json", (int)n, dir);
	} else {
		if ((home = getenv("HOME")) == NULL || home[0] == '\0') {
			cli_errx("HOME is not set");
			return -1;
		}
		r = snprintf(buf, len, "%s/.claude/settings.json", home);
	}
	if (r < 0 || (size_t)r >= len) {
		cli_errx("settings path too long");
		return -1;
	}
	return 0;
}

/* Read a whole (small) file: 0, 1 when it does not exist, -1. */
static int
read_file(const char *path, char **out, size_t *lenp, mode_t *mode)
{
	struct stat sb;
	char *buf = NULL;
	size_t len = 0;
	ssize_t n;
	int fd;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		if (errno == ENOENT)
			return 1;
		cli_errx("%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode) ||
	    sb.st_size > SL_SETTINGS_MAX) {
		cli_errx("%s: not a regular file of at most 4 MiB", path);
		goto err;
	}
	if (mode != NULL)
		*mode = sb.st_mode & 07777;
	if ((buf = malloc((size_t)sb.st_size + 1)) == NULL)
		goto err;
	while (len < (size_t)sb.st_size) {
		n = read(fd, buf + len, (size_t)sb.st_size - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			cli_errx("%s: cannot read it", path);
			goto err;
		}
		len += (size_t)n;
	}
	buf[len] = '\0';
	close(fd);
	*out = buf;
	*lenp = len;
	return 0;
err:
	free(buf);
	close(fd);
	return -1;
}

/* Write data to path atomically (path.tmp, fsync, rename). */
static int
write_atomic(const char *path, const char *data, size_t len, mode_t mode)
{
	char tmp[PATH_MAX + 16];
	size_t off = 0;
	ssize_t n;
	int fd;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -1;
	(void)unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, mode)) == -1) {
		cli_errx("%s: %s", tmp, strerror(errno));
		return -1;
	}
	while (off < len) {
		n = write(fd, data + off, len - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			goto err;
		off += (size_t)n;
	}
	if (fchmod(fd, mode) == -1 || fsync(fd) == -1 || close(fd) == -1) {
		fd = -1;
		goto err;
	}
	if (rename(tmp, path) == -1) {
		cli_errx("%s: %s", path, strerror(errno));
		(void)unlink(tmp);
		return -1;
	}
	return 0;
err:
	cli_errx("%s: %s", tmp, strerror(errno));
	if (fd != -1)
		close(fd);
	(void)unlink(tmp);
	return -1;
}

/* Is this statusLine ours? */
static int
is_ours(const cJSON *sl)
{
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(sl, "command");

	return cJSON_IsString(c) && strstr(c->valuestring, "statusline") !=
	    NULL && strstr(c->valuestring, "ratetap") != NULL;
}

/* Our command: this ratetap, by its absolute path, single-quoted. */
static int
our_command(char *buf, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n;
	size_t i, at = 0;

	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) <= 0)
		return -1;
	exe[n] = '\0';
	if (len < 64)
		return -1;
	buf[at++] = '\'';
	for (i = 0; exe[i] != '\0' && at + 16 < len; i++) {
		if (exe[i] == '\'') {
			memcpy(buf + at, "'\\''", 4);
			at += 4;
		} else
			buf[at++] = exe[i];
	}
	if (exe[i] != '\0')
		return -1;
	snprintf(buf + at, len - at, "' statusline");
	return 0;
}

static int
install(int uninstall, int force)
{
	char path[PATH_MAX], side[PATH_MAX + 32], bak[PATH_MAX + 32];
	char cmd[PATH_MAX * 4 + 32], *text = NULL, *out = NULL, *prev = NULL;
	size_t len = 0, plen = 0;
	mode_t mode = 0600;
	cJSON *j = NULL, *sl, *ns = NULL;
	int rc = 1, r;

	if (settings_path(path, sizeof(path)) == -1)
		return 1;
	snprintf(side, sizeof(side), "%s%s", path, SL_PREV_SUFFIX);
	snprintf(bak, sizeof(bak), "%s%s", path, SL_BACKUP_SUFFIX);
	if ((r = read_file(path, &text, &len, &mode)) == -1)
		return 1;
	if (r == 1) {
		if (uninstall) {
			printf("%s does not exist: nothing to uninstall\n",
			    path);
			return 0;
		}
		j = cJSON_CreateObject();
	} else if ((j = cJSON_ParseWithLength(text, len)) == NULL ||
	    !cJSON_IsObject(j)) {
		cli_errx("%s is not a JSON object: not touching it", path);
		goto out;
	}
	if (j == NULL)
		goto out;
	sl = cJSON_GetObjectItemCaseSensitive(j, "statusLine");
	if (uninstall) {
		if (sl == NULL || !is_ours(sl)) {
			printf("%s has no ratetap statusLine: nothing to "
			    "uninstall\n", path);
			rc = 0;
			goto out;
		}
		if ((r = read_file(side, &prev, &plen, NULL)) == -1)
			goto out;
		if (r == 0 && (ns = cJSON_ParseWithLength(prev, plen)) != NULL &&
		    cJSON_IsObject(ns)) {
			cJSON_ReplaceItemInObjectCaseSensitive(j, "statusLine",
			    ns);
			ns = NULL;
			printf("restored the previous statusLine in %s\n",
			    path);
		} else {
			cJSON_DeleteItemFromObjectCaseSensitive(j,
			    "statusLine");
			printf("removed ratetap's statusLine from %s\n", path);
		}
	} else {
		if (sl != NULL && is_ours(sl) && !force) {
			printf("%s already runs ratetap statusline: nothing "
			    "to do\n", path);
			rc = 0;
			goto out;
		}
		if (sl != NULL && !is_ours(sl) && !force) {
			cli_errx("%s already has another statusLine; keeping "
			    "it (--force replaces it; --uninstall puts it "
			    "back)", path);
			goto out;
		}
		if (our_command(cmd, sizeof(cmd)) == -1) {
			cli_errx("cannot tell where this ratetap is");
			goto out;
		}
		if (sl != NULL && !is_ours(sl)) {
			char *p = cJSON_Print(sl);

			if (p == NULL || write_atomic(side, p, strlen(p),
			    0600) == -1) {
				free(p);
				goto out;
			}
			free(p);
		}
		if ((ns = cJSON_CreateObject()) == NULL ||
		    cJSON_AddStringToObject(ns, "type", "command") == NULL ||
		    cJSON_AddStringToObject(ns, "command", cmd) == NULL ||
		    cJSON_AddNumberToObject(ns, "padding", 0) == NULL)
			goto out;
		if (sl != NULL)
			cJSON_ReplaceItemInObjectCaseSensitive(j, "statusLine",
			    ns);
		else
			cJSON_AddItemToObject(j, "statusLine", ns);
		ns = NULL;
	}
	if (text != NULL) {
		if (write_atomic(bak, text, len, mode) == -1)
			goto out;
		printf("backed up %s to %s\n", path, bak);
	}
	if ((out = cJSON_Print(j)) == NULL)
		goto out;
	r = (int)strlen(out);
	out[r] = '\0';
	{
		char *nl;

		if ((nl = malloc((size_t)r + 2)) == NULL)
			goto out;
		memcpy(nl, out, (size_t)r);
		nl[r] = '\n';
		nl[r + 1] = '\0';
		free(out);
		out = nl;
	}
	if (write_atomic(path, out, strlen(out), mode) == -1)
		goto out;
	if (uninstall)
		(void)unlink(side);
	else
		printf("%s: statusLine runs %s\n", path, cmd);
	rc = 0;
out:
	cJSON_Delete(ns);
	cJSON_Delete(j);
	free(text);
	free(prev);
	free(out);
	return rc;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: ratetap statusline [--format FMT] [--color=auto|always|"
	    "never]\n"
	    "       ratetap statusline --install [--force] | --uninstall\n"
	    "\n"
	    "Claude Code's statusLine command: reads its JSON on stdin, "
	    "hands the rate\n"
	    "limits to ratetapd and prints one line.  Fields of FMT: "
	    "{model} {model_name}\n"
	    "{five_hour} {five_hour_pct} {five_hour_reset} "
	    "{five_hour_forecast}\n"
	    "{five_hour_pace} and the same for seven_day, {source}.  "
	    "See ratetap(1).\n");
}

int
cli_statusline_main(int argc, char **argv, const char *control)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "color", optional_argument, NULL, 'C' },
		{ "no-color", no_argument, NULL, 'N' },
		{ "install", no_argument, NULL, 'i' },
		{ "uninstall", no_argument, NULL, 'u' },
		{ "force", no_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	static const struct sl_style plain = { "", "", "", "", "" };
	static const struct sl_style ansi = { "\033[31m", "\033[33m",
	    "\033[32m", "\033[2m", "\033[0m" };
	const char *fmt = NULL, *env;
	char line[SL_LINE_MAX], *in;
	struct sl_view v;
	size_t len;
	cJSON *j, *fwd = NULL;
	int c, color = -1, inst = 0, uninst = 0, force = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+f:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			fmt = optarg;
			break;
		case 'C':
			color = optarg == NULL || strcmp(optarg, "always") ==
			    0 ? 1 : strcmp(optarg, "never") == 0 ? 0 : -1;
			break;
		case 'N':
			color = 0;
			break;
		case 'i':
			inst = 1;
			break;
		case 'u':
			uninst = 1;
			break;
		case 'F':
			force = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			/* a status line never fails: a bad option is
			   ignored unless installing */
			break;
		}
	}
	if (inst || uninst) {
		if (inst && uninst) {
			cli_errx("--install and --uninstall together");
			return CLI_EXIT_USAGE;
		}
		return install(uninst, force);
	}
	if (fmt == NULL && (env = getenv("RATETAP_STATUSLINE_FORMAT")) != NULL &&
	    env[0] != '\0')
		fmt = env;
	if (fmt == NULL)
		fmt = SL_DEFAULT_FMT;
	memset(&v, 0, sizeof(v));
	in = read_stdin(&len);
	j = in != NULL ? cJSON_ParseWithLength(in, len) : NULL;
	free(in);
	parse_input(j, &v, &fwd);
	cJSON_Delete(j);
	ask_daemon(control, fwd, &v);
	cJSON_Delete(fwd);
	render(fmt, &v, time(NULL), use_color(color) ? &ansi : &plain, line,
	    sizeof(line));
	printf("%s\n", line);
	fflush(stdout);
	return 0;
}
