/*
 * The state file (docs/tracker.md, "State file"): the whole tracker as
 * versioned JSON, written atomically and read back with every field
 * checked.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "ratetap/errbuf.h"
#include "ratetap/paths.h"
#include "ratetap/status_keys.h"
#include "state.h"
#include "tracker.h"

#define STATE_VERSION	1
#define STATE_MAX	(4 * 1024 * 1024)	/* larger files are refused */

/* ---- writing ---- */

static int
ok(const cJSON *item)
{
	return item != NULL;
}

/*
 * Numbers are written as raw text: cJSON's own printer keeps only 15
 * significant digits, and the file must give back exactly what was saved.
 */
static cJSON *
put_int(cJSON *o, const char *key, int64_t v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lld", (long long)v);
	return cJSON_AddRawToObject(o, key, buf);
}

static cJSON *
put_opt(cJSON *o, const char *key, int has, double v)
{
	char buf[64];

	if (!has || !isfinite(v))
		return cJSON_AddNullToObject(o, key);
	/* the shortest of 15 or 17 digits that reads back the same */
	snprintf(buf, sizeof(buf), "%.15g", v);
	if (strtod(buf, NULL) != v)
		snprintf(buf, sizeof(buf), "%.17g", v);
	return cJSON_AddRawToObject(o, key, buf);
}

static cJSON *
put_str(cJSON *o, const char *key, const char *s)
{
	return s != NULL ? cJSON_AddStringToObject(o, key, s) :
	    cJSON_AddNullToObject(o, key);
}

static cJSON *
put_tokens(cJSON *o, const char *key, const struct trk_tokens *tk)
{
	cJSON *r = cJSON_AddObjectToObject(o, key);

	if (r == NULL || !ok(put_int(r, "input", tk->input)) ||
	    !ok(put_int(r, "output", tk->output)) ||
	    !ok(put_int(r, "cache_creation_input", tk->cache_creation_input)) ||
	    !ok(put_int(r, "cache_read_input", tk->cache_read_input)))
		return NULL;
	return r;
}

static cJSON *
put_table(cJSON *o, const char *key, const struct trk_named *tab, int n)
{
	cJSON *arr, *row;
	int i;

	if ((arr = cJSON_AddArrayToObject(o, key)) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		if ((row = cJSON_CreateObject()) == NULL)
			return NULL;
		if (!cJSON_AddItemToArray(arr, row))
			return NULL;
		if (!ok(cJSON_AddStringToObject(row, "name", tab[i].name)) ||
		    !ok(put_int(row, "requests", tab[i].requests)) ||
		    !ok(put_tokens(row, "tokens", &tab[i].tokens)))
			return NULL;
	}
	return arr;
}

static const char *const match_names[] = { "all", "model", "none" };

static cJSON *
put_money(cJSON *o, const char *key, const struct trk_money *m)
{
	cJSON *r;

	if (!m->known)
		return cJSON_AddNullToObject(o, key);
	if ((r = cJSON_AddObjectToObject(o, key)) == NULL ||
	    !ok(put_int(r, "amount_minor", m->amount_minor)) ||
	    !ok(put_int(r, "exponent", m->exponent)) ||
	    !ok(cJSON_AddStringToObject(r, "currency", m->currency)))
		return NULL;
	return r;
}

static cJSON *
put_spend(cJSON *o, const struct trk_spend *sp)
{
	cJSON *r;

	if ((r = cJSON_AddObjectToObject(o, "spend")) == NULL ||
	    !ok(put_money(r, "used", &sp->used)) ||
	    !ok(put_money(r, "limit", &sp->limit)) ||
	    !ok(put_opt(r, "percent", sp->has_percent, sp->percent)) ||
	    !ok(put_int(r, "enabled", sp->enabled)) ||
	    !ok(cJSON_AddStringToObject(r, "disabled_reason",
	    sp->disabled_reason)))
		return NULL;
	return r;
}

/* The journal reader's position and memory (struct trk_jrn). */
static int
put_journal(cJSON *root, const struct trk_jrn *j)
{
	cJSON *o, *arr, *row;
	char buf[32];
	int i;

	if ((o = cJSON_AddObjectToObject(root, "journal")) == NULL ||
	    !ok(put_int(o, "offset", j->offset)) ||
	    !ok(put_int(o, "inode", (int64_t)j->ino)) ||
	    !ok(put_int(o, "records", j->records)) ||
	    !ok(put_int(o, "repeats", j->repeats)) ||
	    !ok(put_int(o, "corrupt_bytes", j->corrupt_bytes)) ||
	    !ok(put_int(o, "refused", j->refused)) ||
	    !ok(put_int(o, "tick", j->tick)) ||
	    (arr = cJSON_AddArrayToObject(o, "seen")) == NULL)
		return -1;
	for (i = 0; i < j->nseen; i++) {
		const struct trk_seen *w = &j->seen[i];

		if ((row = cJSON_CreateObject()) == NULL)
			return -1;
		cJSON_AddItemToArray(arr, row);
		snprintf(buf, sizeof(buf), "%llu",
		    (unsigned long long)w->stamp);
		if (!ok(put_int(row, "pid", w->pid)) ||
		    !ok(cJSON_AddStringToObject(row, "stamp", buf)) ||
		    !ok(put_int(row, "max_seq", w->max_seq)))
			return -1;
		snprintf(buf, sizeof(buf), "%016llx",
		    (unsigned long long)w->below);
		if (!ok(cJSON_AddStringToObject(row, "below", buf)) ||
		    !ok(put_int(row, "used", w->used)))
			return -1;
	}
	return 0;
}

