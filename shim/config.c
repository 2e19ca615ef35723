/*
 * The shim's configuration: read once from the environment (the program
 * name from /proc/self/cmdline, at the first event), host matching for
 * RATETAP_HOSTS, URL parsing and the ingest socket's directory check.
 * The debug log is in log.c, the constructor in init.c.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ratetap/hosts.h"
#include "ratetap/safe.h"

#include "resolve.h"
#include "shim.h"

struct shim_cfg shim_cfg;
_Atomic int shim_cfg_ready;

static pthread_once_t cfg_once = PTHREAD_ONCE_INIT;
static pthread_once_t prog_once = PTHREAD_ONCE_INIT;
static char prog_name[RTP_PROG_LEN];	/* cfg_prog() */
static struct cfg_host *host_store;	/* shim_cfg.hosts */
static _Atomic int sock_state;		/* cfg_sock(): enum below */

static void
lower(char *s)
{
	for (; *s != '\0'; s++)
		*s = (char)tolower((unsigned char)*s);
}

/* Parse a decimal port "1".."65535" of exactly len bytes; -1 if invalid. */
static int
parse_port(const char *s, size_t len)
{
	size_t i;
	long v = 0;

	if (len == 0 || len > 5)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return (v >= 1 && v <= 65535) ? (int)v : -1;
}

/*
 * Split "host", "host:port", "[v6]", "[v6]:port" (len bytes at s) into a
 * lower-case host (IPv6 keeps its brackets) and a port (-1 when absent).
 * Returns 0, or -1 when malformed or too long.
 */
static int
split_hostport(const char *s, size_t len, char *host, size_t hostlen,
    int *port)
{
	const char *colon = NULL;
	size_t hl;

	*port = -1;
	if (len == 0)
		return -1;
	if (s[0] == '[') {
		const char *close = memchr(s, ']', len);

		if (close == NULL || close == s + 1)
			return -1;
		hl = (size_t)(close - s) + 1;
		if (hl < len) {
			if (s[hl] != ':')
				return -1;
			colon = s + hl;
		}
	} else {
		const char *c = memchr(s, ':', len);

		if (c != NULL && memchr(c + 1, ':', len - (size_t)(c + 1 - s))
		    != NULL) {
			/* bare IPv6 address without brackets: no port */
			if (len + 3 > hostlen)
				return -1;
			host[0] = '[';
			memcpy(host + 1, s, len);
			host[len + 1] = ']';
			host[len + 2] = '\0';
			lower(host);
			return 0;
		}
		colon = c;
		hl = colon != NULL ? (size_t)(colon - s) : len;
	}
	if (hl == 0 || hl + 1 > hostlen)
		return -1;
	if (colon != NULL) {
		size_t pl = len - (size_t)(colon + 1 - s);

		/* "host:" means the default port, as in a URL */
		if (pl > 0 && (*port = parse_port(colon + 1, pl)) == -1)
			return -1;
	}
	memcpy(host, s, hl);
	host[hl] = '\0';
	lower(host);
	return 0;
}

static void
hosts_warn(void *arg, const char *msg)
{
	(void)arg;
	shim_debug("%s", msg);
}

size_t
cfg_parse_hosts(const char *list, struct cfg_host *hosts, size_t max)
{
	struct rt_host h[RT_HOSTS_MAX];
	size_t n, i;

	if (max > RT_HOSTS_MAX)
		max = RT_HOSTS_MAX;
	n = rt_hosts_parse(list, h, max, hosts_warn, NULL);
	for (i = 0; i < n; i++) {
		rtp_strlcpy(hosts[i].name, h[i].name, sizeof(hosts[i].name));
		hosts[i].port = h[i].port;
	}
	return n;
}

/*
 * Where the parts of url lie: *scheme_len bytes of scheme before "://" (0
 * when there is none), the host[:port] part at [*host, *end) with any
 * userinfo left out.  url has no leading blanks.
 */
static void
url_split(const char *url, size_t *scheme_len, const char **host,
    const char **end)
{
	const char *c, *auth = url;
	unsigned char ch;

	/* a scheme is [A-Za-z0-9+.-]+ followed by "://" */
	*scheme_len = 0;
	for (c = url; (ch = (unsigned char)*c) != '\0'; c++)
		if (!((unsigned)((ch | 0x20) - 'a') < 26 ||
		    (unsigned)(ch - '0') < 10 || ch == '+' || ch == '-' ||
		    ch == '.'))
			break;
	if (c[0] == ':' && c[1] == '/' && c[2] == '/') {
		*scheme_len = (size_t)(c - url);
		auth = c + 3;
	}
	/* the authority ends at the path, query or fragment; userinfo is
	   dropped unread: it is a credential */
	*host = auth;
	for (c = auth; (ch = (unsigned char)*c) != '\0' && ch != '/' &&
	    ch != '?' && ch != '#'; c++)
		if (ch == '@')
			*host = c + 1;
	*end = c;
}

