/*
 * Where the usage poll's OAuth token comes from, read afresh at every poll:
 * RATETAP_OAUTH_TOKEN, then CLAUDE_CODE_OAUTH_TOKEN, then claudeAiOauth.
 * accessToken in the credentials file ($CLAUDE_CONFIG_DIR/.credentials.json
 * or ~/.claude/.credentials.json, or the file given with --credentials).
 *
 * The token is a secret: it is never logged, stored or put in an error
 * message.  Callers wipe their copy with explicit_bzero() once used.
 */
#ifndef RATETAP_TOKEN_H
#define RATETAP_TOKEN_H

#include <stddef.h>

#define TOKEN_MAX	4096		/* buffer size for a token */
#define TOKEN_FILE_MAX	(256 * 1024)	/* largest credentials file read */

enum token_source {
	TOKEN_NONE = 0,		/* no token anywhere */
	TOKEN_ENV_RATETAP,	/* RATETAP_OAUTH_TOKEN */
	TOKEN_ENV_CLAUDE,	/* CLAUDE_CODE_OAUTH_TOKEN */
	TOKEN_FILE		/* the credentials file */
};

/*
 * Find the token: the first of the sources above that is set.  file is the
 * credentials file to use, or NULL for the default location.  Writes the
 * token into buf (len bytes, at least TOKEN_MAX is enough) and returns its
 * enum token_source (> 0); returns TOKEN_NONE when no source has one, or
 * -1 with a one-line reason in err (naming the source, never containing
 * the file's content or the token) when a source is unusable.
 */
int token_get(const char *file, char *buf, size_t len, char *err,
    size_t errlen);

/*
 * Read claudeAiOauth.accessToken of the credentials file path into buf.
 * Returns 1 when found, 0 when the file does not exist, -1 with a reason
 * in err when it cannot be read, is too large, is not JSON or has the
 * wrong shape.  Buffers that held the file are wiped.
 */
int token_read_file(const char *path, char *buf, size_t len, char *err,
    size_t errlen);

/*
 * The default credentials file into buf: $CLAUDE_CONFIG_DIR/.credentials.json
 * or <home>/.claude/.credentials.json.  Returns 0, or -1 when it does not
 * fit or no home directory is known.
 */
int token_default_file(char *buf, size_t len);

/*
 * Take RATETAP_OAUTH_TOKEN and CLAUDE_CODE_OAUTH_TOKEN out of the
 * environment (wiped in place and unset: no copy stays in the environment,
 * /proc/PID/environ or a child's environment) into memory of our own, kept
 * masked in pages excluded from core dumps; token_get() finds them there
 * as if they were still set.  Call it once at start, before any thread.
 * Returns 0, or -1 when memory for a token could not be had (that token
 * is then lost, and said so by the caller).
 */
int token_take_env(void);

#define TOKEN_SCRUB_BYTES	(64 * 1024)

/*
 * Wipe TOKEN_SCRUB_BYTES of the stack below the caller's frame: what
 * deeper calls left there (libcurl and libc work on copies of the token in
 * their own frames, and nobody wipes those).  Call it once the token is no
 * longer in use, from a frame no deeper than where those calls were made.
 */
void token_scrub_stack(void) __attribute__((noinline));

/* Wipe and free what token_take_env() kept. */
void token_forget_env(void);

/* Human name of an enum token_source ("RATETAP_OAUTH_TOKEN", ...). */
const char *token_source_name(int src);

#endif /* RATETAP_TOKEN_H */
