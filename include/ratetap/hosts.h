/*
 * RATETAP_HOSTS: the comma list of hosts whose transfers the shim taps,
 * parsed the same way by the shim (which uses it), `ratetap run`, `ratetap
 * doctor` and ratetapd (which warn about entries that cannot be used).
 * libc only: the shim links nothing else.
 *
 * An entry is what a user may mean by a host: "host", "host:port",
 * "[v6]", "[v6]:port", a bare IPv6 address, or a URL
 * ("https://host:port/" - the scheme's port when none is named; its path
 * is ignored), in any case, with a trailing dot or not, with blanks
 * around it.  Empty entries (",," or a trailing comma) are skipped.
 * Anything else is refused with a reason: user info ("user@host"), a bad
 * port, a character no host name has, a host too long.
 */
#ifndef RATETAP_HOSTS_H
#define RATETAP_HOSTS_H

#include <stddef.h>

#define RT_HOST_MAX	256	/* longest host name kept, with its NUL */
#define RT_HOSTS_MAX	16	/* entries kept; more are refused */

struct rt_host {
	char name[RT_HOST_MAX];	/* lower case, no trailing dot; IPv6 as
				   "[addr]" */
	int port;		/* 1-65535, or -1: any port */
};

/*
 * Parse one entry (len bytes at s, blanks around it allowed) into *h.
 * Returns 1 when it was taken, 0 for an empty entry, -1 when it cannot be
 * used (*why then says why, a static string; the entry may hold a
 * credential when it names a user, so callers never echo it then).
 */
int rt_host_parse(const char *s, size_t len, struct rt_host *h,
    const char **why);

/*
 * Normalise a host name as a URL names it (len bytes at s, no port) into
 * out (size outlen): lower case, one trailing dot dropped, an IPv6
 * address in brackets.  Returns 0, or -1 when it is empty or too long.
 */
int rt_host_norm(const char *s, size_t len, char *out, size_t outlen);

/*
 * Parse the list into hosts (at most max).  Each entry that cannot be
 * used, and each one beyond max, is refused: when warn is not NULL it is
 * called with a one-line message (naming the entry by its position, and
 * quoting it unless it names a user) and arg.  Returns the number of
 * entries kept.
 */
size_t rt_hosts_parse(const char *list, struct rt_host *hosts, size_t max,
    void (*warn)(void *arg, const char *msg), void *arg);

/*
 * Check the RATETAP_HOSTS of the environment: warn (as above) about every
 * entry that cannot be used, and when the variable is set but names no
 * usable host at all.  Returns the number of problems (0: fine or unset).
 */
int rt_hosts_check_env(void (*warn)(void *arg, const char *msg), void *arg);

#endif /* RATETAP_HOSTS_H */
