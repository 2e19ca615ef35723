/*
 * The names of the status JSON (`ratetap status --json`, GET /v1/status):
 * the contract between the daemon that writes it (daemon/status.c) and the
 * CLI that reads it (cli/status.c).  Every key is listed with its meaning
 * in docs/tracker.md and docs/daemon.md; a name changed here changes the
 * contract.  A name is defined once where it first appears; the same
 * name in another object (spend's "enabled", api_limits' "resets_at")
 * uses the same macro.
 */
#ifndef RATETAP_STATUS_KEYS_H
#define RATETAP_STATUS_KEYS_H

/* The fixed windows, always present in "windows" (and the usage
   endpoint's and state file's names for them). */
#define RT_WIN_FIVE_HOUR	"five_hour"
#define RT_WIN_SEVEN_DAY	"seven_day"
#define RT_WIN_SEVEN_DAY_SONNET	"seven_day_sonnet"
#define RT_WIN_SEVEN_DAY_OPUS	"seven_day_opus"
/* other windows of those lengths: "seven_day_fable", "five_hour_x" */
#define RT_WIN_FIVE_HOUR_	"five_hour_"
#define RT_WIN_SEVEN_DAY_	"seven_day_"

/* top-level objects */
#define RT_SK_WINDOWS		"windows"
#define RT_SK_REQUESTS		"requests"
#define RT_SK_MODELS		"models"
#define RT_SK_PROCESSES		"processes"
#define RT_SK_POLL		"poll"

/* a window ("windows".<name>) */
#define RT_SK_UTILIZATION	"utilization"	/* percent or null */
#define RT_SK_RESETS_AT		"resets_at"	/* RFC 3339 or null */
#define RT_SK_TOKENS		"tokens"	/* a tokens object */
#define RT_SK_SOURCE		"source"	/* of the figure, or null */
#define RT_SK_AGE_SECONDS	"age_seconds"
#define RT_SK_LABEL		"label"		/* scope's name or null */
#define RT_SK_COUNTS_TOKENS	"counts_tokens"	/* false: not attributable */

/* a tokens object (windows' "tokens", "tokens_total", models, processes) */
#define RT_SK_INPUT		"input"
#define RT_SK_OUTPUT		"output"
#define RT_SK_CACHE_CREATION_INPUT "cache_creation_input"
#define RT_SK_CACHE_READ_INPUT	"cache_read_input"

/* "requests"; models' and processes' rows also have RT_SK_REQUESTS */
#define RT_SK_TOTAL		"total"
#define RT_SK_RATE_LIMITED	"rate_limited"
#define RT_SK_OVERLOADED	"overloaded"
#define RT_SK_ERRORS		"errors"
#define RT_SK_USAGE_UNREADABLE	"usage_unreadable"

/* "poll" */
#define RT_SK_LAST_OK		"last_ok"
#define RT_SK_LAST_ERROR	"last_error"
#define RT_SK_LAST_ATTEMPT	"last_attempt"
#define RT_SK_ENABLED		"enabled"
#define RT_SK_NEXT_AT		"next_at"

#endif /* RATETAP_STATUS_KEYS_H */
