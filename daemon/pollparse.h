/*
 * The usage endpoint's body (daemon/pollparse.c, docs/tracker.md "The
 * usage poll body"), parsed into the tracker's struct trk_poll.
 */
#ifndef RATETAP_POLLPARSE_H
#define RATETAP_POLLPARSE_H

#include <stddef.h>

#include "tracker.h"

#define POLL_MAX_BODY	(1024 * 1024)	/* larger bodies are refused */

/*
 * Parse a /api/oauth/usage body (len bytes, not NUL-terminated) into *p.
 * Nulls, missing and unknown keys are fine; anything that is not a JSON
 * object, or a known key of the wrong type, is an error.  Returns 0, or -1
 * with a one-line reason in err (never a copy of the body).
 */
int poll_parse(const char *body, size_t len, struct trk_poll *p, char *err,
    size_t errlen);

#endif /* RATETAP_POLLPARSE_H */
