/*
 * What the daemon's unit tests share: an event as a tapped /v1/messages
 * response produces it, and a capture of the daemon's log (daemon/log.h)
 * for tests that check what is logged.  Everything is static: each test
 * includes it once.
 */
#ifndef RATETAP_TESTS_DAEMONTEST_H
#define RATETAP_TESTS_DAEMONTEST_H

#include <stdio.h>
#include <string.h>

#include "ratetap/proto.h"
#include "../daemon/log.h"

/* The event of a 200 /v1/messages response to api.anthropic.com from
 * program prog with the given usage of model. */
static inline struct rtp_event
msg_event(const char *model, const char *prog, int64_t in, int64_t out,
    int64_t cc, int64_t cr)
{
	struct rtp_event ev;

	rtp_init(&ev);
	ev.pid = 4242;
	ev.seq = 1;
	ev.http_status = 200;
	ev.method = RTP_M_POST;
	ev.usage_state = RTP_USAGE_OK;
	ev.input_tokens = in;
	ev.output_tokens = out;
	ev.cache_creation_input_tokens = cc;
	ev.cache_read_input_tokens = cr;
	rtp_strlcpy(ev.model, model, sizeof(ev.model));
	rtp_strlcpy(ev.prog, prog, sizeof(ev.prog));
	rtp_strlcpy(ev.host, "api.anthropic.com", sizeof(ev.host));
	rtp_strlcpy(ev.path, "/v1/messages", sizeof(ev.path));
	return ev;
}

/* ---- log capture: log_set_sink(capture, NULL) ---------------------------- */

#define CAP_LINES	64
static char cap[CAP_LINES][LOG_LINE_MAX];	/* the first lines */
static int cap_level[CAP_LINES];		/* their levels */
static int ncap;				/* lines logged, all of them */
static char cap_text[8192];			/* every line that fits, each
						   followed by '\n' */

/* Start the capture afresh. */
static inline void
capture_reset(void)
{
	ncap = 0;
	cap_text[0] = '\0';
}

static inline void
capture(int level, const char *line, void *arg)
{
	(void)arg;
	if (ncap < CAP_LINES) {
		snprintf(cap[ncap], sizeof(cap[ncap]), "%s", line);
		cap_level[ncap] = level;
	}
	ncap++;
	if (strlen(cap_text) + strlen(line) + 2 < sizeof(cap_text)) {
		strcat(cap_text, line);
		strcat(cap_text, "\n");
	}
}

/* Lines of level whose text contains all of the given substrings (b may
 * be NULL). */
static inline int
logged(int level, const char *a, const char *b)
{
	int i, n = 0;

	for (i = 0; i < ncap && i < CAP_LINES; i++)
		if (cap_level[i] == level && strstr(cap[i], a) != NULL &&
		    (b == NULL || strstr(cap[i], b) != NULL))
			n++;
	return n;
}

#endif /* RATETAP_TESTS_DAEMONTEST_H */
