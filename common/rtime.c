/*
 * RFC 3339 times, shared by the daemon and the CLI (libc only): the form
 * the status JSON and the state file write, and the forms the usage
 * endpoint and the headers give.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ratetap/rtime.h"

void
rt_time_format(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (len == 0)
		return;
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "?");
}

/* Parse exactly n digits at *s into *v; advance *s. */
static int
digits(const char **s, int n, int *v)
{
	int i, r = 0;

	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*s)[i]))
			return -1;
		r = r * 10 + ((*s)[i] - '0');
	}
	*s += n;
	*v = r;
	return 0;
}

static int
days_in_month(int year, int mon)
{
	static const int mdays[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};
	int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	if (mon == 2 && leap)
		return 29;
	return mdays[mon - 1];
}

int
rt_time_parse(const char *s, time_t *out)
{
	struct tm tm;
	int year, mon, day, hour, min, sec, oh = 0, om = 0, sign = 0;
	int nfrac = 0;
	time_t r;

	if (s == NULL)
		return -1;
	if (digits(&s, 4, &year) == -1 || *s++ != '-' ||
	    digits(&s, 2, &mon) == -1 || *s++ != '-' ||
	    digits(&s, 2, &day) == -1)
		return -1;
	if (*s != 'T' && *s != 't')
		return -1;
	s++;
	if (digits(&s, 2, &hour) == -1 || *s++ != ':' ||
	    digits(&s, 2, &min) == -1 || *s++ != ':' ||
	    digits(&s, 2, &sec) == -1)
		return -1;
	if (*s == '.') {
		s++;
		while (isdigit((unsigned char)*s)) {
			s++;
			nfrac++;
		}
		if (nfrac == 0 || nfrac > 18)
			return -1;
	}
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		sign = *s++ == '+' ? 1 : -1;
		if (digits(&s, 2, &oh) == -1 || *s++ != ':' ||
		    digits(&s, 2, &om) == -1)
			return -1;
	} else
		return -1;
	if (*s != '\0')
		return -1;
	if (year < 1970 || year > 9999 || mon < 1 || mon > 12 || day < 1 ||
	    day > days_in_month(year, mon) || hour > 23 || min > 59 ||
	    sec > 60 || oh > 23 || om > 59)
		return -1;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;	/* a leap second 60 normalises to :00 */
	r = timegm(&tm);
	if (r == (time_t)-1)
		return -1;
	r -= (time_t)sign * (oh * 3600 + om * 60);
	if (r < 0 || r > (time_t)RT_TIME_MAX)
		return -1;
	*out = r;
	return 0;
}
