/*
 * Unit tests of the state file (daemon/state.c): every field survives a
 * save and a load; corrupt, truncated and wrong-typed files are refused and
 * leave the tracker empty; a failed write leaves the old file.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "../daemon/log.h"
#include "../daemon/state.h"
#include "../daemon/tracker.h"

#define T0	((time_t)1800000000)

static char dir[256];
static char path[300];

static void
quiet(int level, const char *line, void *arg)
{
	(void)level;
	(void)line;
	(void)arg;
}

/* Empty dir of what the tests put in it (files and empty dirs). */
static void
clean_dir(void)
{
	char p[600];
	struct dirent *de;
	DIR *d;

	chmod(dir, 0700);
	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		if (unlink(p) == -1)
			rmdir(p);
	}
	closedir(d);
}

/*
 * main() makes the directory before the tests run and removes it after,
 * so that it goes even when a failed assertion ends a test early; each
 * test starts with it empty and with a quiet log.
 */
static void
setup(void)
{
	clean_dir();
	log_set_sink(quiet, NULL);
}

static void
teardown(void)
{
	log_set_sink(NULL, NULL);
}

static void
fill_tokens(struct trk_tokens *tk, int64_t base)
{
	tk->input = base + 1;
	tk->output = base + 2;
	tk->cache_creation_input = base + 3;
	tk->cache_read_input = base + 4;
}

/* Every field of t set to a distinct, valid value. */
static void
fill(struct trk *t)
{
	int i;

	for (i = 0; i < TRK_WIN_FIXED; i++) {
		t->win[i].has_util = i != 2;
		t->win[i].utilization = i != 2 ? 10.25 * (i + 1) : 0.0;
		t->win[i].resets_at = T0 + 1000 * (i + 1);
		fill_tokens(&t->win[i].tokens, 100 * (i + 1));
		t->win[i].rollovers = 7 + i;
		t->win[i].warned = i % 2;
		t->win[i].source = i != 2 ? TRK_SRC_HEADER + i % 3 : 0;
		t->win[i].observed_at = i != 2 ? T0 - 10 * i : 0;
		t->win[i].prev_reset = T0 - 5000 * i;
		t->win[i].status = i == 0 ? RTP_US_ALLOWED_WARNING : 0;
	}
	/* two windows of the limits array */
	i = trk_win_get(t, "seven_day_fable");
	ck_assert_int_eq(i, TRK_WIN_FIXED);
	t->win[i].has_util = 1;
	t->win[i].utilization = 7.5;
	t->win[i].source = TRK_SRC_POLL;
	t->win[i].observed_at = T0 - 3;
	snprintf(t->win[i].label, sizeof(t->win[i].label), "Fable \"5\"");
	fill_tokens(&t->win[i].tokens, 900);
	i = trk_win_get(t, "seven_day_claude_code");
	t->win[i].match = TRK_MATCH_NONE;
	t->win[i].resets_at = T0 + 99;
	t->win[i].status = RTP_US_REJECTED;
	t->spend.known = 1;
	t->spend.used.known = 1;
	t->spend.used.amount_minor = 1234;
	t->spend.used.exponent = 2;
	snprintf(t->spend.used.currency, sizeof(t->spend.used.currency),
	    "USD");
	t->spend.has_percent = 1;
	t->spend.percent = 24.68;
	t->spend.enabled = 0;
	snprintf(t->spend.disabled_reason, sizeof(t->spend.disabled_reason),
	    "out_of_credits");
	t->extra.known = 1;
	t->extra.is_enabled = 1;
	t->extra.has_monthly_limit = 1;
	t->extra.monthly_limit = 5000;
	t->extra.has_used_credits = 1;
	t->extra.used_credits = 1234.5;
	t->extra.has_util = 1;
	t->extra.utilization = 24.69;
	for (i = 0; i < TRK_API_COUNT; i++) {
		t->api[i].known = i != 1;
		t->api[i].limit = 1000 * (i + 1);
		t->api[i].remaining = 900 * (i + 1);
		t->api[i].reset = i != 3 ? T0 + 60 * (i + 1) : 0;
	}
	t->unified_status = RTP_US_ALLOWED_WARNING;
	t->representative_claim = RTP_CLAIM_SEVEN_DAY_SONNET;
	t->last_event = T0 - 5;
	t->retry_after = 7;
	t->retry_after_at = T0 - 9;
	t->requests_total = 1001;
	t->requests_rate_limited = 11;
	t->requests_overloaded = 12;
	t->requests_errors = 13;
	t->usage_unreadable = 14;
	fill_tokens(&t->tokens_total, TRK_COUNT_MAX - 10);
	t->datagrams_accepted = 2002;
	for (i = 1; i < RTP_E_COUNT; i++)
		t->datagrams_rejected[i] = 30 + i;
	t->datagrams_foreign = 41;
	t->client_drops = 42;
	t->poll_last_ok = T0 - 300;
	t->poll_last_attempt = T0 - 1;
	snprintf(t->poll_last_error, sizeof(t->poll_last_error),
	    "HTTP 429 \"quoted\" \\ back");
	t->poll_ok_total = 51;
	t->poll_fail_total = 52;
	for (i = 0; i < 3; i++) {
		snprintf(t->models[i].name, sizeof(t->models[i].name),
		    "claude-model-%d", i);
		t->models[i].requests = 60 + i;
		fill_tokens(&t->models[i].tokens, 600 + 10 * i);
	}
	t->nmodels = 3;
	for (i = 0; i < 2; i++) {
		snprintf(t->progs[i].name, sizeof(t->progs[i].name),
		    "prog \"%d\"", i);
		t->progs[i].requests = 70 + i;
		fill_tokens(&t->progs[i].tokens, 700 + 10 * i);
	}
	t->nprogs = 2;
}

