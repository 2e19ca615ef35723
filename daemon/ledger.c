/*
 * The ledger (see ledger.h and docs/ledger.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "ledger.h"
#include "log.h"

#define PRUNE_SECS	3600
#define NAME_MAX_LEN	64
#define REQ_COLS	13
/*
 * Request rows are inserted this many to a statement (the rest one at a
 * time): a statement's own cost (its step, halt and reset, about a fifth
 * of a one-row insert) is paid once for all of them.
 */
#define REQ_MANY	32

struct prow {			/* a buffered request row */
	char stream[16];
	int64_t seq;
	int64_t at;
	char source[32];
	char program[NAME_MAX_LEN];
	char project[256];
	char model[NAME_MAX_LEN];
	int64_t tok[4];
	int http_status;
	int rate_limited;
};

struct psample {
	char window[48];
	int64_t at;
	double util;
	char source[16];
	int64_t resets_at;
};

struct lastsample {
	char window[48];
	int64_t at;
	double util;
	int64_t resets_at;
};

/*
 * The checkpointer: SQLite copies the WAL back into the database (and
 * fsyncs both) every thousand pages, by default inside the commit that
 * crossed the mark, which kept the daemon's one loop away from everything
 * else for milliseconds (status requests waited 11-16 ms at the 99th
 * percentile under a flood, 1.4-2.6 ms without the checkpoints).  The
 * commits only signal a thread with its own connection, which runs a
 * PASSIVE checkpoint (it takes no lock a writer needs).  The thread and
 * its connection are the only ones besides the loop's; both connections
 * are used by one thread each.
 */
#define LDG_CKPT_PAGES		1000	/* WAL pages that wake it */

struct ckpt {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	sqlite3 *db;			/* the thread's connection */
	int running;			/* the thread runs */
	int want;			/* a checkpoint is asked for (mu) */
	int quit;			/* the thread is to end (mu) */
};

struct ldg {
	char path[4096];
	struct ckpt ck;
	struct ldg_config cfg;
	sqlite3 *db;
	sqlite3_stmt *ins_req;
	sqlite3_stmt *ins_req_many;	/* REQ_MANY rows */
	sqlite3_stmt *ins_sample;
	int off;			/* not writing */
	int64_t base;			/* events stream: seq = base + n */
	struct prow *req;
	size_t nreq, capreq;
	struct psample *smp;
	size_t nsmp, capsmp;
	struct lastsample last[32];
	int nlast;
	int64_t written;
	int64_t dropped;
	int64_t pruned;
	time_t last_prune;
	time_t last_flush;
	char error[LDG_ERR_LEN];
	char recovered_from[4200];
};

static const char *const schema_v1[] = {
	"CREATE TABLE requests ("
	" stream TEXT NOT NULL, seq INTEGER NOT NULL,"
	" at INTEGER NOT NULL, source TEXT NOT NULL,"
	" program TEXT, project TEXT, model TEXT,"
	" input INTEGER NOT NULL, output INTEGER NOT NULL,"
	" cache_creation_input INTEGER NOT NULL,"
	" cache_read_input INTEGER NOT NULL,"
	" http_status INTEGER NOT NULL, rate_limited INTEGER NOT NULL,"
	" PRIMARY KEY (stream, seq))",
	"CREATE INDEX requests_at ON requests (at)",
	"CREATE TABLE samples ("
	" window TEXT NOT NULL, at INTEGER NOT NULL,"
	" utilization REAL NOT NULL, source TEXT NOT NULL,"
	" resets_at INTEGER NOT NULL)",
	"CREATE INDEX samples_window_at ON samples (window, at)",
	"CREATE INDEX samples_at ON samples (at)",
	"CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
	NULL
};

/* Migrations: migrations[v] takes a database from user_version v to v+1. */
static const char *const *const migrations[] = { schema_v1 };

static void
set_error(struct ldg *l, const char *what)
{
	snprintf(l->error, sizeof(l->error), "%.60s: %.180s", what,
	    l->db != NULL ? sqlite3_errmsg(l->db) : "no database");
}

