/*
 * `ratetap enable [--dry-run]`, `ratetap disable [--dry-run]` and the
 * whole-setup check of `ratetap doctor` without an argument.
 *
 * enable puts one marked block into each shell start-up file the user's
 * shells read (~/.profile always; ~/.bashrc, ~/.zshrc and fish's
 * config.fish when they exist or that shell is $SHELL): it prepends the
 * shim to LD_PRELOAD, keeping whatever is there and never adding the shim
 * twice, even when several of the files are read by one shell.  It also
 * enables the systemd user socket where systemd runs the user's session.
 * disable removes exactly the blocks enable wrote and disables the units.
 * Files are rewritten atomically (a temporary file beside them, renamed
 * over), keeping their mode; a symbolic link is followed and its target
 * rewritten.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "ratetap/paths.h"
#include "ratetap/safe.h"
#include "cli.h"

#define BEGIN_MARK	"# >>> ratetap >>>"
#define END_MARK	"# <<< ratetap <<<"
#define MAX_RC_BYTES	(4 * 1024 * 1024)
#define UNIT_SOCKET	"ratetap.socket"
#define UNIT_SERVICE	"ratetap.service"

enum rc_syntax { RC_SH, RC_FISH };

static const struct rcfile {
	const char *rel;	/* under $HOME */
	enum rc_syntax syntax;
	const char *shell;	/* basename of $SHELL that reads it, or NULL */
} rcfiles[] = {
	{ ".profile", RC_SH, NULL },
	{ ".bashrc", RC_SH, "bash" },
	{ ".zshrc", RC_SH, "zsh" },
	{ ".config/fish/config.fish", RC_FISH, "fish" },
};
#define NRC	(sizeof(rcfiles) / sizeof(rcfiles[0]))

static int
home_dir(char *buf, size_t len)
{
	const char *h = getenv("HOME");
	struct passwd *pw;

	if (h == NULL || h[0] != '/') {
		if ((pw = getpwuid(getuid())) == NULL || pw->pw_dir == NULL ||
		    pw->pw_dir[0] != '/')
			return -1;
		h = pw->pw_dir;
	}
	return snprintf(buf, len, "%s", h) >= (int)len ? -1 : 0;
}

/*
 * The block for a shim path: POSIX sh (bash, zsh and ~/.profile read it)
 * or fish.  NULL when the path holds characters the quoting below cannot
 * carry.  Caller frees.
 */
static char *
block_for(const char *shim, enum rc_syntax syn)
{
	char *b = NULL;
	int n;

	if (strpbrk(shim, "'\\:*?[\n\r\t") != NULL)
		return NULL;
	if (syn == RC_SH)
		n = asprintf(&b,
		    BEGIN_MARK " added by `ratetap enable`; `ratetap disable`"
		    " removes it\n"
		    "case \":${LD_PRELOAD-}:\" in\n"
		    "*:'%s':*) ;;\n"
		    "*) export LD_PRELOAD='%s'\"${LD_PRELOAD:+:$LD_PRELOAD}\""
		    " ;;\n"
		    "esac\n"
		    END_MARK "\n", shim, shim);
	else
		n = asprintf(&b,
		    BEGIN_MARK " added by `ratetap enable`; `ratetap disable`"
		    " removes it\n"
		    "if not string match -q -- '*:%s:*' \":$LD_PRELOAD:\"\n"
		    "    if test -n \"$LD_PRELOAD\"\n"
		    "        set -gx LD_PRELOAD '%s':\"$LD_PRELOAD\"\n"
		    "    else\n"
		    "        set -gx LD_PRELOAD '%s'\n"
		    "    end\n"
		    "end\n"
		    END_MARK "\n", shim, shim, shim);
	return n == -1 ? NULL : b;
}

/* Read a whole file; *text NULL (and 0 returned) when it does not exist. */
static int
slurp(const char *path, char **text, size_t *len, mode_t *mode)
{
	struct stat st;
	char *buf = NULL;
	size_t n = 0;
	ssize_t r;
	int fd;

	*text = NULL;
	*len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1)
		return errno == ENOENT ? 0 : -1;
	if (fstat(fd, &st) == -1)
		goto err;
	if (!S_ISREG(st.st_mode) || st.st_size > MAX_RC_BYTES) {
		errno = S_ISREG(st.st_mode) ? EFBIG : EINVAL;
		goto err;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
		goto err;
	while (n < (size_t)st.st_size &&
	    (r = read(fd, buf + n, (size_t)st.st_size - n)) != 0) {
		if (r == -1) {
			if (errno == EINTR)
				continue;
			goto err;
		}
		n += (size_t)r;
	}
	buf[n] = '\0';
	close(fd);
	*text = buf;
	*len = n;
	*mode = st.st_mode & 07777;
	return 0;
err:
	free(buf);
	close(fd);
	return -1;
}

