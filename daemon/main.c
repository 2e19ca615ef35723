/*
 * ratetapd: the per-user daemon.  Owns the tracker, reads the shims'
 * datagrams, polls the usage endpoint, persists the state and answers on
 * the control socket, all from one event loop (see docs/daemon.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "ratetap/hosts.h"
#include "ratetap/paths.h"

#include "control.h"
#include "http.h"
#include "ingest.h"
#include "journal.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "otlp.h"
#include "poll.h"
#include "sockets.h"
#include "state.h"
#include "status.h"
#include "token.h"
#include "statusline.h"
#include "transcripts.h"
#include "tracker.h"
#include "ledger.h"
#include "warn.h"

/*
 * A shim preloaded into ratetapd (by a user's global LD_PRELOAD, or by
 * `ratetap run` starting it) looks this symbol up and stays out of the
 * daemon's own libcurl traffic: the usage poll must never be tapped.
 */
__attribute__((visibility("default"), used)) int ratetapd_no_tap = 1;

#define SAVE_CHECK_MS		500	/* a change is saved within this */
#define SAVE_MAX_MS		5000	/* ... or this, for a large state */
#define SAVE_COST_FACTOR	50	/* saving takes at most 1/this of the
					   time (see next_save_ms()) */
#define SAVE_RETRY_MS		5000	/* after a failed save */
#define TICK_MS			10000	/* trk_tick() at least this often */
#define POLL_INTERVAL_MAX	(7 * 24 * 3600)

struct opts {
	char ingest[RT_PATH_MAX];
	char control[RT_PATH_MAX];
	char state_dir[RT_FILE_MAX];
	char api_base[1024];
	int interval;
	const char *credentials;
	const char *ca_file;	/* NULL: the system's CA store */
	double warn_pct;
	const char *metrics_listen;
	const char *metrics_token_file;	/* --metrics-bearer-token-file */
	int metrics_aggregate;		/* --metrics-aggregate-only */
	int debug;
	int no_ledger;			/* --no-ledger, RATETAP_LEDGER=0 */
	struct ldg_config ledger;	/* retention, size bound */
	struct warn_config warn;	/* --warn-threshold, --warn-command */
};

struct daemon {
	struct opts o;
	struct loop *l;
	struct trk *t;
	struct poll_ctx *poll;
	struct ctl *ctl;
	struct ctl *metrics;
	struct jrn *jrn;
	struct tx *tx;		/* Claude Code's transcripts */
	struct ldg *ldg;	/* NULL: --no-ledger */
	struct warn *warn;
	int state_loaded;	/* the state file was loaded at start */
	char journal_path[RT_FILE_MAX];
	int ingest_fd;
	int control_fd;
	int ingest_bound;	/* we bound it (unlink at exit) */
	int control_bound;
	int lock_fd;		/* <control socket>.lock */
	int state_lock_fd;	/* the state directory, flock'ed */
	int metrics_fd;		/* TCP metrics socket until served */
	char metrics_bound[128];
	char *metrics_token;	/* from the token file, wiped at exit */
	int sig_fd;
	int exit_code;
	time_t started_at;
	char state_path[RT_FILE_MAX + 16];
	char recovered_from[RT_FILE_MAX + 48]; /* corrupt file moved aside */
	char save_error[TRK_ERR_LEN];	/* "" when the last save worked */
	int save_errno;			/* errno of the last failed save */
	time_t last_saved;
	int64_t save_cost_us;		/* CPU of the last save */
};

static void
usage(FILE *f)
{
	fprintf(f,
"usage: ratetapd [--socket PATH] [--control PATH] [--state-dir DIR]\n"
"                [--api-base URL] [--poll-interval SECS] [--credentials FILE]\n"
"                [--cacert FILE] [--warn-threshold PCT[,PCT...]]\n"
"                [--warn-command CMD] [--no-notify]\n"
"                [--metrics-listen [ADDR:]PORT]\n"
"                [--metrics-bearer-token-file FILE] [--metrics-aggregate-only]\n"
"                [--no-ledger] [--ledger-retention-days DAYS]\n"
"                [--ledger-max-mb MB] [--debug] [--help] [--version]\n"
"\n"
"Runs in the foreground, logs to stderr, stops on SIGTERM/SIGINT.\n"
"\n"
"  --socket PATH         ingest datagram socket        (RATETAP_SOCKET)\n"
"  --control PATH        control socket, HTTP          (RATETAP_CONTROL)\n"
"  --state-dir DIR       where state.json is kept      (XDG_STATE_HOME/ratetap)\n"
"  --api-base URL        base URL of the usage poll    (RATETAP_API_BASE)\n"
"  --poll-interval SECS  seconds between usage polls   (RATETAP_POLL_INTERVAL)\n"
"  --credentials FILE    credentials file holding claudeAiOauth.accessToken\n"
"                        (default $CLAUDE_CONFIG_DIR/.credentials.json or\n"
"                        ~/.claude/.credentials.json)\n"
"  --cacert FILE         CA certificates in FILE (PEM) (RATETAP_CA_FILE)\n"
"                        verifying the usage poll's and OTLP push's HTTPS\n"
"                        servers instead of the system's CA store\n"
"  --warn-threshold LIST warn when a window crosses each PCT %% of the\n"
"                        comma list (default 80) (RATETAP_WARN_THRESHOLD)\n"
"  --warn-command CMD    run CMD (split at blanks, no shell) once per\n"
"                        crossing (RATETAP_WARN_COMMAND)\n"
"  --no-notify           no desktop notifications   (RATETAP_NOTIFY=0)\n"
"  --metrics-listen [ADDR:]PORT  also serve /metrics on TCP (ADDR defaults\n"
"                        to 127.0.0.1)\n"
"  --metrics-bearer-token-file FILE  TCP /metrics only with the header\n"
"                        Authorization: Bearer <the token in FILE>\n"
"  --metrics-aggregate-only  TCP /metrics without the per-model and\n"
"                        per-program families (no names)\n"
"  --no-ledger           keep no history in ledger.db  (RATETAP_LEDGER=0)\n"
"  --ledger-retention-days DAYS  history kept (default 400)\n"
"                        (RATETAP_LEDGER_RETENTION_DAYS)\n"
"  --ledger-max-mb MB    size bound of ledger.db (default 256)\n"
"                        (RATETAP_LEDGER_MAX_MB)\n"
"  --debug               log diagnostics               (RATETAP_DEBUG=1)\n"
"\n"
"The OAuth token is read from RATETAP_OAUTH_TOKEN, CLAUDE_CODE_OAUTH_TOKEN or\n"
"the credentials file, never from the command line.\n");
}

