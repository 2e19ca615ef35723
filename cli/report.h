/*
 * `ratetap report`: history from the ledger (docs/report.md).  Read-only
 * on $XDG_STATE_HOME/ratetap/ledger.db, whether ratetapd runs or not.
 * The pieces are exported for tests/check_report.c.
 */
#ifndef RATETAP_CLI_REPORT_H
#define RATETAP_CLI_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <sqlite3.h>

#define RPT_MATCH_LEN	48
#define RPT_PERIOD_LEN	32
#define RPT_GROUP_LEN	256
#define RPT_PRICES_MAX	64

/* Prices of one model family, USD per million tokens. */
struct rpt_price {
	char match[RPT_MATCH_LEN];	/* lower case; in the model's name */
	double input;
	double output;
	double cache_write_5m;
	double cache_write_1h;
	double cache_read;
};

struct rpt_pricing {
	char date[16];			/* the table's date, YYYY-MM-DD */
	char source[4096];		/* the file it came from, or "built-in" */
	struct rpt_price p[RPT_PRICES_MAX];
	int n;
};

enum rpt_kind { RPT_DAILY, RPT_WEEKLY, RPT_MONTHLY, RPT_WINDOWS };
enum rpt_by { RPT_BY_NONE, RPT_BY_MODEL, RPT_BY_PROGRAM, RPT_BY_PROJECT };

struct rpt_row {
	char period[RPT_PERIOD_LEN];	/* "2026-12-06", "2026-12", window */
	char group[RPT_GROUP_LEN];	/* model/program/project, "" none */
	time_t start, end;		/* windows: the instance [start, end) */
	double peak;			/* windows: peak utilization, -1 none */
	int64_t requests;
	int64_t input;
	int64_t output;
	int64_t cache_creation_input;
	int64_t cache_read_input;
	double cost_usd;
	int unpriced;			/* some tokens had no price */
};

struct rpt_result {
	struct rpt_row *rows;
	size_t n, cap;
	struct rpt_row total;
};

/* The pricing table shipped in the binary (share/ratetap/pricing.json). */
extern const char rpt_builtin_pricing[];

/*
 * Parse a pricing file (len bytes of JSON) into *p.  Returns 0, or -1
 * with a one-line reason in err.
 */
int rpt_pricing_parse(const char *json, size_t len, struct rpt_pricing *p,
    char *err, size_t errlen);

/*
 * Load the pricing table: $XDG_CONFIG_HOME/ratetap/pricing.json (or
 * ~/.config/...) when present, else the installed file, else the built-in
 * one.  Returns 0, or -1 (a file that exists but is bad) with a reason.
 */
int rpt_pricing_load(struct rpt_pricing *p, char *err, size_t errlen);

/* The price row for model (first match wins), NULL when none. */
const struct rpt_price *rpt_price_for(const struct rpt_pricing *p,
    const char *model);

/*
 * Aggregate the ledger db into *res: kind, by, [since, until) (0: open).
 * Returns 0, or -1 with a reason.  Free with rpt_result_free().
 */
int rpt_query(sqlite3 *db, int kind, int by, time_t since, time_t until,
    const struct rpt_pricing *p, struct rpt_result *res, char *err,
    size_t errlen);
void rpt_result_free(struct rpt_result *res);

/* Output: the aligned table with a total, JSON, CSV. */
enum rpt_fmt { RPT_TABLE, RPT_JSON, RPT_CSV };
int rpt_print(FILE *out, const struct rpt_result *res, int kind, int by,
    int fmt, const struct rpt_pricing *p);

/* Parse YYYY-MM-DD as local midnight (plus days).  Returns 0 or -1. */
int rpt_parse_date(const char *s, int days, time_t *out);

/* `ratetap report ...` (argv[0] is "report"). */
int cli_report_main(int argc, char **argv);

#endif /* RATETAP_CLI_REPORT_H */