/*
 * Find our block in text: its start and the end of its end line.  Returns
 * 1 found, 0 absent, -1 a begin marker without an end (left alone).
 */
static int
find_block(const char *text, size_t *start, size_t *end)
{
	const char *p = text, *b = NULL, *e;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, BEGIN_MARK, strlen(BEGIN_MARK)) == 0) {
			b = p;
			break;
		}
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	if (b == NULL)
		return 0;
	for (p = b; p != NULL && *p != '\0'; ) {
		if (strncmp(p, END_MARK, strlen(END_MARK)) == 0) {
			e = strchr(p, '\n');
			*start = (size_t)(b - text);
			*end = e != NULL ? (size_t)(e + 1 - text) :
			    strlen(text);
			return 1;
		}
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return -1;
}

/* Write text to path atomically, with mode. */
static int
write_atomic(const char *path, const char *text, size_t len, mode_t mode)
{
	char dir[PATH_MAX], tmp[PATH_MAX + 32];
	size_t off = 0;
	ssize_t w;
	int fd;

	if (rt_dirname(path, dir, sizeof(dir)) == -1 ||
	    snprintf(tmp, sizeof(tmp), "%s.ratetap-XXXXXX", path) >=
	    (int)sizeof(tmp))
		return -1;
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1)
		return -1;
	while (off < len) {
		if ((w = write(fd, text + off, len - off)) == -1) {
			if (errno == EINTR)
				continue;
			goto err;
		}
		off += (size_t)w;
	}
	if (fchmod(fd, mode) == -1 || fsync(fd) == -1)
		goto err;
	if (close(fd) == -1) {
		fd = -1;
		goto err;
	}
	fd = -1;
	if (rename(tmp, path) == -1)
		goto err;
	return 0;
err:
	if (fd != -1)
		close(fd);
	unlink(tmp);
	return -1;
}

/* Print the lines of s prefixed with c (the --dry-run listing). */
static void
show_lines(const char *s, size_t n, char c)
{
	const char *p = s, *e, *end = s + n;

	while (p < end) {
		e = memchr(p, '\n', (size_t)(end - p));
		if (e == NULL)
			e = end;
		printf("%c %.*s\n", c, (int)(e - p), p);
		p = e + 1;
	}
}

static int
mkdirs_for(const char *path)
{
	char dir[PATH_MAX];
	char *s;

	if (rt_dirname(path, dir, sizeof(dir)) == -1)
		return -1;
	for (s = dir + 1; ; s++) {
		if (*s == '/' || *s == '\0') {
			char c = *s;

			*s = '\0';
			if (mkdir(dir, 0755) == -1 && errno != EEXIST)
				return -1;
			*s = c;
			if (c == '\0')
				break;
		}
	}
	return 0;
}

/*
 * Put block into (add) or take our block out of (!add) the file path.
 * Prints what changes ("path: added" or the dry-run listing).  Returns 0
 * (changed or already as wanted) or -1 (reason printed).
 */