static int
parse_interval(const char *s, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (s[0] == '\0' || *end != '\0' || errno != 0 || v < 1 ||
	    v > POLL_INTERVAL_MAX) {
		fprintf(stderr, "ratetapd: %s \"%s\": expected whole seconds "
		    "from 1 to %d\n", what, s, POLL_INTERVAL_MAX);
		exit(1);
	}
	return (int)v;
}

static int
parse_count(const char *s, const char *what, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (s[0] == '\0' || *end != '\0' || errno != 0 || v < 1 || v > max) {
		fprintf(stderr, "ratetapd: %s \"%s\": expected a whole number "
		    "from 1 to %ld\n", what, s, max);
		exit(1);
	}
	return (int)v;
}

static void
set_path(char *dst, size_t len, const char *src, const char *what)
{
	if (src[0] == '\0' || strlen(src) >= len) {
		fprintf(stderr, "ratetapd: %s: %s\n", what, src[0] == '\0' ?
		    "empty path" : "path too long");
		exit(1);
	}
	memcpy(dst, src, strlen(src) + 1);
}

static void
set_api_base(struct opts *o, const char *s, const char *what)
{
	char err[128];
	size_t n = strlen(s);

	if (n >= sizeof(o->api_base) || strpbrk(s, " \t\r\n") != NULL ||
	    http_check_url(s, err, sizeof(err)) == -1) {
		fprintf(stderr, "ratetapd: %s \"%s\": expected an http:// or "
		    "https:// URL\n", what, s);
		exit(1);
	}
	memcpy(o->api_base, s, n + 1);
	while (n > 0 && o->api_base[n - 1] == '/')
		o->api_base[--n] = '\0';
}