static const char *
skip_blanks(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

int
cfg_parse_url(const char *url, struct cfg_url *out)
{
	const char *host, *end;
	size_t slen;
	int port;

	memset(out, 0, sizeof(*out));
	if (url == NULL)
		return -1;
	url = skip_blanks(url);
	url_split(url, &slen, &host, &end);
	if (slen == 5 && strncasecmp(url, "https", 5) == 0) {
		out->tls = 1;
		out->port = 443;
	} else if (slen == 0 || (slen == 4 && strncasecmp(url, "http", 4) == 0))
		out->port = 80;		/* libcurl guesses http without scheme */
	if (split_hostport(host, (size_t)(end - host), out->host,
	    sizeof(out->host), &port) == -1)
		return -1;
	/* "api.anthropic.com." is the same host as "api.anthropic.com" */
	slen = strlen(out->host);
	if (out->host[0] != '[' && slen > 1 && out->host[slen - 1] == '.')
		out->host[slen - 1] = '\0';
	if (port != -1) {
		out->port = port;
		out->explicit_port = 1;
	}
	return 0;
}

int
cfg_tapped(const struct cfg_url *u)
{
	size_t i;

	for (i = 0; i < shim_cfg.nhosts; i++) {
		const struct cfg_host *h = &shim_cfg.hosts[i];

		if (strcmp(h->name, u->host) != 0)
			continue;
		if (h->port == -1 || h->port == u->port)
			return 1;
	}
	return 0;
}

static const char *
base_name(const char *s)
{
	const char *slash = strrchr(s, '/');

	return slash != NULL ? slash + 1 : s;
}

/* Interpreters whose script, not themselves, names the program. */
static int
is_interpreter(const char *name)
{
	static const char *const prefixes[] = {
		"python", "php", "perl", "ruby", "node", NULL
	};
	static const char *const exact[] = {
		"bash", "sh", "dash", "zsh", "ksh", NULL
	};
	int k;

	for (k = 0; prefixes[k] != NULL; k++)
		if (strncmp(name, prefixes[k], strlen(prefixes[k])) == 0)
			return 1;
	for (k = 0; exact[k] != NULL; k++)
		if (strcmp(name, exact[k]) == 0)
			return 1;
	return 0;
}

void
cfg_prog_name(const char *cmdline, size_t len, char *prog, size_t proglen)
{
	const char *argv[64];
	const char *interp, *p = cmdline, *end = cmdline + len;
	size_t argc = 0, i;

	while (p < end && argc < sizeof(argv) / sizeof(argv[0])) {
		const char *nul = memchr(p, '\0', (size_t)(end - p));

		if (nul == NULL)
			break;		/* a truncated last argument: ignore */
		argv[argc++] = p;
		p = nul + 1;
	}
	if (argc == 0 || argv[0][0] == '\0') {
		rtp_strlcpy(prog, "unknown", proglen);
		return;
	}
	interp = base_name(argv[0]);
	rtp_strlcpy(prog, interp, proglen);
	if (!is_interpreter(interp))
		return;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--") == 0) {
			if (i + 1 < argc && argv[i + 1][0] != '\0')
				rtp_strlcpy(prog, base_name(argv[i + 1]),
				    proglen);
			return;
		}
		if (a[0] != '-' || a[1] == '\0') {
			if (strcmp(a, "-") != 0 && a[0] != '\0')
				rtp_strlcpy(prog, base_name(a), proglen);
			return;
		}
		/* code given inline: no script */
		if (strcmp(a, "-c") == 0 || strcmp(a, "-e") == 0 ||
		    strcmp(a, "-E") == 0 || strcmp(a, "-r") == 0 ||
		    strcmp(a, "-p") == 0 || strcmp(a, "--eval") == 0 ||
		    strcmp(a, "--print") == 0)
			return;
		/* python -m module, php -f file: that names the program */
		if (strcmp(a, "-m") == 0 || strcmp(a, "-f") == 0) {
			if (i + 1 < argc && argv[i + 1][0] != '\0')
				rtp_strlcpy(prog, base_name(argv[i + 1]),
				    proglen);
			return;
		}
		/* options that take a separate value */
		if (strcmp(a, "-W") == 0 || strcmp(a, "-X") == 0 ||
		    strcmp(a, "-d") == 0 || strcmp(a, "-o") == 0 ||
		    strcmp(a, "-O") == 0 || strcmp(a, "-I") == 0 ||
		    strcmp(a, "--require") == 0)
			i++;
	}
}

