/*
 * OTLP/HTTP metrics exporter (see otlp.h and docs/metrics.md).
 *
 * Every interval a timer builds an ExportMetricsServiceRequest from the
 * tracker (otlp_payload.c) and POSTs it with the asynchronous HTTP client;
 * the completion callback arms the next push, later after failures
 * (doubling up to a cap, or as the collector's Retry-After says).  At most
 * one push is in flight.  A failure is logged when it differs from the
 * previous one, and recovery once.  The configuration comes from
 * otlp_config.c.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http.h"
#include "log.h"
#include "loop.h"
#include "backoff.h"
#include "otlp.h"
#include "tracker.h"

#define BACKOFF_CAP_MS		300000L		/* five minutes */
#define RETRY_AFTER_CAP_MS	3600000L	/* an hour */
#define MAX_RESPONSE_BYTES	65536
#define URL_LOG_LEN		256

/* --- the exporter ------------------------------------------------------ */

static struct {
	struct loop *loop;
	const struct trk *trk;
	struct otlp_config cfg;
	char **hdrs;		/* "Name: value" lines, NULL-terminated */
	char url[URL_LOG_LEN];	/* endpoint without credentials, for logs */
	uint64_t start_ns;
	int64_t timer;		/* 0 when none */
	int64_t req;		/* push in flight, 0 when none */
	int fails;		/* consecutive failed pushes */
	char last_err[160];	/* last failure logged, "" after success */
	char last_partial[160];	/* last partialSuccess logged, "" none */
	int protobuf;		/* http/protobuf, else http/json */
} ex;

/* The URL without user:password@ and query, for logs. */
static void
url_for_log(const char *u, char *out, size_t len)
{
	const char *h = strstr(u, "://"), *at, *end;

	h = h != NULL ? h + 3 : u;
	end = h + strcspn(h, "/?#");
	at = memchr(h, '@', (size_t)(end - h));
	if (at != NULL)
		snprintf(out, len, "%.*s%.*s", (int)(h - u), u,
		    (int)strcspn(at + 1, "?#"), at + 1);
	else
		snprintf(out, len, "%.*s", (int)strcspn(u, "?#"), u);
}

/* Delay before the next push after fails consecutive failures: the
 * interval doubled per failure up to BACKOFF_CAP_MS (or the interval when
 * that is longer), and at least a Retry-After (cut to an hour). */
static int64_t
next_delay(long interval, int fails, int64_t retry_after_ms)
{
	return backoff_delay(interval, fails, BACKOFF_CAP_MS, retry_after_ms,
	    RETRY_AFTER_CAP_MS);
}

static void
wipe_hdrs(void)
{
	size_t i;

	if (ex.hdrs == NULL)
		return;
	for (i = 0; ex.hdrs[i] != NULL; i++)
		otlp_wipe_free(ex.hdrs[i]);
	free(ex.hdrs);
	ex.hdrs = NULL;
}

static int
build_hdrs(void)
{
	int i, k = 0;

	if ((ex.hdrs = calloc((size_t)ex.cfg.nheaders + 3,
	    sizeof(*ex.hdrs))) == NULL)
		return -1;
	if ((ex.hdrs[k++] = strdup(ex.protobuf ?
	    "Content-Type: application/x-protobuf" :
	    "Content-Type: application/json")) == NULL)
		goto err;
	/* no "Expect: 100-continue" round trip before the body */
	if ((ex.hdrs[k++] = strdup("Expect:")) == NULL)
		goto err;
	for (i = 0; i < ex.cfg.nheaders; i++) {
		const struct otlp_kv *h = &ex.cfg.headers[i];

		if (strcasecmp(h->key, "Content-Type") == 0 ||
		    strcasecmp(h->key, "Expect") == 0) {
			log_warnx("OTLP: ignoring header %s: ratetapd sets it",
			    h->key);
			continue;
		}
		if (asprintf(&ex.hdrs[k], "%s: %s", h->key, h->value) == -1) {
			ex.hdrs[k] = NULL;
			goto err;
		}
		k++;
	}
	return 0;
err:
	wipe_hdrs();
	return -1;
}