static void
parse_args(struct opts *o, int argc, char **argv)
{
	enum { O_SOCKET = 256, O_CONTROL, O_STATE, O_API, O_INTERVAL, O_CRED,
	    O_CACERT, O_WARN, O_METRICS, O_METRICS_TOKEN, O_METRICS_AGG,
	    O_DEBUG, O_HELP, O_VERSION, O_NO_LEDGER, O_LDG_DAYS, O_LDG_MB,
	    O_WARN_CMD, O_NO_NOTIFY };
	static const struct option lo[] = {
		{ "socket", required_argument, NULL, O_SOCKET },
		{ "control", required_argument, NULL, O_CONTROL },
		{ "state-dir", required_argument, NULL, O_STATE },
		{ "api-base", required_argument, NULL, O_API },
		{ "poll-interval", required_argument, NULL, O_INTERVAL },
		{ "credentials", required_argument, NULL, O_CRED },
		{ "cacert", required_argument, NULL, O_CACERT },
		{ "warn-threshold", required_argument, NULL, O_WARN },
		{ "metrics-listen", required_argument, NULL, O_METRICS },
		{ "metrics-bearer-token-file", required_argument, NULL,
		    O_METRICS_TOKEN },
		{ "metrics-aggregate-only", no_argument, NULL, O_METRICS_AGG },
		{ "debug", no_argument, NULL, O_DEBUG },
		{ "no-ledger", no_argument, NULL, O_NO_LEDGER },
		{ "warn-command", required_argument, NULL, O_WARN_CMD },
		{ "no-notify", no_argument, NULL, O_NO_NOTIFY },
		{ "ledger-retention-days", required_argument, NULL, O_LDG_DAYS },
		{ "ledger-max-mb", required_argument, NULL, O_LDG_MB },
		{ "help", no_argument, NULL, O_HELP },
		{ "version", no_argument, NULL, O_VERSION },
		{ NULL, 0, NULL, 0 }
	};
	const char *v, *ca_what = NULL;
	char err[512];
	int c, i;

	/* never take a secret from argv: it would show in ps */
	for (i = 1; i < argc; i++)
		if (strncmp(argv[i], "--token", 7) == 0 ||
		    strncmp(argv[i], "--oauth-token", 13) == 0) {
			fprintf(stderr, "ratetapd: the OAuth token is never "
			    "taken from the command line (it would show in "
			    "ps); set RATETAP_OAUTH_TOKEN or use "
			    "--credentials FILE\n");
			exit(1);
		}

	memset(o, 0, sizeof(*o));
	o->interval = RT_DEFAULT_POLL_SECS;
	o->warn_pct = TRK_DEFAULT_WARN_PCT;
	o->debug = rt_env_flag("RATETAP_DEBUG");
	set_api_base(o, RT_DEFAULT_API_BASE, "default");
	if ((v = getenv("RATETAP_API_BASE")) != NULL && v[0] != '\0')
		set_api_base(o, v, "RATETAP_API_BASE");
	if ((v = getenv("RATETAP_POLL_INTERVAL")) != NULL && v[0] != '\0')
		o->interval = parse_interval(v, "RATETAP_POLL_INTERVAL");
	o->warn.thresholds[0] = TRK_DEFAULT_WARN_PCT;
	o->warn.nthresholds = 1;
	o->warn.notify = 1;
	if ((v = getenv("RATETAP_WARN_THRESHOLD")) != NULL && v[0] != '\0' &&
	    warn_parse_thresholds(v, &o->warn) == -1) {
		fprintf(stderr, "ratetapd: RATETAP_WARN_THRESHOLD \"%s\": "
		    "expected a comma list of percentages above 0\n", v);
		exit(1);
	}
	if ((v = getenv("RATETAP_WARN_COMMAND")) != NULL && v[0] != '\0')
		o->warn.command = v;
	if ((v = getenv("RATETAP_NOTIFY")) != NULL && strcmp(v, "0") == 0)
		o->warn.notify = 0;
	if ((v = getenv("RATETAP_LEDGER")) != NULL && strcmp(v, "0") == 0)
		o->no_ledger = 1;
	if ((v = getenv("RATETAP_LEDGER_RETENTION_DAYS")) != NULL &&
	    v[0] != '\0')
		o->ledger.retention_days = parse_count(v,
		    "RATETAP_LEDGER_RETENTION_DAYS", 100000);
	if ((v = getenv("RATETAP_LEDGER_MAX_MB")) != NULL && v[0] != '\0')
		o->ledger.max_bytes = (int64_t)parse_count(v,
		    "RATETAP_LEDGER_MAX_MB", 1 << 20) << 20;
	if ((v = getenv("RATETAP_CA_FILE")) != NULL && v[0] != '\0') {
		o->ca_file = v;
		ca_what = "RATETAP_CA_FILE";
	}

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case O_SOCKET:
			set_path(o->ingest, sizeof(o->ingest), optarg,
			    "--socket");
			break;
		case O_CONTROL:
			set_path(o->control, sizeof(o->control), optarg,
			    "--control");
			break;
		case O_STATE:
			set_path(o->state_dir, sizeof(o->state_dir), optarg,
			    "--state-dir");
			break;
		case O_API:
			set_api_base(o, optarg, "--api-base");
			break;
		case O_INTERVAL:
			o->interval = parse_interval(optarg, "--poll-interval");
			break;
		case O_CRED:
			if (optarg[0] == '\0') {
				fprintf(stderr, "ratetapd: --credentials: "
				    "empty path\n");
				exit(1);
			}
			o->credentials = optarg;
			break;
		case O_CACERT:
			o->ca_file = optarg;
			ca_what = "--cacert";
			break;
		case O_WARN:
			if (warn_parse_thresholds(optarg, &o->warn) == -1) {
				fprintf(stderr, "ratetapd: --warn-threshold "
				    "\"%s\": expected a percentage above 0 "
				    "(or a comma list of them)\n", optarg);
				exit(1);
			}
			break;
		case O_WARN_CMD:
			o->warn.command = optarg;
			break;
		case O_NO_NOTIFY:
			o->warn.notify = 0;
			break;
		case O_METRICS:
			o->metrics_listen = optarg;
			break;
		case O_METRICS_TOKEN:
			if (optarg[0] == '\0') {
				fprintf(stderr, "ratetapd: "
				    "--metrics-bearer-token-file: empty "
				    "path\n");
				exit(1);
			}
			o->metrics_token_file = optarg;
			break;
		case O_METRICS_AGG:
			o->metrics_aggregate = 1;
			break;
		case O_DEBUG:
			o->debug = 1;
			break;
		case O_NO_LEDGER:
			o->no_ledger = 1;
			break;
		case O_LDG_DAYS:
			o->ledger.retention_days = parse_count(optarg,
			    "--ledger-retention-days", 100000);
			break;
		case O_LDG_MB:
			o->ledger.max_bytes = (int64_t)parse_count(optarg,
			    "--ledger-max-mb", 1 << 20) << 20;
			break;
		case O_HELP:
			usage(stdout);
			exit(0);
		case O_VERSION:
			printf("ratetapd %s\n", RATETAP_VERSION);
			exit(0);
		default:
			usage(stderr);
			exit(1);
		}
	}
	/* the tracker logs the lowest threshold's crossing itself */
	o->warn_pct = o->warn.thresholds[0];
	if (optind < argc) {
		fprintf(stderr, "ratetapd: unexpected argument \"%s\"\n",
		    argv[optind]);
		usage(stderr);
		exit(1);
	}
	if (o->metrics_listen == NULL && (o->metrics_token_file != NULL ||
	    o->metrics_aggregate)) {
		fprintf(stderr, "ratetapd: %s applies to the TCP metrics "
		    "listener: use it with --metrics-listen\n",
		    o->metrics_token_file != NULL ?
		    "--metrics-bearer-token-file" : "--metrics-aggregate-only");
		exit(1);
	}
	if (o->ca_file != NULL &&
	    http_check_ca_file(o->ca_file, err, sizeof(err)) == -1) {
		fprintf(stderr, "ratetapd: %s: cannot use CA file: %s\n",
		    ca_what, err);
		exit(1);
	}
	if (o->ingest[0] == '\0' &&
	    rt_ingest_path(o->ingest, sizeof(o->ingest)) == -1)
		fatalx("ingest socket path too long (at most %d bytes)",
		    RT_PATH_MAX - 1);
	if (o->control[0] == '\0' &&
	    rt_control_path(o->control, sizeof(o->control)) == -1)
		fatalx("control socket path too long (at most %d bytes)",
		    RT_PATH_MAX - 1);
	if (o->state_dir[0] == '\0' &&
	    rt_state_dir(o->state_dir, sizeof(o->state_dir)) == -1)
		fatalx("no state directory: set XDG_STATE_HOME or HOME, or "
		    "use --state-dir");
}

