/*
 * `ratetap report`: history from the ledger (see report.h, docs/report.md).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "ratetap/paths.h"
#include "cli.h"
#include "report.h"

#ifndef RATETAP_DATADIR
#define RATETAP_DATADIR	"/usr/local/share/ratetap"
#endif

#define PRICING_MAX	(256 * 1024)
#define JITTER_SECS	600	/* reset times this close: one instance */

const char rpt_builtin_pricing[] =
#include "pricing.inc"
;

/* -- pricing ------------------------------------------------------------ */

static int
price_num(const cJSON *e, const char *key, double *out, int i, char *err,
    size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, key);

	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) ||
	    v->valuedouble < 0 || v->valuedouble > 1e6) {
		snprintf(err, errlen, "models[%d].%s is not a price (a number "
		    "of USD per million tokens)", i, key);
		return -1;
	}
	*out = v->valuedouble;
	return 0;
}

int
rpt_pricing_parse(const char *json, size_t len, struct rpt_pricing *p,
    char *err, size_t errlen)
{
	const cJSON *models, *e, *v;
	cJSON *j;
	size_t k;
	int i = 0;

	memset(p->p, 0, sizeof(p->p));
	p->n = 0;
	p->date[0] = '\0';
	if ((j = cJSON_ParseWithLength(json, len)) == NULL ||
	    !cJSON_IsObject(j)) {
		snprintf(err, errlen, "not a JSON object");
		goto err;
	}
	v = cJSON_GetObjectItemCaseSensitive(j, "date");
	if (!cJSON_IsString(v) || strlen(v->valuestring) != 10) {
		snprintf(err, errlen, "\"date\" is not a YYYY-MM-DD string");
		goto err;
	}
	memcpy(p->date, v->valuestring, 11);
	models = cJSON_GetObjectItemCaseSensitive(j, "models");
	if (!cJSON_IsArray(models) || cJSON_GetArraySize(models) == 0 ||
	    cJSON_GetArraySize(models) > RPT_PRICES_MAX) {
		snprintf(err, errlen, "\"models\" is not an array of 1 to %d "
		    "entries", RPT_PRICES_MAX);
		goto err;
	}
	cJSON_ArrayForEach(e, models) {
		struct rpt_price *r = &p->p[i];

		v = cJSON_GetObjectItemCaseSensitive(e, "match");
		if (!cJSON_IsObject(e) || !cJSON_IsString(v) ||
		    v->valuestring[0] == '\0' ||
		    strlen(v->valuestring) >= sizeof(r->match)) {
			snprintf(err, errlen, "models[%d].match is not a "
			    "model name part", i);
			goto err;
		}
		for (k = 0; v->valuestring[k] != '\0'; k++)
			r->match[k] = (char)tolower(
			    (unsigned char)v->valuestring[k]);
		if (price_num(e, "input", &r->input, i, err, errlen) == -1 ||
		    price_num(e, "output", &r->output, i, err, errlen) == -1 ||
		    price_num(e, "cache_write_5m", &r->cache_write_5m, i, err,
		    errlen) == -1 ||
		    price_num(e, "cache_write_1h", &r->cache_write_1h, i, err,
		    errlen) == -1 ||
		    price_num(e, "cache_read", &r->cache_read, i, err,
		    errlen) == -1)
			goto err;
		i++;
	}
	p->n = i;
	cJSON_Delete(j);
	return 0;
err:
	cJSON_Delete(j);
	return -1;
}

/* Read a small regular file.  1: absent, 0: read, -1: error. */
static int
read_small(const char *path, char **out, size_t *len, char *err,
    size_t errlen)
{
	struct stat st;
	ssize_t n;
	char *buf;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1) {
		if (errno == ENOENT)
			return 1;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > PRICING_MAX) {
		snprintf(err, errlen, "%s: not a regular file of at most %d "
		    "bytes", path, PRICING_MAX);
		close(fd);
		return -1;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	*len = 0;
	while ((n = read(fd, buf + *len, (size_t)st.st_size - *len)) > 0)
		*len += (size_t)n;
	close(fd);
	if (n == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		free(buf);
		return -1;
	}
	buf[*len] = '\0';
	*out = buf;
	return 0;
}