static int64_t on_timer(struct loop *l, int64_t id, void *arg);

static void
arm(int64_t delay)
{
	if ((ex.timer = loop_add_timer(ex.loop, delay, on_timer, NULL)) == -1) {
		ex.timer = 0;
		log_warnx("OTLP: cannot set a timer: metrics export stopped");
	}
}

/* Log a failure once per distinct reason. */
static void
failed(const char *why, int64_t delay)
{
	ex.fails++;
	if (strcmp(why, ex.last_err) != 0) {
		log_warnx("OTLP export to %s failed: %s (next attempt in "
		    "%lld s)", ex.url, why, (long long)((delay + 999) / 1000));
		snprintf(ex.last_err, sizeof(ex.last_err), "%s", why);
	}
}

/*
 * Log data points the collector refused (partialSuccess): once per
 * distinct refusal, and once when a push is accepted whole again.
 */
static void
partial(const struct http_response *r)
{
	cJSON *j = NULL, *ps, *n, *msg;
	char why[sizeof(ex.last_partial)];
	double rejected = 0;

	why[0] = '\0';
	if (ex.protobuf) {
		long long nrej;
		char msgbuf[96];

		if (r->body_len > 0 && otlp_pb_partial(r->body, r->body_len,
		    &nrej, msgbuf, sizeof(msgbuf)) == 0 &&
		    (nrej > 0 || msgbuf[0] != '\0'))
			snprintf(why, sizeof(why), "collector rejected %lld "
			    "data points: %.80s", nrej, msgbuf);
	} else if (r->body_len > 0 && (j = cJSON_ParseWithLength(r->body,
	    r->body_len)) != NULL) {
		ps = cJSON_GetObjectItemCaseSensitive(j, "partialSuccess");
		n = cJSON_GetObjectItemCaseSensitive(ps, "rejectedDataPoints");
		msg = cJSON_GetObjectItemCaseSensitive(ps, "errorMessage");
		if (cJSON_IsString(n))
			rejected = strtod(n->valuestring, NULL);
		else if (cJSON_IsNumber(n))
			rejected = n->valuedouble;
		if (rejected > 0 || (cJSON_IsString(msg) &&
		    msg->valuestring[0]))
			snprintf(why, sizeof(why), "collector rejected %.0f "
			    "data points: %.80s", rejected,
			    cJSON_IsString(msg) ? msg->valuestring : "");
		cJSON_Delete(j);
	}
	if (strcmp(why, ex.last_partial) == 0)
		return;
	if (why[0] != '\0')
		log_warnx("OTLP export to %s: %s", ex.url, why);
	else
		log_info("OTLP export to %s: the collector accepts every "
		    "data point again", ex.url);
	snprintf(ex.last_partial, sizeof(ex.last_partial), "%s", why);
}

static void
on_done(const struct http_response *r, void *arg)
{
	char why[sizeof(ex.last_err)];
	int64_t retry_ms = 0, delay;

	(void)arg;
	ex.req = 0;
	if (r->error == NULL && r->status >= 200 && r->status < 300) {
		if (ex.fails > 0)
			log_info("OTLP export to %s works again", ex.url);
		ex.fails = 0;
		ex.last_err[0] = '\0';
		partial(r);
		arm(ex.cfg.interval_ms);
		return;
	}
	if (r->error != NULL)
		snprintf(why, sizeof(why), "%s", r->error);
	else {
		const char *ra = http_header(r, "Retry-After");

		snprintf(why, sizeof(why), "HTTP %ld", r->status);
		if (r->status == 429 || r->status == 503) {
			long s = backoff_retry_after(ra);

			if (s > 0)
				retry_ms = (s < RETRY_AFTER_CAP_MS / 1000 ? s :
				    RETRY_AFTER_CAP_MS / 1000) * (int64_t)1000;
		}
	}
	delay = next_delay(ex.cfg.interval_ms, ex.fails + 1, retry_ms);
	failed(why, delay);
	arm(delay);
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) == -1)
		return (uint64_t)time(NULL) * UINT64_C(1000000000);
	return (uint64_t)ts.tv_sec * UINT64_C(1000000000) +
	    (uint64_t)ts.tv_nsec;
}

