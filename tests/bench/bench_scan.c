/*
 * Throughput of the body scanner (shim/scan.c) against plain memchr passes
 * over the same bytes.
 *
 * Bodies are built in memory the way the Messages API sends them, of 1 KiB,
 * 64 KiB, 1 MiB, 10 MiB and 100 MiB (or just over):
 *   sse   a stream: message_start, many content_block_delta events with
 *         short text deltas, pings, message_delta, message_stop
 *   json  a message whose content is one long text (with escapes)
 *   tool  a message whose content is a tool_use with a large structured
 *         input (many small keys, numbers, nested objects and arrays)
 * The scanner is fed 16 KiB at a time, as libcurl's write callback delivers
 * a body; each result is checked.  The baselines are one memchr pass for
 * '\n' (every line end, as any SSE reader must find them) and one memchr
 * for a byte absent from the body (raw memory bandwidth).  Each figure is
 * the best of several timed repetitions of at least 20 ms, in thread CPU
 * time, so that other load on the machine disturbs it less.
 *
 * Usage: bench_scan [MAX_MIB]   (default 100: the largest body size)
 *
 * Output: the state size, then one row per body: size (two fields, as
 * "1.0 MiB"), kind, scanner GB/s, memchr '\n' GB/s, memchr absent-byte
 * GB/s, and the two ratios memchr / scanner.  tests/bench/bench.py parses
 * it: keep one word per column heading.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../shim/scan.h"

#define PIECE	(16 * 1024)	/* CURL_MAX_WRITE_SIZE */
#define IN	2095
#define OUT	503
#define CC	64
#define CR	1024

struct buf {
	char *p;
	size_t len, cap;
};

static void
die(const char *msg)
{
	fprintf(stderr, "bench_scan: %s\n", msg);
	exit(1);
}

