/*
 * libFuzzer harness: arbitrary bytes as a state file.  state_load() either
 * refuses them, leaving the tracker empty, or accepts them; then a save
 * and a reload must succeed and give the same status JSON.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "../../daemon/log.h"
#include "../../daemon/state.h"
#include "../../daemon/status.h"
#include "../../daemon/tracker.h"

#define NOW	((time_t)1795896000)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[256];
static char in_path[300];
static char out_path[300];

static void
quiet(int level, const char *line, void *arg)
{
	(void)level;
	(void)line;
	(void)arg;
}

static void
cleanup(void)
{
	char tmp[320];

	unlink(in_path);
	unlink(out_path);
	snprintf(tmp, sizeof(tmp), "%s.tmp", out_path);
	unlink(tmp);
	rmdir(dir);
}

static int
init(void)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

	if (dir[0] != '\0')
		return 0;
	snprintf(dir, sizeof(dir), "%s/fuzz_state.XXXXXX", base);
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(in_path, sizeof(in_path), "%s/in.json", dir);
	snprintf(out_path, sizeof(out_path), "%s/out.json", dir);
	atexit(cleanup);
	log_set_sink(quiet, NULL);
	return 0;
}

static int
is_empty(const struct trk *t)
{
	int w;

	for (w = 0; w < TRK_WIN_FIXED; w++)
		if (t->win[w].has_util || t->win[w].resets_at != 0 ||
		    t->win[w].tokens.input != 0 || t->win[w].rollovers != 0)
			return 0;
	return t->nmodels == 0 && t->nprogs == 0 && t->requests_total == 0 &&
	    t->retry_after == -1 && t->poll_ok_total == 0 &&
	    t->poll_last_error[0] == '\0' && !t->extra.known;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct trk *t = NULL, *u = NULL;
	char err[256];
	cJSON *a = NULL, *b = NULL;
	FILE *f;
	int r;

	if (init() == -1 || (f = fopen(in_path, "w")) == NULL)
		abort();
	if (fwrite(data, 1, size, f) != size || fclose(f) != 0)
		abort();
	if ((t = trk_new(NULL)) == NULL || (u = trk_new(NULL)) == NULL)
		goto out;
	r = state_load(t, in_path, err, sizeof(err));
	if (r != 0) {
		if (r != -1 || !is_empty(t) || err[0] == '\0')
			abort();
		goto out;
	}
	if (state_save(t, out_path, err, sizeof(err)) != 0) {
		fprintf(stderr, "save failed: %s\n", err);
		abort();
	}
	if (state_load(u, out_path, err, sizeof(err)) != 0) {
		fprintf(stderr, "reload failed: %s\n", err);
		abort();
	}
	a = status_json(t, NOW, NULL);
	b = status_json(u, NOW, NULL);
	if (a != NULL && b != NULL && !cJSON_Compare(a, b, 1))
		abort();
out:
	cJSON_Delete(a);
	cJSON_Delete(b);
	trk_free(t);
	trk_free(u);
	return 0;
}
