/*
 * Following Claude Code's transcripts (see transcripts.h and
 * docs/claude-code.md).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "transcripts.h"

#define TX_CHUNK	(256 * 1024)	/* one read */
#define TX_TICK_BYTES	(2 * 1024 * 1024) /* read per loop tick at most */
#define TX_RESCAN_MS	10000		/* the periodic rescan */
#define TX_EVENT_MS	50		/* after an inotify event */
#define TX_DEPTH_MAX	6		/* directories below projects/ */
#define TX_ROOTS_MAX	8
#define TX_MODELS_MAX	64		/* model names of the entries */
#define TX_NAME_LEN	128		/* project names, NUL included */
#define TX_TOKENS_MAX	1e12		/* a larger count is a bad line */
#define TX_STATE_VERSION 1
#define FIVE_HOURS	(5 * 3600)
#define SEVEN_DAYS	(7 * 86400)

struct tx_file {
	char *path;
	uint64_t dev, ino;
	int64_t off;		/* next byte to read: a line's start */
	int64_t partial_at;	/* size at which only a partial line was
				   left (not read again until it grows) */
	int skipping;		/* inside a line over TX_LINE_MAX */
	int gen;		/* scan that last saw it */
};

/* One counted entry: the dedupe memory and the windows' history. */
struct tx_rec {
	uint64_t key;		/* hash of (message.id, requestId) */
	uint64_t idh;		/* hash of message.id */
	time_t ts;
	int model;		/* index in x->models */
	struct trk_tokens tk;	/* counted so far */
};

/* What a window got from the transcripts. */
struct tx_win {
	char name[TRK_WIN_NAME_LEN];
	struct trk_tokens added;	/* in its tokens now */
	struct trk_tokens evicted;	/* of entries forgotten while in it */
	int64_t rollovers;		/* the window's, when last looked */
};

struct tx_proj {
	char name[TX_NAME_LEN];
	int64_t requests;
	struct trk_tokens tk;
};

struct tx_stats {
	int64_t bytes_read;
	int64_t entries;	/* requests counted */
	int64_t duplicates;	/* copies of a counted entry */
	int64_t grown;		/* of those, larger ones (the difference) */
	int64_t sidechain_replays;
	int64_t no_id;		/* usage without message.id: skipped */
	int64_t too_old;	/* older than TX_BACKFILL */
	int64_t bad_lines;	/* not JSON, wrong types, too long */
	int64_t errors;		/* files that could not be read */
	int64_t restarts;	/* files read afresh: shrunk or replaced */
};

struct tx {
	struct loop *l;
	struct trk *t;
	char *roots[TX_ROOTS_MAX];
	int nroots;
	struct tx_file *files;
	int nfiles;
	int next_file;		/* round robin */
	int gen;
	struct tx_rec *recs;	/* ring of TX_SEEN_MAX */
	int nrecs, rec_head;	/* rec_head: the oldest when full */
	char models[TX_MODELS_MAX][TRK_NAME_LEN];
	int nmodels;
	struct tx_win win[TRK_WIN_MAX];
	int nwin;
	struct tx_proj *projs;
	int nprojs;
	struct tx_stats st;
	int ino_fd;		/* inotify, -1 none */
	int64_t timer;
	int64_t next_scan_ms;
	int need_scan;
	char *buf;		/* TX_LINE_MAX + TX_CHUNK + 1 */
	tx_entry_fn *cb;
	void *cb_arg;
};

/* ---- small helpers ---- */

static uint64_t
fnv(uint64_t h, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= UINT64_C(1099511628211);
	}
	return h;
}

#define FNV_INIT	UINT64_C(14695981039346656037)

static int64_t
total(const struct trk_tokens *tk)
{
	return tk->input + tk->output + tk->cache_creation_input +
	    tk->cache_read_input;
}

static void
tk_add(struct trk_tokens *d, const struct trk_tokens *s, int sign)
{
	d->input += sign * s->input;
	d->output += sign * s->output;
	d->cache_creation_input += sign * s->cache_creation_input;
	d->cache_read_input += sign * s->cache_read_input;
}