static int64_t
on_timer(struct loop *l, int64_t id, void *arg)
{
	cJSON *p;
	char *body = NULL;
	size_t len = 0;
	int64_t delay;

	(void)id;
	(void)arg;
	if (ex.req != 0)	/* the previous push is still in flight */
		return ex.cfg.interval_ms;
	ex.timer = 0;
	if ((p = otlp_payload(ex.trk, &ex.cfg, ex.start_ns, now_ns())) != NULL)
		body = ex.protobuf ? (char *)otlp_pb_encode(p, &len) :
		    cJSON_PrintUnformatted(p);
	if (body != NULL && !ex.protobuf)
		len = strlen(body);
	if (body == NULL) {
		cJSON_Delete(p);
		delay = next_delay(ex.cfg.interval_ms, ex.fails + 1, 0);
		failed("out of memory building the payload", delay);
		ex.timer = id;
		return delay;
	}
	cJSON_Delete(p);
	ex.req = http_request_len(l, "POST", ex.cfg.endpoint,
	    (const char *const *)ex.hdrs, body, len, ex.cfg.timeout_ms,
	    MAX_RESPONSE_BYTES, on_done, NULL);
	free(body);
	if (ex.req == -1) {
		ex.req = 0;
		delay = next_delay(ex.cfg.interval_ms, ex.fails + 1, 0);
		failed("the request could not be started", delay);
		ex.timer = id;
		return delay;
	}
	return LOOP_NOMORE;	/* on_done() arms the next push */
}

int
otlp_start(struct loop *l, const struct trk *t, time_t now)
{
	char err[OTLP_ERR_LEN];
	int rc;

	if (ex.loop != NULL) {
		log_warnx("OTLP: exporter already started");
		return -1;
	}
	rc = otlp_config_env(&ex.cfg, err, sizeof(err));
	if (rc == 0)
		return 0;
	if (rc == -1) {
		log_warnx("OTLP: %s; metrics are not exported", err);
		return -1;
	}
	{
		const char *proto = otlp_env("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL");

		if (proto == NULL)
			proto = otlp_env("OTEL_EXPORTER_OTLP_PROTOCOL");
		ex.protobuf = proto != NULL &&
		    strcmp(proto, "http/protobuf") == 0;
		if (proto != NULL && !ex.protobuf &&
		    strcmp(proto, "http/json") != 0)
			log_warnx("OTLP: protocol %.32s is not supported; "
			    "sending http/json", proto);
	}
	if (build_hdrs() == -1) {
		log_warnx("OTLP: out of memory; metrics are not exported");
		goto err;
	}
	ex.loop = l;
	ex.trk = t;
	ex.start_ns = (uint64_t)(now > 0 ? now : 0) * UINT64_C(1000000000);
	ex.fails = 0;
	ex.last_err[0] = '\0';
	ex.last_partial[0] = '\0';
	url_for_log(ex.cfg.endpoint, ex.url, sizeof(ex.url));
	if ((ex.timer = loop_add_timer(l, ex.cfg.interval_ms, on_timer,
	    NULL)) == -1) {
		ex.timer = 0;
		log_warnx("OTLP: cannot set a timer; metrics are not exported");
		goto err;
	}
	log_info("OTLP: exporting metrics to %s every %ld ms (%s)", ex.url,
	    ex.cfg.interval_ms, ex.protobuf ? "http/protobuf" : "http/json");
	return 0;
err:
	wipe_hdrs();
	otlp_config_free(&ex.cfg);
	memset(&ex, 0, sizeof(ex));
	return -1;
}

void
otlp_stop(struct loop *l)
{
	if (ex.loop == NULL || ex.loop != l)
		return;
	if (ex.timer != 0)
		(void)loop_del_timer(l, ex.timer);
	if (ex.req != 0)
		http_cancel(l, ex.req);
	wipe_hdrs();
	otlp_config_free(&ex.cfg);
	memset(&ex, 0, sizeof(ex));
}