static int
pricing_file(struct rpt_pricing *p, const char *path, char *err,
    size_t errlen)
{
	char why[256], *buf;
	size_t len;
	int rc;

	if ((rc = read_small(path, &buf, &len, err, errlen)) != 0)
		return rc;
	rc = rpt_pricing_parse(buf, len, p, why, sizeof(why));
	free(buf);
	if (rc == -1) {
		snprintf(err, errlen, "pricing file %s: %s", path, why);
		return -1;
	}
	snprintf(p->source, sizeof(p->source), "%s", path);
	return 0;
}

int
rpt_pricing_load(struct rpt_pricing *p, char *err, size_t errlen)
{
	char path[4096], exe[4096], *slash;
	const char *v;
	ssize_t n;
	int rc;

	/* the user's override */
	if ((v = getenv("XDG_CONFIG_HOME")) != NULL && v[0] == '/')
		snprintf(path, sizeof(path), "%s/ratetap/pricing.json", v);
	else if ((v = getenv("HOME")) != NULL && v[0] == '/')
		snprintf(path, sizeof(path), "%s/.config/ratetap/pricing.json",
		    v);
	else
		path[0] = '\0';
	if (path[0] != '\0' && (rc = pricing_file(p, path, err, errlen)) != 1)
		return rc;
	/* the installed file, then the one of a build tree */
	if ((rc = pricing_file(p, RATETAP_DATADIR "/pricing.json", err,
	    errlen)) != 1)
		return rc;
	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) > 0) {
		exe[n] = '\0';
		if ((slash = strrchr(exe, '/')) != NULL) {
			*slash = '\0';
			snprintf(path, sizeof(path),
			    "%.4000s/../share/ratetap/pricing.json", exe);
			if (realpath(path, exe) != NULL &&
			    (rc = pricing_file(p, exe, err, errlen)) != 1)
				return rc;
		}
	}
	if (rpt_pricing_parse(rpt_builtin_pricing,
	    strlen(rpt_builtin_pricing), p, err, errlen) == -1)
		return -1;
	snprintf(p->source, sizeof(p->source), "built-in");
	return 0;
}

const struct rpt_price *
rpt_price_for(const struct rpt_pricing *p, const char *model)
{
	char low[256];
	size_t i;
	int k;

	if (p == NULL || model == NULL)
		return NULL;
	for (i = 0; i + 1 < sizeof(low) && model[i] != '\0'; i++)
		low[i] = (char)tolower((unsigned char)model[i]);
	low[i] = '\0';
	for (k = 0; k < p->n; k++)
		if (strstr(low, p->p[k].match) != NULL)
			return &p->p[k];
	return NULL;
}

/* -- aggregation -------------------------------------------------------- */

void
rpt_result_free(struct rpt_result *res)
{
	free(res->rows);
	memset(res, 0, sizeof(*res));
}

static struct rpt_row *
row_get(struct rpt_result *res, const char *period, const char *group,
    time_t end)
{
	struct rpt_row *r, *nr;
	size_t i;

	for (i = res->n; i > 0; i--) {
		r = &res->rows[i - 1];
		if (r->end == end && strcmp(r->period, period) == 0 &&
		    strcmp(r->group, group) == 0)
			return r;
	}
	if (res->n == res->cap) {
		size_t ncap = res->cap != 0 ? res->cap * 2 : 64;

		if ((nr = realloc(res->rows, ncap * sizeof(*nr))) == NULL)
			return NULL;
		res->rows = nr;
		res->cap = ncap;
	}
	r = &res->rows[res->n++];
	memset(r, 0, sizeof(*r));
	r->peak = -1;
	r->end = end;
	snprintf(r->period, sizeof(r->period), "%s", period);
	snprintf(r->group, sizeof(r->group), "%s", group);
	return r;
}