static cJSON *
state_to_json(const struct trk *t)
{
	cJSON *root, *o, *w, *r;
	int i;

	if ((root = cJSON_CreateObject()) == NULL)
		return NULL;
	if (!ok(put_int(root, "version", STATE_VERSION)) ||
	    (o = cJSON_AddObjectToObject(root, "windows")) == NULL)
		goto err;
	for (i = 0; i < t->nwin && i < TRK_WIN_MAX; i++) {
		const struct trk_window *win = &t->win[i];

		if ((w = cJSON_AddObjectToObject(o, win->name)) == NULL ||
		    !ok(put_opt(w, "utilization", win->has_util,
		    win->utilization)) ||
		    !ok(put_int(w, "resets_at", win->resets_at)) ||
		    !ok(put_tokens(w, "tokens", &win->tokens)) ||
		    !ok(put_int(w, "rollovers", win->rollovers)) ||
		    !ok(cJSON_AddBoolToObject(w, "warned", win->warned)) ||
		    !ok(put_str(w, "source", trk_src_name(win->source))) ||
		    !ok(put_int(w, "observed_at", win->observed_at)) ||
		    !ok(put_int(w, "prev_reset", win->prev_reset)) ||
		    !ok(put_str(w, "status", trk_ustatus_name(win->status))) ||
		    !ok(put_str(w, "label", win->label)) ||
		    !ok(put_str(w, "match", match_names[win->match])) ||
		    !ok(put_str(w, "match_word", win->match_word)))
			goto err;
	}
	if (t->spend.known && !ok(put_spend(root, &t->spend)))
		goto err;

	if ((o = cJSON_AddObjectToObject(root, "extra_usage")) == NULL ||
	    !ok(cJSON_AddBoolToObject(o, "known", t->extra.known)) ||
	    !ok(cJSON_AddBoolToObject(o, "is_enabled", t->extra.is_enabled)) ||
	    !ok(put_opt(o, "monthly_limit", t->extra.has_monthly_limit,
	    t->extra.monthly_limit)) ||
	    !ok(put_opt(o, "used_credits", t->extra.has_used_credits,
	    t->extra.used_credits)) ||
	    !ok(put_opt(o, "utilization", t->extra.has_util,
	    t->extra.utilization)))
		goto err;

	if ((o = cJSON_AddObjectToObject(root, "api_limits")) == NULL)
		goto err;
	for (i = 0; i < TRK_API_COUNT; i++) {
		const struct trk_api_limit *l = &t->api[i];

		if ((w = cJSON_AddObjectToObject(o, trk_api_name(i))) == NULL ||
		    !ok(cJSON_AddBoolToObject(w, "known", l->known)) ||
		    !ok(put_int(w, "limit", l->limit)) ||
		    !ok(put_int(w, "remaining", l->remaining)) ||
		    !ok(put_int(w, "reset", l->reset)))
			goto err;
	}

	if (!ok(put_str(root, "unified_status",
	    trk_ustatus_name(t->unified_status))) ||
	    !ok(put_str(root, "representative_claim",
	    trk_claim_name(t->representative_claim))) ||
	    !ok(put_int(root, "last_event", t->last_event)) ||
	    !ok(put_int(root, "retry_after", t->retry_after)) ||
	    !ok(put_int(root, "retry_after_at", t->retry_after_at)))
		goto err;

	if ((o = cJSON_AddObjectToObject(root, "requests")) == NULL ||
	    !ok(put_int(o, "total", t->requests_total)) ||
	    !ok(put_int(o, "rate_limited", t->requests_rate_limited)) ||
	    !ok(put_int(o, "overloaded", t->requests_overloaded)) ||
	    !ok(put_int(o, "errors", t->requests_errors)) ||
	    !ok(put_int(o, "usage_unreadable", t->usage_unreadable)) ||
	    !ok(put_int(o, "cut_short", t->requests_cut_short)) ||
	    !ok(put_tokens(root, "tokens_total", &t->tokens_total)))
		goto err;

	if ((o = cJSON_AddObjectToObject(root, "ingest")) == NULL ||
	    !ok(put_int(o, "accepted", t->datagrams_accepted)) ||
	    (r = cJSON_AddObjectToObject(o, "rejected")) == NULL)
		goto err;
	for (i = RTP_OK + 1; i < RTP_E_COUNT; i++)
		if (!ok(put_int(r, rtp_strerror(i), t->datagrams_rejected[i])))
			goto err;
	if (!ok(put_int(o, "foreign_uid", t->datagrams_foreign)) ||
	    !ok(put_int(o, "client_drops", t->client_drops)))
		goto err;

	if ((o = cJSON_AddObjectToObject(root, "poll")) == NULL ||
	    !ok(put_int(o, "last_ok", t->poll_last_ok)) ||
	    !ok(put_int(o, "last_attempt", t->poll_last_attempt)) ||
	    !ok(cJSON_AddStringToObject(o, "last_error",
	    t->poll_last_error)) ||
	    !ok(put_int(o, "ok_total", t->poll_ok_total)) ||
	    !ok(put_int(o, "fail_total", t->poll_fail_total)))
		goto err;

	if (!ok(put_table(root, "models", t->models, t->nmodels)) ||
	    !ok(put_table(root, "programs", t->progs, t->nprogs)) ||
	    put_journal(root, &t->jrn) == -1)
		goto err;
	if (t->tx.save != NULL || t->tx.loaded != NULL) {
		/* the transcripts' offsets and memory (daemon/transcripts.c) */
		cJSON *x = t->tx.save != NULL ? t->tx.save(t->tx.arg) :
		    cJSON_Duplicate(t->tx.loaded, 1);

		if (x == NULL || !cJSON_AddItemToObject(root, "transcripts",
		    x)) {
			cJSON_Delete(x);
			goto err;
		}
	}
	return root;
err:
	cJSON_Delete(root);
	return NULL;
}

