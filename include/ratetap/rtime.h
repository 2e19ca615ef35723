/*
 * RFC 3339 times (common/rtime.c), libc only.
 */
#ifndef RATETAP_RTIME_H
#define RATETAP_RTIME_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define RT_TIME_MAX	INT64_C(253402300799)	/* 9999-12-31T23:59:59Z */

/*
 * Parse an RFC 3339 time ("2026-11-28T20:00:00Z", with or without fractional
 * seconds, "Z" or a numeric offset) into UTC seconds, 0 to RT_TIME_MAX.
 * Returns 0 or -1.
 */
int rt_time_parse(const char *s, time_t *out);

/* Format t as RFC 3339 UTC ("2026-11-28T20:00:00Z") into buf (>= 21). */
void rt_time_format(time_t t, char *buf, size_t len);

#endif /* RATETAP_RTIME_H */