/* Add one (model's) aggregate to r and to the total. */
static void
row_add(struct rpt_result *res, struct rpt_row *r, const char *model,
    const int64_t v[5], const struct rpt_pricing *p)
{
	const struct rpt_price *pr = rpt_price_for(p, model);
	struct rpt_row *rr[2] = { r, &res->total };
	double cost = 0;
	int k;

	if (pr != NULL)
		cost = ((double)v[1] * pr->input + (double)v[2] * pr->output +
		    (double)v[3] * pr->cache_write_5m +
		    (double)v[4] * pr->cache_read) / 1e6;
	for (k = 0; k < 2; k++) {
		rr[k]->requests += v[0];
		rr[k]->input += v[1];
		rr[k]->output += v[2];
		rr[k]->cache_creation_input += v[3];
		rr[k]->cache_read_input += v[4];
		rr[k]->cost_usd += cost;
		if (pr == NULL && (v[1] | v[2] | v[3] | v[4]) != 0)
			rr[k]->unpriced = 1;
	}
}

static const char *
group_expr(int by)
{
	switch (by) {
	case RPT_BY_MODEL:
		return "COALESCE(model, 'unknown')";
	case RPT_BY_PROGRAM:
		return "COALESCE(program, 'unknown')";
	case RPT_BY_PROJECT:
		return "COALESCE(project, 'unknown')";
	default:
		return "''";
	}
}

/* The period a local day (YYYY-MM-DD) falls in. */
static void
period_of(const char *day, int kind, char *out, size_t len)
{
	struct tm tm;
	time_t t;

	if (kind == RPT_MONTHLY) {
		snprintf(out, len, "%.7s", day);
		return;
	}
	if (kind == RPT_WEEKLY && rpt_parse_date(day, 0, &t) == 0 &&
	    localtime_r(&t, &tm) != NULL) {
		/* the Monday that starts its ISO week */
		tm.tm_mday -= (tm.tm_wday + 6) % 7;
		tm.tm_hour = 12;
		tm.tm_isdst = -1;
		t = mktime(&tm);
		if (localtime_r(&t, &tm) != NULL) {
			strftime(out, len, "%Y-%m-%d", &tm);
			return;
		}
	}
	snprintf(out, len, "%s", day);
}

static const char *
col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);

	return s != NULL ? (const char *)s : "";
}

static int
cmp_rows(const void *a, const void *b)
{
	const struct rpt_row *x = a, *y = b;
	int c;

	if (x->end != y->end)
		return x->end < y->end ? -1 : 1;
	if ((c = strcmp(x->period, y->period)) != 0)
		return c;
	return strcmp(x->group, y->group);
}