/* mkdir -p dir, the last component 0700 (parents 0700 too when created,
 * as the XDG base directory spec asks). */
static int
make_dirs(const char *dir)
{
	char buf[RT_FILE_MAX];
	struct stat st;
	char *p;

	if (snprintf(buf, sizeof(buf), "%s", dir) >= (int)sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (p = buf + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		{
			char save = *p;

			*p = '\0';
			if (mkdir(buf, 0700) == -1 && errno != EEXIST)
				return -1;
			*p = save;
		}
		if (*p == '\0')
			break;
	}
	if (stat(dir, &st) == -1)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

/* -- persistence -------------------------------------------------------- */

/* The process's CPU time in us (what a save costs us, not its fsync's
 * wait). */
static int64_t
cpu_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int
save_state(struct daemon *d)
{
	char err[TRK_ERR_LEN];
	int64_t t0;
	int e, r;

	/* the ledger first: rows the state does not cover yet are dropped
	   at the next start (ledger_open()), so none is lost or doubled */
	(void)ldg_flush(d->ldg, time(NULL));
	t0 = cpu_us();
	r = state_save(d->t, d->state_path, err, sizeof(err));
	d->save_cost_us = cpu_us() - t0;
	if (r == 0) {
		trk_clear_dirty(d->t);
		/* what the saved offset covers may go now */
		jrn_saved(d->jrn);
		d->last_saved = time(NULL);
		if (d->save_errno != 0)
			log_info("state saved to %s again", d->state_path);
		d->save_errno = 0;
		d->save_error[0] = '\0';
		return 0;
	}
	e = errno != 0 ? errno : EIO;
	if (e != d->save_errno)
		log_warnx("cannot save state to %s: %s (will retry)",
		    d->state_path, err);
	else
		log_debug("cannot save state: %s", err);
	d->save_errno = e;
	snprintf(d->save_error, sizeof(d->save_error), "%s", err);
	return -1;
}

/*
 * The delay before the next save of a dirty state.  A save rewrites the
 * whole file (one atomic rename holds the counts and the journal offset
 * they came from), so its cost grows with the tracker's tables: 0.4 ms
 * of CPU at 10 rows, 1.0-1.4 ms at their bound (256 models and 256
 * programs; more fold into "other").  On a slow machine or file system
 * it can be much more; the delay then grows so that saving takes at
 * most 1/SAVE_COST_FACTOR of the time, bounded by SAVE_MAX_MS.  A longer
 * delay loses no journal event in a crash (the saved offset is older:
 * they are read again); only datagram and poll changes of the last few
 * seconds are at stake, where they were of the last 500 ms.
 */
static int64_t
next_save_ms(const struct daemon *d)
{
	int64_t ms = d->save_cost_us * SAVE_COST_FACTOR / 1000;

	if (ms < SAVE_CHECK_MS)
		return SAVE_CHECK_MS;
	return ms > SAVE_MAX_MS ? SAVE_MAX_MS : ms;
}

static int64_t
on_save_timer(struct loop *l, int64_t id, void *arg)
{
	struct daemon *d = arg;

	(void)l;
	(void)id;
	warn_check(d->warn, d->t, time(NULL));
	if (!d->t->dirty)
		return SAVE_CHECK_MS;
	return save_state(d) == 0 ? next_save_ms(d) : SAVE_RETRY_MS;
}

static int64_t
on_tick_timer(struct loop *l, int64_t id, void *arg)
{
	struct daemon *d = arg;

	(void)l;
	(void)id;
	trk_tick(d->t, time(NULL));
	return TICK_MS;
}

static void
load_state(struct daemon *d)
{
	char err[TRK_ERR_LEN], aside[sizeof(d->state_path) + 32];
	const char *base;

	switch (state_open(d->t, d->state_path, time(NULL), aside,
	    sizeof(aside), err, sizeof(err))) {
	case STATE_LOADED:
		d->state_loaded = 1;
		log_info("state loaded from %s", d->state_path);
		trk_clear_dirty(d->t);
		return;
	case STATE_ABSENT:
		log_info("no state file yet: starting fresh (%s)",
		    d->state_path);
		return;
	case STATE_UNREADABLE:
		fatal("cannot read state file %s", d->state_path);
	case STATE_STUCK:
		fatal("state file %s is corrupt (%s) and cannot be moved "
		    "aside", d->state_path, err);
	default:
		break;
	}
	base = strrchr(aside, '/');
	snprintf(d->recovered_from, sizeof(d->recovered_from), "%s",
	    base != NULL ? base + 1 : aside);
	log_warnx("state file %s is corrupt (%s): moved aside to %s, "
	    "starting fresh", d->state_path, err, aside);
}

/*
 * Own the state directory: an exclusive flock on the directory itself
 * (it works on a read-only one too), taken before the state is read, so
 * that two daemons never count into one state file whatever their sockets
 * (a second one would load the file, and one's counts would be lost when
 * both save).  Held until exit.
 */
static void
lock_state(struct daemon *d)
{
	if (make_dirs(d->o.state_dir) == -1)
		fatal("cannot create state directory %s", d->o.state_dir);
	snprintf(d->state_path, sizeof(d->state_path), "%s/state.json",
	    d->o.state_dir);
	if ((d->state_lock_fd = open(d->o.state_dir, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1)
		fatal("cannot open state directory %s", d->o.state_dir);
	if (flock(d->state_lock_fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EWOULDBLOCK)
			fatalx("another ratetapd is already running with the "
			    "state in %s", d->o.state_dir);
		fatal("cannot lock state directory %s", d->o.state_dir);
	}
}

/* -- ledger ------------------------------------------------------------- */

static void
ledger_request(void *arg, const struct trk_req *r)
{
	struct daemon *d = arg;
	struct ldg_request q;

	memset(&q, 0, sizeof(q));
	q.stream = LDG_STREAM_EVENTS;
	q.seq = ldg_events_seq(d->ldg, r->seq);
	q.at = r->at;
	q.source = r->source;
	q.program = r->prog;
	q.project = r->project;
	q.model = r->model;
	q.input = r->tokens.input;
	q.output = r->tokens.output;
	q.cache_creation_input = r->tokens.cache_creation_input;
	q.cache_read_input = r->tokens.cache_read_input;
	q.http_status = r->http_status;
	q.rate_limited = r->rate_limited;
	(void)ldg_add_request(d->ldg, &q);
}

/*
 * A Claude Code transcript entry (tx_set_entry_cb()).  Its row is named by
 * the follower's own count, saved with the state: an entry read again
 * after a SIGKILL gets the number it had and lands once (the ledger keeps
 * the first row of a number).  A larger copy of an entry adds its tokens
 * in a row of its own that counts no request.
 */
static void
ledger_tx_entry(void *arg, const struct tx_entry *e)
{
	struct daemon *d = arg;
	struct ldg_request q;

	memset(&q, 0, sizeof(q));
	q.stream = LDG_STREAM_CLAUDE;
	q.seq = e->seq;
	q.at = e->ts;
	q.source = "claude_code_transcript";
	q.program = TX_PROGRAM;
	q.project = e->project;
	q.model = e->model;
	q.input = e->tokens.input;
	q.output = e->tokens.output;
	q.cache_creation_input = e->tokens.cache_creation_input;
	q.cache_read_input = e->tokens.cache_read_input;
	q.http_status = e->is_new ? 200 : 0;
	(void)ldg_add_request(d->ldg, &q);
}

static void
ledger_sample(void *arg, const char *window, int source, time_t at,
    double pct, time_t resets_at)
{
	struct daemon *d = arg;
	struct ldg_sample s;

	s.window = window;
	s.at = at;
	s.utilization = pct;
	s.source = trk_src_name(source) != NULL ? trk_src_name(source) : "";
	s.resets_at = resets_at;
	(void)ldg_add_sample(d->ldg, &s);
}

/*
 * Open the ledger beside the state, after the state is loaded and before
 * any event is read: rows the state does not cover are dropped (their
 * events come again from the journal), then the tracker's hooks feed it.
 */
static void
ledger_open(struct daemon *d)
{
	char path[RT_FILE_MAX + 16];

	if (d->o.no_ledger)
		return;
	snprintf(path, sizeof(path), "%s/ledger.db", d->o.state_dir);
	if ((d->ldg = ldg_open(path, &d->o.ledger)) == NULL)
		fatal("ledger");
	if (ldg_ok(d->ldg))
		(void)ldg_reconcile(d->ldg, d->t->datagrams_accepted,
		    !d->state_loaded);
	/*
	 * A fresh numbering is saved at once: a state that says "0 events
	 * above this base" then exists before any row is written, so rows
	 * committed before a SIGKILL are deleted at the next start like
	 * any others beyond the state, instead of being taken for history
	 * (a second fresh start would move the base above them, and their
	 * events, read again, would be counted twice).
	 */
	if (!d->state_loaded)
		(void)save_state(d);
	d->t->cfg.on_request = ledger_request;
	d->t->cfg.on_sample = ledger_sample;
	d->t->cfg.hook_arg = d;
}

/* -- control ------------------------------------------------------------ */

/* struct status_daemon's add_source: Claude Code's transcripts
 * ("transcripts", "projects") and the ledger ("ledger"). */
static int
add_sources(void *arg, struct jw *w)
{
	struct daemon *d = arg;
	cJSON *root, *o;
	int rc = -1;

	/* small objects: built by their modules, printed in place */
	if ((root = cJSON_CreateObject()) == NULL)
		return -1;
	if (d->tx != NULL && tx_status_json(d->tx, root) == -1)
		goto out;
	if ((o = cJSON_AddObjectToObject(root, "ledger")) == NULL ||
	    ldg_status_json(d->ldg, o) == -1)
		goto out;
	jw_cjson_members(w, root);
	rc = 0;
out:
	cJSON_Delete(root);
	return rc;
}

/*
 * Before any answer that shows counts: take every event already handed
 * over (the journal is read in batches after a short window; datagrams
 * may wait in the socket), so that an answer never misses one.
 */
static void
catch_up(struct daemon *d)
{
	time_t now = time(NULL);

	while (ing_drain(d->ingest_fd, d->t, getuid(), now) >= ING_BATCH_MAX)
		;
	jrn_catch_up(d->jrn);
}

static int
status_doc(void *arg, char **out, size_t *len)
{
	struct daemon *d = arg;
	time_t now = time(NULL);
	struct status_daemon sd = {
		.version = RATETAP_VERSION,
		.pid = (long)getpid(),
		.started_at = d->started_at,
		.poll_enabled = poll_enabled(d->poll),
		.poll_next_at = poll_next_at(d->poll),
		.poll_interval = d->o.interval,
		.has_metrics_listener = d->metrics != NULL,
		.journal_path = d->journal_path,
		.state_path = d->state_path,
		.state_saved_at = d->last_saved,
		.state_save_error = d->save_error,
		.state_recovered_from = d->recovered_from,
		.poll_skipped = poll_skipped(d->poll),
		.add_source = add_sources,
		.source_arg = d,
	};

	catch_up(d);
	if (d->tx != NULL)
		tx_recompute(d->tx, now);	/* windows exact at any time */
	ctl_get_stats(d->ctl, &sd.control);
	if (d->metrics != NULL)
		ctl_get_stats(d->metrics, &sd.metrics_listener);
	return status_render(d->t, now, &sd, out, len);
}

/* POST /v1/statusline: Claude Code's rate_limits, as a source */
static int
statusline_apply(void *arg, const char *body, size_t len, char *err,
    size_t errlen)
{
	struct daemon *d = arg;

	catch_up(d);
	return sl_apply(d->t, body, len, time(NULL), err, errlen) == -1 ?
	    -1 : 0;
}

static int
metrics_text(void *arg, char **out, size_t *len)
{
	struct daemon *d = arg;

	catch_up(d);
	return metrics_render(d->t, time(NULL), out, len);
}

/*
 * /metrics without the families that name models and programs
 * (--metrics-aggregate-only): every line of ratetap_model_* and
 * ratetap_program_* is dropped, # HELP and # TYPE included.
 */
static int
metrics_text_aggregate(void *arg, char **out, size_t *len)
{
	static const char *const named[] = { "ratetap_model_",
	    "ratetap_program_" };
	char *p, *w, *end, *nl, *name;
	size_t i;

	if (metrics_text(arg, out, len) == -1)
		return -1;
	p = w = *out;
	end = *out + *len;
	while (p < end) {
		int drop = 0;

		nl = memchr(p, '\n', (size_t)(end - p));
		nl = nl != NULL ? nl + 1 : end;
		name = p;
		if (strncmp(p, "# HELP ", 7) == 0 ||
		    strncmp(p, "# TYPE ", 7) == 0)
			name = p + 7;
		for (i = 0; i < sizeof(named) / sizeof(named[0]); i++)
			if (strncmp(name, named[i], strlen(named[i])) == 0)
				drop = 1;
		if (!drop) {
			memmove(w, p, (size_t)(nl - p));
			w += nl - p;
		}
		p = nl;
	}
	*w = '\0';
	*len = (size_t)(w - *out);
	return 0;
}

/* -- signals ------------------------------------------------------------ */

static void
on_signal(struct loop *l, int fd, int events, void *arg)
{
	struct daemon *d = arg;
	struct signalfd_siginfo si;
	ssize_t n;

	(void)events;
	while ((n = read(fd, &si, sizeof(si))) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			log_info("%s: stopping", strsignal((int)si.ssi_signo));
			loop_stop(l);
			break;
		case SIGHUP:
			log_info("SIGHUP: saving state");
			(void)save_state(d);
			break;
		default:
			break;
		}
	}
}

static void
setup_signals(struct daemon *d)
{
	struct sigaction sa;
	sigset_t set;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) == -1)
		fatal("sigaction");
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	/* before libcurl may start resolver threads: they inherit it */
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1)
		fatal("sigprocmask");
	if ((d->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) == -1)
		fatal("signalfd");
}