static int
edit_rc(const char *shown, const char *path, const char *block, int add,
    int dry)
{
	char real[PATH_MAX], *text = NULL, *out = NULL;
	const char *target = path;
	size_t len, start = 0, end = 0, blen = block ? strlen(block) : 0;
	size_t olen;
	mode_t mode = 0644, um;
	int found, rc = -1;

	if (realpath(path, real) != NULL)
		target = real;		/* a dotfile manager's link */
	if (slurp(target, &text, &len, &mode) == -1) {
		cli_errx("%s: %s; left as it is", shown, strerror(errno));
		return -1;
	}
	if (text == NULL) {
		if (!add)
			return 0;
		um = umask(022);
		umask(um);
		mode = 0666 & ~um;
		found = 0;
	} else if (strlen(text) != len) {
		cli_errx("%s: holds a NUL byte; left as it is", shown);
		goto out;
	} else if ((found = find_block(text, &start, &end)) == -1) {
		cli_errx("%s: a '%s' line without its '%s' line; left as it "
		    "is (remove the block by hand)", shown, BEGIN_MARK,
		    END_MARK);
		goto out;
	}
	if (add && found && end - start == blen &&
	    memcmp(text + start, block, blen) == 0) {
		printf("%s: already enabled\n", shown);
		rc = 0;
		goto out;
	}
	if (!add && !found) {
		rc = 0;
		goto out;
	}
	/* the new text: before, [separator,] block (add), after */
	if (!found)
		start = end = len;
	olen = start + (add ? blen + 1 : 0) + (len - end);
	if ((out = malloc(olen + 1)) == NULL) {
		cli_errx("%s: out of memory", shown);
		goto out;
	}
	if (start > 0)
		memcpy(out, text, start);
	olen = start;
	if (add) {
		if (olen > 0 && out[olen - 1] != '\n')
			out[olen++] = '\n';
		memcpy(out + olen, block, blen);
		olen += blen;
	}
	if (len > end)
		memcpy(out + olen, text + end, len - end);
	olen += len - end;
	if (dry) {
		if (found) {
			printf("%s:\n", shown);
			show_lines(text + start, end - start, '-');
		} else
			printf("%s%s:\n", shown, text == NULL ?
			    " (new file)" : "");
		if (add)
			show_lines(block, blen, '+');
		rc = 0;
		goto out;
	}
	if (text == NULL && mkdirs_for(target) == -1) {
		cli_errx("%s: %s", shown, strerror(errno));
		goto out;
	}
	if (!add && olen == 0) {
		/* nothing but our block: the file enable created */
		if (unlink(target) == -1) {
			cli_errx("%s: cannot remove: %s", shown,
			    strerror(errno));
			goto out;
		}
	} else if (write_atomic(target, out, olen, mode) == -1) {
		cli_errx("%s: cannot rewrite: %s; left as it is", shown,
		    strerror(errno));
		goto out;
	}
	printf("%s: %s\n", shown, add ? (found ? "updated" : "added") :
	    "removed");
	rc = 0;
out:
	free(text);
	free(out);
	return rc;
}

/*
 * 1 when systemd runs this user's session (its user manager's private
 * socket exists in XDG_RUNTIME_DIR and systemctl is on PATH), else 0.
 */
static int
user_systemd(void)
{
	const char *rt = getenv("XDG_RUNTIME_DIR"), *path = getenv("PATH");
	char p[PATH_MAX];
	struct stat st;

	if (rt == NULL || rt[0] != '/' ||
	    snprintf(p, sizeof(p), "%s/systemd/private", rt) >=
	    (int)sizeof(p) || stat(p, &st) == -1 || !S_ISSOCK(st.st_mode))
		return 0;
	while (path != NULL && *path != '\0') {
		size_t n = strcspn(path, ":");

		if (n > 0 && snprintf(p, sizeof(p), "%.*s/systemctl", (int)n,
		    path) < (int)sizeof(p) && access(p, X_OK) == 0)
			return 1;
		path += n + (path[n] == ':');
	}
	return 0;
}