static int
exec(struct ldg *l, const char *sql)
{
	if (sqlite3_exec(l->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		set_error(l, sql);
		return -1;
	}
	return 0;
}

static int
get_int(struct ldg *l, const char *sql, int64_t *out)
{
	sqlite3_stmt *st;
	int rc;

	*out = 0;
	if (sqlite3_prepare_v2(l->db, sql, -1, &st, NULL) != SQLITE_OK) {
		set_error(l, sql);
		return -1;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		set_error(l, sql);
		return -1;
	}
	return 0;
}

static void ckpt_stop(struct ldg *l);

static void
db_close(struct ldg *l)
{
	ckpt_stop(l);
	sqlite3_finalize(l->ins_req);
	sqlite3_finalize(l->ins_req_many);
	sqlite3_finalize(l->ins_sample);
	l->ins_req = l->ins_req_many = l->ins_sample = NULL;
	if (l->db != NULL)
		sqlite3_close(l->db);
	l->db = NULL;
}

/* The insert of n request rows (INSERT OR IGNORE: a row whose (stream,
 * seq) is there already is skipped, the others are written). */
static int
prepare_insert(struct ldg *l, int n, sqlite3_stmt **st)
{
	static const char head[] = "INSERT OR IGNORE INTO requests "
	    "(stream, seq, at, source, program, project, model, input, output,"
	    " cache_creation_input, cache_read_input, http_status,"
	    " rate_limited) VALUES ";
	static const char row[] = "(?,?,?,?,?,?,?,?,?,?,?,?,?)";
	char sql[sizeof(head) + REQ_MANY * sizeof(row)], *p = sql;
	int i, rc;

	memcpy(p, head, sizeof(head) - 1);
	p += sizeof(head) - 1;
	for (i = 0; i < n; i++) {
		if (i > 0)
			*p++ = ',';
		memcpy(p, row, sizeof(row) - 1);
		p += sizeof(row) - 1;
	}
	*p = '\0';
	rc = sqlite3_prepare_v2(l->db, sql, (int)(p - sql), st, NULL);
	return rc == SQLITE_OK ? 0 : -1;
}

/*
 * Open the file and bring its schema to ours.  Returns 0, -1 when the
 * file is damaged (move it aside), -2 when it must be left alone (a newer
 * schema, or an error that is not the file's: permissions, space).
 */
static int
db_open(struct ldg *l)
{
	int64_t v, quick = 0;
	sqlite3_stmt *st;
	const unsigned char *txt;
	int rc, i;

	/* one thread uses the connection: no mutex around each call (they
	   were a tenth of an insert's instructions), nor around SQLite's
	   allocation statistics (possible only before SQLite initializes:
	   later it is refused, harmlessly) */
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	rc = sqlite3_open_v2(l->path, &l->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_NOMUTEX,
	    NULL);
	if (rc != SQLITE_OK) {
		set_error(l, "open");
		return -2;
	}
	sqlite3_busy_timeout(l->db, 2000);
	if (get_int(l, "PRAGMA user_version", &v) == -1)
		goto damaged;
	if (v > LDG_SCHEMA_VERSION) {
		snprintf(l->error, sizeof(l->error), "schema version %lld is "
		    "newer than this ratetapd's %d: left alone, not written",
		    (long long)v, LDG_SCHEMA_VERSION);
		return -2;
	}
	/* a damaged file is found now, not at the first insert */
	if (sqlite3_prepare_v2(l->db, "PRAGMA quick_check", -1, &st, NULL) !=
	    SQLITE_OK)
		goto damaged;
	rc = sqlite3_step(st);
	txt = rc == SQLITE_ROW ? sqlite3_column_text(st, 0) : NULL;
	quick = txt != NULL && strcmp((const char *)txt, "ok") == 0;
	sqlite3_finalize(st);
	if (!quick) {
		set_error(l, "integrity check");
		goto damaged;
	}
	if (exec(l, "PRAGMA journal_mode=WAL") == -1 ||
	    exec(l, "PRAGMA synchronous=NORMAL") == -1)
		goto damaged;
	for (; v < LDG_SCHEMA_VERSION; v++) {
		char sql[64];

		if (exec(l, "BEGIN IMMEDIATE") == -1)
			goto damaged;
		for (i = 0; migrations[v][i] != NULL; i++)
			if (exec(l, migrations[v][i]) == -1) {
				(void)exec(l, "ROLLBACK");
				goto damaged;
			}
		snprintf(sql, sizeof(sql), "PRAGMA user_version=%lld",
		    (long long)v + 1);
		if (exec(l, sql) == -1 || exec(l, "COMMIT") == -1) {
			(void)exec(l, "ROLLBACK");
			goto damaged;
		}
	}
	if (prepare_insert(l, 1, &l->ins_req) == -1 ||
	    prepare_insert(l, REQ_MANY, &l->ins_req_many) == -1 ||
	    sqlite3_prepare_v2(l->db, "INSERT INTO samples (window, at,"
	    " utilization, source, resets_at) VALUES (?,?,?,?,?)", -1,
	    &l->ins_sample, NULL) != SQLITE_OK) {
		set_error(l, "prepare");
		goto damaged;
	}
	if (get_int(l, "SELECT value FROM meta WHERE key = 'events_base'",
	    &l->base) == -1)
		goto damaged;
	(void)chmod(l->path, 0600);
	return 0;
damaged:
	rc = sqlite3_errcode(l->db);
	if (rc == SQLITE_CANTOPEN || rc == SQLITE_PERM || rc == SQLITE_FULL ||
	    rc == SQLITE_READONLY || rc == SQLITE_IOERR || rc == SQLITE_BUSY ||
	    rc == SQLITE_LOCKED || rc == SQLITE_NOMEM)
		return -2;
	return -1;
}

/* Move a damaged database (and its -wal, -shm) aside. */
static int
move_aside(struct ldg *l)
{
	char aside[sizeof(l->path) + 48], side[sizeof(l->path) + 8];
	time_t now = time(NULL);
	const char *base;
	int n;

	for (n = 0; ; n++) {
		if (n == 0)
			snprintf(aside, sizeof(aside), "%s.corrupt-%lld",
			    l->path, (long long)now);
		else
			snprintf(aside, sizeof(aside), "%s.corrupt-%lld-%d",
			    l->path, (long long)now, n);
		if (renameat2(AT_FDCWD, l->path, AT_FDCWD, aside,
		    RENAME_NOREPLACE) == 0)
			break;
		if (errno != EEXIST || n >= 1000)
			return -1;
	}
	snprintf(side, sizeof(side), "%s-wal", l->path);
	(void)unlink(side);
	snprintf(side, sizeof(side), "%s-shm", l->path);
	(void)unlink(side);
	base = strrchr(aside, '/');
	snprintf(l->recovered_from, sizeof(l->recovered_from), "%s",
	    base != NULL ? base + 1 : aside);
	log_warnx("ledger %s is damaged (%s): moved aside to %s, starting a "
	    "fresh one", l->path, l->error, aside);
	return 0;
}

/* After each commit (the loop's thread): wake the checkpointer once the
 * WAL holds LDG_CKPT_PAGES pages. */
static int
ckpt_wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct ckpt *ck = arg;

	(void)db;
	(void)name;
	if (pages >= LDG_CKPT_PAGES && pthread_mutex_lock(&ck->mu) == 0) {
		ck->want = 1;
		(void)pthread_cond_signal(&ck->cv);
		(void)pthread_mutex_unlock(&ck->mu);
	}
	return SQLITE_OK;
}

