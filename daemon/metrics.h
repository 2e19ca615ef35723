/*
 * Metrics of the tracker in the Prometheus text exposition format
 * (docs/metrics.md lists every family).  Served on GET /metrics of the
 * control socket and, with --metrics-listen, on TCP.
 */
#ifndef RATETAP_METRICS_H
#define RATETAP_METRICS_H

#include <stddef.h>
#include <time.h>

struct trk;

/*
 * Render every metric family of t as of now into a malloc'ed buffer (*out,
 * *len bytes, NUL-terminated); the caller frees it.  Models and programs
 * beyond a cap fold into the label value "other".  Returns 0, or -1 on
 * ENOMEM.
 */
int metrics_render(const struct trk *t, time_t now, char **out, size_t *len);

#endif /* RATETAP_METRICS_H */
