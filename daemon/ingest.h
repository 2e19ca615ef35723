/*
 * The ingest socket: shims send one struct rtp_event per finished transfer
 * as a datagram.  Each datagram is checked (sender's uid via SCM_CREDENTIALS,
 * then rtp_validate()) and handed to the tracker; a bad one is counted by
 * reason and changes nothing else.
 */
#ifndef RATETAP_INGEST_H
#define RATETAP_INGEST_H

#include <sys/types.h>
#include <time.h>

struct loop;
struct trk;

/* Receive buffer: larger than an event so that an oversize datagram is
 * seen as such (MSG_TRUNC) rather than cut to the right size. */
#define ING_BUF_SIZE	4096

/* Datagrams read per wakeup at most (the loop calls again while more wait).
 * Small enough that a control request waits at most a few milliseconds
 * behind a flood (a few us an event), large enough to amortise the
 * wakeup. */
#define ING_BATCH_MAX	256

/* Datagrams read per recvmmsg() call at most, each into its own buffer of
 * ING_BUF_SIZE bytes with its own credentials. */
#define ING_MMSG_VLEN	32

/*
 * Read the datagrams waiting on fd (nonblocking, SO_PASSCRED set), at most
 * ING_BATCH_MAX, in batches of up to ING_MMSG_VLEN per recvmmsg(), and
 * apply each to t as of now: from a uid other than uid -> trk_foreign();
 * invalid -> trk_rejected(reason); else trk_event().  Returns the number of
 * datagrams read, or -1 with errno on a socket error other than EAGAIN.
 * Not reentrant: the receive buffers are static.
 */
int ing_drain(int fd, struct trk *t, uid_t uid, time_t now);

/*
 * Watch the ingest fd on loop l, feeding tracker t.  The fd stays the
 * caller's.  Returns 0, or -1 with errno.
 */
int ing_start(struct loop *l, int fd, struct trk *t);

/* Stop watching fd. */
void ing_stop(struct loop *l, int fd);

#endif /* RATETAP_INGEST_H */