/* -- sockets ------------------------------------------------------------ */

/* Is the socket bound to a loopback address (127/8, ::1, or ::ffff:127/104)? */
static int
is_loopback(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		return 0;
	if (ss.ss_family == AF_INET)
		return (ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr) >>
		    24) == 127;
	if (ss.ss_family == AF_INET6) {
		const struct in6_addr *a = &((struct sockaddr_in6 *)&ss)->
		    sin6_addr;

		return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) &&
		    a->s6_addr[12] == 127);
	}
	return 0;
}

/*
 * The bearer token of the TCP metrics listener, from path: a regular file
 * of ours (not a symbolic link) that others can neither read nor write and
 * the group cannot write, holding one line of visible ASCII.  Returns the
 * token (malloc'ed), or NULL with the reason in err (never the content).
 */
static char *
read_metrics_token(const char *path, char *err, size_t errlen)
{
	char buf[TOKEN_MAX + 2], *tok = NULL;
	struct stat st;
	ssize_t n;
	size_t len, i;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK |
	    O_NOCTTY)) == -1) {
		snprintf(err, errlen, "%s: %s", path, errno == ELOOP ?
		    "a symbolic link" : strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		goto out;
	}
	if (st.st_uid != geteuid()) {
		snprintf(err, errlen, "%s: owned by uid %u, not by us", path,
		    (unsigned)st.st_uid);
		goto out;
	}
	if (st.st_mode & (S_IRWXO | S_IWGRP)) {
		snprintf(err, errlen, "%s: mode %04o: others may read or "
		    "change it (chmod 600)", path,
		    (unsigned)(st.st_mode & 07777));
		goto out;
	}
	len = 0;
	while (len < sizeof(buf) && (n = read(fd, buf + len,
	    sizeof(buf) - len)) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto out;
		}
		len += (size_t)n;
	}
	if (len > TOKEN_MAX) {
		snprintf(err, errlen, "%s: too large for a token", path);
		goto out;
	}
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' ||
	    buf[len - 1] == ' ' || buf[len - 1] == '\t'))
		len--;
	for (i = 0; i < len; i++)
		if ((unsigned char)buf[i] <= 0x20 ||
		    (unsigned char)buf[i] >= 0x7f)
			break;
	if (len == 0 || i < len) {
		snprintf(err, errlen, "%s: %s", path, len == 0 ? "empty" :
		    "the token must be one line of visible ASCII");
		goto out;
	}
	if ((tok = malloc(len + 1)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	memcpy(tok, buf, len);
	tok[len] = '\0';
out:
	explicit_bzero(buf, sizeof(buf));
	close(fd);
	return tok;
}

/*
 * The settings parse_args() cannot check alone, checked before anything
 * on disk is touched: the OTEL_* variables, and the metrics address (its
 * TCP socket is bound here, which also finds a port in use; nothing on
 * disk).
 */
static void
check_settings(struct daemon *d)
{
	struct otlp_config oc;
	char err[512];

	memset(&oc, 0, sizeof(oc));
	if (otlp_config_env(&oc, err, sizeof(err)) == -1)
		fatalx("OpenTelemetry export misconfigured: %s; not starting",
		    err);
	otlp_config_free(&oc);
	if (d->o.metrics_token_file != NULL &&
	    (d->metrics_token = read_metrics_token(d->o.metrics_token_file,
	    err, sizeof(err))) == NULL)
		fatalx("--metrics-bearer-token-file: %s", err);
	if (d->o.metrics_listen != NULL &&
	    (d->metrics_fd = sock_listen_tcp(d->o.metrics_listen,
	    d->metrics_bound, sizeof(d->metrics_bound), err,
	    sizeof(err))) == -1)
		fatalx("--metrics-listen: %s", err);
	if (d->metrics_fd != -1 && !is_loopback(d->metrics_fd)) {
		if (d->metrics_token != NULL)
			log_warnx("the metrics listener %s is reachable from "
			    "other hosts; scrapes need the bearer token, "
			    "which travels in clear text over http",
			    d->metrics_bound);
		else
			log_warnx("the metrics listener %s is reachable from "
			    "other hosts: anyone who reaches it reads every "
			    "metric%s; see --metrics-bearer-token-file and "
			    "docs/security.md", d->metrics_bound,
			    d->o.metrics_aggregate ? "" :
			    ", program and model names included");
	}
}

static void
take_lock(struct daemon *d)
{
	char path[RT_PATH_MAX + 8];

	snprintf(path, sizeof(path), "%s.lock", d->o.control);
	if ((d->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600)) == -1)
		fatal("cannot open lock file %s", path);
	if (flock(d->lock_fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EWOULDBLOCK)
			fatalx("another ratetapd is already running (it holds "
			    "%s; control socket %s)", path, d->o.control);
		fatal("cannot lock %s", path);
	}
}

