/*
 * The journal's reader: the durable path from the shims to the tracker
 * (docs/protocol.md, "The journal").  Records are read from the offset kept
 * in the tracker (struct trk_jrn, saved with the state), checked (framing,
 * checksum, rtp_validate()), de-duplicated by (pid, stamp, seq) and handed
 * to trk_event().  Woken by inotify on the journal's directory (then read
 * after a window, and every window while records keep coming, so that a
 * burst or a trickle is one read a window), and by a 1 s timer.
 * Space below the saved offset is freed (a hole is punched: offsets never
 * move, so a writer appending meanwhile never loses a
 * record).
 */
#ifndef RATETAP_JOURNAL_H
#define RATETAP_JOURNAL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct loop;
struct trk;
struct rtj_hdr;

/* Records taken per loop iteration at most (a control request waits at
 * most a few ms behind a backlog). */
#define JRN_BATCH_MAX	8192

struct jrn;

/*
 * Read the journal at path into t from now on, watching it on loop l (l
 * may be NULL: then only jrn_drain() reads).  Creates the file (0600)
 * when missing.  A file that is refused (not ours, a link, a FIFO, ...)
 * is said in the log and in t->jrn.error, and retried every second.
 * Returns NULL with a reason in err only when it cannot work at all.
 */
struct jrn *jrn_open(struct loop *l, struct trk *t, const char *path,
    char *err, size_t errlen);

/*
 * Take up to max records (0: all there are) from the journal as of now.
 * Returns the number taken; *more is set when records remain.
 */
long jrn_drain(struct jrn *j, long max, time_t now, int *more);

/*
 * Take every record the journal holds now, before an answer that shows
 * counts: reads are batched (an inotify wakeup is followed by a short
 * window), and an answer must never miss an event already appended.
 */
void jrn_catch_up(struct jrn *j);

/*
 * The state holding t->jrn.offset was just saved: free the journal's space
 * below it.
 */
void jrn_saved(struct jrn *j);

/*
 * Take nothing that is in the journal now: read only what is appended from
 * here on.  For a state that was lost (a corrupt file moved aside): the
 * counts it held are gone, and re-reading what is left of the journal would
 * give a part of them back as if it were all.
 */
void jrn_skip_to_end(struct jrn *j);

/* Stop watching and close. NULL is fine. */
void jrn_close(struct jrn *j);

/*
 * The de-duplication of (pid, stamp, seq) in t: 1 when this event was
 * already taken, else 0 (and it is remembered as taken).
 */
int jrn_seen(struct trk *t, int32_t pid, uint64_t stamp, uint32_t seq);

/*
 * Apply one record of len bytes at buf (as rtj_frame() accepted it, header
 * h) to t: rejected, a repeat, or an event.
 */
void jrn_take(struct trk *t, const struct rtj_hdr *h, const void *buf,
    time_t now);

#endif /* RATETAP_JOURNAL_H */