/* Printable ASCII copy (others '?'), cut to len. */
static void
printable(const char *s, char *out, size_t len)
{
	size_t i = 0;

	for (; *s != '\0' && i + 1 < len; s++)
		out[i++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
	out[i] = '\0';
	if (i == 0)
		snprintf(out, len, "unknown");
}

static int
model_index(struct tx *x, const char *model)
{
	char clean[TRK_NAME_LEN];
	int i;

	printable(model, clean, sizeof(clean));
	for (i = 0; i < x->nmodels; i++)
		if (strcmp(x->models[i], clean) == 0)
			return i;
	if (x->nmodels < TX_MODELS_MAX - 1) {
		snprintf(x->models[x->nmodels], TRK_NAME_LEN, "%s", clean);
		return x->nmodels++;
	}
	/* the last slot: "other" */
	snprintf(x->models[TX_MODELS_MAX - 1], TRK_NAME_LEN, "other");
	x->nmodels = TX_MODELS_MAX;
	return TX_MODELS_MAX - 1;
}

static struct tx_proj *
proj_row(struct tx *x, const char *cwd)
{
	char clean[TX_NAME_LEN];
	int i;

	printable(cwd, clean, sizeof(clean));
	for (i = 0; i < x->nprojs; i++)
		if (strcmp(x->projs[i].name, clean) == 0)
			return &x->projs[i];
	if (x->nprojs >= TX_PROJ_MAX - 1) {
		for (i = 0; i < x->nprojs; i++)
			if (strcmp(x->projs[i].name, "other") == 0)
				return &x->projs[i];
		snprintf(clean, sizeof(clean), "other");
	}
	memset(&x->projs[x->nprojs], 0, sizeof(x->projs[0]));
	snprintf(x->projs[x->nprojs].name, TX_NAME_LEN, "%s", clean);
	return &x->projs[x->nprojs++];
}

static struct tx_win *
win_row(struct tx *x, const char *name)
{
	int i;

	for (i = 0; i < x->nwin; i++)
		if (strcmp(x->win[i].name, name) == 0)
			return &x->win[i];
	if (x->nwin >= TRK_WIN_MAX)
		return NULL;
	memset(&x->win[x->nwin], 0, sizeof(x->win[0]));
	snprintf(x->win[x->nwin].name, TRK_WIN_NAME_LEN, "%s", name);
	return &x->win[x->nwin++];
}

/* ---- windows ---- */

/*
 * The window instance of tracker window w at now: [*lo, *hi).  With a
 * reset time R, [R - length, R); without, from the reset of the instance
 * that ended last (or now - length) on.
 */
static void
win_span(const struct trk *t, int w, time_t now, time_t *lo, time_t *hi)
{
	const struct trk_window *win = &t->win[w];
	time_t len, r, prev;
	int base;

	len = strncmp(win->name, "five_hour", 9) == 0 ? FIVE_HOURS :
	    SEVEN_DAYS;
	r = trk_win_reset(t, w, &base);
	prev = base >= 0 ? t->win[base].prev_reset : win->prev_reset;
	if (r != 0) {
		*lo = r - len;
		*hi = r;
	} else {
		*lo = prev != 0 ? prev : now - len;
		*hi = (time_t)TRK_TIME_MAX;
	}
}

static int
rec_in(const struct tx *x, const struct tx_rec *r, int w, time_t lo,
    time_t hi)
{
	return r->ts >= lo && r->ts < hi &&
	    trk_win_counts(x->t, w, x->models[r->model]);
}

void
tx_recompute(struct tx *x, time_t now)
{
	struct trk *t = x->t;
	struct trk_tokens sum, d;
	struct tx_win *tw;
	time_t lo, hi;
	int w, i;

	for (w = 0; w < t->nwin; w++) {
		if ((tw = win_row(x, t->win[w].name)) == NULL)
			continue;
		if (tw->rollovers != t->win[w].rollovers) {
			/* the tracker zeroed its counters */
			memset(&tw->added, 0, sizeof(tw->added));
			memset(&tw->evicted, 0, sizeof(tw->evicted));
			tw->rollovers = t->win[w].rollovers;
		}
		win_span(t, w, now, &lo, &hi);
		sum = tw->evicted;
		for (i = 0; i < x->nrecs; i++)
			if (rec_in(x, &x->recs[i], w, lo, hi))
				tk_add(&sum, &x->recs[i].tk, 1);
		d = sum;
		tk_add(&d, &tw->added, -1);
		if (d.input != 0 || d.output != 0 ||
		    d.cache_creation_input != 0 || d.cache_read_input != 0) {
			trk_win_tokens_add(t, w, &d);
			tw->added = sum;
		}
	}
}

/* The oldest record goes: what it gave the windows it is in stays. */
static void
evict(struct tx *x, time_t now)
{
	struct tx_rec *r = &x->recs[x->rec_head];
	struct tx_win *tw;
	time_t lo, hi;
	int w;

	for (w = 0; w < x->t->nwin; w++) {
		win_span(x->t, w, now, &lo, &hi);
		if (rec_in(x, r, w, lo, hi) &&
		    (tw = win_row(x, x->t->win[w].name)) != NULL)
			tk_add(&tw->evicted, &r->tk, 1);
	}
}

/* ---- entries ---- */

static struct tx_rec *
find_key(struct tx *x, uint64_t key, uint64_t idh, int by_id)
{
	int i, k;

	/* newest first: copies come close together */
	for (i = 0; i < x->nrecs; i++) {
		k = (x->rec_head + x->nrecs - 1 - i) % TX_SEEN_MAX;
		if (by_id ? x->recs[k].idh == idh : x->recs[k].key == key)
			return &x->recs[k];
	}
	return NULL;
}

static void
emit(struct tx *x, time_t ts, const char *model, const char *proj,
    const struct trk_tokens *tk, int is_new)
{
	struct tx_entry e;

	if (x->cb == NULL)
		return;
	e.ts = ts;
	e.model = model;
	e.project = proj;
	e.tokens = *tk;
	e.is_new = is_new;
	e.source = TX_SOURCE;
	e.seq = x->st.entries + x->st.grown;
	x->cb(x->cb_arg, &e);
}

/* One entry's fields, as read from its line. */
struct tx_fields {
	const char *id, *req, *model, *cwd;
	time_t ts;
	int sidechain;
	struct trk_tokens tk;
};

static void
count(struct tx *x, const struct tx_fields *f, time_t now)
{
	struct tx_rec *r;
	struct tx_proj *p;
	struct trk_tokens d;
	uint64_t key, idh;

	if (f->ts < now - TX_BACKFILL) {
		x->st.too_old++;
		return;
	}
	idh = fnv(FNV_INIT, f->id, strlen(f->id));
	key = fnv(fnv(idh, "\n", 1), f->req, strlen(f->req));
	if ((r = find_key(x, key, idh, 0)) != NULL) {
		x->st.duplicates++;
		if (total(&f->tk) <= total(&r->tk))
			return;
		/* the larger copy wins: only the difference is added */
		x->st.grown++;
		d = f->tk;
		tk_add(&d, &r->tk, -1);
		r->tk = f->tk;
		trk_usage_add(x->t, x->models[r->model], TX_PROGRAM, &d, 0);
		p = proj_row(x, f->cwd);
		tk_add(&p->tk, &d, 1);
		emit(x, f->ts, x->models[r->model], p->name, &d, 0);
		return;
	}
	if (f->sidechain && find_key(x, key, idh, 1) != NULL) {
		x->st.sidechain_replays++;
		return;
	}
	if (x->nrecs == TX_SEEN_MAX) {
		evict(x, now);
		r = &x->recs[x->rec_head];
		x->rec_head = (x->rec_head + 1) % TX_SEEN_MAX;
	} else
		r = &x->recs[(x->rec_head + x->nrecs++) % TX_SEEN_MAX];
	r->key = key;
	r->idh = idh;
	r->ts = f->ts;
	r->model = model_index(x, f->model);
	r->tk = f->tk;
	x->st.entries++;
	trk_usage_add(x->t, x->models[r->model], TX_PROGRAM, &f->tk, 1);
	p = proj_row(x, f->cwd);
	p->requests++;
	tk_add(&p->tk, &f->tk, 1);
	emit(x, f->ts, x->models[r->model], p->name, &f->tk, 1);
}

/* A token count: absent 0, else an integer in [0, TX_TOKENS_MAX]. */
static int
get_count(const cJSON *o, const char *key, int64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	*out = 0;
	if (v == NULL || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) ||
	    v->valuedouble < 0 || v->valuedouble > TX_TOKENS_MAX ||
	    v->valuedouble != floor(v->valuedouble))
		return -1;
	*out = (int64_t)v->valuedouble;
	return 0;
}