static void
open_sockets(struct daemon *d)
{
	char err[512], dir[RT_PATH_MAX];
	const char *slash;
	int busy, n;

	if ((n = sock_activation(&d->ingest_fd, &d->control_fd, err,
	    sizeof(err))) == -1)
		fatalx("socket activation: %s", err);
	if (n > 0)
		log_info("socket activation: %s%s%s passed by the service "
		    "manager", d->ingest_fd != -1 ? "ingest" : "",
		    d->ingest_fd != -1 && d->control_fd != -1 ? " and " : "",
		    d->control_fd != -1 ? "control" : "");

	/* the control socket's directory holds the lock */
	slash = strrchr(d->o.control, '/');
	if (slash != NULL && slash != d->o.control) {
		snprintf(dir, sizeof(dir), "%.*s",
		    (int)(slash - d->o.control), d->o.control);
		if (sock_private_dir(dir, err, sizeof(err)) == -1)
			fatalx("%s", err);
	}
	take_lock(d);

	/* check both paths (and their directories) before binding either:
	   a refused path must not leave the other socket behind */
	if (d->control_fd == -1 && d->ingest_fd == -1 &&
	    strcmp(d->o.control, d->o.ingest) == 0)
		fatalx("the ingest and control sockets cannot share the path "
		    "%s", d->o.control);
	if (d->control_fd == -1 &&
	    sock_prepare_path(d->o.control, &busy, err, sizeof(err)) == -1) {
		if (busy)
			fatalx("another ratetapd is already running: %s "
			    "answers", d->o.control);
		fatalx("control socket: %s", err);
	}
	if (d->ingest_fd == -1 &&
	    sock_prepare_path(d->o.ingest, &busy, err, sizeof(err)) == -1)
		fatalx("ingest socket: %s", err);

	if (d->control_fd == -1) {
		if ((d->control_fd = sock_bind_control(d->o.control, err,
		    sizeof(err))) == -1)
			fatalx("control socket: %s", err);
		d->control_bound = 1;
	}
	if (d->ingest_fd == -1) {
		if ((d->ingest_fd = sock_bind_ingest(d->o.ingest, err,
		    sizeof(err))) == -1) {
			if (d->control_bound)
				unlink(d->o.control);
			fatalx("ingest socket: %s", err);
		}
		d->ingest_bound = 1;
	}
}

