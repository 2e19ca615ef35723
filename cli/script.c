/*
 * `ratetap doctor`: #! scripts.  The #! line is split as the kernel does
 * (the interpreter, then at most one argument holding the rest of the
 * line) and, for env(1), as env does (-S splits that argument; without it
 * the whole argument is one program name).  The script itself is only
 * read, never run: its imports say which HTTP client it uses, and so which
 * of the interpreter's ways in its requests take.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "doctor.h"

#define SCRIPT_MAX	(256 * 1024)	/* bytes of a script read */
#define MAX_USES	8

static int
add_arg(struct doc_args *a, char *s)
{
	if (a->n == DOC_MAX_ARGS)
		return -1;
	a->v[a->n++] = s;
	return 0;
}

int
doc_shebang(char *line, const char **interp, struct doc_args *args,
    char *err, size_t errlen)
{
	char *p, *arg, *e, *tok, *save;
	const char *b;
	int split = 0, assign;

	args->n = 0;
	*interp = NULL;
	p = line + strspn(line, " \t");
	if (strchr(p, '\r') != NULL) {
		snprintf(err, errlen, "the #! line ends in a carriage return "
		    "(DOS line ends): the kernel takes it as part of the "
		    "line, e.g. an interpreter named '%.*s\\r'",
		    (int)strcspn(p, " \t\r"), p);
		return -1;
	}
	if (*p == '\0') {
		snprintf(err, errlen, "the #! line names no interpreter");
		return -1;
	}
	/* kernel: interpreter up to a blank, then one argument, trimmed */
	arg = p + strcspn(p, " \t");
	if (*arg != '\0') {
		*arg++ = '\0';
		arg += strspn(arg, " \t");
		for (e = arg + strlen(arg); e > arg && isspace((unsigned
		    char)e[-1]);)
			*--e = '\0';
	}
	*interp = p;
	b = strrchr(p, '/');
	if (strcmp(b ? b + 1 : p, "env") != 0) {
		/* the interpreter gets arg as one word; split for reading
		   its flags (which is what most interpreters would see) */
		for (tok = strtok_r(arg, " \t", &save); tok != NULL;
		    tok = strtok_r(NULL, " \t", &save))
			(void)add_arg(args, tok);
		return 0;
	}
	if (*arg == '\0') {
		snprintf(err, errlen, "the #! line runs env without a program");
		return -1;
	}
	if (strncmp(arg, "-S", 2) == 0 || strncmp(arg, "--split-string", 14) ==
	    0)
		split = 1;
	else if (strpbrk(arg, " \t") != NULL) {
		snprintf(err, errlen, "the #! line runs env with the single "
		    "argument '%s': env looks for a program of that name "
		    "(write `#!/usr/bin/env -S %s` to pass arguments)", arg,
		    arg);
		return -1;
	}
	/* env's options, assignments, then the program */
	for (tok = strtok_r(arg, " \t", &save); tok != NULL;
	    tok = strtok_r(NULL, " \t", &save)) {
		if (*interp != p) {
			(void)add_arg(args, tok);
			continue;
		}
		if (strncmp(tok, "--split-string=", 15) == 0) {
			if (tok[15] != '\0')
				*interp = tok + 15;
			continue;
		}
		assign = tok[0] != '-' && strchr(tok, '=') != NULL;
		if (assign || strcmp(tok, "-i") == 0 || strcmp(tok, "-") == 0 ||
		    strcmp(tok, "-0") == 0 || strcmp(tok, "-v") == 0 ||
		    strncmp(tok, "--", 2) == 0 || strcmp(tok, "-S") == 0 ||
		    strcmp(tok, "--split-string") == 0)
			continue;
		if (strcmp(tok, "-u") == 0 || strcmp(tok, "-C") == 0) {
			(void)strtok_r(NULL, " \t", &save);
			continue;
		}
		if (strncmp(tok, "-S", 2) == 0) {	/* -Spython3 */
			*interp = tok + 2;
			continue;
		}
		if (tok[0] == '-' && (tok[1] == 'u' || tok[1] == 'C'))
			continue;			/* -uNAME */
		*interp = tok;
	}
	(void)split;
	if (*interp == p) {
		snprintf(err, errlen, "the #! line runs env without a program");
		return -1;
	}
	return 0;
}