/* A string field: absent gives def; not a string (nor null) is bad. */
static int
get_str(const cJSON *o, const char *key, const char *def, char *out,
    size_t len)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (v == NULL || cJSON_IsNull(v)) {
		snprintf(out, len, "%s", def);
		return 0;
	}
	if (!cJSON_IsString(v))
		return -1;
	snprintf(out, len, "%s", v->valuestring);
	return 0;
}

void
tx_feed_line(struct tx *x, const char *line, size_t len, time_t now)
{
	char id[256], req[256], model[TRK_NAME_LEN], cwd[TX_NAME_LEN];
	char ts[64];
	const cJSON *msg, *usage, *sc;
	struct tx_fields f;
	cJSON *j;
	size_t i;

	for (i = 0; i < len && (line[i] == ' ' || line[i] == '\t' ||
	    line[i] == '\r'); i++)
		;
	if (i == len)
		return;			/* blank */
	if (len > TX_LINE_MAX || memchr(line, '\0', len) != NULL) {
		x->st.bad_lines++;
		return;
	}
	if ((j = cJSON_ParseWithLength(line, len)) == NULL ||
	    !cJSON_IsObject(j)) {
		x->st.bad_lines++;
		cJSON_Delete(j);
		return;
	}
	memset(&f, 0, sizeof(f));
	msg = cJSON_GetObjectItemCaseSensitive(j, "message");
	usage = cJSON_IsObject(msg) ?
	    cJSON_GetObjectItemCaseSensitive(msg, "usage") : NULL;
	if (msg == NULL || cJSON_IsNull(msg) || cJSON_IsString(msg) ||
	    (cJSON_IsObject(msg) && (usage == NULL || cJSON_IsNull(usage)))) {
		cJSON_Delete(j);	/* not an entry with usage */
		return;
	}
	if (!cJSON_IsObject(msg) || !cJSON_IsObject(usage))
		goto bad;
	if (get_str(msg, "id", "", id, sizeof(id)) == -1 ||
	    get_str(j, "requestId", "", req, sizeof(req)) == -1 ||
	    get_str(msg, "model", "unknown", model, sizeof(model)) == -1 ||
	    get_str(j, "cwd", "unknown", cwd, sizeof(cwd)) == -1 ||
	    get_str(j, "timestamp", "", ts, sizeof(ts)) == -1 ||
	    get_count(usage, "input_tokens", &f.tk.input) == -1 ||
	    get_count(usage, "output_tokens", &f.tk.output) == -1 ||
	    get_count(usage, "cache_creation_input_tokens",
	    &f.tk.cache_creation_input) == -1 ||
	    get_count(usage, "cache_read_input_tokens",
	    &f.tk.cache_read_input) == -1)
		goto bad;
	sc = cJSON_GetObjectItemCaseSensitive(j, "isSidechain");
	if (sc != NULL && !cJSON_IsNull(sc) && !cJSON_IsBool(sc))
		goto bad;
	f.sidechain = cJSON_IsTrue(sc);
	cJSON_Delete(j);		/* nothing of the line is kept */
	j = NULL;
	if (id[0] == '\0') {
		x->st.no_id++;
		return;
	}
	if (rt_time_parse(ts, &f.ts) == -1) {
		x->st.bad_lines++;
		return;
	}
	f.id = id;
	f.req = req;
	f.model = model;
	f.cwd = cwd;
	count(x, &f, now);
	return;
bad:
	x->st.bad_lines++;
	cJSON_Delete(j);
}