static int
query_periods(sqlite3 *db, int kind, int by, time_t since, time_t until,
    const struct rpt_pricing *p, struct rpt_result *res, char *err,
    size_t errlen)
{
	char sql[768], period[RPT_PERIOD_LEN];
	sqlite3_stmt *st;
	int64_t v[5];
	int rc, k;

	snprintf(sql, sizeof(sql), "SELECT date(at, 'unixepoch', 'localtime'),"
	    " %s, COALESCE(model, ''), SUM(http_status != 0), SUM(input),"
	    " SUM(output), SUM(cache_creation_input), SUM(cache_read_input)"
	    " FROM requests WHERE at >= ?1 AND at < ?2"
	    " GROUP BY 1, 2, 3 ORDER BY 1, 2", group_expr(by));
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "ledger: %s", sqlite3_errmsg(db));
		return -1;
	}
	sqlite3_bind_int64(st, 1, since);
	sqlite3_bind_int64(st, 2, until > 0 ? until : INT64_MAX);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct rpt_row *r;

		period_of(col_text(st, 0), kind, period, sizeof(period));
		if ((r = row_get(res, period, col_text(st, 1), 0)) == NULL) {
			snprintf(err, errlen, "out of memory");
			sqlite3_finalize(st);
			return -1;
		}
		for (k = 0; k < 5; k++)
			v[k] = sqlite3_column_int64(st, 3 + k);
		row_add(res, r, col_text(st, 2), v, p);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		snprintf(err, errlen, "ledger: %s", sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

/* The length of a window by its name (five_hour*, seven_day*), 0 other. */
static time_t
win_length(const char *name)
{
	if (strncmp(name, "five_hour", 9) == 0)
		return 5 * 3600;
	if (strncmp(name, "seven_day", 9) == 0)
		return 7 * 86400;
	return 0;
}

struct inst {
	char window[64];
	time_t end;
	double peak;
};

/* Usage within one window instance, added to res. */
static int
instance_usage(sqlite3 *db, const struct inst *in, int by,
    const struct rpt_pricing *p, struct rpt_result *res, char *err,
    size_t errlen)
{
	char sql[768], like[80];
	const char *scope = NULL;
	sqlite3_stmt *st;
	int64_t v[5];
	int rc, k, any = 0;

	/* seven_day_sonnet counts the models named *sonnet* (as the
	   tracker does); seven_day / five_hour every model */
	if (strlen(in->window) > 10 && (in->window[9] == '_'))
		scope = in->window + 10;
	snprintf(sql, sizeof(sql), "SELECT %s, COALESCE(model, ''),"
	    " SUM(http_status != 0), SUM(input), SUM(output),"
	    " SUM(cache_creation_input), SUM(cache_read_input)"
	    " FROM requests WHERE at >= ?1 AND at < ?2%s"
	    " GROUP BY 1, 2 ORDER BY 1", group_expr(by),
	    scope != NULL ? " AND lower(model) LIKE ?3" : "");
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "ledger: %s", sqlite3_errmsg(db));
		return -1;
	}
	sqlite3_bind_int64(st, 1, in->end - win_length(in->window));
	sqlite3_bind_int64(st, 2, in->end);
	if (scope != NULL) {
		snprintf(like, sizeof(like), "%%%s%%", scope);
		sqlite3_bind_text(st, 3, like, -1, SQLITE_TRANSIENT);
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW || !any) {
		struct rpt_row *r;
		const char *group = rc == SQLITE_ROW ? col_text(st, 0) :
		    (by == RPT_BY_NONE ? "" : "-");

		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			break;
		any = 1;
		if ((r = row_get(res, in->window, group, in->end)) == NULL) {
			snprintf(err, errlen, "out of memory");
			sqlite3_finalize(st);
			return -1;
		}
		r->start = in->end - win_length(in->window);
		r->peak = in->peak;
		if (rc != SQLITE_ROW)
			break;
		for (k = 0; k < 5; k++)
			v[k] = sqlite3_column_int64(st, 2 + k);
		row_add(res, r, col_text(st, 1), v, p);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		snprintf(err, errlen, "ledger: %s", sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

static int
query_windows(sqlite3 *db, int by, time_t since, time_t until,
    const struct rpt_pricing *p, struct rpt_result *res, char *err,
    size_t errlen)
{
	struct inst *in = NULL, *ni;
	size_t n = 0, cap = 0, i;
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db, "SELECT window, resets_at, MAX(utilization)"
	    " FROM samples WHERE resets_at > 0 GROUP BY 1, 2 ORDER BY 1, 2",
	    -1, &st, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "ledger: %s", sqlite3_errmsg(db));
		return -1;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *w = col_text(st, 0);
		time_t end = (time_t)sqlite3_column_int64(st, 1);
		double peak = sqlite3_column_double(st, 2);

		if (win_length(w) == 0)
			continue;
		/* reset times a little apart (header and poll): one */
		if (n > 0 && strcmp(in[n - 1].window, w) == 0 &&
		    end - in[n - 1].end <= JITTER_SECS) {
			if (peak > in[n - 1].peak)
				in[n - 1].peak = peak;
			continue;
		}
		if (n == cap) {
			cap = cap != 0 ? cap * 2 : 32;
			if ((ni = realloc(in, cap * sizeof(*in))) == NULL) {
				rc = SQLITE_NOMEM;
				break;
			}
			in = ni;
		}
		snprintf(in[n].window, sizeof(in[n].window), "%s", w);
		in[n].end = end;
		in[n].peak = peak;
		n++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		snprintf(err, errlen, "ledger: %s", rc == SQLITE_NOMEM ?
		    "out of memory" : sqlite3_errmsg(db));
		free(in);
		return -1;
	}
	for (i = 0; i < n; i++) {
		time_t start = in[i].end - win_length(in[i].window);

		if ((until > 0 && start >= until) || in[i].end <= since)
			continue;
		if (instance_usage(db, &in[i], by, p, res, err, errlen) ==
		    -1) {
			free(in);
			return -1;
		}
	}
	free(in);
	return 0;
}