/* Run systemctl --user ARGS...; its exit status, or -1. */
static int
systemctl(int quiet, const char *a1, const char *a2, const char *a3,
    const char *a4)
{
	const char *argv[] = { "systemctl", "--user", a1, a2, a3, a4, NULL };
	pid_t pid;
	int st, fd;

	fflush(stdout);
	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		if (quiet && (fd = open("/dev/null", O_WRONLY)) != -1) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		execvp("systemctl", (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int
units(int enable, int dry)
{
	if (!user_systemd()) {
		printf("systemd does not run this session: no units %s "
		    "(`ratetap run` starts ratetapd when none runs)\n",
		    enable ? "enabled" : "to disable");
		return 0;
	}
	if (dry) {
		printf("would run: systemctl --user %s --now %s\n",
		    enable ? "enable" : "disable", UNIT_SOCKET);
		return 0;
	}
	if (enable) {
		if (systemctl(1, "cat", UNIT_SOCKET, NULL, NULL) != 0) {
			cli_errx("the systemd user unit %s is not installed "
			    "(see contrib/systemd/); skipped", UNIT_SOCKET);
			return -1;
		}
		if (systemctl(0, "enable", "--now", UNIT_SOCKET, NULL) != 0)
			return -1;
		printf("systemd: %s enabled\n", UNIT_SOCKET);
		return 0;
	}
	if (systemctl(1, "cat", UNIT_SOCKET, NULL, NULL) != 0)
		return 0;
	if (systemctl(0, "disable", "--now", UNIT_SOCKET, UNIT_SERVICE) != 0)
		return -1;
	printf("systemd: %s disabled\n", UNIT_SOCKET);
	return 0;
}

/* The basename of $SHELL, "" when unset. */
static const char *
login_shell(void)
{
	const char *s = getenv("SHELL"), *b;

	if (s == NULL)
		return "";
	b = strrchr(s, '/');
	return b != NULL ? b + 1 : s;
}

static int
enable_usage(FILE *f, const char *cmd)
{
	fprintf(f, "usage: ratetap %s [--dry-run]\n", cmd);
	return f == stdout ? 0 : CLI_EXIT_USAGE;
}

/* ratetap enable / ratetap disable. */
int
cli_enable_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	char home[PATH_MAX], path[PATH_MAX * 2], shown[PATH_MAX];
	char shim[PATH_MAX], err[PATH_MAX + 256];
	int add = strcmp(argv[0], "enable") == 0, dry = 0, c, rc = 0;
	size_t i;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+nh", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			dry = 1;
			break;
		case 'h':
			return enable_usage(stdout, argv[0]);
		default:
			return enable_usage(stderr, argv[0]);
		}
	}
	if (optind != argc)
		return enable_usage(stderr, argv[0]);
	if (home_dir(home, sizeof(home)) == -1) {
		cli_errx("%s: no home directory", argv[0]);
		return 1;
	}
	if (add && cli_find_shim(shim, sizeof(shim), err, sizeof(err)) == -1) {
		cli_errx("%s: %s", argv[0], err);
		return 1;
	}
	for (i = 0; i < NRC; i++) {
		const struct rcfile *r = &rcfiles[i];
		char *block = NULL;
		struct stat st;

		snprintf(path, sizeof(path), "%s/%s", home, r->rel);
		snprintf(shown, sizeof(shown), "~/%s", r->rel);
		/* a shell's own file only when it exists or is $SHELL's */
		if (add && r->shell != NULL && lstat(path, &st) == -1 &&
		    strcmp(login_shell(), r->shell) != 0)
			continue;
		if (add && (block = block_for(shim, r->syntax)) == NULL) {
			cli_errx("enable: the shim path %s cannot be written "
			    "into a shell file (it holds a quote, ':' or a "
			    "control character)", shim);
			return 1;
		}
		if (edit_rc(shown, path, block, add, dry) == -1)
			rc = 1;
		free(block);
	}
	if (units(add, dry) == -1)
		rc = 1;
	if (add && !dry && rc == 0)
		printf("open a new shell (or `. ~/.profile`) for programs "
		    "started from it to be tapped\n");
	return rc;
}

/* 1 when a shell start-up file of the user carries enable's block. */
int
cli_enable_present(void)
{
	char home[PATH_MAX], path[PATH_MAX * 2], *text;
	size_t i, len, s, e;
	mode_t mode;
	int found = 0;

	if (home_dir(home, sizeof(home)) == -1)
		return 0;
	for (i = 0; i < NRC && !found; i++) {
		snprintf(path, sizeof(path), "%s/%s", home, rcfiles[i].rel);
		if (slurp(path, &text, &len, &mode) == 0 && text != NULL) {
			found = find_block(text, &s, &e) == 1;
			free(text);
		}
	}
	return found;
}

/* --- ratetap doctor without an argument ------------------------------- */

static int nbad;

static void __attribute__((format(printf, 2, 3)))
verdict(int ok, const char *fmt, ...)
{
	va_list ap;

	printf("%-4s ", ok > 0 ? "ok" : ok == 0 ? "no" : "--");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (ok == 0)
		nbad++;
}

static void
check_socket(const char *what, const char *path)
{
	struct stat st;

	if (lstat(path, &st) == -1) {
		verdict(-1, "%s socket %s: absent (made when ratetapd "
		    "starts)", what, path);
		return;
	}
	if (!S_ISSOCK(st.st_mode))
		verdict(0, "%s socket %s: not a socket", what, path);
	else if (st.st_uid != getuid())
		verdict(0, "%s socket %s: owned by uid %u, not you", what,
		    path, (unsigned)st.st_uid);
	else if ((st.st_mode & 077) != 0)
		verdict(0, "%s socket %s: mode %04o lets others in", what,
		    path, (unsigned)(st.st_mode & 07777));
	else
		verdict(1, "%s socket %s: yours, mode %04o", what, path,
		    (unsigned)(st.st_mode & 07777));
}