/* Read /proc/self/cmdline (up to 4 KiB is plenty for a program name). */
static void
read_prog(char *prog, size_t proglen)
{
	char buf[4096];
	size_t len = 0;
	int fd, saved = errno;

	rtp_strlcpy(prog, program_invocation_short_name, proglen);
	fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		goto out;
	while (len < sizeof(buf)) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (len > 0)
		cfg_prog_name(buf, len, prog, proglen);
out:
	errno = saved;
}

static void
prog_init(void)
{
	read_prog(prog_name, sizeof(prog_name));
	shim_debug("program %s", prog_name);
}

const char *
cfg_prog(void)
{
	if (pthread_once(&prog_once, prog_init) != 0)
		return program_invocation_short_name;
	return prog_name;
}

/* The check of the runtime directory, once per process: SOCK_OK,
 * SOCK_REFUSED, or SOCK_UNKNOWN while it cannot be made (its parent is
 * missing: the next event checks again, so that a directory someone else
 * creates meanwhile is not trusted). */
enum { SOCK_UNKNOWN, SOCK_OK, SOCK_REFUSED };

static int
sock_check(void)
{
	char dir[RT_PATH_MAX], err[256];
	int saved = errno, ret = SOCK_REFUSED;

	if (rt_dirname(shim_cfg.sock, dir, sizeof(dir)) == -1) {
		shim_debug("ingest socket %s has no directory: events not "
		    "sent", shim_cfg.sock);
		goto out;
	}
	/* the shared check of ratetapd and ratetap: the directory is ours
	   and private, and so is every directory above it (or sticky) */
	if (rt_dir_ensure(dir, err, sizeof(err)) == 0)
		ret = SOCK_OK;
	else if (errno == ENOENT)
		ret = SOCK_UNKNOWN;
	else
		shim_debug("%s: events not sent", err);
out:
	errno = saved;
	return ret;
}

/* The runtime directory checked (default paths) or taken as given. */
static int
dir_usable(void)
{
	int st;

	if (!shim_cfg.sock_ok)
		return 0;
	if (!shim_cfg.sock_default)
		return 1;
	st = atomic_load_explicit(&sock_state, memory_order_acquire);
	if (st == SOCK_UNKNOWN) {
		/* two threads may both check: the same answer, and a
		   refusal is said by the one that records it */
		st = sock_check();
		if (st != SOCK_UNKNOWN)
			atomic_store_explicit(&sock_state, st,
			    memory_order_release);
	}
	return st == SOCK_OK;
}

const char *
cfg_sock(void)
{
	return dir_usable() ? shim_cfg.sock : NULL;
}

const char *
cfg_journal(void)
{
	return dir_usable() && shim_cfg.journal[0] != '\0' ?
	    shim_cfg.journal : NULL;
}

void
cfg_load(void)
{
	struct shim_cfg c;
	const char *hosts, *sock;

	memset(&c, 0, sizeof(c));
	shim_debug_reload();		/* so that parsing can report */
	if (rt_env_flag("RATETAP_DISABLE"))
		c.off = 1;
	else if (getauxval(AT_SECURE) != 0)
		c.off = 1;		/* setuid/setgid/capabilities */
	else if (resolve_program_defines("ratetapd_no_tap"))
		c.off = 1;		/* inside the daemon itself */
	hosts = getenv("RATETAP_HOSTS");
	if (hosts == NULL || hosts[0] == '\0')
		hosts = RT_DEFAULT_HOSTS;
	/* allocated once (kept by later loads): not part of shim_cfg, so
	   that what the constructor touches stays on few pages */
	if (host_store == NULL &&
	    (host_store = calloc(CFG_MAX_HOSTS, sizeof(*host_store))) == NULL)
		shim_debug("out of memory for RATETAP_HOSTS: nothing tapped");
	c.hosts = host_store;
	if (host_store != NULL &&
	    (c.nhosts = cfg_parse_hosts(hosts, c.hosts, CFG_MAX_HOSTS)) == 0)
		shim_debug("RATETAP_HOSTS names no usable host: nothing "
		    "tapped");
	sock = getenv("RATETAP_SOCKET");
	c.sock_default = sock == NULL || sock[0] == '\0';
	if (rt_ingest_path(c.sock, sizeof(c.sock)) == 0)
		c.sock_ok = 1;
	else
		shim_debug("ingest socket path too long: events disabled");
	if (c.sock_ok &&
	    rt_journal_path(c.sock, c.journal, sizeof(c.journal)) == -1)
		c.journal[0] = '\0';	/* datagrams only */
	shim_cfg = c;
	if (shim_debug_on())
		shim_debug("%s, %zu tapped host(s)",
		    c.off ? "pass-through" : "active", c.nhosts);
}

static void
cfg_once_init(void)
{
	cfg_load();
	atomic_store_explicit(&shim_cfg_ready, 1, memory_order_release);
}

void
cfg_ensure(void)
{
	(void)pthread_once(&cfg_once, cfg_once_init);
}

int
cfg_off(void)
{
	return shim_off();
}
