/*
 * RATETAP_HOSTS parsing, shared by the shim, the CLI and the daemon (see
 * include/ratetap/hosts.h).  libc only, no allocation.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ratetap/hosts.h"

static int
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int
lower_c(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static int
is_alnum(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z');
}

static int
is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F');
}

/* "1".."65535" of exactly len bytes; -1 otherwise. */
static int
parse_port(const char *s, size_t len)
{
	long v = 0;
	size_t i;

	if (len == 0 || len > 5)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v >= 1 && v <= 65535 ? (int)v : -1;
}

int
rt_host_norm(const char *s, size_t len, char *out, size_t outlen)
{
	size_t i, o = 0;
	int v6;

	if (len > 0 && s[0] != '[' && s[len - 1] == '.')
		len--;		/* the FQDN's root: the same host */
	if (len == 0)
		return -1;
	v6 = s[0] != '[' && memchr(s, ':', len) != NULL;
	if (len + (v6 ? 2 : 0) + 1 > outlen)
		return -1;
	if (v6)
		out[o++] = '[';
	for (i = 0; i < len; i++)
		out[o++] = (char)lower_c((unsigned char)s[i]);
	if (v6)
		out[o++] = ']';
	out[o] = '\0';
	return 0;
}

/* 1 when the len bytes at s can be a host name, an IPv4 address or (in
 * brackets, or bare with v6) an IPv6 address. */
static int
host_chars_ok(const char *s, size_t len, int v6)
{
	size_t i;

	if (v6) {
		for (i = 0; i < len; i++)
			if (!is_hex(s[i]) && s[i] != ':' && s[i] != '.')
				return 0;
		return 1;
	}
	for (i = 0; i < len; i++)
		if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '.' &&
		    s[i] != '_')
			return 0;
	/* a name is not just dots, nor has an empty label inside */
	for (i = 0; i + 1 < len; i++)
		if (s[i] == '.' && s[i + 1] == '.')
			return 0;
	return len > 0 && s[0] != '.';
}

int
rt_host_parse(const char *s, size_t len, struct rt_host *h,
    const char **why)
{
	const char *p, *end, *host, *colon = NULL;
	size_t hl;
	int defport = -1, v6 = 0;

	*why = NULL;
	while (len > 0 && is_blank(*s)) {
		s++;
		len--;
	}
	while (len > 0 && is_blank(s[len - 1]))
		len--;
	if (len == 0)
		return 0;
	end = s + len;
	p = s;
	/* a URL: its scheme's port, its path left out */
	for (host = s; host + 2 < end; host++)
		if (host[0] == ':' && host[1] == '/' && host[2] == '/')
			break;
	if (host + 2 < end) {
		size_t sl = (size_t)(host - s);

		if (sl == 5 && strncasecmp(s, "https", 5) == 0)
			defport = 443;
		else if (sl == 4 && strncasecmp(s, "http", 4) == 0)
			defport = 80;
		else {
			*why = "only http:// and https:// URLs name a host";
			return -1;
		}
		p = host + 3;
	}
	for (host = p; host < end && *host != '/' && *host != '?' &&
	    *host != '#'; host++)
		;
	end = host;
	if (memchr(p, '@', (size_t)(end - p)) != NULL ||
	    memchr(s, '@', len) != NULL) {
		*why = "it names a user (user info is never used)";
		return -1;
	}
	if (p == end) {
		*why = "it names no host";
		return -1;
	}
	host = p;
	if (*p == '[') {
		const char *close = memchr(p, ']', (size_t)(end - p));

		if (close == NULL || close == p + 1) {
			*why = "an IPv6 address in brackets is not closed";
			return -1;
		}
		host = p + 1;
		hl = (size_t)(close - host);
		v6 = 1;
		if (close + 1 < end) {
			if (close[1] != ':') {
				*why = "text after an IPv6 address";
				return -1;
			}
			colon = close + 1;
		}
	} else {
		const char *c = memchr(p, ':', (size_t)(end - p));

		if (c != NULL && memchr(c + 1, ':', (size_t)(end - c - 1)) !=
		    NULL) {
			/* a bare IPv6 address: no port */
			v6 = 1;
			hl = (size_t)(end - p);
		} else {
			colon = c;
			hl = colon != NULL ? (size_t)(colon - p) : (size_t)(end -
			    p);
		}
	}
	if (!host_chars_ok(host, hl, v6) || (v6 && memchr(host, ':', hl) ==
	    NULL)) {
		*why = v6 ? "not an IPv6 address" :
		    "a host name has only letters, digits, '-', '_' and '.'";
		return -1;
	}
	h->port = defport;
	if (colon != NULL && colon + 1 < end &&
	    (h->port = parse_port(colon + 1, (size_t)(end - colon - 1))) ==
	    -1) {
		*why = "the port is not a number from 1 to 65535";
		return -1;
	}
	if (v6) {
		/* normalised without its brackets: rt_host_norm adds them */
		if (rt_host_norm(host, hl, h->name, sizeof(h->name)) == -1) {
			*why = "the host is too long";
			return -1;
		}
	} else if (rt_host_norm(host, hl, h->name, sizeof(h->name)) == -1) {
		*why = hl > 0 ? "the host is too long" : "it names no host";
		return -1;
	}
	return 1;
}

size_t
rt_hosts_parse(const char *list, struct rt_host *hosts, size_t max,
    void (*warn)(void *arg, const char *msg), void *arg)
{
	const char *p = list, *next, *why;
	size_t n = 0, idx = 0, len;
	char msg[200];
	int r;

	while (p != NULL && *p != '\0') {
		struct rt_host h;

		next = strchr(p, ',');
		len = next != NULL ? (size_t)(next - p) : strlen(p);
		idx++;
		r = rt_host_parse(p, len, &h, &why);
		if (r == 1 && n == max) {
			r = -1;
			why = "too many entries";
		}
		if (r == 1)
			hosts[n++] = h;
		else if (r == -1 && warn != NULL) {
			while (len > 0 && is_blank(*p)) {
				p++;
				len--;
			}
			while (len > 0 && is_blank(p[len - 1]))
				len--;
			if (memchr(p, '@', len) != NULL || len > 80)
				snprintf(msg, sizeof(msg), "RATETAP_HOSTS entry "
				    "%zu ignored: %s", idx, why);
			else
				snprintf(msg, sizeof(msg), "RATETAP_HOSTS entry "
				    "%zu (\"%.*s\") ignored: %s", idx, (int)len,
				    p, why);
			warn(arg, msg);
		}
		p = next != NULL ? next + 1 : NULL;
	}
	return n;
}

struct count {
	void (*warn)(void *, const char *);
	void *arg;
	int n;
};

static void
count_warn(void *arg, const char *msg)
{
	struct count *c = arg;

	c->n++;
	if (c->warn != NULL)
		c->warn(c->arg, msg);
}

int
rt_hosts_check_env(void (*warn)(void *arg, const char *msg), void *arg)
{
	struct rt_host hosts[RT_HOSTS_MAX];
	struct count c = { warn, arg, 0 };
	const char *v = getenv("RATETAP_HOSTS");

	if (v == NULL || v[0] == '\0')
		return 0;
	if (rt_hosts_parse(v, hosts, RT_HOSTS_MAX, count_warn, &c) == 0)
		count_warn(&c, "RATETAP_HOSTS names no usable host: no "
		    "transfer will be tapped");
	return c.n;
}
