/*
 * The shim's configuration: read once from the environment (and
 * /proc/self/cmdline for the program name), host matching for RATETAP_HOSTS,
 * URL parsing, the debug log, and the constructor that patches GOT entries.
 */
#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "shim.h"

struct shim_cfg shim_cfg;
__thread int shim_busy __attribute__((tls_model("initial-exec")));

static pthread_once_t cfg_once = PTHREAD_ONCE_INIT;

void
shim_debug(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n, saved = errno;

	if (!shim_cfg.debug)
		return;
	memcpy(buf, "ratetap: ", 9);
	va_start(ap, fmt);
	n = vsnprintf(buf + 9, sizeof(buf) - 10, fmt, ap);
	va_end(ap);
	if (n < 0)
		goto out;
	n += 9;
	if ((size_t)n > sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	/* one write(2): no stdio locks, lines from threads stay whole */
	if (write(STDERR_FILENO, buf, (size_t)n) < 0)
		goto out;
out:
	errno = saved;
}

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

size_t
cfg_parse_hosts(const char *list, struct cfg_host *hosts, size_t max)
{
	const char *p = list, *end;
	size_t n = 0;

	while (p != NULL && *p != '\0' && n < max) {
		size_t len;

		end = strchr(p, ',');
		len = end != NULL ? (size_t)(end - p) : strlen(p);
		while (len > 0 && isspace((unsigned char)*p)) {
			p++;
			len--;
		}
		while (len > 0 && isspace((unsigned char)p[len - 1]))
			len--;
		if (len > 0) {
			if (split_hostport(p, len, hosts[n].name,
			    sizeof(hosts[n].name), &hosts[n].port) == 0)
				n++;
			else
				shim_debug("RATETAP_HOSTS: ignoring a malformed "
				    "entry of %zu bytes", len);
		}
		p = end != NULL ? end + 1 : NULL;
	}
	return n;
}

int
cfg_parse_url(const char *url, struct cfg_url *out)
{
	const char *p, *auth, *aend, *at, *sep;
	size_t slen = 0;
	int port;

	memset(out, 0, sizeof(*out));
	if (url == NULL)
		return -1;
	while (*url == ' ' || *url == '\t')
		url++;
	p = strstr(url, "://");
	if (p != NULL) {
		const char *c;

		for (c = url; c < p; c++)
			if (!isalnum((unsigned char)*c) && *c != '+' &&
			    *c != '-' && *c != '.')
				break;
		if (c == p) {
			slen = (size_t)(p - url);
			auth = p + 3;
		} else
			auth = url;
	} else
		auth = url;
	if (slen == 5 && strncasecmp(url, "https", 5) == 0) {
		out->tls = 1;
		out->port = 443;
	} else if (slen == 0 || (slen == 4 && strncasecmp(url, "http", 4) == 0))
		out->port = 80;		/* libcurl guesses http without scheme */
	for (aend = auth; *aend != '\0' && *aend != '/' && *aend != '?' &&
	    *aend != '#'; aend++)
		;
	/* userinfo is dropped unread: it is a credential */
	at = NULL;
	for (sep = auth; sep < aend; sep++)
		if (*sep == '@')
			at = sep;
	if (at != NULL)
		auth = at + 1;
	if (split_hostport(auth, (size_t)(aend - auth), out->host,
	    sizeof(out->host), &port) == -1)
		return -1;
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
	int fd;

	rtp_strlcpy(prog, program_invocation_short_name, proglen);
	fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return;
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
}

void
cfg_load(void)
{
	struct shim_cfg c;
	const char *hosts;

	memset(&c, 0, sizeof(c));
	c.debug = rt_env_flag("RATETAP_DEBUG");
	shim_cfg.debug = c.debug;	/* so that parsing can report */
	if (rt_env_flag("RATETAP_DISABLE"))
		c.off = 1;
	else if (getauxval(AT_SECURE) != 0)
		c.off = 1;		/* setuid/setgid/capabilities */
	else if (dlsym(RTLD_DEFAULT, "ratetapd_no_tap") != NULL)
		c.off = 1;		/* inside the daemon itself */
	hosts = getenv("RATETAP_HOSTS");
	if (hosts == NULL || hosts[0] == '\0')
		hosts = RT_DEFAULT_HOSTS;
	c.nhosts = cfg_parse_hosts(hosts, c.hosts, CFG_MAX_HOSTS);
	if (rt_ingest_path(c.sock, sizeof(c.sock)) == 0)
		c.sock_ok = 1;
	else
		shim_debug("ingest socket path too long: events disabled");
	read_prog(c.prog, sizeof(c.prog));
	shim_cfg = c;
	if (c.debug)
		shim_debug("%s, %zu tapped host(s), program %s",
		    c.off ? "pass-through" : "active", c.nhosts, c.prog);
}

static void
cfg_once_init(void)
{
	cfg_load();
	hdl_atfork_init();
}

void
cfg_ensure(void)
{
	(void)pthread_once(&cfg_once, cfg_once_init);
}

int
cfg_off(void)
{
	cfg_ensure();
	return shim_cfg.off;
}

/* The constructor: configuration first, then make calls that symbol
 * interposition cannot reach (RTLD_DEEPBIND objects, the shim loaded as a
 * plugin) go through the hooks. */
__attribute__((constructor)) static void
shim_init(void)
{
	cfg_ensure();
	if (!shim_cfg.off)
		resolve_patch_all();
}