static int
write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, buf, len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* fsync the directory holding path, so that a rename survives a crash. */
static int
sync_dir(const char *path)
{
	char dir[RT_FILE_MAX];
	char *slash;
	int fd, r, e;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	slash = strrchr(dir, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		return -1;
	r = fsync(fd);
	e = errno;
	close(fd);
	errno = e;
	return r;
}

int
state_save(const struct trk *t, const char *path, char *err, size_t errlen)
{
	char tmp[RT_FILE_MAX];
	cJSON *root = NULL;
	char *text = NULL;
	int fd = -1, e;
	int made_tmp = 0;

	if (path == NULL || *path == '\0' ||
	    snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		rt_seterr(err, errlen, "state path too long");
		goto err;
	}
	if ((root = state_to_json(t)) == NULL ||
	    (text = cJSON_Print(root)) == NULL) {
		errno = ENOMEM;
		rt_seterr(err, errlen, "out of memory");
		goto err;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd == -1) {
		rt_seterr(err, errlen, "%s: %s", tmp, strerror(errno));
		goto err;
	}
	made_tmp = 1;
	if (write_all(fd, text, strlen(text)) == -1 ||
	    write_all(fd, "\n", 1) == -1) {
		rt_seterr(err, errlen, "write %s: %s", tmp, strerror(errno));
		goto err;
	}
	if (fsync(fd) == -1) {
		rt_seterr(err, errlen, "fsync %s: %s", tmp, strerror(errno));
		goto err;
	}
	e = close(fd);
	fd = -1;
	if (e == -1) {
		rt_seterr(err, errlen, "close %s: %s", tmp, strerror(errno));
		goto err;
	}
	if (rename(tmp, path) == -1) {
		rt_seterr(err, errlen, "rename to %s: %s", path, strerror(errno));
		goto err;
	}
	made_tmp = 0;
	if (sync_dir(path) == -1) {
		rt_seterr(err, errlen, "fsync of the directory of %s: %s", path,
		    strerror(errno));
		goto err;
	}
	cJSON_free(text);
	cJSON_Delete(root);
	return 0;
err:
	e = errno;
	if (fd != -1)
		close(fd);
	if (made_tmp)
		unlink(tmp);
	cJSON_free(text);
	cJSON_Delete(root);
	errno = e;
	return -1;
}

/* ---- reading ---- */

/* A reader: the error buffer, filled once by the first failure. */
struct rd {
	char *err;
	size_t errlen;
};

static int
bad(struct rd *rd, const char *ctx, const char *key, const char *what)
{
	rt_seterr(rd->err, rd->errlen, "%s%s%s: %s", ctx, *ctx ? "." : "", key,
	    what);
	return -1;
}

/* The member key of obj; absent, duplicated or (unless null_ok) null is
 * an error. */
static int
get(struct rd *rd, const cJSON *obj, const char *ctx, const char *key,
    const cJSON **out)
{
	const cJSON *c;
	int n = 0;

	*out = NULL;
	cJSON_ArrayForEach(c, obj) {
		if (c->string != NULL && strcmp(c->string, key) == 0) {
			*out = c;
			n++;
		}
	}
	if (n == 0)
		return bad(rd, ctx, key, "missing");
	if (n > 1)
		return bad(rd, ctx, key, "appears twice");
	return 0;
}

static int
get_obj(struct rd *rd, const cJSON *obj, const char *ctx, const char *key,
    const cJSON **out)
{
	if (get(rd, obj, ctx, key, out) == -1)
		return -1;
	if (!cJSON_IsObject(*out))
		return bad(rd, ctx, key, "not an object");
	return 0;
}

static int
get_int(struct rd *rd, const cJSON *obj, const char *ctx, const char *key,
    int64_t min, int64_t max, int64_t *out)
{
	const cJSON *c;
	double d;

	if (get(rd, obj, ctx, key, &c) == -1)
		return -1;
	if (!cJSON_IsNumber(c))
		return bad(rd, ctx, key, "not a number");
	d = c->valuedouble;
	if (!isfinite(d) || floor(d) != d)
		return bad(rd, ctx, key, "not an integer");
	if (d < (double)min || d > (double)max)
		return bad(rd, ctx, key, "out of range");
	*out = (int64_t)d;
	return 0;
}

static int
get_time(struct rd *rd, const cJSON *obj, const char *ctx, const char *key,
    time_t *out)
{
	int64_t v;

	if (get_int(rd, obj, ctx, key, 0, TRK_TIME_MAX, &v) == -1)
		return -1;
	*out = (time_t)v;
	return 0;
}

static int
get_count(struct rd *rd, const cJSON *obj, const char *ctx, const char *key,
    int64_t *out)
{
	return get_int(rd, obj, ctx, key, 0, TRK_COUNT_MAX, out);
}

static int
get_bool(struct rd *rd, const cJSON *obj, const char *ctx, const char *key,
    int *out)
{
	const cJSON *c;

	if (get(rd, obj, ctx, key, &c) == -1)
		return -1;
	if (!cJSON_IsBool(c))
		return bad(rd, ctx, key, "not a boolean");
	*out = cJSON_IsTrue(c) ? 1 : 0;
	return 0;
}

/* null, or a finite number in [0, max] */
static int
get_opt(struct rd *rd, const cJSON *obj, const char *ctx, const char *key,
    double max, int *has, double *out)
{
	const cJSON *c;

	if (get(rd, obj, ctx, key, &c) == -1)
		return -1;
	*has = 0;
	*out = 0.0;
	if (cJSON_IsNull(c))
		return 0;
	if (!cJSON_IsNumber(c))
		return bad(rd, ctx, key, "not a number or null");
	if (!isfinite(c->valuedouble) || c->valuedouble < 0.0 ||
	    c->valuedouble > max)
		return bad(rd, ctx, key, "out of range");
	*has = 1;
	*out = c->valuedouble;
	return 0;
}

/* A printable ASCII string shorter than size, copied into buf. */
static int
get_str(struct rd *rd, const cJSON *obj, const char *ctx, const char *key,
    char *buf, size_t size)
{
	const cJSON *c;
	const char *s;
	size_t i;

	if (get(rd, obj, ctx, key, &c) == -1)
		return -1;
	if (!cJSON_IsString(c) || c->valuestring == NULL)
		return bad(rd, ctx, key, "not a string");
	s = c->valuestring;
	for (i = 0; s[i] != '\0'; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch < 0x20 || ch >= 0x7f)
			return bad(rd, ctx, key, "not printable ASCII");
		if (i + 1 >= size)
			return bad(rd, ctx, key, "too long");
	}
	memcpy(buf, s, i + 1);
	return 0;
}