int
rpt_query(sqlite3 *db, int kind, int by, time_t since, time_t until,
    const struct rpt_pricing *p, struct rpt_result *res, char *err,
    size_t errlen)
{
	memset(res, 0, sizeof(*res));
	res->total.peak = -1;
	if (kind == RPT_WINDOWS) {
		if (query_windows(db, by, since, until, p, res, err, errlen) ==
		    -1)
			goto err;
	} else if (query_periods(db, kind, by, since, until, p, res, err,
	    errlen) == -1)
		goto err;
	if (res->n > 1)
		qsort(res->rows, res->n, sizeof(*res->rows), cmp_rows);
	return 0;
err:
	rpt_result_free(res);
	return -1;
}

/* -- output ------------------------------------------------------------- */

static const char *const kind_names[] = { "daily", "weekly", "monthly",
    "windows" };
static const char *const by_names[] = { NULL, "model", "program",
    "project" };

static void
fmt_local(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (t <= 0 || localtime_r(&t, &tm) == NULL)
		snprintf(buf, len, "-");
	else
		strftime(buf, len, "%Y-%m-%d %H:%M", &tm);
}

static void
fmt_utc(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL)
		snprintf(buf, len, "null");
	else
		strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static cJSON *
row_json(const struct rpt_row *r, int kind, int by, int total)
{
	char buf[32];
	cJSON *o;

	if ((o = cJSON_CreateObject()) == NULL)
		return NULL;
	if (!total && kind == RPT_WINDOWS) {
		cJSON_AddStringToObject(o, "window", r->period);
		fmt_utc(r->start, buf, sizeof(buf));
		cJSON_AddStringToObject(o, "started_at", buf);
		fmt_utc(r->end, buf, sizeof(buf));
		cJSON_AddStringToObject(o, "resets_at", buf);
		if (r->peak >= 0)
			cJSON_AddNumberToObject(o, "peak_utilization",
			    r->peak);
		else
			cJSON_AddNullToObject(o, "peak_utilization");
	} else if (!total)
		cJSON_AddStringToObject(o, "period", r->period);
	if (!total && by != RPT_BY_NONE)
		cJSON_AddStringToObject(o, by_names[by], r->group);
	cJSON_AddNumberToObject(o, "requests", (double)r->requests);
	cJSON_AddNumberToObject(o, "input", (double)r->input);
	cJSON_AddNumberToObject(o, "output", (double)r->output);
	cJSON_AddNumberToObject(o, "cache_creation_input",
	    (double)r->cache_creation_input);
	cJSON_AddNumberToObject(o, "cache_read_input",
	    (double)r->cache_read_input);
	cJSON_AddNumberToObject(o, "cost_usd",
	    round(r->cost_usd * 1e6) / 1e6);
	cJSON_AddBoolToObject(o, "unpriced", r->unpriced);
	return o;
}

static int
print_json(FILE *out, const struct rpt_result *res, int kind, int by,
    const struct rpt_pricing *p)
{
	cJSON *j, *rows, *pr;
	char *s;
	size_t i;

	if ((j = cJSON_CreateObject()) == NULL)
		return -1;
	cJSON_AddStringToObject(j, "report", kind_names[kind]);
	if (by != RPT_BY_NONE)
		cJSON_AddStringToObject(j, "by", by_names[by]);
	else
		cJSON_AddNullToObject(j, "by");
	cJSON_AddStringToObject(j, "dates", "local time");
	if ((pr = cJSON_AddObjectToObject(j, "pricing")) != NULL) {
		cJSON_AddStringToObject(pr, "date", p->date);
		cJSON_AddStringToObject(pr, "source", p->source);
	}
	rows = cJSON_AddArrayToObject(j, "rows");
	for (i = 0; rows != NULL && i < res->n; i++)
		cJSON_AddItemToArray(rows, row_json(&res->rows[i], kind, by,
		    0));
	cJSON_AddItemToObject(j, "total", row_json(&res->total, kind, by, 1));
	if ((s = cJSON_Print(j)) == NULL) {
		cJSON_Delete(j);
		return -1;
	}
	fprintf(out, "%s\n", s);
	free(s);
	cJSON_Delete(j);
	return 0;
}

