/*
 * Claude Code's statusLine as a source of window figures: `ratetap
 * statusline` forwards the `rate_limits` object of the JSON Claude Code
 * gives it (POST /v1/statusline on the control socket) and sl_apply()
 * hands each window to the tracker as TRK_SRC_STATUSLINE.
 */
#ifndef RATETAP_STATUSLINE_H
#define RATETAP_STATUSLINE_H

#include <stddef.h>
#include <time.h>

struct trk;

#define SL_MAX_BODY	16384	/* larger request bodies are refused */

/*
 * Apply a `rate_limits` object (len bytes, not NUL-terminated) seen at
 * now: `five_hour` and `seven_day`, each absent, null or an object whose
 * `used_percentage` is absent, null or a number in [0, 10^6] and whose
 * `resets_at` is absent, null or unix seconds in [1, 9999-12-31].  Other
 * keys are ignored.  Everything is checked before anything is applied.
 * Returns the number of windows applied (0 or more), or -1 with a
 * one-line reason in err (never a copy of the body).
 */
int sl_apply(struct trk *t, const char *body, size_t len, time_t now,
    char *err, size_t errlen);

#endif /* RATETAP_STATUSLINE_H */