/* null or one of names[lo..hi] (by name() of the index) */
static int
get_enum(struct rd *rd, const cJSON *obj, const char *key, int lo, int hi,
    const char *(*name)(int), int *out)
{
	const cJSON *c;
	int i;

	if (get(rd, obj, "", key, &c) == -1)
		return -1;
	*out = 0;
	if (cJSON_IsNull(c))
		return 0;
	if (!cJSON_IsString(c) || c->valuestring == NULL)
		return bad(rd, "", key, "not a string or null");
	for (i = lo; i <= hi; i++) {
		if (name(i) != NULL && strcmp(name(i), c->valuestring) == 0) {
			*out = i;
			return 0;
		}
	}
	return bad(rd, "", key, "unknown value");
}

static int
get_tokens(struct rd *rd, const cJSON *obj, const char *ctx, const char *key,
    struct trk_tokens *tk)
{
	const cJSON *o;
	char sub[96];

	if (get_obj(rd, obj, ctx, key, &o) == -1)
		return -1;
	snprintf(sub, sizeof(sub), "%s%s%s", ctx, *ctx ? "." : "", key);
	if (get_count(rd, o, sub, "input", &tk->input) == -1 ||
	    get_count(rd, o, sub, "output", &tk->output) == -1 ||
	    get_count(rd, o, sub, "cache_creation_input",
	    &tk->cache_creation_input) == -1 ||
	    get_count(rd, o, sub, "cache_read_input",
	    &tk->cache_read_input) == -1)
		return -1;
	return 0;
}

static int
get_table(struct rd *rd, const cJSON *root, const char *key,
    struct trk_named *tab, int *n, int max)
{
	const cJSON *arr, *row;
	char ctx[64];
	int i, j, count;

	if (get(rd, root, "", key, &arr) == -1)
		return -1;
	if (!cJSON_IsArray(arr))
		return bad(rd, "", key, "not an array");
	count = cJSON_GetArraySize(arr);
	if (count < 0 || count > max)
		return bad(rd, "", key, "too many rows");
	i = 0;
	cJSON_ArrayForEach(row, arr) {
		struct trk_named *r = &tab[i];

		snprintf(ctx, sizeof(ctx), "%s[%d]", key, i);
		if (!cJSON_IsObject(row))
			return bad(rd, "", ctx, "not an object");
		memset(r, 0, sizeof(*r));
		if (get_str(rd, row, ctx, "name", r->name,
		    sizeof(r->name)) == -1 ||
		    get_count(rd, row, ctx, "requests", &r->requests) == -1 ||
		    get_tokens(rd, row, ctx, "tokens", &r->tokens) == -1)
			return -1;
		if (r->name[0] == '\0')
			return bad(rd, ctx, "name", "empty");
		for (j = 0; j < i; j++)
			if (strcmp(tab[j].name, r->name) == 0)
				return bad(rd, ctx, "name", "duplicate");
		i++;
	}
	*n = i;
	return 0;
}