static void
csv_field(FILE *out, const char *s)
{
	if (strpbrk(s, ",\"\r\n") == NULL) {
		fputs(s, out);
		return;
	}
	fputc('"', out);
	for (; *s != '\0'; s++) {
		if (*s == '"')
			fputc('"', out);
		fputc(*s, out);
	}
	fputc('"', out);
}

static void
print_csv(FILE *out, const struct rpt_result *res, int kind, int by)
{
	char a[32], b[32];
	size_t i;

	fputs(kind == RPT_WINDOWS ? "window,started_at,resets_at,"
	    "peak_utilization" : "period", out);
	if (by != RPT_BY_NONE)
		fprintf(out, ",%s", by_names[by]);
	fputs(",requests,input,output,cache_creation_input,cache_read_input,"
	    "cost_usd\n", out);
	for (i = 0; i < res->n; i++) {
		const struct rpt_row *r = &res->rows[i];

		csv_field(out, r->period);
		if (kind == RPT_WINDOWS) {
			fmt_utc(r->start, a, sizeof(a));
			fmt_utc(r->end, b, sizeof(b));
			fprintf(out, ",%s,%s,", a, b);
			if (r->peak >= 0)
				fprintf(out, "%.1f", r->peak);
		}
		if (by != RPT_BY_NONE) {
			fputc(',', out);
			csv_field(out, r->group);
		}
		fprintf(out, ",%lld,%lld,%lld,%lld,%lld,%.6f\n",
		    (long long)r->requests, (long long)r->input,
		    (long long)r->output, (long long)r->cache_creation_input,
		    (long long)r->cache_read_input, r->cost_usd);
	}
}

#define NCOLS	10

