/*
 * The OpenTelemetry exporter: pushes the tracker's gauges and counters as
 * OTLP/HTTP JSON or protobuf (an ExportMetricsServiceRequest) to the endpoint named by
 * the standard OTEL_* environment variables, every
 * OTEL_METRIC_EXPORT_INTERVAL ms, over the daemon's asynchronous HTTP client
 * (http.h): it never blocks the loop.  docs/metrics.md describes the
 * mapping and the variables.
 *
 * Header values (OTEL_EXPORTER_OTLP_HEADERS) are often API keys: nothing
 * here logs them or puts them in an error message.
 */
#ifndef RATETAP_OTLP_H
#define RATETAP_OTLP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cjson/cJSON.h>

struct loop;
struct trk;

#define OTLP_DEFAULT_INTERVAL_MS	60000L
#define OTLP_DEFAULT_TIMEOUT_MS		10000L
#define OTLP_MIN_INTERVAL_MS		100L
#define OTLP_DEFAULT_SERVICE		"ratetapd"
#define OTLP_ERR_LEN			256

/* One key=value pair of a header or resource attribute list. */
struct otlp_kv {
	char *key;
	char *value;		/* percent-decoded */
};

/* Which GenAI metric names to send (OTEL_SEMCONV_STABILITY_OPT_IN). */
#define OTLP_SEMCONV_OLD	0x1	/* gen_ai.client.token.usage */
#define OTLP_SEMCONV_NEW	0x2	/* gen_ai.client.inference.usage.* */

struct otlp_config {
	char *endpoint;		/* full URL the requests go to */
	struct otlp_kv *headers; /* extra request headers (values secret) */
	int nheaders;
	struct otlp_kv *resource; /* resource attributes, service.name first */
	int nresource;
	long interval_ms;	/* between pushes */
	long timeout_ms;	/* per push */
	int semconv;		/* OTLP_SEMCONV_* bits */
};

/*
 * Read the configuration from the environment into *c (which the caller
 * releases with otlp_config_free()).  Returns 1 when an endpoint is set and
 * exporting is wanted, 0 when not (no endpoint, OTEL_SDK_DISABLED=true, or
 * OTEL_METRICS_EXPORTER=none), -1 when a variable is malformed, with a
 * one-line reason in err naming the variable (never a header value).
 * OTEL_SEMCONV_STABILITY_OPT_IN picks the GenAI names: without
 * gen_ai_latest_experimental the old ones only, with it the new ones only,
 * with gen_ai_latest_experimental/dup both.
 */
int otlp_config_env(struct otlp_config *c, char *err, size_t errlen);

/* Free what *c holds (header values are wiped first) and zero it. */
void otlp_config_free(struct otlp_config *c);

/*
 * Parse a comma-separated list of key=value pairs (W3C baggage style, as
 * OTEL_EXPORTER_OTLP_HEADERS and OTEL_RESOURCE_ATTRIBUTES use): blanks
 * around keys and values are trimmed, empty members skipped, values
 * percent-decoded.  With headers set, keys must be HTTP header names and
 * values may hold no control characters; otherwise keys are printable
 * ASCII and values valid UTF-8 without control characters.  A key given
 * twice, or already in *kv, keeps the last value (header names compare
 * case-insensitively).  Appends to *kv / *n.  Returns 0, or -1 with a
 * reason in err (naming the member's position or key, never a value) and
 * *kv / *n unchanged.
 */
int otlp_parse_kv(const char *s, int headers, struct otlp_kv **kv, int *n,
    char *err, size_t errlen);

/*
 * The ExportMetricsServiceRequest of t: resource attributes from c, scope
 * "ratetap", gauges and cumulative sums (started at start_ns) as of now_ns
 * (both unix nanoseconds).  Caller frees it.  NULL on ENOMEM.
 */
cJSON *otlp_payload(const struct trk *t, const struct otlp_config *c,
    uint64_t start_ns, uint64_t now_ns);

/*
 * The protobuf encoding of req (an otlp_payload()): a malloc'ed buffer of
 * *len bytes, NULL on ENOMEM.
 */
uint8_t *otlp_pb_encode(const cJSON *req, size_t *len);

/*
 * The partialSuccess of a protobuf ExportMetricsServiceResponse body: the
 * rejected data points and the message (cut to msglen).  Returns 0, or -1
 * when body is not such a message.
 */
int otlp_pb_partial(const char *body, size_t len, long long *rejected,
    char *msg, size_t msglen);

/* Value of environment variable name, NULL when unset or blank. */
const char *otlp_env(const char *name);

/* Wipe a string that may hold a secret and free it; NULL is fine. */
void otlp_wipe_free(char *s);

/*
 * Start exporting t on loop l when the environment asks for it (see
 * otlp_config_env()); now is the start time of the cumulative sums.  t
 * must outlive the exporter.  Returns 0 when started or not configured,
 * -1 when the configuration is malformed or the timer cannot be set (the
 * reason is logged; nothing is exported).
 */
int otlp_start(struct loop *l, const struct trk *t, time_t now);

/*
 * Stop exporting: cancel the timer and any push in flight, wipe the
 * configuration.  Call before http_shutdown().  Safe when not started.
 */
void otlp_stop(struct loop *l);

#endif /* RATETAP_OTLP_H */