static void
start_servers(struct daemon *d)
{
	struct ctl_handlers h = { status_doc, metrics_text, d, NULL,
	    statusline_apply };
	struct ctl_handlers ht = { status_doc, d->o.metrics_aggregate ?
	    metrics_text_aggregate : metrics_text, d, d->metrics_token, NULL };
	char err[512];
	int fd;

	if ((d->ctl = ctl_start(d->l, d->control_fd, CTL_FULL, &h, err,
	    sizeof(err))) == NULL)
		fatalx("control socket: %s", err);
	d->control_fd = -1;	/* the server owns it now */
	if (d->metrics_fd != -1) {
		fd = d->metrics_fd;
		d->metrics_fd = -1;	/* the server owns it now */
		if ((d->metrics = ctl_start(d->l, fd, CTL_METRICS, &ht, err,
		    sizeof(err))) == NULL)
			fatalx("metrics listener: %s", err);
		log_info("metrics on http://%s/metrics%s%s", d->metrics_bound,
		    d->metrics_token != NULL ? " (bearer token required)" : "",
		    d->o.metrics_aggregate ? " (aggregates only)" : "");
	}
	if (ing_start(d->l, d->ingest_fd, d->t) == -1)
		fatal("ingest socket");
	/* the journal beside the ingest socket: what shims wrote while no
	   daemon ran is read now */
	if (rt_journal_path(d->o.ingest, d->journal_path,
	    sizeof(d->journal_path)) == -1)
		fatalx("journal path too long");
	if ((d->jrn = jrn_open(d->l, d->t, d->journal_path, err,
	    sizeof(err))) == NULL)
		fatalx("%s", err);
	if (d->recovered_from[0] != '\0')
		jrn_skip_to_end(d->jrn);
	if ((d->tx = tx_start(d->l, d->t)) == NULL)
		fatal("transcripts");
	if (d->ldg != NULL)
		tx_set_entry_cb(d->tx, ledger_tx_entry, d);
}

