/*
 * libFuzzer harness: the journal reader (daemon/journal.c) on any file
 * content: framing (common/proto.c rtj_frame), resynchronisation after
 * garbage, the wait for an incomplete last record, de-duplication and the
 * events it hands to the tracker.
 *
 * The input is written to a journal twice: as it is, and after one valid
 * record, so that mutations meet a reader in the middle of a file.  Each is
 * read to its end (all at once, then again, which must take nothing more);
 * the offset never passes the file's size, and every record counted was
 * taken, refused as a repeat or rejected.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ratetap/proto.h"

#include "../../daemon/journal.h"
#include "../../daemon/log.h"
#include "../../daemon/tracker.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64], path[96];

static void
quiet(int level, const char *line, void *arg)
{
	(void)level;
	(void)line;
	(void)arg;
}

static void
one(const void *pre, size_t prelen, const uint8_t *data, size_t size)
{
	struct trk *t = trk_new(NULL);
	struct jrn *j;
	char err[256];
	int fd, more;
	long a, b;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd == -1 || t == NULL)
		abort();
	if ((prelen > 0 && write(fd, pre, prelen) != (ssize_t)prelen) ||
	    (size > 0 && write(fd, data, size) != (ssize_t)size))
		abort();
	close(fd);
	if ((j = jrn_open(NULL, t, path, err, sizeof(err))) == NULL)
		abort();
	a = jrn_drain(j, 0, 1795896000, &more);
	b = jrn_drain(j, 0, 1795896000, &more);
	if (b != 0 || more || t->jrn.offset > (int64_t)(prelen + size) ||
	    t->jrn.offset < 0 || a < 0 ||
	    t->jrn.records + t->jrn.repeats > a ||
	    t->jrn.records > t->datagrams_accepted)
		abort();
	jrn_close(j);
	trk_free(t);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rtj_record rec;
	struct rtp_event ev;
	size_t len;

	if (dir[0] == '\0') {
		log_set_sink(quiet, NULL);
		snprintf(dir, sizeof(dir), "/tmp/rt-fuzz-journal-XXXXXX");
		if (mkdtemp(dir) == NULL)
			abort();
		snprintf(path, sizeof(path), "%s/events.journal", dir);
	}
	one(NULL, 0, data, size);
	rtp_init(&ev);
	ev.pid = 7;
	ev.seq = 1;
	ev.http_status = 200;
	len = rtj_encode(&rec, &ev, 42);
	one(&rec, len, data, size);
	return 0;
}