/* ---- files ---- */

static struct tx_file *
file_row(struct tx *x, const char *path)
{
	struct tx_file *f;
	int i;

	for (i = 0; i < x->nfiles; i++)
		if (strcmp(x->files[i].path, path) == 0)
			return &x->files[i];
	if (x->nfiles >= TX_FILES_MAX)
		return NULL;
	f = &x->files[x->nfiles];
	memset(f, 0, sizeof(*f));
	if ((f->path = strdup(path)) == NULL)
		return NULL;
	f->off = -1;		/* not seen yet */
	f->partial_at = -1;
	x->nfiles++;
	return f;
}

static void
watch(struct tx *x, const char *dir)
{
	if (x->ino_fd != -1)
		(void)inotify_add_watch(x->ino_fd, dir, IN_MODIFY |
		    IN_CLOSE_WRITE | IN_CREATE | IN_MOVED_TO | IN_DELETE |
		    IN_MOVED_FROM | IN_ONLYDIR);
}

static void
scan_dir(struct tx *x, const char *dir, int depth, time_t now)
{
	char path[PATH_MAX];
	struct dirent *de;
	struct stat sb;
	struct tx_file *f;
	size_t n;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return;
	watch(x, dir);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >=
		    (int)sizeof(path))
			continue;
		if (lstat(path, &sb) == -1)
			continue;
		if (S_ISDIR(sb.st_mode)) {
			if (depth < TX_DEPTH_MAX)
				scan_dir(x, path, depth + 1, now);
			continue;
		}
		n = strlen(de->d_name);
		if (!S_ISREG(sb.st_mode) || n < 7 ||
		    strcmp(de->d_name + n - 6, ".jsonl") != 0)
			continue;
		if ((f = file_row(x, path)) == NULL)
			continue;
		f->gen = x->gen;
		if (f->off == -1) {
			/* first sight: read it all, unless it is older than
			   the backfill */
			f->dev = sb.st_dev;
			f->ino = sb.st_ino;
			f->off = sb.st_mtime < now - TX_BACKFILL ?
			    sb.st_size : 0;
		}
	}
	closedir(d);
}

static void
scan(struct tx *x, time_t now)
{
	int i, k;

	x->gen++;
	for (i = 0; i < x->nroots; i++) {
		char parent[PATH_MAX], *sl;

		/* the config directory too: projects/ made later is seen */
		snprintf(parent, sizeof(parent), "%s", x->roots[i]);
		if ((sl = strrchr(parent, '/')) != NULL && sl != parent) {
			*sl = '\0';
			watch(x, parent);
		}
		scan_dir(x, x->roots[i], 0, now);
	}
	/* files gone: forgotten (their entries are remembered) */
	for (i = k = 0; i < x->nfiles; i++) {
		if (x->files[i].gen == x->gen)
			x->files[k++] = x->files[i];
		else
			free(x->files[i].path);
	}
	x->nfiles = k;
	if (x->next_file >= k)
		x->next_file = 0;
	x->need_scan = 0;
	x->next_scan_ms = loop_now_ms() + TX_RESCAN_MS;
}

/* Split buf[0..*have) into lines; keep the partial tail. */
static void
lines(struct tx *x, struct tx_file *f, size_t *have, time_t now)
{
	char *p = x->buf, *end = x->buf + *have, *nl;
	size_t used;

	while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		if (f->skipping)
			f->skipping = 0;	/* the end of a huge line */
		else
			tx_feed_line(x, p, (size_t)(nl - p), now);
		p = nl + 1;
	}
	used = (size_t)(p - x->buf);
	f->off += (int64_t)used;
	memmove(x->buf, p, *have - used);
	*have -= used;
	if (f->skipping || *have > TX_LINE_MAX) {
		if (!f->skipping)
			x->st.bad_lines++;
		f->skipping = 1;	/* drop it up to its newline */
		f->off += (int64_t)*have;
		*have = 0;
	}
}