/* The shims this daemon's environment passes on read RATETAP_HOSTS: an
 * entry they cannot use is said in the log. */
static void
hosts_warn(void *arg, const char *msg)
{
	(void)arg;
	log_warnx("%s", msg);
}

int
main(int argc, char **argv)
{
	struct daemon d;
	struct poll_cfg pc;

	memset(&d, 0, sizeof(d));
	d.ingest_fd = d.control_fd = d.lock_fd = d.sig_fd = -1;
	d.state_lock_fd = d.metrics_fd = -1;
	parse_args(&d.o, argc, argv);
	log_init("ratetapd", d.o.debug);
	d.started_at = time(NULL);
	/* every setting is checked before anything on disk is touched */
	check_settings(&d);
	if (token_take_env() == -1)
		log_warnx("out of memory keeping the OAuth token from the "
		    "environment: it is not used");
	setup_signals(&d);

	if ((d.l = loop_new()) == NULL)
		fatal("epoll");
	if ((d.t = trk_new(&(struct trk_config){ .warn_pct =
	    d.o.warn_pct })) == NULL)
		fatal("trk_new");
	lock_state(&d);
	open_sockets(&d);
	load_state(&d);
	ledger_open(&d);
	d.o.warn.state_dir = d.o.state_dir;
	if ((d.warn = warn_new(&d.o.warn)) == NULL)
		fatal("warnings");
	start_servers(&d);
	if (loop_add_fd(d.l, d.sig_fd, LOOP_READ, on_signal, &d) == -1)
		fatal("signalfd");
	if (loop_add_timer(d.l, SAVE_CHECK_MS, on_save_timer, &d) == -1 ||
	    loop_add_timer(d.l, 0, on_tick_timer, &d) == -1)
		fatal("timers");
	if (http_set_ca_file(d.o.ca_file) == -1)
		fatal("CA file");
	if (d.o.ca_file != NULL)
		log_info("TLS servers verified with the CA file %s",
		    d.o.ca_file);
	pc.api_base = d.o.api_base;
	pc.interval = d.o.interval;
	pc.credentials = d.o.credentials;
	if ((d.poll = poll_start(d.l, d.t, &pc)) == NULL)
		fatal("usage poll");
	/* the OTEL_* settings were checked by check_settings() */
	if (otlp_start(d.l, d.t, d.started_at) == -1) {
		if (d.ingest_bound)
			unlink(d.o.ingest);
		if (d.control_bound)
			unlink(d.o.control);
		fatalx("OpenTelemetry export misconfigured; not starting");
	}
	log_info("ratetapd %s started (pid %ld): ingest %s, control %s, "
	    "usage poll %s%s every %d s", RATETAP_VERSION, (long)getpid(),
	    d.o.ingest, d.o.control, d.o.api_base, POLL_PATH, d.o.interval);
	(void)rt_hosts_check_env(hosts_warn, NULL);

	if (loop_run(d.l) == -1) {
		log_warn("event loop");
		d.exit_code = 1;
	}

	/* read what is already queued, then stop taking more (the rest of
	   the journal waits for the next start) */
	(void)ing_drain(d.ingest_fd, d.t, getuid(), time(NULL));
	{
		int more;

		(void)jrn_drain(d.jrn, JRN_BATCH_MAX, time(NULL), &more);
	}
	if (save_state(&d) == -1)
		d.exit_code = 1;
	else
		log_info("state saved to %s", d.state_path);
	poll_stop(d.poll);
	otlp_stop(d.l);
	http_shutdown(d.l);
	(void)http_set_ca_file(NULL);
	ing_stop(d.l, d.ingest_fd);
	jrn_close(d.jrn);
	tx_stop(d.tx);
	ctl_stop(d.metrics);
	ctl_stop(d.ctl);
	if (d.ingest_bound)
		unlink(d.o.ingest);
	if (d.control_bound)
		unlink(d.o.control);
	close(d.ingest_fd);
	close(d.sig_fd);
	loop_free(d.l);
	ldg_close(d.ldg);
	warn_free(d.warn);
	trk_free(d.t);
	token_forget_env();
	if (d.metrics_token != NULL) {
		explicit_bzero(d.metrics_token, strlen(d.metrics_token));
		free(d.metrics_token);
	}
	log_info("stopped");
	close(d.lock_fd);	/* releases the locks last */
	close(d.state_lock_fd);
	return d.exit_code;
}