/* 1 when obj has key (once or more), for the keys added since version 1
 * was first written: absent means the old default. */
static int
has(const cJSON *obj, const char *key)
{
	const cJSON *c;

	cJSON_ArrayForEach(c, obj)
		if (c->string != NULL && strcmp(c->string, key) == 0)
			return 1;
	return 0;
}

/* null or a string of names() for lo..hi into *out (0 for null) */
static int
get_name_in(struct rd *rd, const cJSON *obj, const char *ctx,
    const char *key, int lo, int hi, const char *(*name)(int), int *out)
{
	const cJSON *c;
	int i;

	if (get(rd, obj, ctx, key, &c) == -1)
		return -1;
	*out = 0;
	if (cJSON_IsNull(c))
		return 0;
	if (!cJSON_IsString(c) || c->valuestring == NULL)
		return bad(rd, ctx, key, "not a string or null");
	for (i = lo; i <= hi; i++)
		if (name(i) != NULL && strcmp(name(i), c->valuestring) == 0) {
			*out = i;
			return 0;
		}
	return bad(rd, ctx, key, "unknown value");
}

static const char *
match_name(int m)
{
	return m >= 0 && m <= TRK_MATCH_NONE ? match_names[m] : NULL;
}

/* A window's record; the keys after "warned" are optional (older files). */
static int
get_window(struct rd *rd, const cJSON *w, struct trk_window *win)
{
	char ctx[64];
	int m;

	snprintf(ctx, sizeof(ctx), "windows.%s", win->name);
	if (get_opt(rd, w, ctx, "utilization", TRK_UTIL_MAX,
	    &win->has_util, &win->utilization) == -1 ||
	    get_time(rd, w, ctx, "resets_at", &win->resets_at) == -1 ||
	    get_tokens(rd, w, ctx, "tokens", &win->tokens) == -1 ||
	    get_count(rd, w, ctx, "rollovers", &win->rollovers) == -1 ||
	    get_bool(rd, w, ctx, "warned", &win->warned) == -1)
		return -1;
	if ((has(w, "source") && get_name_in(rd, w, ctx, "source",
	    TRK_SRC_HEADER, TRK_SRC_COUNT - 1, trk_src_name,
	    &win->source) == -1) ||
	    (has(w, "observed_at") && get_time(rd, w, ctx, "observed_at",
	    &win->observed_at) == -1) ||
	    (has(w, "prev_reset") && get_time(rd, w, ctx, "prev_reset",
	    &win->prev_reset) == -1) ||
	    (has(w, "status") && get_name_in(rd, w, ctx, "status",
	    RTP_US_ALLOWED, RTP_US_MAX, trk_ustatus_name,
	    &win->status) == -1) ||
	    (has(w, "label") && get_str(rd, w, ctx, "label", win->label,
	    sizeof(win->label)) == -1))
		return -1;
	if (has(w, "match")) {
		if (get_name_in(rd, w, ctx, "match", TRK_MATCH_ALL,
		    TRK_MATCH_NONE, match_name, &m) == -1 ||
		    get_str(rd, w, ctx, "match_word", win->match_word,
		    sizeof(win->match_word)) == -1)
			return -1;
		if (cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(w, "match")))
			return bad(rd, ctx, "match", "null");
		/* the fixed windows' rule is not the file's to change */
		if (strcmp(win->name, RT_WIN_FIVE_HOUR) != 0 &&
		    strcmp(win->name, RT_WIN_SEVEN_DAY) != 0 &&
		    strcmp(win->name, RT_WIN_SEVEN_DAY_SONNET) != 0 &&
		    strcmp(win->name, RT_WIN_SEVEN_DAY_OPUS) != 0)
			win->match = m == TRK_MATCH_ALL ? TRK_MATCH_NONE : m;
	}
	return 0;
}

static int
get_money(struct rd *rd, const cJSON *o, const char *key,
    struct trk_money *m)
{
	const cJSON *c;
	int64_t v;

	memset(m, 0, sizeof(*m));
	if (get(rd, o, "spend", key, &c) == -1)
		return -1;
	if (cJSON_IsNull(c))
		return 0;
	if (!cJSON_IsObject(c))
		return bad(rd, "spend", key, "not an object or null");
	if (get_int(rd, c, "spend", "amount_minor", 0,
	    (int64_t)TRK_CREDITS_MAX, &m->amount_minor) == -1 ||
	    get_int(rd, c, "spend", "exponent", 0, 9, &v) == -1 ||
	    get_str(rd, c, "spend", "currency", m->currency,
	    sizeof(m->currency)) == -1)
		return -1;
	m->exponent = (int)v;
	m->known = 1;
	return 0;
}