static void
same_tokens(const struct trk_tokens *a, const struct trk_tokens *b)
{
	ck_assert(a->input == b->input);
	ck_assert(a->output == b->output);
	ck_assert(a->cache_creation_input == b->cache_creation_input);
	ck_assert(a->cache_read_input == b->cache_read_input);
}

static void
same_table(const struct trk_named *a, const struct trk_named *b, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		ck_assert_str_eq(a[i].name, b[i].name);
		ck_assert(a[i].requests == b[i].requests);
		same_tokens(&a[i].tokens, &b[i].tokens);
	}
}

static void
same(const struct trk *a, const struct trk *b)
{
	int i;

	ck_assert_int_eq(a->nwin, b->nwin);
	for (i = 0; i < a->nwin; i++) {
		ck_assert_str_eq(a->win[i].name, b->win[i].name);
		ck_assert_str_eq(a->win[i].label, b->win[i].label);
		ck_assert_int_eq(a->win[i].match, b->win[i].match);
		ck_assert_str_eq(a->win[i].match_word, b->win[i].match_word);
		ck_assert_int_eq(a->win[i].has_util, b->win[i].has_util);
		ck_assert(a->win[i].utilization == b->win[i].utilization);
		ck_assert_int_eq(a->win[i].source, b->win[i].source);
		ck_assert(a->win[i].observed_at == b->win[i].observed_at);
		ck_assert(a->win[i].resets_at == b->win[i].resets_at);
		ck_assert(a->win[i].prev_reset == b->win[i].prev_reset);
		ck_assert_int_eq(a->win[i].status, b->win[i].status);
		same_tokens(&a->win[i].tokens, &b->win[i].tokens);
		ck_assert(a->win[i].rollovers == b->win[i].rollovers);
		ck_assert_int_eq(a->win[i].warned, b->win[i].warned);
	}
	ck_assert_int_eq(a->spend.known, b->spend.known);
	ck_assert_int_eq(a->spend.used.known, b->spend.used.known);
	ck_assert(a->spend.used.amount_minor == b->spend.used.amount_minor);
	ck_assert_int_eq(a->spend.used.exponent, b->spend.used.exponent);
	ck_assert_str_eq(a->spend.used.currency, b->spend.used.currency);
	ck_assert_int_eq(a->spend.limit.known, b->spend.limit.known);
	ck_assert_int_eq(a->spend.has_percent, b->spend.has_percent);
	ck_assert(a->spend.percent == b->spend.percent);
	ck_assert_int_eq(a->spend.enabled, b->spend.enabled);
	ck_assert_str_eq(a->spend.disabled_reason, b->spend.disabled_reason);
	ck_assert_int_eq(a->extra.known, b->extra.known);
	ck_assert_int_eq(a->extra.is_enabled, b->extra.is_enabled);
	ck_assert_int_eq(a->extra.has_monthly_limit, b->extra.has_monthly_limit);
	ck_assert(a->extra.monthly_limit == b->extra.monthly_limit);
	ck_assert_int_eq(a->extra.has_used_credits, b->extra.has_used_credits);
	ck_assert(a->extra.used_credits == b->extra.used_credits);
	ck_assert_int_eq(a->extra.has_util, b->extra.has_util);
	ck_assert(a->extra.utilization == b->extra.utilization);
	for (i = 0; i < TRK_API_COUNT; i++) {
		ck_assert_int_eq(a->api[i].known, b->api[i].known);
		ck_assert(a->api[i].limit == b->api[i].limit);
		ck_assert(a->api[i].remaining == b->api[i].remaining);
		ck_assert(a->api[i].reset == b->api[i].reset);
	}
	ck_assert_int_eq(a->unified_status, b->unified_status);
	ck_assert_int_eq(a->representative_claim, b->representative_claim);
	ck_assert(a->last_event == b->last_event);
	ck_assert(a->retry_after == b->retry_after);
	ck_assert(a->retry_after_at == b->retry_after_at);
	ck_assert(a->requests_total == b->requests_total);
	ck_assert(a->requests_rate_limited == b->requests_rate_limited);
	ck_assert(a->requests_overloaded == b->requests_overloaded);
	ck_assert(a->requests_errors == b->requests_errors);
	ck_assert(a->usage_unreadable == b->usage_unreadable);
	same_tokens(&a->tokens_total, &b->tokens_total);
	ck_assert(a->datagrams_accepted == b->datagrams_accepted);
	for (i = 0; i < RTP_E_COUNT; i++)
		ck_assert(a->datagrams_rejected[i] == b->datagrams_rejected[i]);
	ck_assert(a->datagrams_foreign == b->datagrams_foreign);
	ck_assert(a->client_drops == b->client_drops);
	ck_assert(a->poll_last_ok == b->poll_last_ok);
	ck_assert(a->poll_last_attempt == b->poll_last_attempt);
	ck_assert_str_eq(a->poll_last_error, b->poll_last_error);
	ck_assert(a->poll_ok_total == b->poll_ok_total);
	ck_assert(a->poll_fail_total == b->poll_fail_total);
	ck_assert_int_eq(a->nmodels, b->nmodels);
	same_table(a->models, b->models, a->nmodels);
	ck_assert_int_eq(a->nprogs, b->nprogs);
	same_table(a->progs, b->progs, a->nprogs);
}

