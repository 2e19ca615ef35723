/*
 * OAuth token sources of the usage poll (see token.h).  The credentials
 * file is untrusted input: size-limited, parsed with cJSON, type-checked,
 * and every buffer that held it is wiped before being freed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "ratetap/paths.h"

#include "token.h"

const char *
token_source_name(int src)
{
	switch (src) {
	case TOKEN_ENV_RATETAP:
		return "RATETAP_OAUTH_TOKEN";
	case TOKEN_ENV_CLAUDE:
		return "CLAUDE_CODE_OAUTH_TOKEN";
	case TOKEN_FILE:
		return "credentials file";
	default:
		return "none";
	}
}

/*
 * A token goes into an HTTP header: visible ASCII only (no space, no CR or
 * LF that could inject a header).
 */
static int
token_chars_ok(const char *s)
{
	size_t i;

	if (s[0] == '\0')
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return 0;
	return 1;
}

static int
copy_token(const char *src, const char *what, char *buf, size_t len,
    char *err, size_t errlen)
{
	size_t n = strlen(src);

	if (!token_chars_ok(src)) {
		snprintf(err, errlen, "%s: the token contains characters "
		    "that are not allowed (spaces, control or non-ASCII)",
		    what);
		return -1;
	}
	if (n + 1 > len) {
		snprintf(err, errlen, "%s: the token is too long (%zu bytes)",
		    what, n);
		return -1;
	}
	memcpy(buf, src, n + 1);
	return 0;
}

int
token_default_file(char *buf, size_t len)
{
	const char *dir = getenv("CLAUDE_CONFIG_DIR");
	char home[RT_FILE_MAX];
	int n;

	if (dir != NULL && dir[0] != '\0')
		n = snprintf(buf, len, "%s/.credentials.json", dir);
	else {
		if (rt_home_dir(home, sizeof(home)) == -1)
			return -1;
		n = snprintf(buf, len, "%s/.claude/.credentials.json", home);
	}
	return (n >= 0 && (size_t)n < len) ? 0 : -1;
}

/* Wipe every string of a cJSON tree (a credentials file holds secrets
 * beyond the access token: the refresh token). */
static void
wipe_json(cJSON *j)
{
	for (; j != NULL; j = j->next) {
		if (j->valuestring != NULL)
			explicit_bzero(j->valuestring, strlen(j->valuestring));
		if (j->child != NULL)
			wipe_json(j->child);
	}
}

/* Read all of fd (at most max bytes) into a malloc'ed buffer. */
static int
read_all(int fd, size_t max, char **out, size_t *outlen, int *too_large)
{
	size_t cap = 4096, len = 0;
	char *buf, *nb;
	ssize_t n;

	*too_large = 0;
	if ((buf = malloc(cap)) == NULL)
		return -1;
	for (;;) {
		if (len == cap) {
			if (cap > max) {
				*too_large = 1;
				goto err;
			}
			/* grow by hand so that no copy is left unwiped */
			if ((nb = malloc(cap * 2)) == NULL)
				goto err;
			memcpy(nb, buf, len);
			explicit_bzero(buf, cap);
			free(buf);
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			goto err;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max) {
			*too_large = 1;
			goto err;
		}
	}
	*out = buf;
	*outlen = len;
	return 0;
err:
	explicit_bzero(buf, cap);
	free(buf);
	return -1;
}

int
token_read_file(const char *path, char *buf, size_t len, char *err,
    size_t errlen)
{
	cJSON *root = NULL, *oauth, *tok;
	char *data = NULL;
	size_t dlen = 0;
	struct stat st;
	int fd, too_large, rc = -1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "credentials file %s: %s", path,
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "credentials file %s: %s", path,
		    strerror(errno));
		goto err;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "credentials file %s: not a regular "
		    "file", path);
		goto err;
	}
	if (st.st_size > TOKEN_FILE_MAX) {
		snprintf(err, errlen, "credentials file %s: too large "
		    "(%lld bytes, limit %d)", path, (long long)st.st_size,
		    TOKEN_FILE_MAX);
		goto err;
	}
	if (read_all(fd, TOKEN_FILE_MAX, &data, &dlen, &too_large) == -1) {
		if (too_large)
			snprintf(err, errlen, "credentials file %s: too "
			    "large (limit %d bytes)", path, TOKEN_FILE_MAX);
		else
			snprintf(err, errlen, "credentials file %s: %s",
			    path, strerror(errno));
		goto err;
	}
	if ((root = cJSON_ParseWithLength(data, dlen)) == NULL ||
	    !cJSON_IsObject(root)) {
		snprintf(err, errlen, "credentials file %s: not a JSON object",
		    path);
		goto err;
	}
	oauth = cJSON_GetObjectItemCaseSensitive(root, "claudeAiOauth");
	if (oauth == NULL || cJSON_IsNull(oauth)) {
		rc = 0;		/* e.g. only an API key is stored: no token */
		goto err;
	}
	if (!cJSON_IsObject(oauth)) {
		snprintf(err, errlen, "credentials file %s: claudeAiOauth is "
		    "not an object", path);
		goto err;
	}
	tok = cJSON_GetObjectItemCaseSensitive(oauth, "accessToken");
	if (tok == NULL || cJSON_IsNull(tok)) {
		rc = 0;
		goto err;
	}
	if (!cJSON_IsString(tok) || tok->valuestring == NULL) {
		snprintf(err, errlen, "credentials file %s: "
		    "claudeAiOauth.accessToken is not a string", path);
		goto err;
	}
	if (copy_token(tok->valuestring, "credentials file", buf, len, err,
	    errlen) == -1)
		goto err;
	rc = 1;