/* Read what was appended to f, within *budget bytes. */
static void
read_file(struct tx *x, struct tx_file *f, int64_t *budget, time_t now)
{
	struct stat sb;
	size_t have = 0, want;
	ssize_t n;
	int fd;

	fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd == -1) {
		if (errno != ENOENT)
			x->st.errors++;
		return;
	}
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode)) {
		x->st.errors++;
		close(fd);
		return;
	}
	if ((uint64_t)sb.st_dev != f->dev || (uint64_t)sb.st_ino != f->ino ||
	    sb.st_size < f->off) {
		/* replaced or shrunk: read afresh (the dedupe memory keeps
		   what was counted from being counted again) */
		f->dev = sb.st_dev;
		f->ino = sb.st_ino;
		f->off = 0;
		f->skipping = 0;
		f->partial_at = -1;
		x->st.restarts++;
	}
	if (sb.st_size == f->partial_at) {
		close(fd);
		return;			/* still the same partial line */
	}
	while (f->off + (int64_t)have < sb.st_size && *budget > 0) {
		want = TX_CHUNK;
		if ((int64_t)want > sb.st_size - f->off - (int64_t)have)
			want = (size_t)(sb.st_size - f->off - (int64_t)have);
		n = pread(fd, x->buf + have, want, f->off + (int64_t)have);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == -1)
				x->st.errors++;
			break;
		}
		have += (size_t)n;
		*budget -= n;
		x->st.bytes_read += n;
		lines(x, f, &have, now);
	}
	/* a partial last line waits for its newline */
	f->partial_at = have > 0 && f->off + (int64_t)have == sb.st_size ?
	    sb.st_size : -1;
	close(fd);
}

/* Files with bytes to read, and one tick's worth read.  1: more left. */
static int
work(struct tx *x, time_t now)
{
	int64_t budget = TX_TICK_BYTES;
	int i, k, more = 0;

	for (i = 0; i < x->nfiles && budget > 0; i++) {
		k = (x->next_file + i) % x->nfiles;
		read_file(x, &x->files[k], &budget, now);
	}
	if (budget <= 0) {
		more = 1;
		x->next_file = x->nfiles > 0 ? (x->next_file + i) % x->nfiles :
		    0;
	}
	return more;
}

static int64_t
on_timer(struct loop *l, int64_t id, void *arg)
{
	struct tx *x = arg;
	time_t now = time(NULL);
	int more;

	(void)l;
	(void)id;
	if (x->need_scan || loop_now_ms() >= x->next_scan_ms)
		scan(x, now);
	more = work(x, now);
	tx_recompute(x, now);
	if (more)
		return 0;	/* the rest on the next iteration */
	x->timer = 0;
	return LOOP_NOMORE;
}

static void
kick(struct tx *x, int64_t ms)
{
	if (x->timer != 0 && loop_set_timer(x->l, x->timer, ms) == 0)
		return;
	if ((x->timer = loop_add_timer(x->l, ms, on_timer, x)) == -1)
		x->timer = 0;
}

/* The periodic rescan (and the windows' times moving on). */
static int64_t
on_rescan(struct loop *l, int64_t id, void *arg)
{
	struct tx *x = arg;

	(void)l;
	(void)id;
	x->need_scan = 1;
	if (x->timer == 0)
		kick(x, 0);
	return TX_RESCAN_MS;
}

static void
on_inotify(struct loop *l, int fd, int events, void *arg)
{
	struct tx *x = arg;
	char ev[4096] __attribute__((aligned(8)));

	(void)l;
	(void)events;
	while (read(fd, ev, sizeof(ev)) > 0)
		;
	x->need_scan = 1;
	if (x->timer == 0)
		kick(x, TX_EVENT_MS);
}

/* ---- state ---- */

static cJSON *
tk_json(const struct trk_tokens *tk)
{
	cJSON *a = cJSON_CreateArray();

	if (a == NULL)
		return NULL;
	cJSON_AddItemToArray(a, cJSON_CreateNumber((double)tk->input));
	cJSON_AddItemToArray(a, cJSON_CreateNumber((double)tk->output));
	cJSON_AddItemToArray(a, cJSON_CreateNumber(
	    (double)tk->cache_creation_input));
	cJSON_AddItemToArray(a, cJSON_CreateNumber(
	    (double)tk->cache_read_input));
	return a;
}

static int
tk_from(const cJSON *a, struct trk_tokens *tk)
{
	double v[4];
	int i;

	if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != 4)
		return -1;
	for (i = 0; i < 4; i++) {
		const cJSON *e = cJSON_GetArrayItem(a, i);

		if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble) ||
		    fabs(e->valuedouble) > (double)TRK_COUNT_MAX)
			return -1;
		v[i] = e->valuedouble;
	}
	tk->input = (int64_t)v[0];
	tk->output = (int64_t)v[1];
	tk->cache_creation_input = (int64_t)v[2];
	tk->cache_read_input = (int64_t)v[3];
	return 0;
}

