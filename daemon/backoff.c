/*
 * Back-off, Retry-After and log-once for the daemon's remote endpoints
 * (see backoff.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"

int64_t
backoff_delay(int64_t base, int failures, int64_t cap, int64_t retry_after,
    int64_t retry_cap)
{
	int64_t d = base > 0 ? base : 1;
	int i;

	if (cap < d)
		cap = d;
	for (i = 0; i < failures && d < cap; i++)
		d *= 2;
	if (d > cap)
		d = cap;
	if (retry_after > retry_cap)
		retry_after = retry_cap;
	if (retry_after > d)
		d = retry_after;
	return d;
}

long
backoff_retry_after(const char *v)
{
	char *end;
	long n;

	if (v == NULL)
		return -1;
	while (*v == ' ' || *v == '\t')
		v++;
	errno = 0;
	n = strtol(v, &end, 10);
	if (end == v || errno != 0 || n < 0)
		return -1;	/* an HTTP-date or garbage: use back-off */
	while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
		end++;
	return *end == '\0' ? n : -1;
}

int
backoff_first(char *last, size_t len, const char *kind)
{
	if (strcmp(last, kind) == 0)
		return 0;
	snprintf(last, len, "%s", kind);
	return 1;
}
