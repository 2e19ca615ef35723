/*
 * libFuzzer harness: poll_parse() on arbitrary bytes; a body it accepts is
 * applied to a tracker (twice, the second time a window later) and
 * rendered as status JSON.  The same bytes, as a string, go through
 * rt_time_parse().
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../../daemon/log.h"
#include "../../daemon/pollparse.h"
#include "../../daemon/status.h"
#include "../../daemon/tracker.h"

#define NOW	((time_t)1795896000)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
quiet(int level, const char *line, void *arg)
{
	(void)level;
	(void)line;
	(void)arg;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct trk_poll p;
	struct trk *t;
	char err[TRK_ERR_LEN], *s, *text;
	cJSON *j;
	time_t when;
	int w;

	log_set_sink(quiet, NULL);
	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (rt_time_parse(s, &when) == 0 && (when < 0 || when > TRK_TIME_MAX))
		abort();
	free(s);

	err[0] = '\0';
	if (poll_parse((const char *)data, size, &p, err, sizeof(err)) != 0) {
		if (err[0] == '\0' || strchr(err, '\n') != NULL)
			abort();	/* a reason, on one line */
		return 0;
	}
	if (p.nwin < TRK_WIN_FIXED || p.nwin > TRK_WIN_MAX)
		abort();
	for (w = 0; w < p.nwin; w++)
		if (p.win[w].has_util && !(p.win[w].utilization >= 0.0 &&
		    p.win[w].utilization <= TRK_UTIL_MAX))
			abort();
	if ((t = trk_new(NULL)) == NULL)
		return 0;
	trk_poll_ok(t, &p, NOW);
	trk_poll_ok(t, &p, NOW + 8 * 86400);
	for (w = 0; w < t->nwin; w++)
		if (t->win[w].rollovers > 1)
			abort();	/* one passing reset: one rollover */
	if ((j = status_json(t, NOW, NULL)) != NULL) {
		if ((text = cJSON_PrintUnformatted(j)) != NULL)
			cJSON_free(text);
		cJSON_Delete(j);
	}
	trk_free(t);
	return 0;
}