static const char *const stat_keys[] = { "bytes_read", "entries",
	"duplicates", "grown", "sidechain_replays", "no_id", "too_old",
	"bad_lines", "errors", "restarts" };
#define NSTATS	((int)(sizeof(stat_keys) / sizeof(stat_keys[0])))

static int64_t *
stat_ptr(struct tx_stats *st, int i)
{
	int64_t *p[NSTATS] = { &st->bytes_read, &st->entries,
	    &st->duplicates, &st->grown, &st->sidechain_replays, &st->no_id,
	    &st->too_old, &st->bad_lines, &st->errors, &st->restarts };

	return p[i];
}

static cJSON *
save_cb(void *arg)
{
	struct tx *x = arg;
	cJSON *o, *a, *e;
	int i;

	if ((o = cJSON_CreateObject()) == NULL)
		return NULL;
	cJSON_AddNumberToObject(o, "version", TX_STATE_VERSION);
	a = cJSON_AddArrayToObject(o, "files");
	for (i = 0; a != NULL && i < x->nfiles; i++) {
		if (x->files[i].off < 0 || (e = cJSON_CreateObject()) == NULL)
			continue;
		cJSON_AddStringToObject(e, "path", x->files[i].path);
		cJSON_AddNumberToObject(e, "dev", (double)x->files[i].dev);
		cJSON_AddNumberToObject(e, "ino", (double)x->files[i].ino);
		cJSON_AddNumberToObject(e, "offset", (double)x->files[i].off);
		cJSON_AddBoolToObject(e, "skipping", x->files[i].skipping);
		cJSON_AddItemToArray(a, e);
	}
	a = cJSON_AddArrayToObject(o, "models");
	for (i = 0; a != NULL && i < x->nmodels; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(x->models[i]));
	/* oldest first, each one string: "<key><idh> ts model in out cw cr"
	   (strings print much faster than cJSON's numbers) */
	a = cJSON_AddArrayToObject(o, "seen");
	for (i = 0; a != NULL && i < x->nrecs; i++) {
		const struct tx_rec *r =
		    &x->recs[(x->rec_head + i) % TX_SEEN_MAX];
		char b[160];

		snprintf(b, sizeof(b), "%016" PRIx64 "%016" PRIx64 " %lld %d "
		    "%lld %lld %lld %lld", r->key, r->idh, (long long)r->ts,
		    r->model, (long long)r->tk.input, (long long)r->tk.output,
		    (long long)r->tk.cache_creation_input,
		    (long long)r->tk.cache_read_input);
		cJSON_AddItemToArray(a, cJSON_CreateString(b));
	}
	a = cJSON_AddObjectToObject(o, "windows");
	for (i = 0; a != NULL && i < x->nwin; i++) {
		if ((e = cJSON_AddObjectToObject(a, x->win[i].name)) == NULL)
			continue;
		cJSON_AddItemToObject(e, "added", tk_json(&x->win[i].added));
		cJSON_AddItemToObject(e, "evicted",
		    tk_json(&x->win[i].evicted));
		cJSON_AddNumberToObject(e, "rollovers",
		    (double)x->win[i].rollovers);
	}
	a = cJSON_AddArrayToObject(o, "projects");
	for (i = 0; a != NULL && i < x->nprojs; i++) {
		if ((e = cJSON_CreateObject()) == NULL)
			continue;
		cJSON_AddStringToObject(e, "name", x->projs[i].name);
		cJSON_AddNumberToObject(e, "requests",
		    (double)x->projs[i].requests);
		cJSON_AddItemToObject(e, "tokens", tk_json(&x->projs[i].tk));
		cJSON_AddItemToArray(a, e);
	}
	a = cJSON_AddObjectToObject(o, "counters");
	for (i = 0; a != NULL && i < NSTATS; i++)
		cJSON_AddNumberToObject(a, stat_keys[i],
		    (double)*stat_ptr(&x->st, i));
	return o;
}

static int
num(const cJSON *o, const char *key, double lo, double hi, double *v)
{
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble) ||
	    e->valuedouble < lo || e->valuedouble > hi)
		return -1;
	*v = e->valuedouble;
	return 0;
}