static void
print_table(FILE *out, const struct rpt_result *res, int kind, int by,
    const struct rpt_pricing *p)
{
	char a[32];
	int width[NCOLS], right[NCOLS], ncol = 0, c;
	const char *head[NCOLS];
	size_t i, nr = res->n + 1;
	char (*cells)[NCOLS][64];
	int unpriced = res->total.unpriced;

	if (kind == RPT_WINDOWS) {
		head[ncol] = "window"; right[ncol++] = 0;
		head[ncol] = "resets (local)"; right[ncol++] = 0;
		head[ncol] = "peak"; right[ncol++] = 1;
	} else {
		head[ncol] = kind == RPT_WEEKLY ? "week of" :
		    kind == RPT_MONTHLY ? "month" : "day";
		right[ncol++] = 0;
	}
	if (by != RPT_BY_NONE) {
		head[ncol] = by_names[by];
		right[ncol++] = 0;
	}
	head[ncol] = "requests"; right[ncol++] = 1;
	head[ncol] = "input"; right[ncol++] = 1;
	head[ncol] = "output"; right[ncol++] = 1;
	head[ncol] = "cache write"; right[ncol++] = 1;
	head[ncol] = "cache read"; right[ncol++] = 1;
	head[ncol] = "cost (USD)"; right[ncol++] = 1;
	if ((cells = calloc(nr, sizeof(*cells))) == NULL)
		return;
	for (i = 0; i < nr; i++) {
		const struct rpt_row *r = i < res->n ? &res->rows[i] :
		    &res->total;
		int k = 0;

		if (i == res->n) {
			snprintf(cells[i][k++], 64, "total");
			if (kind == RPT_WINDOWS) {
				cells[i][k++][0] = '\0';
				cells[i][k++][0] = '\0';
			}
			if (by != RPT_BY_NONE)
				cells[i][k++][0] = '\0';
		} else {
			snprintf(cells[i][k++], 64, "%s", r->period);
			if (kind == RPT_WINDOWS) {
				fmt_local(r->end, a, sizeof(a));
				snprintf(cells[i][k++], 64, "%s", a);
				if (r->peak >= 0)
					snprintf(cells[i][k++], 64, "%.1f %%",
					    r->peak);
				else
					snprintf(cells[i][k++], 64, "-");
			}
			if (by != RPT_BY_NONE)
				snprintf(cells[i][k++], 64, "%.63s",
				    r->group);
		}
		cli_fmt_count(r->requests, cells[i][k++], 64);
		cli_fmt_count(r->input, cells[i][k++], 64);
		cli_fmt_count(r->output, cells[i][k++], 64);
		cli_fmt_count(r->cache_creation_input, cells[i][k++], 64);
		cli_fmt_count(r->cache_read_input, cells[i][k++], 64);
		snprintf(cells[i][k++], 64, "%s%.2f", r->unpriced ? "*" : "",
		    r->cost_usd);
	}
	for (c = 0; c < ncol; c++) {
		width[c] = (int)strlen(head[c]);
		for (i = 0; i < nr; i++)
			if ((int)strlen(cells[i][c]) > width[c])
				width[c] = (int)strlen(cells[i][c]);
	}
	for (c = 0; c < ncol; c++)
		fprintf(out, "%s%*s", c ? "  " : "", right[c] ? width[c] :
		    -width[c], head[c]);
	fputc('\n', out);
	for (i = 0; i < nr; i++) {
		if (i == res->n) {
			int w = 0;

			for (c = 0; c < ncol; c++)
				w += width[c] + (c ? 2 : 0);
			for (c = 0; c < w; c++)
				fputc('-', out);
			fputc('\n', out);
		}
		for (c = 0; c < ncol; c++)
			fprintf(out, "%s%*s", c ? "  " : "", right[c] ?
			    width[c] : -width[c], cells[i][c]);
		fputc('\n', out);
	}
	fprintf(out, "\n%s dates are local time; cost is an estimate from "
	    "the %s price table (%s)%s\n", kind == RPT_WINDOWS ? "Reset" :
	    "Period", p->date, p->source, unpriced ?
	    "; * some tokens of models without a price count as $0" : "");
	free(cells);
}

int
rpt_print(FILE *out, const struct rpt_result *res, int kind, int by,
    int fmt, const struct rpt_pricing *p)
{
	if (fmt == RPT_JSON)
		return print_json(out, res, kind, by, p);
	if (fmt == RPT_CSV)
		print_csv(out, res, kind, by);
	else
		print_table(out, res, kind, by, p);
	return 0;
}

int
rpt_parse_date(const char *s, int days, time_t *out)
{
	struct tm tm;
	int y, m, d, n = 0;

	if (strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &n) !=
	    3 || n != 10 || s[4] != '-' || s[7] != '-' || y < 1970 ||
	    y > 9999 || m < 1 || m > 12 || d < 1 || d > 31)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = d + days;
	tm.tm_isdst = -1;
	if ((*out = mktime(&tm)) == (time_t)-1)
		return -1;
	if (days == 0 && (tm.tm_mday != d || tm.tm_mon != m - 1))
		return -1;		/* 2026-02-31 */
	return 0;
}

/* -- the command -------------------------------------------------------- */

static void
report_usage(FILE *f)
{
	fprintf(f,
	    "usage: ratetap report daily|weekly|monthly|windows\n"
	    "                      [--by model|program|project]\n"
	    "                      [--since DATE] [--until DATE] "
	    "[--json|--csv]\n"
	    "\n"
	    "History from the ledger ($XDG_STATE_HOME/ratetap/ledger.db).\n"
	    "DATE is YYYY-MM-DD in local time; --until includes that day.\n"
	    "Weeks start on Monday.  cost_usd is an estimate from the price\n"
	    "table (override: $XDG_CONFIG_HOME/ratetap/pricing.json).\n");
}