err:
	if (root != NULL) {
		wipe_json(root);
		cJSON_Delete(root);
	}
	if (data != NULL) {
		explicit_bzero(data, dlen);
		free(data);
	}
	close(fd);
	return rc;
}

/*
 * Tokens taken from the environment at start (token_take_env()): kept
 * masked with a random pad in pages left out of core dumps, never as
 * plain text, and unmasked only into the caller's buffer for a poll.
 */
struct shielded {
	unsigned char *mem;	/* pad, then token ^ pad; NULL: none */
	size_t len;		/* token length */
	size_t maplen;
};

static struct shielded env_tokens[2];	/* RATETAP_, CLAUDE_CODE_ */

static const char *const env_names[2] = {
	"RATETAP_OAUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN"
};

static int
shield(struct shielded *sh, const char *v)
{
	size_t n = strlen(v), i, off = 0;
	ssize_t r;

	sh->maplen = ((2 * n + 4095) / 4096) * 4096;
	sh->mem = mmap(NULL, sh->maplen, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (sh->mem == MAP_FAILED) {
		sh->mem = NULL;
		return -1;
	}
	(void)madvise(sh->mem, sh->maplen, MADV_DONTDUMP);
	(void)mlock(sh->mem, sh->maplen);
	while (off < n) {
		if ((r = getrandom(sh->mem + off, n - off, 0)) == -1) {
			if (errno == EINTR)
				continue;
			munmap(sh->mem, sh->maplen);
			sh->mem = NULL;
			return -1;
		}
		off += (size_t)r;
	}
	for (i = 0; i < n; i++)
		sh->mem[n + i] = (unsigned char)v[i] ^ sh->mem[i];
	sh->len = n;
	return 0;
}

int
token_take_env(void)
{
	size_t i;
	char *v;
	int rc = 0;

	for (i = 0; i < 2; i++) {
		if ((v = getenv(env_names[i])) == NULL)
			continue;
		if (v[0] != '\0' && env_tokens[i].mem == NULL &&
		    shield(&env_tokens[i], v) == -1)
			rc = -1;
		/* the environment's copy (also in /proc/PID/environ) */
		explicit_bzero(v, strlen(v));
		unsetenv(env_names[i]);
	}
	return rc;
}

void
token_scrub_stack(void)
{
	char area[TOKEN_SCRUB_BYTES];

	explicit_bzero(area, sizeof(area));
	__asm__ __volatile__("" : : "r"(area) : "memory");
}

void
token_forget_env(void)
{
	size_t i;

	for (i = 0; i < 2; i++) {
		if (env_tokens[i].mem == NULL)
			continue;
		explicit_bzero(env_tokens[i].mem, env_tokens[i].maplen);
		munmap(env_tokens[i].mem, env_tokens[i].maplen);
		memset(&env_tokens[i], 0, sizeof(env_tokens[i]));
	}
}

/* Unmask sh into buf (the characters were checked by copy_token()). */
static int
unshield(const struct shielded *sh, const char *what, char *buf, size_t len,
    char *err, size_t errlen)
{
	size_t i;

	if (sh->len + 1 > len) {
		snprintf(err, errlen, "%s: the token is too long (%zu bytes)",
		    what, sh->len);
		return -1;
	}
	for (i = 0; i < sh->len; i++)
		buf[i] = (char)(sh->mem[sh->len + i] ^ sh->mem[i]);
	buf[sh->len] = '\0';
	if (!token_chars_ok(buf)) {
		explicit_bzero(buf, sh->len);
		snprintf(err, errlen, "%s: the token contains characters "
		    "that are not allowed (spaces, control or non-ASCII)",
		    what);
		return -1;
	}
	return 0;
}

int
token_get(const char *file, char *buf, size_t len, char *err, size_t errlen)
{
	static const struct {
		const char *var;
		int src;
	} envs[] = {
		{ "RATETAP_OAUTH_TOKEN", TOKEN_ENV_RATETAP },
		{ "CLAUDE_CODE_OAUTH_TOKEN", TOKEN_ENV_CLAUDE },
	};
	char def[4096];
	const char *v;
	size_t i;
	int rc;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	for (i = 0; i < sizeof(envs) / sizeof(envs[0]); i++) {
		v = getenv(envs[i].var);
		if (v == NULL || v[0] == '\0') {
			if (env_tokens[i].mem == NULL)
				continue;
			if (unshield(&env_tokens[i], envs[i].var, buf, len,
			    err, errlen) == -1)
				return -1;
			return envs[i].src;
		}
		if (copy_token(v, envs[i].var, buf, len, err, errlen) == -1)
			return -1;
		return envs[i].src;
	}
	if (file == NULL) {
		if (token_default_file(def, sizeof(def)) == -1)
			return TOKEN_NONE;
		file = def;
	}
	rc = token_read_file(file, buf, len, err, errlen);
	if (rc == 1)
		return TOKEN_FILE;
	return rc == 0 ? TOKEN_NONE : -1;
}
