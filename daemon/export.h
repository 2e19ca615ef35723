/*
 * What the two metric exporters share: the Prometheus exposition
 * (metrics.c) and the OTLP push (otlp.c) name token kinds the same way and
 * cap the per-model and per-program series the same way.  Windows, API-key
 * limits, statuses and claims are named by the tracker (trk_win_name()...).
 */
#ifndef RATETAP_EXPORT_H
#define RATETAP_EXPORT_H

#include <stdint.h>

#include "tracker.h"

/* Most models (and, separately, programs) exported by name; the rest are
 * summed into one row named EXPORT_OTHER. */
#define EXPORT_MAX_NAMED	50
#define EXPORT_OTHER		"other"

/* Token kinds, in the order of struct trk_tokens. */
enum export_tok {
	EXPORT_TOK_INPUT,
	EXPORT_TOK_OUTPUT,
	EXPORT_TOK_CACHE_CREATION,
	EXPORT_TOK_CACHE_READ,
	EXPORT_TOK_COUNT
};

/* One exported model or program row. */
struct export_row {
	const char *name;	/* points into the tracker, or EXPORT_OTHER */
	int64_t requests;
	struct trk_tokens tokens;
};

/* "input", "output", "cache_creation_input", "cache_read_input". */
const char *export_tok_name(int k);

/* Count of kind k (enum export_tok) in tk. */
int64_t export_tok_get(const struct trk_tokens *tk, int k);

/* Sum of every kind in tk (saturating at INT64_MAX). */
int64_t export_tok_sum(const struct trk_tokens *tk);

/*
 * Select the rows to export from the n tracker rows src: the cap rows with
 * the most tokens (ties: more requests, then name order), in that order,
 * followed by one EXPORT_OTHER row summing all the others (including a
 * tracker row already named EXPORT_OTHER) when there are any.  *out is
 * malloc'ed (NULL when the result is empty); the caller frees it.  Returns
 * the number of rows, or -1 on ENOMEM.
 */
int export_top(const struct trk_named *src, int n, int cap,
    struct export_row **out);

#endif /* RATETAP_EXPORT_H */