/* Take what the state file held; bad elements are skipped, each. */
static void
load(struct tx *x, const cJSON *o)
{
	const cJSON *a, *e;
	double v, dv, iv;
	int bad = 0;

	if (!cJSON_IsObject(o) || num(o, "version", TX_STATE_VERSION,
	    TX_STATE_VERSION, &v) == -1) {
		if (o != NULL)
			log_warnx("transcripts: saved state of another "
			    "version ignored");
		return;
	}
	a = cJSON_GetObjectItemCaseSensitive(o, "files");
	cJSON_ArrayForEach(e, a) {
		const cJSON *p = cJSON_GetObjectItemCaseSensitive(e, "path");
		struct tx_file *f;

		if (!cJSON_IsString(p) || p->valuestring[0] != '/' ||
		    num(e, "dev", 0, 9007199254740992.0, &dv) == -1 ||
		    num(e, "ino", 0, 9007199254740992.0, &iv) == -1 ||
		    num(e, "offset", 0, 9007199254740992.0, &v) == -1 ||
		    (f = file_row(x, p->valuestring)) == NULL) {
			bad++;
			continue;
		}
		f->dev = (uint64_t)dv;
		f->ino = (uint64_t)iv;
		f->off = (int64_t)v;
		f->skipping = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e,
		    "skipping"));
		f->partial_at = -1;
	}
	a = cJSON_GetObjectItemCaseSensitive(o, "models");
	cJSON_ArrayForEach(e, a) {
		if (x->nmodels >= TX_MODELS_MAX)
			break;
		snprintf(x->models[x->nmodels++], TRK_NAME_LEN, "%s",
		    cJSON_IsString(e) ? e->valuestring : "unknown");
	}
	a = cJSON_GetObjectItemCaseSensitive(o, "seen");
	cJSON_ArrayForEach(e, a) {
		struct tx_rec r;
		unsigned long long k, h;
		long long ts, in, out, cw, cr;
		int m, end = 0;

		memset(&r, 0, sizeof(r));
		if (!cJSON_IsString(e) || strlen(e->valuestring) > 150 ||
		    sscanf(e->valuestring, "%16llx%16llx %lld %d %lld %lld %lld "
		    "%lld%n", &k, &h, &ts, &m, &in, &out, &cw, &cr, &end) != 8 ||
		    e->valuestring[end] != '\0' || ts < 0 ||
		    ts > TRK_TIME_MAX || m < 0 || m >= x->nmodels ||
		    in < 0 || out < 0 || cw < 0 || cr < 0 ||
		    in > TRK_COUNT_MAX || out > TRK_COUNT_MAX ||
		    cw > TRK_COUNT_MAX || cr > TRK_COUNT_MAX) {
			bad++;
			continue;
		}
		r.key = k;
		r.idh = h;
		r.ts = (time_t)ts;
		r.model = m;
		r.tk.input = in;
		r.tk.output = out;
		r.tk.cache_creation_input = cw;
		r.tk.cache_read_input = cr;
		if (x->nrecs == TX_SEEN_MAX) {
			x->recs[x->rec_head] = r;
			x->rec_head = (x->rec_head + 1) % TX_SEEN_MAX;
		} else
			x->recs[x->nrecs++] = r;
	}
	a = cJSON_GetObjectItemCaseSensitive(o, "windows");
	cJSON_ArrayForEach(e, a) {
		struct tx_win *tw;

		if (e->string == NULL || strlen(e->string) >=
		    TRK_WIN_NAME_LEN || (tw = win_row(x, e->string)) == NULL ||
		    tk_from(cJSON_GetObjectItemCaseSensitive(e, "added"),
		    &tw->added) == -1 ||
		    tk_from(cJSON_GetObjectItemCaseSensitive(e, "evicted"),
		    &tw->evicted) == -1 ||
		    num(e, "rollovers", 0, (double)TRK_COUNT_MAX, &v) == -1) {
			bad++;
			continue;
		}
		tw->rollovers = (int64_t)v;
	}
	a = cJSON_GetObjectItemCaseSensitive(o, "projects");
	cJSON_ArrayForEach(e, a) {
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(e, "name");
		struct tx_proj *p;

		if (!cJSON_IsString(n) || x->nprojs >= TX_PROJ_MAX ||
		    num(e, "requests", 0, (double)TRK_COUNT_MAX, &v) == -1) {
			bad++;
			continue;
		}
		p = &x->projs[x->nprojs];
		memset(p, 0, sizeof(*p));
		if (tk_from(cJSON_GetObjectItemCaseSensitive(e, "tokens"),
		    &p->tk) == -1) {
			bad++;
			continue;
		}
		printable(n->valuestring, p->name, sizeof(p->name));
		p->requests = (int64_t)v;
		x->nprojs++;
	}
	a = cJSON_GetObjectItemCaseSensitive(o, "counters");
	for (int i = 0; cJSON_IsObject(a) && i < NSTATS; i++)
		if (num(a, stat_keys[i], 0, (double)TRK_COUNT_MAX, &v) == 0)
			*stat_ptr(&x->st, i) = (int64_t)v;
	if (bad > 0)
		log_warnx("transcripts: %d saved elements were unusable and "
		    "are ignored", bad);
}

/* ---- roots ---- */

static void
add_root(struct tx *x, const char *dir, size_t n)
{
	char path[PATH_MAX];
	int i;

	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (n == 0 || x->nroots >= TX_ROOTS_MAX ||
	    snprintf(path, sizeof(path), "%.*s/projects", (int)n, dir) >=
	    (int)sizeof(path))
		return;
	for (i = 0; i < x->nroots; i++)
		if (strcmp(x->roots[i], path) == 0)
			return;
	if ((x->roots[x->nroots] = strdup(path)) != NULL)
		x->nroots++;
}