int
cli_report_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "by", required_argument, NULL, 'b' },
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "json", no_argument, NULL, 'j' },
		{ "csv", no_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	static struct rpt_pricing pricing;
	struct rpt_result res;
	char dir[4096], path[4200], err[512];
	time_t since = 0, until = 0;
	int kind = -1, by = RPT_BY_NONE, fmt = RPT_TABLE, c, i, rc;
	sqlite3 *db = NULL;
	struct stat st;

	optind = 0;	/* glibc: re-initialise (main() parsed with "+") */
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			for (i = 1; i < 4; i++)
				if (strcmp(optarg, by_names[i]) == 0)
					by = i;
			if (by == RPT_BY_NONE) {
				cli_errx("report: --by %s: expected model, "
				    "program or project", optarg);
				return CLI_EXIT_USAGE;
			}
			break;
		case 's':
		case 'u':
			/* --until DATE includes DATE: up to the next
			   local midnight (a valid date checked first) */
			if (rpt_parse_date(optarg, 0, c == 'u' ? &until :
			    &since) == -1 || (c == 'u' &&
			    rpt_parse_date(optarg, 1, &until) == -1)) {
				cli_errx("report: --%s %s: expected a date "
				    "YYYY-MM-DD", c == 'u' ? "until" : "since",
				    optarg);
				return CLI_EXIT_USAGE;
			}
			break;
		case 'j':
			fmt = RPT_JSON;
			break;
		case 'c':
			fmt = RPT_CSV;
			break;
		case 'h':
			report_usage(stdout);
			return 0;
		default:
			report_usage(stderr);
			return CLI_EXIT_USAGE;
		}
	}
	/* the kind may come before or after the options */
	for (i = optind; i < argc; i++) {
		int k, found = -1;

		for (k = 0; k < 4; k++)
			if (strcmp(argv[i], kind_names[k]) == 0)
				found = k;
		if (found == -1 || kind != -1) {
			cli_errx("report: unexpected argument '%s'", argv[i]);
			report_usage(stderr);
			return CLI_EXIT_USAGE;
		}
		kind = found;
	}
	if (kind == -1) {
		report_usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (since != 0 && until != 0 && until <= since) {
		cli_errx("report: --until is before --since");
		return CLI_EXIT_USAGE;
	}
	if (rpt_pricing_load(&pricing, err, sizeof(err)) == -1) {
		cli_errx("report: %s", err);
		return 1;
	}
	if (rt_state_dir(dir, sizeof(dir)) == -1) {
		cli_errx("report: no state directory: set XDG_STATE_HOME or "
		    "HOME");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/ledger.db", dir);
	memset(&res, 0, sizeof(res));
	if (stat(path, &st) == -1 && errno == ENOENT) {
		cli_errx("report: no history yet (%s does not exist; ratetapd "
		    "writes it)", path);
	} else {
		sqlite3_int64 v = 0;
		sqlite3_stmt *q;

		if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) !=
		    SQLITE_OK) {
			cli_errx("report: cannot open %s: %s", path,
			    db != NULL ? sqlite3_errmsg(db) : "out of memory");
			sqlite3_close(db);
			return 1;
		}
		sqlite3_busy_timeout(db, 5000);
		if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q,
		    NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
			v = sqlite3_column_int64(q, 0);
		else
			v = -1;
		sqlite3_finalize(q);
		if (v != 1) {
			cli_errx("report: %s: %s", path, v == -1 ?
			    sqlite3_errmsg(db) : v == 0 ? "no ledger tables "
			    "yet" : "written by a newer ratetapd");
			sqlite3_close(db);
			return 1;
		}
		/* one snapshot for every query */
		(void)sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
		rc = rpt_query(db, kind, by, since, until, &pricing, &res,
		    err, sizeof(err));
		(void)sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
		sqlite3_close(db);
		if (rc == -1) {
			cli_errx("report: %s", err);
			return 1;
		}
	}
	res.total.peak = -1;
	rc = rpt_print(stdout, &res, kind, by, fmt, &pricing);
	rpt_result_free(&res);
	if (rc == -1 || fflush(stdout) == EOF || ferror(stdout)) {
		cli_errx("report: cannot write the output");
		return 1;
	}
	return 0;
}
