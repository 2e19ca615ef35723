/*
 * Names and series caps shared by the Prometheus exposition and the OTLP
 * exporter (see export.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "export.h"

static const char *const tok_names[EXPORT_TOK_COUNT] = {
	[EXPORT_TOK_INPUT] = "input",
	[EXPORT_TOK_OUTPUT] = "output",
	[EXPORT_TOK_CACHE_CREATION] = "cache_creation_input",
	[EXPORT_TOK_CACHE_READ] = "cache_read_input",
};

const char *
export_tok_name(int k)
{
	if (k < 0 || k >= EXPORT_TOK_COUNT)
		return "unknown";
	return tok_names[k];
}

int64_t
export_tok_get(const struct trk_tokens *tk, int k)
{
	switch (k) {
	case EXPORT_TOK_INPUT:
		return tk->input;
	case EXPORT_TOK_OUTPUT:
		return tk->output;
	case EXPORT_TOK_CACHE_CREATION:
		return tk->cache_creation_input;
	case EXPORT_TOK_CACHE_READ:
		return tk->cache_read_input;
	default:
		return 0;
	}
}

static int64_t
sat_add(int64_t a, int64_t b)
{
	if (b > 0 && a > INT64_MAX - b)
		return INT64_MAX;
	if (b < 0 && a < INT64_MIN - b)
		return INT64_MIN;
	return a + b;
}

int64_t
export_tok_sum(const struct trk_tokens *tk)
{
	int64_t s = 0;
	int k;

	for (k = 0; k < EXPORT_TOK_COUNT; k++)
		s = sat_add(s, export_tok_get(tk, k));
	return s;
}

static void
tok_add(struct trk_tokens *dst, const struct trk_tokens *src)
{
	dst->input = sat_add(dst->input, src->input);
	dst->output = sat_add(dst->output, src->output);
	dst->cache_creation_input = sat_add(dst->cache_creation_input,
	    src->cache_creation_input);
	dst->cache_read_input = sat_add(dst->cache_read_input,
	    src->cache_read_input);
}

static int
cmp_rows(const void *a, const void *b)
{
	const struct trk_named *x = *(const struct trk_named *const *)a;
	const struct trk_named *y = *(const struct trk_named *const *)b;
	int64_t tx = export_tok_sum(&x->tokens), ty = export_tok_sum(&y->tokens);

	if (tx != ty)
		return tx > ty ? -1 : 1;
	if (x->requests != y->requests)
		return x->requests > y->requests ? -1 : 1;
	return strncmp(x->name, y->name, sizeof(x->name));
}

static int
is_other(const struct trk_named *r)
{
	return strncmp(r->name, EXPORT_OTHER, sizeof(r->name)) == 0;
}

int
export_top(const struct trk_named *src, int n, int cap,
    struct export_row **out)
{
	const struct trk_named **order = NULL;
	struct export_row *rows = NULL, other;
	int i, k = 0, nnamed = 0, folded = 0;

	*out = NULL;
	if (src == NULL || n <= 0)
		return 0;
	if (cap < 0)
		cap = 0;
	order = calloc((size_t)n, sizeof(*order));
	rows = calloc((size_t)n + 1, sizeof(*rows));
	if (order == NULL || rows == NULL)
		goto err;
	for (i = 0; i < n; i++)
		order[i] = &src[i];
	qsort(order, (size_t)n, sizeof(*order), cmp_rows);

	memset(&other, 0, sizeof(other));
	other.name = EXPORT_OTHER;
	for (i = 0; i < n; i++) {
		const struct trk_named *r = order[i];

		if (nnamed < cap && !is_other(r)) {
			rows[k].name = r->name;
			rows[k].requests = r->requests;
			rows[k].tokens = r->tokens;
			k++;
			nnamed++;
			continue;
		}
		other.requests = sat_add(other.requests, r->requests);
		tok_add(&other.tokens, &r->tokens);
		folded++;
	}
	if (folded > 0)
		rows[k++] = other;
	free(order);
	*out = rows;
	return k;
err:
	free(order);
	free(rows);
	errno = ENOMEM;
	return -1;
}