/* The optional "spend" object. */
static int
get_spend(struct rd *rd, const cJSON *root, struct trk_spend *sp)
{
	const cJSON *o;
	int64_t v;

	memset(sp, 0, sizeof(*sp));
	sp->enabled = -1;
	if (!has(root, "spend"))
		return 0;
	if (get_obj(rd, root, "", "spend", &o) == -1 ||
	    get_money(rd, o, "used", &sp->used) == -1 ||
	    get_money(rd, o, "limit", &sp->limit) == -1 ||
	    get_opt(rd, o, "spend", "percent", TRK_UTIL_MAX, &sp->has_percent,
	    &sp->percent) == -1 ||
	    get_int(rd, o, "spend", "enabled", -1, 1, &v) == -1 ||
	    get_str(rd, o, "spend", "disabled_reason", sp->disabled_reason,
	    sizeof(sp->disabled_reason)) == -1)
		return -1;
	sp->enabled = (int)v;
	sp->known = 1;
	return 0;
}

/* A string of decimal (base 10) or hex (16) digits into *out. */
static int
get_u64(struct rd *rd, const cJSON *obj, const char *ctx, const char *key,
    int base, uint64_t *out)
{
	const cJSON *c;
	char *end;

	if (get(rd, obj, ctx, key, &c) == -1)
		return -1;
	if (!cJSON_IsString(c) || c->valuestring == NULL ||
	    c->valuestring[0] == '\0' || c->valuestring[0] == '-' ||
	    strlen(c->valuestring) > 20)
		return bad(rd, ctx, key, "not a string of digits");
	errno = 0;
	*out = strtoull(c->valuestring, &end, base);
	if (*end != '\0' || errno != 0)
		return bad(rd, ctx, key, "not a string of digits");
	return 0;
}

/* The "journal" object: absent in a state file written before the
 * journal existed (the journal is then read from its start). */
static int
get_journal(struct rd *rd, const cJSON *root, struct trk_jrn *j)
{
	const cJSON *o, *arr, *row;
	int64_t v;
	int n = 0;

	if (cJSON_GetObjectItemCaseSensitive(root, "journal") == NULL)
		return 0;
	if (get_obj(rd, root, "", "journal", &o) == -1 ||
	    get_count(rd, o, "journal", "offset", &j->offset) == -1 ||
	    get_count(rd, o, "journal", "inode", &v) == -1 ||
	    get_count(rd, o, "journal", "records", &j->records) == -1 ||
	    get_count(rd, o, "journal", "repeats", &j->repeats) == -1 ||
	    get_count(rd, o, "journal", "corrupt_bytes",
	    &j->corrupt_bytes) == -1 ||
	    get_count(rd, o, "journal", "refused", &j->refused) == -1 ||
	    get_count(rd, o, "journal", "tick", &j->tick) == -1 ||
	    get(rd, o, "journal", "seen", &arr) == -1)
		return -1;
	j->ino = (uint64_t)v;
	if (!cJSON_IsArray(arr))
		return bad(rd, "journal", "seen", "not an array");
	cJSON_ArrayForEach(row, arr) {
		struct trk_seen *w;

		if (n >= TRK_SEEN_MAX)
			return bad(rd, "journal", "seen", "too many entries");
		w = &j->seen[n];
		if (!cJSON_IsObject(row))
			return bad(rd, "journal", "seen", "not an object");
		if (get_int(rd, row, "journal.seen", "pid", 1, INT32_MAX,
		    &v) == -1)
			return -1;
		w->pid = (int32_t)v;
		if (get_u64(rd, row, "journal.seen", "stamp", 10,
		    &w->stamp) == -1 ||
		    get_int(rd, row, "journal.seen", "max_seq", 0, UINT32_MAX,
		    &v) == -1)
			return -1;
		w->max_seq = (uint32_t)v;
		if (get_u64(rd, row, "journal.seen", "below", 16,
		    &w->below) == -1 ||
		    get_count(rd, row, "journal.seen", "used", &w->used) == -1)
			return -1;
		n++;
	}
	j->nseen = n;
	j->indexed = 0;
	return 0;
}

