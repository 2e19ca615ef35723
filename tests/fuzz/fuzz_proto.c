/*
 * libFuzzer harness: the datagram validator (common/proto.c) and the
 * daemon's consumption of what it accepts (daemon/tracker.c, status.c).
 *
 * The input is validated twice:
 *   - as received: rtp_validate() on the raw bytes, whatever their length
 *     (nearly always refused: only an exact-size, well-formed event
 *     passes);
 *   - as a body: the same bytes with the right magic, version and length
 *     (cut or zero-padded to an event's size), so that mutations reach
 *     every field check.
 * An accepted event is validated again from its copy (the same verdict,
 * the same bytes), applied to a fresh tracker twice (the second time eight
 * days later, after every reset) and rendered as the status JSON.  A
 * refusal is counted with trk_rejected() and names a known reason.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../../daemon/log.h"
#include "../../daemon/status.h"
#include "../../daemon/tracker.h"

#define NOW	((time_t)1795896000)	/* 2026-11-28T20:00:00Z */
#define HDR	offsetof(struct rtp_event, flags)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
quiet(int level, const char *line, void *arg)
{
	(void)level;
	(void)line;
	(void)arg;
}

static int
tokens_sane(const struct trk_tokens *k)
{
	return k->input >= 0 && k->output >= 0 &&
	    k->cache_creation_input >= 0 && k->cache_read_input >= 0 &&
	    k->input <= TRK_COUNT_MAX && k->output <= TRK_COUNT_MAX &&
	    k->cache_creation_input <= TRK_COUNT_MAX &&
	    k->cache_read_input <= TRK_COUNT_MAX;
}

static void
consume(const struct rtp_event *ev)
{
	struct trk *t;
	cJSON *j;
	char *text;
	int w;

	if ((t = trk_new(NULL)) == NULL)
		return;
	trk_event(t, ev, NOW);
	trk_event(t, ev, NOW + 8 * 86400);
	if (t->datagrams_accepted != 2 || t->requests_total < 0 ||
	    t->nmodels < 0 || t->nmodels > TRK_MAX_MODELS ||
	    t->nprogs < 0 || t->nprogs > TRK_MAX_PROGS ||
	    !tokens_sane(&t->tokens_total))
		abort();
	for (w = 0; w < t->nwin; w++) {
		const struct trk_window *win = &t->win[w];

		if (!tokens_sane(&win->tokens) || win->resets_at < 0 ||
		    win->resets_at > TRK_TIME_MAX || (win->has_util &&
		    !(win->utilization >= 0.0 &&
		    win->utilization <= TRK_UTIL_MAX)))
			abort();
	}
	if ((j = status_json(t, NOW + 8 * 86400, NULL)) == NULL)
		abort();
	if ((text = cJSON_PrintUnformatted(j)) == NULL)
		abort();
	cJSON_free(text);
	cJSON_Delete(j);
	trk_free(t);
}

static void
check(const void *buf, size_t len)
{
	struct rtp_event ev, again, want;
	struct trk *t;
	int err;

	memset(&ev, 0xa5, sizeof(ev));
	err = rtp_validate(buf, len, &ev);
	if (err < 0 || err >= RTP_E_COUNT ||
	    strcmp(rtp_strerror(err), "unknown") == 0)
		abort();
	if (err != RTP_OK) {
		if ((t = trk_new(NULL)) == NULL)
			return;
		trk_rejected(t, err);
		if (t->datagrams_rejected[err] != 1 ||
		    t->datagrams_accepted != 0)
			abort();
		trk_free(t);
		return;
	}
	/* accepted: copied as it came; an event of version 1's shorter
	   layout reads with a zero tail and today's length */
	if (len != sizeof(ev) && len != RTP_EVENT_SIZE_V1)
		abort();
	memset(&want, 0, sizeof(want));
	memcpy(&want, buf, len);
	want.length = (uint16_t)sizeof(want);
	if (memcmp(&want, &ev, sizeof(ev)) != 0)
		abort();
	memset(&again, 0x5a, sizeof(again));
	if (rtp_validate(&ev, sizeof(ev), &again) != RTP_OK ||
	    memcmp(&again, &ev, sizeof(ev)) != 0)
		abort();
	consume(&ev);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rtp_event ev;
	size_t n;

	log_set_sink(quiet, NULL);

	/* as received: the bytes as they are */
	check(data, size);

	/* as a body: the same bytes with the right magic, version and
	   length, cut or zero-padded to the size of an event */
	rtp_init(&ev);
	n = size < sizeof(ev) ? size : sizeof(ev);
	if (n > HDR)
		memcpy((char *)&ev + HDR, data + HDR, n - HDR);
	check(&ev, sizeof(ev));
	return 0;
}