static void *
ckpt_main(void *arg)
{
	struct ckpt *ck = arg;

	(void)pthread_mutex_lock(&ck->mu);
	for (;;) {
		while (!ck->want && !ck->quit)
			(void)pthread_cond_wait(&ck->cv, &ck->mu);
		if (ck->quit)
			break;
		ck->want = 0;
		(void)pthread_mutex_unlock(&ck->mu);
		/* a failure (a reader holding an old snapshot, a full disk)
		   leaves the WAL to the next one, or to the close */
		(void)sqlite3_wal_checkpoint_v2(ck->db, NULL,
		    SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		(void)pthread_mutex_lock(&ck->mu);
	}
	(void)pthread_mutex_unlock(&ck->mu);
	return NULL;
}

/* Start the checkpointer for the open ledger l.  Without it (no thread,
 * no second connection) SQLite checkpoints in the commits, as it did. */
static void
ckpt_start(struct ldg *l)
{
	struct ckpt *ck = &l->ck;

	if (sqlite3_open_v2(l->path, &ck->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
		goto fail;
	/* a connection learns that the file is in WAL mode at its first
	   read: until then a checkpoint does nothing */
	if (sqlite3_exec(ck->db, "SELECT COUNT(*) FROM sqlite_master", NULL,
	    NULL, NULL) != SQLITE_OK)
		goto fail;
	if (pthread_mutex_init(&ck->mu, NULL) != 0)
		goto fail;
	if (pthread_cond_init(&ck->cv, NULL) != 0) {
		(void)pthread_mutex_destroy(&ck->mu);
		goto fail;
	}
	ck->want = ck->quit = 0;
	/* the daemon's signals are blocked (signalfd): the thread keeps
	   the mask it is created with */
	if (pthread_create(&ck->th, NULL, ckpt_main, ck) != 0) {
		(void)pthread_cond_destroy(&ck->cv);
		(void)pthread_mutex_destroy(&ck->mu);
		goto fail;
	}
	ck->running = 1;
	/* replaces SQLite's own checkpoints in the commits */
	(void)sqlite3_wal_hook(l->db, ckpt_wal_hook, ck);
	return;
fail:
	log_warnx("ledger %s: no checkpoint thread (%s): checkpoints run in "
	    "the writes", l->path, ck->db != NULL ? sqlite3_errmsg(ck->db) :
	    "out of memory");
	if (ck->db != NULL)
		sqlite3_close(ck->db);
	ck->db = NULL;
}

static void
ckpt_stop(struct ldg *l)
{
	struct ckpt *ck = &l->ck;

	if (!ck->running)
		return;
	if (l->db != NULL)
		(void)sqlite3_wal_hook(l->db, NULL, NULL);
	(void)pthread_mutex_lock(&ck->mu);
	ck->quit = 1;
	(void)pthread_cond_signal(&ck->cv);
	(void)pthread_mutex_unlock(&ck->mu);
	(void)pthread_join(ck->th, NULL);
	(void)pthread_cond_destroy(&ck->cv);
	(void)pthread_mutex_destroy(&ck->mu);
	sqlite3_close(ck->db);
	ck->db = NULL;
	ck->running = 0;
}

int
ldg_checkpoints_in_thread(const struct ldg *l)
{
	return l != NULL && l->ck.running;
}

struct ldg *
ldg_open(const char *path, const struct ldg_config *cfg)
{
	struct ldg *l;
	int rc;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	snprintf(l->path, sizeof(l->path), "%s", path);
	if (cfg != NULL)
		l->cfg = *cfg;
	if (l->cfg.retention_days <= 0)
		l->cfg.retention_days = LDG_RETENTION_DAYS;
	if (l->cfg.max_bytes <= 0)
		l->cfg.max_bytes = LDG_MAX_BYTES;
	rc = db_open(l);
	if (rc == -1) {
		db_close(l);
		if (move_aside(l) == 0) {
			l->error[0] = '\0';
			rc = db_open(l);
		} else
			rc = -2;
	}
	if (rc != 0) {
		log_warnx("ledger %s: %s; history is not recorded", l->path,
		    l->error);
		db_close(l);
		l->off = 1;
	} else
		ckpt_start(l);
	return l;
}

void
ldg_close(struct ldg *l)
{
	if (l == NULL)
		return;
	db_close(l);
	free(l->req);
	free(l->smp);
	free(l);
}

int
ldg_ok(const struct ldg *l)
{
	return l != NULL && !l->off;
}

size_t
ldg_pending(const struct ldg *l)
{
	return l != NULL ? l->nreq + l->nsmp : 0;
}

int64_t
ldg_written(const struct ldg *l)
{
	return l != NULL ? l->written : 0;
}

int64_t
ldg_events_seq(const struct ldg *l, int64_t n)
{
	return (l != NULL ? l->base : 0) + n;
}

int
ldg_reconcile(struct ldg *l, int64_t applied, int fresh)
{
	sqlite3_stmt *st = NULL;
	int64_t max;
	char sql[128];

	if (!ldg_ok(l))
		return -1;
	if (get_int(l, "SELECT COALESCE(MAX(seq), 0) FROM requests WHERE "
	    "stream = 'events'", &max) == -1)
		return -1;
	if (fresh) {
		/* a new numbering above every row kept */
		if (max <= l->base)
			return 0;
		l->base = max;
		snprintf(sql, sizeof(sql), "INSERT OR REPLACE INTO meta "
		    "(key, value) VALUES ('events_base', %lld)",
		    (long long)l->base);
		return exec(l, sql);
	}
	if (max <= l->base + applied)
		return 0;
	if (sqlite3_prepare_v2(l->db, "DELETE FROM requests WHERE stream = "
	    "'events' AND seq > ?", -1, &st, NULL) != SQLITE_OK) {
		set_error(l, "reconcile");
		return -1;
	}
	sqlite3_bind_int64(st, 1, l->base + applied);
	if (sqlite3_step(st) != SQLITE_DONE) {
		set_error(l, "reconcile");
		sqlite3_finalize(st);
		return -1;
	}
	log_info("ledger: %d rows beyond the saved state dropped (their "
	    "events are read again)", sqlite3_changes(l->db));
	sqlite3_finalize(st);
	return 0;
}

static void
cpy(char *dst, size_t len, const char *src)
{
	size_t i;

	if (src == NULL)
		src = "";
	for (i = 0; i + 1 < len && src[i] != '\0'; i++)
		dst[i] = (unsigned char)src[i] < 0x20 ||
		    (unsigned char)src[i] >= 0x7f ? '?' : src[i];
	dst[i] = '\0';
}

/* Room for row n in *p (capacity *cap rows of size bytes): doubling up
 * to LDG_BATCH_ROWS, which a working ledger never passes (it writes a
 * full batch at once); beyond only while writes fail, up to
 * LDG_PENDING_MAX.  -1 when full or out of memory. */
static int
grow(void **p, size_t *cap, size_t n, size_t size)
{
	void *np;
	size_t ncap;

	if (n < *cap)
		return 0;
	if (n >= LDG_PENDING_MAX)
		return -1;
	ncap = *cap != 0 ? *cap * 2 : 256;
	if ((np = realloc(*p, ncap * size)) == NULL)
		return -1;
	*p = np;
	*cap = ncap;
	return 0;
}

/*
 * A full batch is written now rather than at the next save: a burst then
 * holds LDG_BATCH_ROWS rows in memory, not all it brought in a save
 * interval (at 200,000 events a second, tens of MiB that stayed
 * allocated).  Safe at any time: rows beyond the saved state are deleted
 * at the next start (ldg_reconcile()), and the other streams' rows are
 * inserted once by their (stream, seq).  A failed write keeps the rows.
 */
static void
batch_full(struct ldg *l)
{
	if (l->nreq + l->nsmp >= LDG_BATCH_ROWS && l->error[0] == '\0')
		(void)ldg_flush(l, time(NULL));
}

/* After a write, the memory a failing ledger made the buffers take goes
 * back: they keep at most a batch. */
static void
shrink(void **p, size_t *cap, size_t size)
{
	void *np;

	if (*cap <= LDG_BATCH_ROWS)
		return;
	if ((np = realloc(*p, LDG_BATCH_ROWS * size)) == NULL)
		return;
	*p = np;
	*cap = LDG_BATCH_ROWS;
}

int
ldg_add_request(struct ldg *l, const struct ldg_request *r)
{
	struct prow *p;

	if (!ldg_ok(l))
		return -1;
	if (grow((void **)&l->req, &l->capreq, l->nreq, sizeof(*l->req)) ==
	    -1) {
		l->dropped++;
		return -1;
	}
	p = &l->req[l->nreq++];
	cpy(p->stream, sizeof(p->stream), r->stream);
	p->seq = r->seq;
	p->at = r->at;
	cpy(p->source, sizeof(p->source), r->source);
	cpy(p->program, sizeof(p->program), r->program);
	cpy(p->project, sizeof(p->project), r->project);
	cpy(p->model, sizeof(p->model), r->model);
	p->tok[0] = r->input;
	p->tok[1] = r->output;
	p->tok[2] = r->cache_creation_input;
	p->tok[3] = r->cache_read_input;
	p->http_status = r->http_status;
	p->rate_limited = r->rate_limited != 0;
	batch_full(l);
	return 0;
}

int
ldg_add_sample(struct ldg *l, const struct ldg_sample *s)
{
	struct lastsample *ls = NULL;
	struct psample *p;
	int i;

	if (!ldg_ok(l) || !isfinite(s->utilization))
		return -1;
	/* an unchanged figure of the same instance: once a minute */
	for (i = 0; i < l->nlast; i++)
		if (strcmp(l->last[i].window, s->window) == 0) {
			ls = &l->last[i];
			break;
		}
	if (ls == NULL && l->nlast < (int)(sizeof(l->last) /
	    sizeof(l->last[0]))) {
		ls = &l->last[l->nlast++];
		cpy(ls->window, sizeof(ls->window), s->window);
		ls->at = INT64_MIN;
	}
	if (ls != NULL) {
		if (ls->at != INT64_MIN && ls->util == s->utilization &&
		    ls->resets_at == (int64_t)s->resets_at &&
		    (int64_t)s->at - ls->at < LDG_SAMPLE_SECS &&
		    (int64_t)s->at >= ls->at)
			return 0;
		ls->util = s->utilization;
		ls->resets_at = s->resets_at;
		ls->at = s->at;
	}
	if (grow((void **)&l->smp, &l->capsmp, l->nsmp, sizeof(*l->smp)) ==
	    -1) {
		l->dropped++;
		return -1;
	}
	p = &l->smp[l->nsmp++];
	cpy(p->window, sizeof(p->window), s->window);
	p->at = s->at;
	p->util = s->utilization;
	cpy(p->source, sizeof(p->source), s->source);
	p->resets_at = s->resets_at;
	batch_full(l);
	return 0;
}

static void
bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s[0] == '\0')
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

/* Bind row p as the k-th row (from 0) of an insert. */
static void
bind_req(sqlite3_stmt *st, int k, const struct prow *p)
{
	int b = k * REQ_COLS;

	sqlite3_bind_text(st, b + 1, p->stream, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, b + 2, p->seq);
	sqlite3_bind_int64(st, b + 3, p->at);
	sqlite3_bind_text(st, b + 4, p->source, -1, SQLITE_STATIC);
	bind_text(st, b + 5, p->program);
	bind_text(st, b + 6, p->project);
	bind_text(st, b + 7, p->model);
	sqlite3_bind_int64(st, b + 8, p->tok[0]);
	sqlite3_bind_int64(st, b + 9, p->tok[1]);
	sqlite3_bind_int64(st, b + 10, p->tok[2]);
	sqlite3_bind_int64(st, b + 11, p->tok[3]);
	sqlite3_bind_int(st, b + 12, p->http_status);
	sqlite3_bind_int(st, b + 13, p->rate_limited);
}

/* Retention, then the size bound (oldest rows first). */
static int
prune(struct ldg *l, time_t now)
{
	sqlite3_stmt *st = NULL;
	int64_t pages, psize, before;
	int64_t cut = (int64_t)now - (int64_t)l->cfg.retention_days * 86400;
	int round;

	if (sqlite3_prepare_v2(l->db, "DELETE FROM requests WHERE at < ?1",
	    -1, &st, NULL) != SQLITE_OK)
		goto err;
	sqlite3_bind_int64(st, 1, cut);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto err;
	l->pruned += sqlite3_changes(l->db);
	sqlite3_finalize(st);
	st = NULL;
	if (sqlite3_prepare_v2(l->db, "DELETE FROM samples WHERE at < ?1",
	    -1, &st, NULL) != SQLITE_OK)
		goto err;
	sqlite3_bind_int64(st, 1, cut);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto err;
	l->pruned += sqlite3_changes(l->db);
	sqlite3_finalize(st);
	st = NULL;
	/* over the bound: the oldest tenth goes, until under it (freed pages
	   are reused, so the file stops growing) */
	for (round = 0; round < 10; round++) {
		if (get_int(l, "PRAGMA page_count", &pages) == -1 ||
		    get_int(l, "PRAGMA page_size", &psize) == -1 ||
		    get_int(l, "PRAGMA freelist_count", &before) == -1)
			return -1;
		if ((pages - before) * psize <= l->cfg.max_bytes)
			break;
		if (exec(l, "DELETE FROM requests WHERE rowid IN (SELECT rowid"
		    " FROM requests ORDER BY at LIMIT (SELECT COUNT(*) / 10 + 1"
		    " FROM requests))") == -1 ||
		    exec(l, "DELETE FROM samples WHERE rowid IN (SELECT rowid"
		    " FROM samples ORDER BY at LIMIT (SELECT COUNT(*) / 10 + 1"
		    " FROM samples))") == -1)
			return -1;
		l->pruned += sqlite3_changes(l->db);
	}
	return 0;
err:
	set_error(l, "retention");
	sqlite3_finalize(st);
	return -1;
}

int
ldg_flush(struct ldg *l, time_t now)
{
	sqlite3_stmt *st;
	size_t i;
	int64_t n = 0;

	if (!ldg_ok(l))
		return -1;
	if (l->nreq == 0 && l->nsmp == 0 && l->last_prune != 0 &&
	    now - l->last_prune < PRUNE_SECS)
		return 0;
	if (exec(l, "BEGIN IMMEDIATE") == -1)
		return -1;
	for (i = 0; i < l->nreq; ) {
		size_t k, many = l->nreq - i >= REQ_MANY ? REQ_MANY : 1;

		st = many > 1 ? l->ins_req_many : l->ins_req;
		sqlite3_reset(st);
		for (k = 0; k < many; k++)
			bind_req(st, (int)k, &l->req[i + k]);
		if (sqlite3_step(st) != SQLITE_DONE)
			goto err;
		n += sqlite3_changes(l->db);
		i += many;
	}
	st = l->ins_sample;
	for (i = 0; i < l->nsmp; i++) {
		const struct psample *p = &l->smp[i];

		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, p->window, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, p->at);
		sqlite3_bind_double(st, 3, p->util);
		sqlite3_bind_text(st, 4, p->source, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, p->resets_at);
		if (sqlite3_step(st) != SQLITE_DONE)
			goto err;
		n++;
	}
	if (l->last_prune == 0 || now - l->last_prune >= PRUNE_SECS) {
		if (prune(l, now) == -1)
			goto rollback;
		l->last_prune = now;
	}
	if (exec(l, "COMMIT") == -1)
		goto rollback;
	sqlite3_reset(l->ins_req);
	sqlite3_reset(l->ins_req_many);
	sqlite3_reset(l->ins_sample);
	l->nreq = l->nsmp = 0;
	shrink((void **)&l->req, &l->capreq, sizeof(*l->req));
	shrink((void **)&l->smp, &l->capsmp, sizeof(*l->smp));
	l->written += n;
	l->last_flush = now;
	if (l->error[0] != '\0')
		log_info("ledger written again");
	l->error[0] = '\0';
	return 0;
err:
	if (l->error[0] == '\0')
		log_warnx("ledger %s: cannot write: %s (will retry)", l->path,
		    sqlite3_errmsg(l->db));
	set_error(l, "insert");
rollback:
	sqlite3_reset(l->ins_req);
	sqlite3_reset(l->ins_req_many);
	sqlite3_reset(l->ins_sample);
	(void)sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

static int
add_time(cJSON *o, const char *key, time_t t)
{
	char buf[32];
	struct tm tm;

	if (t <= 0 || gmtime_r(&t, &tm) == NULL)
		return cJSON_AddNullToObject(o, key) != NULL ? 0 : -1;
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return cJSON_AddStringToObject(o, key, buf) != NULL ? 0 : -1;
}

static int
add_str(cJSON *o, const char *key, const char *s)
{
	if (s == NULL || s[0] == '\0')
		return cJSON_AddNullToObject(o, key) != NULL ? 0 : -1;
	return cJSON_AddStringToObject(o, key, s) != NULL ? 0 : -1;
}

int
ldg_status_json(const struct ldg *l, cJSON *o)
{
	if (l == NULL)
		return cJSON_AddBoolToObject(o, "enabled", 0) != NULL ? 0 : -1;
	if (cJSON_AddBoolToObject(o, "enabled", 1) == NULL ||
	    cJSON_AddStringToObject(o, "path", l->path) == NULL ||
	    cJSON_AddBoolToObject(o, "writing", !l->off) == NULL ||
	    cJSON_AddNumberToObject(o, "pending",
	    (double)(l->nreq + l->nsmp)) == NULL ||
	    cJSON_AddNumberToObject(o, "written", (double)l->written) ==
	    NULL ||
	    cJSON_AddNumberToObject(o, "dropped", (double)l->dropped) ==
	    NULL ||
	    cJSON_AddNumberToObject(o, "pruned", (double)l->pruned) == NULL ||
	    cJSON_AddNumberToObject(o, "retention_days",
	    l->cfg.retention_days) == NULL ||
	    cJSON_AddNumberToObject(o, "max_bytes", (double)l->cfg.max_bytes)
	    == NULL ||
	    cJSON_AddNumberToObject(o, "schema_version", LDG_SCHEMA_VERSION) ==
	    NULL ||
	    add_time(o, "last_written_at", l->last_flush) == -1 ||
	    add_str(o, "error", l->error) == -1 ||
	    add_str(o, "recovered_from", l->recovered_from) == -1)
		return -1;
	return 0;
}