/* t holds nothing: as from trk_new() */
static void
empty(const struct trk *t)
{
	struct trk *e = trk_new(NULL);

	ck_assert_ptr_nonnull(e);
	same(t, e);
	trk_free(e);
}

static void
write_file(const char *p, const char *data, size_t len)
{
	FILE *f = fopen(p, "w");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

static char *
read_file(const char *p, size_t *len)
{
	FILE *f = fopen(p, "r");
	char *buf = malloc(1 << 20);
	size_t n;

	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(buf);
	n = fread(buf, 1, (1 << 20) - 1, f);
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

static struct trk *
saved_full(void)
{
	struct trk *t = trk_new(NULL);
	char err[256];

	ck_assert_ptr_nonnull(t);
	fill(t);
	ck_assert_msg(state_save(t, path, err, sizeof(err)) == 0, "%s", err);
	return t;
}

START_TEST(every_field_survives_save_and_load)
{
	struct trk *t = saved_full();
	struct trk *u = trk_new(NULL);
	char err[256] = "";

	ck_assert_ptr_nonnull(u);
	ck_assert_msg(state_load(u, path, err, sizeof(err)) == 0, "%s", err);
	same(t, u);
	ck_assert(!u->dirty);
	/* and a second generation */
	ck_assert_int_eq(state_save(u, path, err, sizeof(err)), 0);
	trk_free(u);
	u = trk_new(NULL);
	ck_assert_ptr_nonnull(u);
	ck_assert_int_eq(state_load(u, path, err, sizeof(err)), 0);
	same(t, u);
	trk_free(t);
	trk_free(u);
}
END_TEST

START_TEST(an_empty_tracker_survives_save_and_load)
{
	struct trk *t = trk_new(NULL);
	struct trk *u = trk_new(NULL);
	char err[256];

	ck_assert_int_eq(state_save(t, path, err, sizeof(err)), 0);
	ck_assert_int_eq(state_load(u, path, err, sizeof(err)), 0);
	same(t, u);
	ck_assert_int_eq(u->retry_after, -1);
	trk_free(t);
	trk_free(u);
}
END_TEST

START_TEST(a_full_table_and_saturated_counters_survive)
{
	struct trk *t = trk_new(NULL);
	struct trk *u = trk_new(NULL);
	char err[256];
	int i;

	for (i = 0; i < TRK_MAX_MODELS; i++) {
		snprintf(t->models[i].name, TRK_NAME_LEN, "%063d", i);
		t->models[i].tokens.input = TRK_COUNT_MAX;
	}
	t->nmodels = TRK_MAX_MODELS;
	t->requests_total = TRK_COUNT_MAX;
	t->win[0].utilization = TRK_UTIL_MAX;
	t->win[0].has_util = 1;
	t->win[1].utilization = 1.0 / 3.0;
	t->win[1].has_util = 1;
	ck_assert_int_eq(state_save(t, path, err, sizeof(err)), 0);
	ck_assert_msg(state_load(u, path, err, sizeof(err)) == 0, "%s", err);
	same(t, u);
	trk_free(t);
	trk_free(u);
}
END_TEST

START_TEST(a_missing_file_loads_as_empty_and_returns_1)
{
	struct trk *t = trk_new(NULL);
	char err[256];

	ck_assert_int_eq(state_load(t, path, err, sizeof(err)), 1);
	empty(t);
	trk_free(t);
}
END_TEST

START_TEST(the_saved_file_is_private_versioned_json_and_no_temp_is_left)
{
	struct trk *t = saved_full();
	char tmp[320];
	struct stat st;
	size_t len;
	char *text = read_file(path, &len);
	cJSON *j = cJSON_Parse(text);

	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	ck_assert_int_eq(access(tmp, F_OK), -1);
	ck_assert_ptr_nonnull(j);
	ck_assert_int_eq(cJSON_GetObjectItem(j, "version")->valueint, 1);
	ck_assert_int_eq(text[len - 1], '\n');
	cJSON_Delete(j);
	free(text);
	trk_free(t);
}
END_TEST

START_TEST(corrupt_and_truncated_files_are_refused_and_leave_it_empty)
{
	struct trk *t = saved_full();
	struct trk *u = trk_new(NULL);
	char err[256], sub[320];
	size_t len, n;
	char *text = read_file(path, &len);
	char *big;
	static const char *const junk[] = {
		"", "not json", "[]", "null", "42", "{", "{}", "\"state\"",
		"{\"version\":1}",
	};

	for (n = 0; n < sizeof(junk) / sizeof(junk[0]); n++) {
		write_file(path, junk[n], strlen(junk[n]));
		fill(u);
		err[0] = '\0';
		ck_assert_msg(state_load(u, path, err, sizeof(err)) == -1,
		    "accepted %s", junk[n]);
		ck_assert(err[0] != '\0');
		empty(u);
	}
	/* every truncation of a real file (the last byte is a newline) */
	for (n = 0; n + 1 < len; n++) {
		write_file(path, text, n);
		fill(u);
		ck_assert_msg(state_load(u, path, err, sizeof(err)) == -1,
		    "accepted %zu of %zu bytes", n, len);
		empty(u);
	}
	/* trailing junk */
	memcpy(text + len - 1, "x", 1);
	write_file(path, text, len);
	ck_assert_int_eq(state_load(u, path, err, sizeof(err)), -1);
	/* a directory */
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	ck_assert_int_eq(state_load(u, sub, err, sizeof(err)), -1);
	/* too large */
	big = malloc(5 << 20);
	ck_assert_ptr_nonnull(big);
	memset(big, ' ', 5 << 20);
	write_file(path, big, 5 << 20);
	ck_assert_int_eq(state_load(u, path, err, sizeof(err)), -1);
	empty(u);
	free(big);
	free(text);
	trk_free(t);
	trk_free(u);
}
END_TEST

/*
 * Replace the member at a dotted path (array rows by number) of the saved
 * file with json (NULL deletes it), write it back, and return whether
 * state_load() refused it, leaving the tracker empty.
 */
static void
refused(const char *dotted, const char *json)
{
	struct trk *u = trk_new(NULL);
	char err[256] = "", key[128], *text, *out, *dot, *k;
	cJSON *root, *parent, *cur;
	size_t len;

	ck_assert_ptr_nonnull(u);
	text = read_file(path, &len);
	root = cJSON_Parse(text);
	free(text);
	ck_assert_ptr_nonnull(root);
	snprintf(key, sizeof(key), "%s", dotted);
	parent = NULL;
	cur = root;
	k = key;
	for (;;) {
		dot = strchr(k, '.');
		if (dot != NULL)
			*dot = '\0';
		parent = cur;
		cur = cJSON_IsArray(parent) ?
		    cJSON_GetArrayItem(parent, atoi(k)) :
		    cJSON_GetObjectItemCaseSensitive(parent, k);
		if (dot == NULL)
			break;
		ck_assert_msg(cur != NULL, "no %s in %s", k, dotted);
		k = dot + 1;
	}
	if (json == NULL) {
		ck_assert_ptr_nonnull(cur);
		cJSON_Delete(cJSON_DetachItemViaPointer(parent, cur));
	} else {
		cJSON *v = cJSON_Parse(json);

		ck_assert_ptr_nonnull(v);
		if (cJSON_IsArray(parent))
			cJSON_ReplaceItemInArray(parent, atoi(k), v);
		else if (cur != NULL)	/* keeps the key, unlike ViaPointer */
			cJSON_ReplaceItemInObjectCaseSensitive(parent, k, v);
		else
			cJSON_AddItemToObject(parent, k, v);
	}
	out = cJSON_Print(root);
	ck_assert_ptr_nonnull(out);
	write_file(path, out, strlen(out));
	cJSON_free(out);
	cJSON_Delete(root);

	fill(u);
	ck_assert_msg(state_load(u, path, err, sizeof(err)) == -1,
	    "accepted %s = %s", dotted, json != NULL ? json : "(deleted)");
	ck_assert_msg(err[0] != '\0' && strchr(err, '\n') == NULL,
	    "bad reason for %s", dotted);
	empty(u);
	trk_free(u);
}

static const struct {
	const char *path;
	const char *json;	/* NULL: delete */
} bad_fields[] = {
	{ "version", "2" }, { "version", "0" }, { "version", "\"1\"" },
	{ "version", "1.5" }, { "version", NULL },
	{ "windows", "[]" }, { "windows.five_hour", NULL },
	{ "windows.seven_day_opus", "null" },
	{ "windows.five_hour.utilization", "\"25\"" },
	{ "windows.five_hour.utilization", "-1" },
	{ "windows.five_hour.utilization", "1e7" },
	{ "windows.five_hour.utilization", NULL },
	{ "windows.seven_day.resets_at", "-5" },
	{ "windows.seven_day.resets_at", "1.5" },
	{ "windows.seven_day.resets_at", "1e13" },
	{ "windows.seven_day.resets_at", "\"2027-01-15T08:00:00Z\"" },
	{ "windows.seven_day.resets_at", "null" },
	{ "windows.seven_day.tokens", "[1,2,3,4]" },
	{ "windows.seven_day.tokens.input", "-1" },
	{ "windows.seven_day.tokens.input", "1e17" },
	{ "windows.seven_day.tokens.input", "\"1\"" },
	{ "windows.seven_day.tokens.cache_read_input", NULL },
	{ "windows.seven_day_sonnet.rollovers", "true" },
	{ "windows.seven_day_sonnet.warned", "1" },
	{ "extra_usage.known", "\"yes\"" },
	{ "extra_usage.is_enabled", "null" },
	{ "extra_usage.monthly_limit", "-1" },
	{ "extra_usage.used_credits", "1e20" },
	{ "api_limits.requests.limit", "-1" },
	{ "api_limits.tokens.reset", "1e12" },
	{ "api_limits.output_tokens", NULL },
	{ "api_limits.input_tokens.known", "0" },
	{ "unified_status", "\"bogus\"" },
	{ "unified_status", "3" },
	{ "representative_claim", "\"\"" },
	{ "retry_after", "-2" },
	{ "retry_after_at", "-1" },
	{ "last_event", "[]" },
	{ "requests.total", "-1" },
	{ "requests.usage_unreadable", NULL },
	{ "tokens_total", NULL },
	{ "tokens_total.output", "1000000000000000" },
	{ "ingest.rejected.size", NULL },
	{ "ingest.rejected", "[0,0,0,0,0]" },
	{ "ingest.client_drops", "0.5" },
	{ "poll.last_error", "5" },
	{ "poll.last_error", "null" },
	{ "poll.last_error", "\"bad\\u0001char\"" },
	{ "poll.last_error", "\"caf\\u00e9\"" },
	{ "poll.last_ok", "\"yesterday\"" },
	{ "models", "{}" },
	{ "models", NULL },
	{ "models.0", "5" },
	{ "models.0.name", NULL },
	{ "models.0.name", "\"\"" },
	{ "models.1.name", "\"claude-model-0\"" },
	{ "models.0.name",
	  "\"0123456789012345678901234567890123456789012345678901234567890123\"" },
	{ "models.0.name", "\"line\\nbreak\"" },
	{ "models.2.requests", "-3" },
	{ "models.2.tokens", NULL },
	{ "programs.1.tokens.input", "true" },
	{ "programs", "null" },
	{ "windows.five_hour.source", "\"bogus\"" },
	{ "windows.five_hour.source", "5" },
	{ "windows.seven_day.observed_at", "-1" },
	{ "windows.seven_day.prev_reset", "\"x\"" },
	{ "windows.seven_day.status", "\"fine\"" },
	{ "windows.seven_day.label", "\"caf\\u00e9\"" },
	{ "windows.seven_day_fable.tokens", NULL },
	{ "windows.seven_day_fable.match", "\"weird\"" },
	{ "windows.seven_day_fable.match", "null" },
	{ "windows.Bad-Name", "{\"utilization\":null}" },
	{ "windows.seven_day_x", "5" },
	{ "spend", "[]" },
	{ "spend.used", "5" },
	{ "spend.used.exponent", "12" },
	{ "spend.used.currency", NULL },
	{ "spend.enabled", "2" },
	{ "spend.disabled_reason", NULL },
};

START_TEST(wrong_typed_missing_or_out_of_range_fields_are_refused)
{
	size_t i;

	for (i = 0; i < sizeof(bad_fields) / sizeof(bad_fields[0]); i++) {
		struct trk *t = saved_full();

		refused(bad_fields[i].path, bad_fields[i].json);
		trk_free(t);
	}
}
END_TEST

START_TEST(too_many_table_rows_are_refused)
{
	struct trk *t = saved_full();
	char json[64 * 1024];
	size_t used = 0;
	int i;

	used += (size_t)snprintf(json + used, sizeof(json) - used, "[");
	for (i = 0; i <= TRK_MAX_PROGS; i++)
		used += (size_t)snprintf(json + used, sizeof(json) - used,
		    "%s{\"name\":\"p%d\",\"requests\":0,\"tokens\":{"
		    "\"input\":0,\"output\":0,\"cache_creation_input\":0,"
		    "\"cache_read_input\":0}}", i ? "," : "", i);
	snprintf(json + used, sizeof(json) - used, "]");
	ck_assert_uint_lt(used, sizeof(json) - 2);
	refused("programs", json);
	trk_free(t);
}
END_TEST

START_TEST(unknown_keys_are_ignored)
{
	struct trk *t = saved_full();
	struct trk *u = trk_new(NULL);
	size_t len;
	char *text = read_file(path, &len);
	char err[256];
	cJSON *root = cJSON_Parse(text);
	char *out;

	ck_assert_ptr_nonnull(root);
	cJSON_AddStringToObject(root, "comment", "hand edited");
	cJSON_AddNumberToObject(cJSON_GetObjectItem(root, "poll"), "new", 1);
	out = cJSON_Print(root);
	write_file(path, out, strlen(out));
	ck_assert_msg(state_load(u, path, err, sizeof(err)) == 0, "%s", err);
	same(t, u);
	cJSON_free(out);
	cJSON_Delete(root);
	free(text);
	trk_free(t);
	trk_free(u);
}
END_TEST

START_TEST(a_file_without_the_newer_keys_still_loads)
{
	static const char *const newer[] = {
		"source", "observed_at", "prev_reset", "status", "label",
		"match", "match_word"
	};
	struct trk *t = saved_full();
	struct trk *u = trk_new(NULL);
	size_t len, k;
	char *text = read_file(path, &len), *out, err[256] = "";
	cJSON *root = cJSON_Parse(text), *ws, *w;
	int i;

	ck_assert_ptr_nonnull(root);
	cJSON_DeleteItemFromObject(root, "spend");
	ws = cJSON_GetObjectItem(root, "windows");
	cJSON_DeleteItemFromObject(ws, "seven_day_fable");
	cJSON_DeleteItemFromObject(ws, "seven_day_claude_code");
	cJSON_ArrayForEach(w, ws)
		for (k = 0; k < sizeof(newer) / sizeof(newer[0]); k++)
			cJSON_DeleteItemFromObject(w, newer[k]);
	out = cJSON_Print(root);
	write_file(path, out, strlen(out));
	ck_assert_msg(state_load(u, path, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(u->nwin, TRK_WIN_FIXED);
	for (i = 0; i < TRK_WIN_FIXED; i++) {
		ck_assert(u->win[i].utilization == t->win[i].utilization);
		ck_assert(u->win[i].resets_at == t->win[i].resets_at);
		same_tokens(&u->win[i].tokens, &t->win[i].tokens);
		ck_assert_int_eq(u->win[i].source, TRK_SRC_NONE);
		ck_assert_int_eq(u->win[i].prev_reset, 0);
	}
	/* the fixed windows keep their token rules */
	ck_assert_int_eq(u->win[TRK_FIVE_HOUR].match, TRK_MATCH_ALL);
	ck_assert_int_eq(u->win[TRK_SEVEN_DAY_OPUS].match, TRK_MATCH_MODEL);
	ck_assert_str_eq(u->win[TRK_SEVEN_DAY_OPUS].match_word, "opus");
	ck_assert(!u->spend.known);
	cJSON_free(out);
	cJSON_Delete(root);
	free(text);
	trk_free(t);
	trk_free(u);
}
END_TEST

static void
old_file_intact(const struct trk *old)
{
	struct trk *u = trk_new(NULL);
	char err[256];

	ck_assert_msg(state_load(u, path, err, sizeof(err)) == 0, "%s", err);
	same(old, u);
	trk_free(u);
}

START_TEST(a_failed_write_leaves_the_old_file)
{
	struct trk *old = saved_full();
	struct trk *t = trk_new(NULL);
	char err[256], tmp[320], other[320];

	t->requests_total = 99999;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);

	/* the temporary name is taken by a directory */
	ck_assert_int_eq(mkdir(tmp, 0700), 0);
	err[0] = '\0';
	errno = 0;
	ck_assert_int_eq(state_save(t, path, err, sizeof(err)), -1);
	ck_assert_int_ne(errno, 0);
	ck_assert(err[0] != '\0');
	old_file_intact(old);
	ck_assert_int_eq(rmdir(tmp), 0);

	/* the temporary name is a symlink: never followed */
	snprintf(other, sizeof(other), "%s/elsewhere", dir);
	ck_assert_int_eq(symlink(other, tmp), 0);
	ck_assert_int_eq(state_save(t, path, err, sizeof(err)), -1);
	ck_assert_int_eq(access(other, F_OK), -1);
	old_file_intact(old);
	ck_assert_int_eq(unlink(tmp), 0);

	/* a read-only directory (root ignores the mode: skipped then) */
	if (geteuid() != 0) {
		ck_assert_int_eq(chmod(dir, 0500), 0);
		ck_assert_int_eq(state_save(t, path, err, sizeof(err)), -1);
		ck_assert_int_eq(errno, EACCES);
		ck_assert_int_eq(chmod(dir, 0700), 0);
		old_file_intact(old);
	}

	/* no such directory */
	snprintf(other, sizeof(other), "%s/missing/state.json", dir);
	ck_assert_int_eq(state_save(t, other, err, sizeof(err)), -1);
	ck_assert_int_eq(errno, ENOENT);

	/* and a good write still works afterwards */
	ck_assert_int_eq(state_save(t, path, err, sizeof(err)), 0);
	ck_assert_int_eq(access(tmp, F_OK), -1);
	trk_free(old);
	trk_free(t);
}
END_TEST

START_TEST(a_write_error_midway_leaves_the_old_file_and_no_temp)
{
	struct trk *old = saved_full();
	struct trk *t = trk_new(NULL);
	struct rlimit rl, saved;
	char err[256], tmp[320];
	int i, r, e;

	/* the file size limit makes write(2) fail (EFBIG) part way */
	for (i = 0; i < 50; i++) {
		snprintf(t->models[i].name, TRK_NAME_LEN, "model-%d", i);
		t->models[i].requests = i;
	}
	t->nmodels = 50;
	ck_assert(signal(SIGXFSZ, SIG_IGN) != SIG_ERR);
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &saved), 0);
	rl = saved;
	rl.rlim_cur = 200;
	err[0] = '\0';
	/* no assertion while the limit is low: the test framework writes
	   its own files too */
	r = -2;
	e = 0;
	if (setrlimit(RLIMIT_FSIZE, &rl) == 0) {
		r = state_save(t, path, err, sizeof(err));
		e = errno;
		if (setrlimit(RLIMIT_FSIZE, &saved) == -1)
			_exit(3);
	}
	ck_assert_int_eq(r, -1);
	ck_assert_int_eq(e, EFBIG);
	ck_assert_ptr_nonnull(strstr(err, "write"));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	ck_assert_int_eq(access(tmp, F_OK), -1);
	old_file_intact(old);
	trk_free(old);
	trk_free(t);
}
END_TEST

START_TEST(state_reloaded_after_a_restart_keeps_the_rules_going)
{
	struct trk *t = trk_new(NULL);
	struct trk *u = trk_new(NULL);
	struct trk_poll p;
	char err[256];

	memset(&p, 0, sizeof(p));
	p.win[TRK_FIVE_HOUR].present = 1;
	p.win[TRK_FIVE_HOUR].has_util = 1;
	p.win[TRK_FIVE_HOUR].utilization = 90.0;
	p.win[TRK_FIVE_HOUR].resets_at = T0 + 3600;
	trk_poll_ok(t, &p, T0);
	ck_assert(t->win[TRK_FIVE_HOUR].warned);
	ck_assert_int_eq(state_save(t, path, err, sizeof(err)), 0);
	ck_assert_int_eq(state_load(u, path, err, sizeof(err)), 0);
	/* no second warning, no rollover for the same reset */
	trk_poll_ok(u, &p, T0 + 300);
	ck_assert(u->win[TRK_FIVE_HOUR].warned);
	ck_assert_int_eq(u->win[TRK_FIVE_HOUR].rollovers, 0);
	ck_assert_int_eq(u->poll_ok_total, 2);
	/* the passed reset rolls over after the restart */
	trk_tick(u, T0 + 3600);
	ck_assert_int_eq(u->win[TRK_FIVE_HOUR].rollovers, 1);
	trk_free(t);
	trk_free(u);
}
END_TEST

static Suite *
state_suite(void)
{
	Suite *s = suite_create("state");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, every_field_survives_save_and_load);
	tcase_add_test(tc, an_empty_tracker_survives_save_and_load);
	tcase_add_test(tc, a_full_table_and_saturated_counters_survive);
	tcase_add_test(tc, a_missing_file_loads_as_empty_and_returns_1);
	tcase_add_test(tc,
	    the_saved_file_is_private_versioned_json_and_no_temp_is_left);
	tcase_add_test(tc,
	    corrupt_and_truncated_files_are_refused_and_leave_it_empty);
	tcase_add_test(tc,
	    wrong_typed_missing_or_out_of_range_fields_are_refused);
	tcase_add_test(tc, too_many_table_rows_are_refused);
	tcase_add_test(tc, unknown_keys_are_ignored);
	tcase_add_test(tc, a_file_without_the_newer_keys_still_loads);
	tcase_add_test(tc, a_failed_write_leaves_the_old_file);
	tcase_add_test(tc,
	    a_write_error_midway_leaves_the_old_file_and_no_temp);
	tcase_add_test(tc, state_reloaded_after_a_restart_keeps_the_rules_going);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	const char *base = getenv("TMPDIR");
	SRunner *sr;
	int failed;

	snprintf(dir, sizeof(dir), "%s/check_state.XXXXXX",
	    base != NULL && *base != '\0' ? base : "/tmp");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return EXIT_FAILURE;
	}
	snprintf(path, sizeof(path), "%s/state.json", dir);
	sr = srunner_create(state_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	clean_dir();
	rmdir(dir);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