/* One HTTP client a script was seen to use. */
struct use {
	const char *what;	/* as printed: "pycurl", "net/http" */
	int curl;		/* 1: through the interpreter's libcurl binding */
	const char *note;	/* why not, when not through libcurl */
};

struct uses {
	struct use u[MAX_USES];
	size_t n;
};

static void
use_add(struct uses *us, const char *what, int curl, const char *note)
{
	size_t i;

	for (i = 0; i < us->n; i++)
		if (strcmp(us->u[i].what, what) == 0)
			return;
	if (us->n < MAX_USES) {
		us->u[us->n].what = what;
		us->u[us->n].curl = curl;
		us->u[us->n].note = note;
		us->n++;
	}
}

/* Known modules: name as imported, 1 when it is a libcurl binding. */
struct known {
	const char *name;
	const char *what;
	int curl;
	const char *note;
};

static const struct known py_known[] = {
	{ "pycurl", "pycurl", 1, NULL },
	{ "requests", "requests", 0, "no libcurl" },
	{ "httpx", "httpx", 0, "no libcurl" },
	{ "urllib", "urllib", 0, "no libcurl" },
	{ "urllib3", "urllib3", 0, "no libcurl" },
	{ "http", "http.client", 0, "no libcurl" },
	{ "aiohttp", "aiohttp", 0, "no libcurl" },
	{ "httplib2", "httplib2", 0, "no libcurl" },
	{ "anthropic", "anthropic (httpx)", 0, "no libcurl" },
	{ "openai", "openai (httpx)", 0, "no libcurl" },
	{ "tornado.curl_httpclient", "tornado's curl_httpclient (pycurl)", 1,
	    NULL },
	{ "tornado", "tornado", 0, "its default client has no libcurl; "
	    "its curl_httpclient uses pycurl" },
	{ NULL, NULL, 0, NULL }
};

static const struct known rb_known[] = {
	{ "curb", "curb", 1, NULL },
	{ "curl", "curb", 1, NULL },
	{ "net/http", "net/http", 0, "no libcurl" },
	{ "net/https", "net/http", 0, "no libcurl" },
	{ "open-uri", "open-uri (net/http)", 0, "no libcurl" },
	{ "faraday", "faraday", 0, "no libcurl with its default adapter" },
	{ "httparty", "httparty (net/http)", 0, "no libcurl" },
	{ "httpx", "httpx", 0, "no libcurl" },
	{ "excon", "excon", 0, "no libcurl" },
	{ "anthropic", "anthropic (net/http)", 0, "no libcurl" },
	{ NULL, NULL, 0, NULL }
};

static const struct known lua_known[] = {
	{ "curl", "curl", 1, NULL },
	{ "lcurl", "lcurl", 1, NULL },
	{ "lcurl.safe", "lcurl", 1, NULL },
	{ "cURL", "cURL", 1, NULL },
	{ "cURL.safe", "cURL", 1, NULL },
	{ "luacurl", "luacurl", 1, NULL },
	{ "socket.http", "socket.http", 0, "no libcurl" },
	{ "ssl.https", "ssl.https", 0, "no libcurl" },
	{ "http.request", "http.request", 0, "no libcurl" },
	{ NULL, NULL, 0, NULL }
};

static const struct known pl_known[] = {
	{ "WWW::Curl", "WWW::Curl", 1, NULL },
	{ "Net::Curl", "Net::Curl", 1, NULL },
	{ "LWP", "LWP", 0, "no libcurl" },
	{ "HTTP::Tiny", "HTTP::Tiny", 0, "no libcurl" },
	{ "Mojo::UserAgent", "Mojo::UserAgent", 0, "no libcurl" },
	{ "Furl", "Furl", 0, "no libcurl" },
	{ NULL, NULL, 0, NULL }
};

/* The entry of k for module name (len bytes); for perl and python a
 * submodule (LWP::UserAgent, urllib.request) counts as its top. */
static const struct known *
lookup(const struct known *k, const char *name, size_t len)
{
	size_t l;

	for (; k->name != NULL; k++) {
		l = strlen(k->name);
		if (len == l && strncmp(name, k->name, l) == 0)
			return k;
	}
	return NULL;
}