static int
state_from_json(struct rd *rd, const cJSON *root, struct trk *t)
{
	const cJSON *o, *w, *r;
	int64_t v;
	int i;

	if (!cJSON_IsObject(root)) {
		rt_seterr(rd->err, rd->errlen, "not a JSON object");
		return -1;
	}
	if (get_int(rd, root, "", "version", 0, INT32_MAX, &v) == -1)
		return -1;
	if (v != STATE_VERSION) {
		rt_seterr(rd->err, rd->errlen, "version %lld is not %d",
		    (long long)v, STATE_VERSION);
		return -1;
	}

	if (get_obj(rd, root, "", "windows", &o) == -1)
		return -1;
	for (i = 0; i < TRK_WIN_FIXED; i++) {
		if (get_obj(rd, o, "windows", trk_win_name(i), &w) == -1 ||
		    get_window(rd, w, &t->win[i]) == -1)
			return -1;
	}
	cJSON_ArrayForEach(w, o) {
		int k;

		if (w->string == NULL || trk_win_find(t, w->string) != -1)
			continue;	/* a fixed one (a twin fails above) */
		if ((k = trk_win_get(t, w->string)) == -1)
			return bad(rd, "windows", w->string, "bad name or "
			    "too many windows");
		if (!cJSON_IsObject(w))
			return bad(rd, "windows", w->string, "not an object");
		if (get_window(rd, w, &t->win[k]) == -1)
			return -1;
	}
	if (get_spend(rd, root, &t->spend) == -1)
		return -1;

	if (get_obj(rd, root, "", "extra_usage", &o) == -1 ||
	    get_bool(rd, o, "extra_usage", "known", &t->extra.known) == -1 ||
	    get_bool(rd, o, "extra_usage", "is_enabled",
	    &t->extra.is_enabled) == -1 ||
	    get_opt(rd, o, "extra_usage", "monthly_limit", TRK_CREDITS_MAX,
	    &t->extra.has_monthly_limit, &t->extra.monthly_limit) == -1 ||
	    get_opt(rd, o, "extra_usage", "used_credits", TRK_CREDITS_MAX,
	    &t->extra.has_used_credits, &t->extra.used_credits) == -1 ||
	    get_opt(rd, o, "extra_usage", "utilization", TRK_UTIL_MAX,
	    &t->extra.has_util, &t->extra.utilization) == -1)
		return -1;

	if (get_obj(rd, root, "", "api_limits", &o) == -1)
		return -1;
	for (i = 0; i < TRK_API_COUNT; i++) {
		struct trk_api_limit *l = &t->api[i];
		char ctx[64];

		snprintf(ctx, sizeof(ctx), "api_limits.%s", trk_api_name(i));
		if (get_obj(rd, o, "api_limits", trk_api_name(i), &w) == -1 ||
		    get_bool(rd, w, ctx, "known", &l->known) == -1 ||
		    get_int(rd, w, ctx, "limit", 0, TRK_TIME_MAX,
		    &l->limit) == -1 ||
		    get_int(rd, w, ctx, "remaining", 0, TRK_TIME_MAX,
		    &l->remaining) == -1 ||
		    get_time(rd, w, ctx, "reset", &l->reset) == -1)
			return -1;
	}

	if (get_enum(rd, root, "unified_status", RTP_US_ALLOWED, RTP_US_MAX,
	    trk_ustatus_name, &t->unified_status) == -1 ||
	    get_enum(rd, root, "representative_claim", RTP_CLAIM_FIVE_HOUR,
	    RTP_CLAIM_MAX, trk_claim_name, &t->representative_claim) == -1 ||
	    get_time(rd, root, "", "last_event", &t->last_event) == -1 ||
	    get_int(rd, root, "", "retry_after", -1, TRK_TIME_MAX,
	    &t->retry_after) == -1 ||
	    get_time(rd, root, "", "retry_after_at", &t->retry_after_at) == -1)
		return -1;

	if (get_obj(rd, root, "", "requests", &o) == -1 ||
	    get_count(rd, o, "requests", "total", &t->requests_total) == -1 ||
	    get_count(rd, o, "requests", "rate_limited",
	    &t->requests_rate_limited) == -1 ||
	    get_count(rd, o, "requests", "overloaded",
	    &t->requests_overloaded) == -1 ||
	    get_count(rd, o, "requests", "errors", &t->requests_errors) == -1 ||
	    get_count(rd, o, "requests", "usage_unreadable",
	    &t->usage_unreadable) == -1 ||
	    /* absent from states saved before it was counted */
	    (cJSON_GetObjectItemCaseSensitive(o, "cut_short") != NULL &&
	    get_count(rd, o, "requests", "cut_short",
	    &t->requests_cut_short) == -1))
		return -1;
	if (get_tokens(rd, root, "", "tokens_total", &t->tokens_total) == -1)
		return -1;

	if (get_obj(rd, root, "", "ingest", &o) == -1 ||
	    get_count(rd, o, "ingest", "accepted",
	    &t->datagrams_accepted) == -1 ||
	    get_obj(rd, o, "ingest", "rejected", &r) == -1)
		return -1;
	for (i = RTP_OK + 1; i < RTP_E_COUNT; i++)
		if (get_count(rd, r, "ingest.rejected", rtp_strerror(i),
		    &t->datagrams_rejected[i]) == -1)
			return -1;
	if (get_count(rd, o, "ingest", "foreign_uid",
	    &t->datagrams_foreign) == -1 ||
	    get_count(rd, o, "ingest", "client_drops", &t->client_drops) == -1)
		return -1;

	if (get_obj(rd, root, "", "poll", &o) == -1 ||
	    get_time(rd, o, "poll", "last_ok", &t->poll_last_ok) == -1 ||
	    get_time(rd, o, "poll", "last_attempt",
	    &t->poll_last_attempt) == -1 ||
	    get_str(rd, o, "poll", "last_error", t->poll_last_error,
	    sizeof(t->poll_last_error)) == -1 ||
	    get_count(rd, o, "poll", "ok_total", &t->poll_ok_total) == -1 ||
	    get_count(rd, o, "poll", "fail_total", &t->poll_fail_total) == -1)
		return -1;

	if (get_table(rd, root, "models", t->models, &t->nmodels,
	    TRK_MAX_MODELS) == -1 ||
	    get_table(rd, root, "programs", t->progs, &t->nprogs,
	    TRK_MAX_PROGS) == -1 ||
	    get_journal(rd, root, &t->jrn) == -1)
		return -1;
	/* optional, checked by its owner (daemon/transcripts.c) */
	if (cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(root,
	    "transcripts")) && (t->tx.loaded = cJSON_Duplicate(
	    cJSON_GetObjectItemCaseSensitive(root, "transcripts"), 1)) ==
	    NULL) {
		bad(rd, "", "transcripts", "out of memory");
		return -1;
	}
	return 0;
}