/* Whether a token is where the daemon looks; never prints it. */
static void
check_token(const char *home)
{
	const char *v, *dirs;
	char path[PATH_MAX * 2], *text;
	size_t len;
	mode_t mode;
	cJSON *doc, *o, *t;

	if ((v = getenv("RATETAP_OAUTH_TOKEN")) != NULL && v[0] != '\0') {
		verdict(1, "token: RATETAP_OAUTH_TOKEN is set");
		return;
	}
	if ((v = getenv("CLAUDE_CODE_OAUTH_TOKEN")) != NULL && v[0] != '\0') {
		verdict(1, "token: CLAUDE_CODE_OAUTH_TOKEN is set");
		return;
	}
	dirs = getenv("CLAUDE_CONFIG_DIR");
	if (dirs != NULL && dirs[0] != '\0')
		snprintf(path, sizeof(path), "%.*s/.credentials.json",
		    (int)strcspn(dirs, ","), dirs);
	else
		snprintf(path, sizeof(path), "%s/.claude/.credentials.json",
		    home);
	if (slurp(path, &text, &len, &mode) == -1) {
		verdict(0, "token: %s: %s", path, strerror(errno));
		return;
	}
	if (text == NULL) {
		verdict(-1, "token: none (no %s): ratetapd works from "
		    "response headers alone", path);
		return;
	}
	doc = cJSON_ParseWithLength(text, len);
	explicit_bzero(text, len);
	free(text);
	o = cJSON_GetObjectItemCaseSensitive(doc, "claudeAiOauth");
	t = cJSON_GetObjectItemCaseSensitive(o, "accessToken");
	if (cJSON_IsString(t) && t->valuestring[0] != '\0')
		verdict(1, "token: readable in %s", path);
	else
		verdict(0, "token: %s has no claudeAiOauth.accessToken",
		    path);
	if (cJSON_IsString(t))
		explicit_bzero(t->valuestring, strlen(t->valuestring));
	cJSON_Delete(doc);
}

/*
 * `ratetap doctor` without an argument: check the whole setup, one line
 * per check ("ok", "no", or "--" for what is not needed or not
 * applicable).  Returns 0 when no check says "no", else 1.
 */
int
cli_setup_check(const char *control)
{
	char shim[PATH_MAX], err[PATH_MAX + 256], home[PATH_MAX];
	char ctl[RT_FILE_MAX], ing[RT_FILE_MAX], path[PATH_MAX * 2];
	const char *s;
	size_t i;
	int any = 0;

	nbad = 0;
	if (cli_find_shim(shim, sizeof(shim), err, sizeof(err)) == -1)
		verdict(0, "shim: %s", err);
	else
		verdict(1, "shim: %s", shim);

	if (cli_control_path(control, ctl, sizeof(ctl)) == -1)
		verdict(0, "control socket: no path (set XDG_RUNTIME_DIR)");
	else if (cli_control_alive(ctl, 2000))
		verdict(1, "daemon: answers on %s", ctl);
	else
		verdict(0, "daemon: none answers on %s (`ratetap run` "
		    "starts one)", ctl);
	if ((s = getenv("RATETAP_SOCKET")) != NULL && s[0] != '\0')
		snprintf(ing, sizeof(ing), "%s", s);
	else if (rt_ingest_path(ing, sizeof(ing)) == -1)
		ing[0] = '\0';
	if (ing[0] != '\0')
		check_socket("ingest", ing);
	if (cli_control_path(control, ctl, sizeof(ctl)) == 0)
		check_socket("control", ctl);

	if (!user_systemd())
		verdict(-1, "systemd units: systemd does not run this "
		    "session");
	else if (systemctl(1, "is-enabled", UNIT_SOCKET, NULL, NULL) == 0)
		verdict(1, "systemd units: %s enabled", UNIT_SOCKET);
	else
		verdict(0, "systemd units: %s not enabled (`ratetap "
		    "enable`)", UNIT_SOCKET);

	if (home_dir(home, sizeof(home)) == -1) {
		verdict(0, "home: none");
		goto out;
	}
	for (i = 0; i < NRC; i++) {
		char *text;
		size_t len, b, e;
		mode_t mode;

		snprintf(path, sizeof(path), "%s/%s", home, rcfiles[i].rel);
		if (slurp(path, &text, &len, &mode) == 0 && text != NULL) {
			if (find_block(text, &b, &e) == 1) {
				verdict(1, "shell: ~/%s has the LD_PRELOAD "
				    "line", rcfiles[i].rel);
				any = 1;
			}
			free(text);
		}
	}
	if (!any)
		verdict(0, "shell: no start-up file has the LD_PRELOAD line "
		    "(`ratetap enable`)");
	check_token(home);
out:
	return nbad == 0 ? 0 : 1;
}