static const struct known *
lookup_top(const struct known *k, const char *name, size_t len,
    const char *sep)
{
	const struct known *r;
	size_t l = len;

	/* the longest known prefix that ends at a separator */
	for (;;) {
		if ((r = lookup(k, name, l)) != NULL)
			return r;
		while (l > 0 && (l < strlen(sep) || strncmp(name + l -
		    strlen(sep), sep, strlen(sep)) != 0))
			l--;
		if (l <= strlen(sep))
			return NULL;
		l -= strlen(sep);
	}
}

static void
note_use(struct uses *us, const struct known *k, const char *verb)
{
	if (k == NULL)
		return;
	printf("  %-11s %s %s\n", "script", verb, k->what);
	use_add(us, k->what, k->curl, k->note);
}

/* python: "import a, b.c as d" and "from a.b import c". */
static void
scan_python(char *line, struct uses *us)
{
	char *p = line + strspn(line, " \t"), *tok, *save;
	size_t n;

	/* AsyncHTTPClient.configure("tornado.curl_httpclient...") */
	if (strstr(p, "tornado.curl_httpclient") != NULL)
		note_use(us, lookup(py_known, "tornado.curl_httpclient", 23),
		    "uses");

	if (strncmp(p, "from", 4) == 0 && isspace((unsigned char)p[4])) {
		p += 5 + strspn(p + 5, " \t");
		n = strcspn(p, " \t");
		note_use(us, lookup_top(py_known, p, n, "."), "imports");
		return;
	}
	if (strncmp(p, "import", 6) != 0 || !isspace((unsigned char)p[6]))
		return;
	p += 7;
	p[strcspn(p, "#;")] = '\0';
	for (tok = strtok_r(p, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		tok += strspn(tok, " \t()");
		n = strcspn(tok, " \t()");
		note_use(us, lookup_top(py_known, tok, n, "."), "imports");
	}
}

/* ruby and lua: require "x", require('x'), require 'x'. */
static void
scan_require(char *line, const struct known *k, struct uses *us)
{
	char *p = line, *q;
	char quote;

	while ((p = strstr(p, "require")) != NULL) {
		p += 7;
		q = p + strspn(p, " \t(");
		if (*q != '"' && *q != '\'')
			continue;
		quote = *q++;
		if ((p = strchr(q, quote)) == NULL)
			return;
		note_use(us, lookup(k, q, (size_t)(p - q)), "requires");
	}
}

/* perl: use X / require X. */
static void
scan_perl(char *line, struct uses *us)
{
	char *p = line + strspn(line, " \t");
	size_t n;

	if (strncmp(p, "use", 3) == 0 && isspace((unsigned char)p[3]))
		p += 4;
	else if (strncmp(p, "require", 7) == 0 && isspace((unsigned char)p[7]))
		p += 8;
	else
		return;
	p += strspn(p, " \t");
	n = strcspn(p, " \t;(");
	note_use(us, lookup_top(pl_known, p, n, "::"), "uses");
}

/* php: the calls and classes themselves. */
static void
scan_php(const char *text, struct uses *us)
{
	static const char *const curl[] = {
		"curl_init", "curl_exec", "curl_multi_exec", NULL
	};
	static const char *const stream[] = {
		"file_get_contents", "fopen", "stream_context_create", NULL
	};
	int i, http;

	for (i = 0; curl[i] != NULL; i++)
		if (strstr(text, curl[i]) != NULL) {
			printf("  %-11s uses curl_*\n", "script");
			use_add(us, "curl_* (curl extension)", 1, NULL);
			break;
		}
	if (strstr(text, "GuzzleHttp") != NULL) {
		if (strstr(text, "'stream' => true") != NULL ||
		    strstr(text, "\"stream\" => true") != NULL ||
		    strstr(text, "'stream'=>true") != NULL) {
			printf("  %-11s uses Guzzle with 'stream' => true\n",
			    "script");
			use_add(us, "Guzzle with 'stream' => true (stream "
			    "wrapper)", 0, "no libcurl");
			use_add(us, "Guzzle without it (curl extension)", 1,
			    NULL);
		} else {
			printf("  %-11s uses Guzzle\n", "script");
			use_add(us, "Guzzle (curl extension)", 1, NULL);
		}
	}
	http = strstr(text, "http://") != NULL ||
	    strstr(text, "https://") != NULL || strstr(text, "'http'") != NULL;
	for (i = 0; http && stream[i] != NULL; i++)
		if (strstr(text, stream[i]) != NULL) {
			printf("  %-11s uses %s() on a URL\n", "script",
			    stream[i]);
			use_add(us, "file_get_contents / fopen on a URL (stream "
			    "wrapper)", 0, "no libcurl");
			break;
		}
}

const char *
doc_script_lang(const char *base)
{
	static const char *const langs[] = {
		"python", "ruby", "lua", "perl", "php", NULL
	};
	size_t i;

	for (i = 0; langs[i] != NULL; i++)
		if (doc_name_is(base, langs[i]) || (strcmp(langs[i],
		    "python") == 0 && doc_name_is(base, "python3")))
			return langs[i];
	return NULL;
}

/* The interpreter's way in that a script's use takes. */
static const struct vpath *
iv_path(const struct verdict *iv, int curl)
{
	size_t i;

	for (i = 0; i < iv->npaths; i++)
		if (iv->paths[i].curl == curl)
			return &iv->paths[i];
	return NULL;
}

void
doc_script_uses(const char *path, const char *given, const char *lang,
    struct verdict *v)
{
	struct verdict iv;
	struct uses us;
	const struct vpath *ip;
	const char *b;
	char *text, *line, *save, *p;
	ssize_t n;
	size_t i;
	int fd, curl;

	memset(&us, 0, sizeof(us));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return;
	if ((text = malloc(SCRIPT_MAX + 1)) == NULL) {
		close(fd);
		return;
	}
	n = read(fd, text, SCRIPT_MAX);
	close(fd);
	if (n <= 0) {
		free(text);
		return;
	}
	text[n] = '\0';
	if (strcmp(lang, "php") == 0) {
		scan_php(text, &us);
	} else {
		for (line = strtok_r(text, "\n", &save); line != NULL;
		    line = strtok_r(NULL, "\n", &save)) {
			/* a line that is a comment imports nothing */
			p = line + strspn(line, " \t");
			if (*p == '#' || strncmp(p, "--", 2) == 0)
				continue;
			if (strcmp(lang, "python") == 0)
				scan_python(line, &us);
			else if (strcmp(lang, "ruby") == 0)
				scan_require(line, rb_known, &us);
			else if (strcmp(lang, "lua") == 0)
				scan_require(line, lua_known, &us);
			else if (strcmp(lang, "perl") == 0)
				scan_perl(line, &us);
		}
	}
	free(text);
	if (us.n == 0) {
		printf("  %-11s imports no HTTP client doctor knows; the "
		    "interpreter's verdict stands\n", "script");
		return;
	}

	/* narrow the interpreter's verdict to what the script uses */
	iv = *v;
	v->npaths = 0;
	v->visible = 0;
	b = strrchr(given, '/');
	snprintf(v->subject, sizeof(v->subject), "%s uses", b ? b + 1 : given);
	for (i = 0; i < us.n; i++) {
		if (!us.u[i].curl) {
			/* around libcurl: what the interpreter's TLS says */
			ip = iv_path(&iv, 0);
			doc_path_add(v, 0, ip != NULL && ip->seen, us.u[i].what,
			    ip != NULL ? ip->note : us.u[i].note);
			if (ip != NULL && ip->seen)
				v->visible = 1;
			continue;
		}
		ip = iv_path(&iv, 1);
		doc_path_add(v, 1, ip != NULL && ip->seen, us.u[i].what,
		    ip != NULL ? ip->note : iv.lang[0] ? "no libcurl binding" :
		    "its interpreter is a wrapper doctor cannot follow: "
		    "diagnose the program it runs");
		if (ip != NULL && ip->seen)
			v->visible = 1;
	}
	for (i = 0, curl = 0; i < us.n; i++)
		curl |= us.u[i].curl;
	if (v->visible || (curl && iv.lang[0] != '\0' &&
	    ((ip = iv_path(&iv, 1)) == NULL || !iv.visible)))
		snprintf(v->why, sizeof(v->why), "%s", iv.why);
	else if (curl && iv.lang[0] != '\0')
		/* the interpreter is seen at the TLS layer, its libcurl
		   binding is not */
		doc_set_why(v, "the libcurl binding it uses is not seen: %s",
		    ip->note);
	else if (curl)
		doc_set_why(v, "its interpreter is a wrapper (pyenv, rbenv, "
		    "...): run `ratetap doctor` on the interpreter it runs");
	else
		doc_set_why(v, "the HTTP clients it imports do not use "
		    "libcurl, and the TLS layer does not reach the "
		    "interpreter's TLS");
}