static void
put(struct buf *b, const char *s, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;

		while (cap < b->len + n)
			cap *= 2;
		if ((p = realloc(b->p, cap)) == NULL)
			die("out of memory");
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void
puts_(struct buf *b, const char *s)
{
	put(b, s, strlen(s));
}

static uint32_t
rnd(uint32_t *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return *seed >> 8;
}

static const char *const words[] = {
	"the", "scanner", "reads", "usage", "from", "a", "stream", "of",
	"events", "and", "skips", "everything", "else", "quickly", "while",
	"tokens", "arrive", "model", "response", "with", "\\\"quoted\\\"",
	"text,", "lines\\n", "caf\\u00e9", "{braces}", "[brackets]", "C:\\\\path",
	"request.", "Claude", "writes", "code", "for", "you", "today"
};

/* Append about n bytes of JSON string content (escaped already). */
static void
text(struct buf *b, size_t n, uint32_t *seed)
{
	size_t start = b->len;

	while (b->len - start < n) {
		puts_(b, words[rnd(seed) % (sizeof(words) / sizeof(words[0]))]);
		put(b, " ", 1);
	}
}

static void
build_sse(struct buf *b, size_t size)
{
	static const char head[] =
	    "event: message_start\n"
	    "data: {\"type\":\"message_start\",\"message\":{\"id\":"
	    "\"msg_01XFDUDYJgAACzvnptvVoYEL\",\"type\":\"message\",\"role\":"
	    "\"assistant\",\"model\":\"claude-sonnet-4-5-20250929\","
	    "\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,"
	    "\"usage\":{\"input_tokens\":2095,\"cache_creation_input_tokens\":64,"
	    "\"cache_read_input_tokens\":1024,\"cache_creation\":{"
	    "\"ephemeral_5m_input_tokens\":64,\"ephemeral_1h_input_tokens\":0},"
	    "\"output_tokens\":1,\"service_tier\":\"standard\"}}}\n\n"
	    "event: content_block_start\n"
	    "data: {\"type\":\"content_block_start\",\"index\":0,"
	    "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n";
	static const char tail[] =
	    "event: content_block_stop\n"
	    "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
	    "event: message_delta\n"
	    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
	    "\"end_turn\",\"stop_sequence\":null},\"usage\":{"
	    "\"output_tokens\":503}}\n\n"
	    "event: message_stop\n"
	    "data: {\"type\":\"message_stop\"}\n\n";
	uint32_t seed = 1;
	unsigned n = 0;

	puts_(b, head);
	while (b->len + sizeof(tail) - 1 < size) {
		if (++n % 50 == 0)
			puts_(b, "event: ping\ndata: {\"type\": \"ping\"}\n\n");
		puts_(b, "event: content_block_delta\n"
		    "data: {\"type\":\"content_block_delta\",\"index\":0,"
		    "\"delta\":{\"type\":\"text_delta\",\"text\":\"");
		text(b, 8 + rnd(&seed) % 40, &seed);
		puts_(b, "\"}}\n\n");
	}
	puts_(b, tail);
}

static const char json_usage[] =
    "\"stop_reason\":\"end_turn\",\"stop_sequence\":null,\"usage\":{"
    "\"input_tokens\":2095,\"cache_creation_input_tokens\":64,"
    "\"cache_read_input_tokens\":1024,\"cache_creation\":{"
    "\"ephemeral_5m_input_tokens\":64,\"ephemeral_1h_input_tokens\":0},"
    "\"output_tokens\":503,\"service_tier\":\"standard\"}}";

static void
build_json(struct buf *b, size_t size)
{
	uint32_t seed = 2;
	size_t n;

	puts_(b, "{\"id\":\"msg_013Zva2CMHLNnXjNJJKqJ2EF\",\"type\":\"message\","
	    "\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5-20250929\","
	    "\"content\":[{\"type\":\"text\",\"text\":\"");
	n = b->len + sizeof(json_usage) - 1 + 4;
	text(b, size > n ? size - n : 1, &seed);
	puts_(b, "\"}],");
	puts_(b, json_usage);
}

static void
build_tool(struct buf *b, size_t size)
{
	uint32_t seed = 3;
	char item[256];
	unsigned i = 0;
	int n;

	puts_(b, "{\"id\":\"msg_01Aq9w938a90dw8q\",\"type\":\"message\","
	    "\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5-20250929\","
	    "\"content\":[{\"type\":\"text\",\"text\":\"Saving the records.\"},"
	    "{\"type\":\"tool_use\",\"id\":\"toolu_01A09q90qw90lq917835lq9\","
	    "\"name\":\"save_records\",\"input\":{\"records\":[");
	while (b->len + sizeof(json_usage) - 1 + 5 < size) {
		n = snprintf(item, sizeof(item), "%s{\"id\":%u,\"name\":\"item "
		    "%u\",\"score\":%u.%02u,\"tags\":[\"a\",\"usage\"],"
		    "\"ok\":%s,\"meta\":{\"model\":null,\"depth\":[[%u]]}}",
		    i ? "," : "", i, rnd(&seed) % 1000, rnd(&seed) % 100,
		    rnd(&seed) % 100, i % 3 ? "true" : "false", i % 7);
		put(b, item, (size_t)n);
		i++;
	}
	puts_(b, "]}}],");
	puts_(b, json_usage);
}

/* Seconds of CPU time used by this thread. */
static double
now(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
		die("clock_gettime failed");
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
scan_body(const struct buf *b, struct scan_result *res)
{
	struct scan_state st;
	size_t off, n;

	scan_init(&st);
	for (off = 0; off < b->len; off += n) {
		n = b->len - off < PIECE ? b->len - off : PIECE;
		scan_feed(&st, b->p + off, n);
	}
	scan_finish(&st, res);
}

static volatile size_t sink;

static void
memchr_lines(const struct buf *b)
{
	const char *p = b->p, *end = b->p + b->len, *q;
	size_t lines = 0;

	while ((q = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		lines++;
		p = q + 1;
	}
	sink = lines;
}

static void
memchr_absent(const struct buf *b)
{
	sink = memchr(b->p, '\001', b->len) != NULL;
}

/* Best throughput in GB/s over the body of: 0 the scanner, 1 the memchr
 * pass for '\n', 2 the memchr pass for an absent byte. */
static double
best_gbps(const struct buf *b, int what, struct scan_result *res)
{
	double best = 0, t0, dt;
	size_t iters = 1, i;
	int rep;

	/* grow the iteration count until one run takes >= 20 ms */
	for (rep = 0; rep < 9; ) {
		t0 = now();
		for (i = 0; i < iters; i++) {
			if (what == 0)
				scan_body(b, res);
			else if (what == 1)
				memchr_lines(b);
			else
				memchr_absent(b);
		}
		dt = now() - t0;
		if (dt < 0.02 && iters < ((size_t)1 << 30)) {
			iters *= 2;
			continue;
		}
		if ((double)b->len * (double)iters / dt / 1e9 > best)
			best = (double)b->len * (double)iters / dt / 1e9;
		rep++;
	}
	return best;
}

static void
human(size_t n, char *out, size_t len)
{
	if (n >= (1u << 20))
		snprintf(out, len, "%.1f MiB", (double)n / (1u << 20));
	else
		snprintf(out, len, "%.1f KiB", (double)n / 1024);
}

int
main(int argc, char **argv)
{
	static const size_t sizes[] = {
		1024, 64 * 1024, 1 << 20, 10 << 20, 100 << 20
	};
	static const char *const kinds[] = { "sse", "json", "tool" };
	size_t maxsize = (size_t)100 << 20, i;
	struct scan_result r;
	double sc, ml, ma;
	char sz[32];
	int k;

	if (argc > 1)
		maxsize = (size_t)strtoul(argv[1], NULL, 10) << 20;
	printf("per-transfer scanner state: sizeof(struct scan_state) = %zu "
	    "bytes\n", sizeof(struct scan_state));
	printf("scanner fed %d KiB pieces; memchr passes over the whole body; "
	    "best of 9 runs, CPU time\n\n", PIECE / 1024);
	printf("%-10s %-5s %9s %14s %18s %8s %12s\n", "size", "kind",
	    "scan_GB/s", "memchr_nl_GB/s", "memchr_absent_GB/s", "ratio_nl",
	    "ratio_absent");
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		if (sizes[i] > maxsize && i > 0)
			break;
		for (k = 0; k < 3; k++) {
			struct buf b = { NULL, 0, 0 };

			if (k == 0)
				build_sse(&b, sizes[i]);
			else if (k == 1)
				build_json(&b, sizes[i]);
			else
				build_tool(&b, sizes[i]);
			scan_body(&b, &r);
			if (!r.usage_ok || r.input_tokens != IN ||
			    r.output_tokens != OUT ||
			    r.cache_creation_input_tokens != CC ||
			    r.cache_read_input_tokens != CR ||
			    strcmp(r.model, "claude-sonnet-4-5-20250929") != 0)
				die("wrong scan result");
			sc = best_gbps(&b, 0, &r);
			ml = best_gbps(&b, 1, NULL);
			ma = best_gbps(&b, 2, NULL);
			human(b.len, sz, sizeof(sz));
			printf("%-10s %-5s %9.2f %14.2f %18.2f %8.2f %12.2f\n",
			    sz, kinds[k], sc, ml, ma, ml / sc, ma / sc);
			free(b.p);
		}
	}
	return 0;
}