static void
find_roots(struct tx *x)
{
	const char *cc = getenv("CLAUDE_CONFIG_DIR"), *home = getenv("HOME");
	char buf[PATH_MAX];
	size_t n;

	if (cc != NULL && cc[0] != '\0') {
		while (*cc != '\0') {
			n = strcspn(cc, ",");
			while (n > 0 && *cc == ' ') {
				cc++;
				n--;
			}
			add_root(x, cc, n);
			cc += n;
			if (*cc == ',')
				cc++;
		}
		return;
	}
	if (home == NULL || home[0] != '/')
		return;
	snprintf(buf, sizeof(buf), "%s/.claude", home);
	add_root(x, buf, strlen(buf));
	snprintf(buf, sizeof(buf), "%s/.config/claude", home);
	add_root(x, buf, strlen(buf));
}

/* ---- the API ---- */

struct tx *
tx_start(struct loop *l, struct trk *t)
{
	struct tx *x;
	int i;

	if ((x = calloc(1, sizeof(*x))) == NULL)
		return NULL;
	x->l = l;
	x->t = t;
	x->ino_fd = -1;
	if ((x->files = calloc(TX_FILES_MAX, sizeof(*x->files))) == NULL ||
	    (x->recs = calloc(TX_SEEN_MAX, sizeof(*x->recs))) == NULL ||
	    (x->projs = calloc(TX_PROJ_MAX, sizeof(*x->projs))) == NULL ||
	    (x->buf = malloc(TX_LINE_MAX + TX_CHUNK + 1)) == NULL)
		goto err;
	load(x, t->tx.loaded);
	cJSON_Delete(t->tx.loaded);
	t->tx.loaded = NULL;
	t->tx.save = save_cb;
	t->tx.arg = x;
	if (l == NULL)
		return x;		/* the unit tests: no files */
	find_roots(x);
	for (i = 0; i < x->nroots; i++)
		log_debug("transcripts: following %s", x->roots[i]);
	if ((x->ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1)
		log_warn("transcripts: inotify (the rescan every %d s is "
		    "left)", TX_RESCAN_MS / 1000);
	else if (loop_add_fd(l, x->ino_fd, LOOP_READ, on_inotify, x) == -1) {
		close(x->ino_fd);
		x->ino_fd = -1;
	}
	x->need_scan = 1;
	kick(x, 0);
	if (loop_add_timer(l, TX_RESCAN_MS, on_rescan, x) == -1)
		goto err;
	return x;
err:
	tx_stop(x);
	return NULL;
}

void
tx_stop(struct tx *x)
{
	int i;

	if (x == NULL)
		return;
	if (x->t->tx.arg == x) {
		x->t->tx.save = NULL;
		x->t->tx.arg = NULL;
	}
	if (x->ino_fd != -1) {
		loop_del_fd(x->l, x->ino_fd);
		close(x->ino_fd);
	}
	if (x->l != NULL && x->timer != 0)
		(void)loop_del_timer(x->l, x->timer);
	for (i = 0; x->files != NULL && i < x->nfiles; i++)
		free(x->files[i].path);
	for (i = 0; i < x->nroots; i++)
		free(x->roots[i]);
	free(x->files);
	free(x->recs);
	free(x->projs);
	free(x->buf);
	free(x);
}

void
tx_set_entry_cb(struct tx *x, tx_entry_fn *fn, void *arg)
{
	x->cb = fn;
	x->cb_arg = arg;
}

int
tx_status_json(const struct tx *x, cJSON *st)
{
	struct tx_stats s = x->st;
	cJSON *o, *p, *r;
	int i;

	cJSON_DeleteItemFromObjectCaseSensitive(st, "transcripts");
	cJSON_DeleteItemFromObjectCaseSensitive(st, "projects");
	if ((o = cJSON_AddObjectToObject(st, "transcripts")) == NULL ||
	    cJSON_AddNumberToObject(o, "files", x->nfiles) == NULL ||
	    cJSON_AddNumberToObject(o, "roots", x->nroots) == NULL)
		return -1;
	for (i = 0; i < NSTATS; i++)
		if (cJSON_AddNumberToObject(o, stat_keys[i],
		    (double)*stat_ptr(&s, i)) == NULL)
			return -1;
	if ((p = cJSON_AddObjectToObject(st, "projects")) == NULL)
		return -1;
	for (i = 0; i < x->nprojs; i++) {
		const struct tx_proj *pr = &x->projs[i];

		if ((r = cJSON_AddObjectToObject(p, pr->name)) == NULL ||
		    cJSON_AddNumberToObject(r, "requests",
		    (double)pr->requests) == NULL ||
		    cJSON_AddNumberToObject(r, "input",
		    (double)pr->tk.input) == NULL ||
		    cJSON_AddNumberToObject(r, "output",
		    (double)pr->tk.output) == NULL ||
		    cJSON_AddNumberToObject(r, "cache_creation_input",
		    (double)pr->tk.cache_creation_input) == NULL ||
		    cJSON_AddNumberToObject(r, "cache_read_input",
		    (double)pr->tk.cache_read_input) == NULL)
			return -1;
	}
	return 0;
}
