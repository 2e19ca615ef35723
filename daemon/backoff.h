/*
 * Retrying a remote endpoint (daemon/backoff.c): the delay after
 * consecutive failures, a Retry-After header's seconds, and logging a
 * failure once per kind instead of at every attempt.  Used by the usage
 * poll (poll.c); units are the caller's.
 */
#ifndef RATETAP_BACKOFF_H
#define RATETAP_BACKOFF_H

#include <stddef.h>
#include <stdint.h>

/*
 * The delay after failures consecutive failures (0: after a success):
 * base (at least 1) doubled per failure up to cap (or base when that is
 * larger), and at least retry_after (-1: none) once that is cut to
 * retry_cap.
 */
int64_t backoff_delay(int64_t base, int failures, int64_t cap,
    int64_t retry_after, int64_t retry_cap);

/*
 * The seconds of a Retry-After value (delta-seconds, blanks around them
 * allowed), or -1 when v is NULL, an HTTP-date or anything else.
 */
long backoff_retry_after(const char *v);

/*
 * 1 when kind differs from the kind last logged in last (len bytes), which
 * then becomes kind: log it; 0 when it is the same one again.  Set
 * last[0] = '\0' after a success.
 */
int backoff_first(char *last, size_t len, const char *kind);

#endif /* RATETAP_BACKOFF_H */
