/*
 * The control endpoint: HTTP over the AF_UNIX control socket, served by
 * libmicrohttpd in external-epoll mode inside ratetapd's loop (MHD's epoll
 * fd is watched by the loop, MHD_run() runs when it is readable and from a
 * timer set from MHD_get_timeout()).
 *
 *   GET /v1/status   the status JSON (application/json)
 *   GET /metrics     Prometheus text (text/plain; version=0.0.4)
 *   GET /v1/health   200 "ok"
 *
 * anything else is 404 (unknown path) or 405 (method other than GET/HEAD)
 * with a JSON error body.  The same code serves the optional TCP metrics
 * listener with only /metrics and /v1/health.
 */
#ifndef RATETAP_CONTROL_H
#define RATETAP_CONTROL_H

#include <stddef.h>

#include <cjson/cJSON.h>

struct loop;
struct ctl;

/* What the endpoints serve; called from the loop for each request. */
struct ctl_handlers {
	cJSON *(*status)(void *arg);	/* new object, freed by control;
					   NULL on failure */
	int (*metrics)(void *arg, char **out, size_t *len); /* malloc'ed
					   text; 0 or -1 */
	void *arg;
};

#define CTL_FULL	0	/* control socket: every endpoint */
#define CTL_METRICS	1	/* TCP listener: /metrics and /v1/health */

/*
 * Serve HTTP on listen_fd (a listening, nonblocking socket; ownership
 * passes to the server, which closes it on ctl_stop()) on loop l.  mode is
 * CTL_FULL or CTL_METRICS.  h is copied.  Returns the server, or NULL with
 * a reason in err.
 */
struct ctl *ctl_start(struct loop *l, int listen_fd, int mode,
    const struct ctl_handlers *h, char *err, size_t errlen);

/* Stop serving: close connections and the listening socket.  NULL is
 * fine. */
void ctl_stop(struct ctl *c);

#endif /* RATETAP_CONTROL_H */