int
state_load(struct trk *t, const char *path, char *err, size_t errlen)
{
	struct rd rd = { err, errlen };
	struct stat st;
	cJSON *root = NULL;
	const char *end = NULL;
	char *buf = NULL;
	size_t len = 0, cap, i;
	ssize_t n;
	int fd = -1, e;

	trk_reset(t);
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	/* O_NONBLOCK: a FIFO must not block the open (it fails S_ISREG) */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd == -1) {
		if (errno == ENOENT)
			return 1;
		rt_seterr(err, errlen, "%s", strerror(errno));
		goto err;
	}
	if (fstat(fd, &st) == -1) {
		rt_seterr(err, errlen, "fstat: %s", strerror(errno));
		goto err;
	}
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		rt_seterr(err, errlen, "not a regular file");
		goto err;
	}
	if (st.st_size > STATE_MAX) {
		errno = EFBIG;
		rt_seterr(err, errlen, "larger than %d bytes", STATE_MAX);
		goto err;
	}
	/* sized from the file, grown (up to the cap) if it grows meanwhile */
	cap = st.st_size > 0 ? (size_t)st.st_size + 1 : 4096;
	if ((buf = malloc(cap + 1)) == NULL) {
		rt_seterr(err, errlen, "out of memory");
		goto err;
	}
	for (;;) {
		if (len == cap) {
			char *nbuf;

			if (cap > STATE_MAX) {
				errno = EFBIG;
				rt_seterr(err, errlen, "larger than %d bytes",
				    STATE_MAX);
				goto err;
			}
			cap = cap * 2 > STATE_MAX + 1 ? STATE_MAX + 1 : cap * 2;
			if ((nbuf = realloc(buf, cap + 1)) == NULL) {
				rt_seterr(err, errlen, "out of memory");
				goto err;
			}
			buf = nbuf;
		}
		n = read(fd, buf + len, cap - len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			rt_seterr(err, errlen, "read: %s", strerror(errno));
			goto err;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > STATE_MAX) {
		errno = EFBIG;
		rt_seterr(err, errlen, "larger than %d bytes", STATE_MAX);
		goto err;
	}
	buf[len] = '\0';
	if (len == 0) {
		errno = EINVAL;
		rt_seterr(err, errlen, "empty file");
		goto err;
	}
	/* never written by state_save(); cJSON would read one inside a string
	   as its end, silently truncating a name */
	if (memchr(buf, '\0', len) != NULL) {
		errno = EINVAL;
		rt_seterr(err, errlen, "NUL byte in the file");
		goto err;
	}
	root = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
	if (root == NULL) {
		errno = EINVAL;
		rt_seterr(err, errlen, "not JSON");
		goto err;
	}
	for (i = end != NULL ? (size_t)(end - buf) : len; i < len; i++) {
		if (buf[i] != ' ' && buf[i] != '\t' && buf[i] != '\n' &&
		    buf[i] != '\r') {
			errno = EINVAL;
			rt_seterr(err, errlen, "trailing data after the JSON value");
			goto err;
		}
	}
	if (state_from_json(&rd, root, t) == -1) {
		errno = EINVAL;
		goto err;
	}
	cJSON_Delete(root);
	free(buf);
	close(fd);
	t->dirty = 0;
	return 0;
err:
	e = errno;
	cJSON_Delete(root);
	free(buf);
	if (fd != -1)
		close(fd);
	trk_reset(t);
	errno = e;
	return -1;
}

int
state_open(struct trk *t, const char *path, time_t now, char *aside,
    size_t asidelen, char *err, size_t errlen)
{
	int fd, n, rc;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (aside != NULL && asidelen > 0)
		aside[0] = '\0';
	/* O_NONBLOCK: a FIFO in its place must not hang the start */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1)
		return errno == ENOENT ? STATE_ABSENT : STATE_UNREADABLE;
	close(fd);
	rc = state_load(t, path, err, errlen);
	if (rc == 0)
		return STATE_LOADED;
	if (rc == 1)
		return STATE_ABSENT;
	/* several corrupt starts may happen within one second */
	for (n = 0; ; n++) {
		if (n == 0)
			snprintf(aside, asidelen, "%s.corrupt-%lld", path,
			    (long long)now);
		else
			snprintf(aside, asidelen, "%s.corrupt-%lld-%d", path,
			    (long long)now, n);
		if (renameat2(AT_FDCWD, path, AT_FDCWD, aside,
		    RENAME_NOREPLACE) == 0)
			break;
		if (errno != EEXIST || n >= 1000)
			return STATE_STUCK;
	}
	/* state_load() leaves t empty on failure; make sure of it */
	trk_reset(t);
	return STATE_RECOVERED;
}
