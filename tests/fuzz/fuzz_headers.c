/*
 * libFuzzer harness: the shim's response-header parsers (shim/headers.c)
 * on arbitrary name/value pairs.
 *
 * The input is read as header lines separated by '\n'.  A line holding a
 * ':' is "name: value" as libcurl hands it over; a line without one is a
 * value for the header its first byte picks from the table, so that every
 * value parser sees every mutation.  For each line:
 *   - hdr_apply() returns 1 (applied), 0 (not ours) or -1 (malformed, the
 *     event unchanged), and an event it changed still passes the daemon's
 *     rtp_validate(): nothing the shim parses may be refused on arrival;
 *   - the value parsers, called directly, stay within their ranges, and a
 *     plain decimal agrees with strtod();
 * then hdr_read() over the same lines through a fake curl_easy_nextheader
 * must build the very same event.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../shim/headers.c"

#define MAX_LINES	64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct curl_header fake_hdr[MAX_LINES];
static size_t fake_n;

/* curl_easy_nextheader over fake_hdr[] */
static struct curl_header *
fake_next(CURL *easy, unsigned int origin, int request,
    struct curl_header *prev)
{
	size_t k;

	(void)easy;
	if (origin != CURLH_HEADER || request != -1)
		abort();
	k = prev == NULL ? 0 : (size_t)(prev - fake_hdr) + 1;
	return k < fake_n ? &fake_hdr[k] : NULL;
}

/* The value parsers on s (len bytes): results within their ranges. */
static void
check_parsers(const char *s, size_t len)
{
	char buf[64];
	int64_t iv;
	double dv, ref;
	size_t k;
	int plain = len > 0 && len < sizeof(buf);

	if (parse_uint(s, len, MAX_UNIX, &iv) == 0 &&
	    (iv < 0 || iv > MAX_UNIX))
		abort();
	if (parse_rfc3339(s, len, &iv) == 0 && (iv < 0 || iv > MAX_UNIX))
		abort();
	if (parse_double(s, len, &dv) != 0)
		return;
	if (!(dv >= 0.0 && dv <= MAX_DOUBLE))
		abort();
	/* DIGITS[.DIGITS] of at most 15 significant digits: strtod's value
	   (the C locale is in force here) */
	for (k = 0; plain && k < len; k++)
		plain = is_digit(s[k]) || s[k] == '.';
	if (!plain)
		return;
	memcpy(buf, s, len);
	buf[len] = '\0';
	for (k = 0; buf[k] == '0' || buf[k] == '.'; k++)
		;
	if (strlen(buf + k) - (strchr(buf + k, '.') != NULL) > 15)
		return;
	ref = strtod(buf, NULL);
	if (ref >= 1e-9 && fabs(dv - ref) > ref * 1e-12)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rtp_event ev, before, viaread;
	struct curl_fns fns;
	char *text, *line, *next, *name, *value;
	char names[MAX_LINES][RTP_PATH_LEN + 64];
	int r;

	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';		/* a NUL ends the input, as in C */

	rtp_init(&ev);
	ev.pid = 1;
	fake_n = 0;
	for (line = text; line != NULL && fake_n < MAX_LINES; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if ((value = strchr(line, ':')) != NULL) {
			*value++ = '\0';
			name = line;
		} else {
			const struct hdr_def *def;

			if (*line == '\0')
				continue;
			def = &hdr_defs[(unsigned char)*line % HDR_NDEFS];
			snprintf(names[fake_n], sizeof(names[fake_n]), "%s%s",
			    def->rl ? RL_PREFIX : "", def->name);
			name = names[fake_n];
			value = line + 1;
		}
		check_parsers(value, strlen(value));

		before = ev;
		r = hdr_apply(&ev, name, value);
		if (r < -1 || r > 1)
			abort();
		if (r != 1 && memcmp(&ev, &before, sizeof(ev)) != 0)
			abort();	/* refused or not ours: unchanged */
		if (rtp_validate(&ev, sizeof(ev), NULL) != RTP_OK)
			abort();	/* the daemon would refuse it */

		fake_hdr[fake_n].name = name;
		fake_hdr[fake_n].value = value;
		fake_hdr[fake_n].amount = 1;
		fake_hdr[fake_n].index = 0;
		fake_hdr[fake_n].origin = CURLH_HEADER;
		fake_hdr[fake_n].anchor = NULL;
		fake_n++;
	}

	/* the same lines through hdr_read(): the same event */
	memset(&fns, 0, sizeof(fns));
	fns.easy_nextheader = fake_next;
	rtp_init(&viaread);
	viaread.pid = 1;
	hdr_read(&fns, NULL, &viaread);
	if (memcmp(&viaread, &ev, sizeof(ev)) != 0)
		abort();

	/* without curl_easy_nextheader: only the flag */
	fns.easy_nextheader = NULL;
	rtp_init(&viaread);
	viaread.pid = 1;
	hdr_read(&fns, NULL, &viaread);
	if (viaread.flags != RTP_F_HEADERS_UNREAD || viaread.present != 0)
		abort();

	free(text);
	return 0;
}
