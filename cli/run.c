/*
 * `ratetap run [--] CMD [ARG...]`: run CMD with libratetap.so preloaded,
 * starting ratetapd in the background first when no daemon answers on the
 * control socket.  CMD replaces ratetap (execvp), so its exit status is the
 * command's own.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ratetap/hosts.h"
#include "ratetap/paths.h"
#include "ratetap/safe.h"
#include "cli.h"

#define SHIM_NAME	"libratetap.so"
#define DAEMON_NAME	"ratetapd"
#define WAIT_MS		3000	/* how long to wait for a started daemon */
#define PRELOAD_SEPS	" :\t\n"	/* what ld.so splits LD_PRELOAD on */

char *
cli_preload_prepend(const char *existing, const char *shim)
{
	char *copy = NULL, *out = NULL, *tok, *save = NULL, *slash;
	size_t len;

	len = strlen(shim) + (existing ? strlen(existing) : 0) + 2;
	if ((out = malloc(len)) == NULL)
		goto err;
	snprintf(out, len, "%s", shim);
	if (existing == NULL || existing[0] == '\0')
		return out;
	if ((copy = strdup(existing)) == NULL)
		goto err;
	for (tok = strtok_r(copy, PRELOAD_SEPS, &save); tok != NULL;
	    tok = strtok_r(NULL, PRELOAD_SEPS, &save)) {
		slash = strrchr(tok, '/');
		if (strcmp(slash ? slash + 1 : tok, SHIM_NAME) == 0)
			continue;	/* a shim is loaded once, ours first */
		strcat(out, ":");
		strcat(out, tok);
	}
	free(copy);
	return out;
err:
	free(out);
	return NULL;
}

/* Directory of the running executable, from /proc/self/exe. */
static int
exe_dir(char *buf, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n;
	char *d;

	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) <= 0)
		return -1;
	exe[n] = '\0';
	d = dirname(exe);
	if (snprintf(buf, len, "%s", d) >= (int)len)
		return -1;
	return 0;
}

static int
preloadable(const char *path, char *err, size_t errlen)
{
	if (path[0] != '/' || strpbrk(path, PRELOAD_SEPS) != NULL) {
		snprintf(err, errlen, "%s: the shim's path must be absolute "
		    "and contain no ':' or blanks to be preloaded", path);
		return -1;
	}
	return 0;
}

int
cli_find_shim(char *buf, size_t len, char *err, size_t errlen)
{
	const char *env = getenv("RATETAP_SHIM");
	char dir[PATH_MAX], cand[PATH_MAX], real[PATH_MAX];
	int n;

	if (env != NULL && env[0] != '\0') {
		if (access(env, R_OK) == -1 || realpath(env, real) == NULL) {
			snprintf(err, errlen, "RATETAP_SHIM=%s: %s", env,
			    strerror(errno));
			return -1;
		}
		goto found;
	}
	if (exe_dir(dir, sizeof(dir)) == 0) {
		n = snprintf(cand, sizeof(cand), "%s/%s", dir, SHIM_NAME);
		if (n > 0 && (size_t)n < sizeof(cand) &&
		    access(cand, R_OK) == 0 && realpath(cand, real) != NULL)
			goto found;
	} else {
		dir[0] = '\0';
	}
	n = snprintf(cand, sizeof(cand), "%s/%s", RATETAP_LIBDIR, SHIM_NAME);
	if (n > 0 && (size_t)n < sizeof(cand) && access(cand, R_OK) == 0 &&
	    realpath(cand, real) != NULL)
		goto found;
	snprintf(err, errlen, "cannot find %s: looked beside ratetap (%s) "
	    "and in %s; set RATETAP_SHIM to its path", SHIM_NAME,
	    dir[0] ? dir : "unknown", RATETAP_LIBDIR);
	return -1;
found:
	if (preloadable(real, err, errlen) == -1)
		return -1;
	if (snprintf(buf, len, "%s", real) >= (int)len) {
		snprintf(err, errlen, "%s: path too long", real);
		return -1;
	}
	return 0;
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/*
 * The daemon side of the double fork: detached in its own session, stdin
 * from /dev/null, output appended to logpath.  Writes its pid on errfd,
 * then an exec failure's errno (errfd is close-on-exec, so a successful
 * exec just closes it).
 */
static void __attribute__((noreturn))
exec_daemon(const char *daemon, const char *control, const char *logpath,
    int errfd)
{
	static char a_name[] = DAEMON_NAME, a_control[] = "--control";
	char *args[4];
	sigset_t none;
	int fd, e, i = 0;

	/* First the daemon's pid (ours: exec keeps it), then maybe errno. */
	e = (int)getpid();
	if (write(errfd, &e, sizeof(e)) != (ssize_t)sizeof(e))
		_exit(126);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	if ((fd = open("/dev/null", O_RDONLY)) == -1 ||
	    dup2(fd, STDIN_FILENO) == -1)
		goto fail;
	if (fd != STDIN_FILENO)
		close(fd);
	/* never through a link, never someone else's file: the runtime
	   directory may be under /tmp */
	if ((fd = rt_open_private(logpath, O_WRONLY | O_CREAT | O_APPEND,
	    0600, NULL, NULL, 0)) == -1)
		fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (fd == -1 || dup2(fd, STDOUT_FILENO) == -1 ||
	    dup2(fd, STDERR_FILENO) == -1)
		goto fail;
	if (fd > STDERR_FILENO)
		close(fd);
	/* Descriptors ratetap inherited are none of the daemon's business. */
	(void)close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);

	args[i++] = a_name;
	if (control != NULL) {
		args[i++] = a_control;
		if ((args[i++] = strdup(control)) == NULL)
			goto fail;
	}
	args[i] = NULL;
	if (strchr(daemon, '/') != NULL)
		execv(daemon, args);
	else
		execvp(daemon, args);
fail:
	e = errno;
	if (write(errfd, &e, sizeof(e)) != (ssize_t)sizeof(e))
		_exit(126);
	_exit(127);
}

/* In the intermediate child: report "no daemon forked" and errno. */
static void __attribute__((noreturn))
start_failed(int fd)
{
	int msg[2] = { -1, errno };

	if (write(fd, msg, sizeof(msg)) != (ssize_t)sizeof(msg))
		_exit(2);
	_exit(1);
}

/* Read one int from fd: 0, or -1 at end of file or on error. */
static int
read_int(int fd, int *out)
{
	ssize_t n;

	do {
		n = read(fd, out, sizeof(*out));
	} while (n == -1 && errno == EINTR);
	return n == (ssize_t)sizeof(*out) ? 0 : -1;
}

/*
 * Start ratetapd detached from us (it must outlive `ratetap run` and not be
 * CMD's child) and wait up to WAIT_MS for it to answer on sock.  Returns 0
 * when it answers, -1 (after a warning) when it does not.
 */
static int
start_daemon(const char *control, const char *sock)
{
	char dir[PATH_MAX], daemon[PATH_MAX], rtdir[RT_FILE_MAX];
	char logpath[RT_FILE_MAX + 16], ebuf[512];
	int pfd[2] = { -1, -1 }, e = 0, status;
	long long deadline;
	pid_t pid, dpid;

	if (exe_dir(dir, sizeof(dir)) == 0 &&
	    snprintf(daemon, sizeof(daemon), "%s/%s", dir, DAEMON_NAME) <
	    (int)sizeof(daemon) && access(daemon, X_OK) == 0)
		;
	else
		snprintf(daemon, sizeof(daemon), "%s", DAEMON_NAME);

	if (rt_runtime_dir(rtdir, sizeof(rtdir)) == -1 ||
	    snprintf(logpath, sizeof(logpath), "%s/ratetapd.log", rtdir) >=
	    (int)sizeof(logpath)) {
		snprintf(logpath, sizeof(logpath), "/dev/null");
	} else if (rt_dir_ensure(rtdir, ebuf, sizeof(ebuf)) == -1) {
		cli_errx("%s", ebuf);
		snprintf(logpath, sizeof(logpath), "/dev/null");
	}

	if (pipe2(pfd, O_CLOEXEC) == -1) {
		cli_errx("cannot start %s: pipe: %s", DAEMON_NAME,
		    strerror(errno));
		return -1;
	}
	fflush(NULL);
	if ((pid = fork()) == -1) {
		cli_errx("cannot start %s: fork: %s", DAEMON_NAME,
		    strerror(errno));
		goto err;
	}
	if (pid == 0) {
		close(pfd[0]);
		if (setsid() == -1)
			start_failed(pfd[1]);
		switch (fork()) {
		case -1:
			start_failed(pfd[1]);
		case 0:
			exec_daemon(daemon, control, logpath, pfd[1]);
		default:
			_exit(0);
		}
	}
	close(pfd[1]);
	pfd[1] = -1;
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	/* The daemon's pid (-1: it was not forked), then errno on failure. */
	if (read_int(pfd[0], &e) == -1) {
		e = EIO;		/* the starter died before saying */
		dpid = -1;
	} else {
		dpid = (pid_t)e;
		if (read_int(pfd[0], &e) == -1)
			e = dpid == -1 ? EIO : 0;
	}
	close(pfd[0]);
	pfd[0] = -1;
	if (dpid == -1 || e != 0) {
		if (e == ENOENT)
			cli_errx("cannot start %s: not found beside ratetap nor "
			    "in PATH; running the command without a daemon",
			    DAEMON_NAME);
		else
			cli_errx("cannot start %s: %s; running the command "
			    "without a daemon", daemon, strerror(e));
		return -1;
	}

	deadline = now_ms() + WAIT_MS;
	do {
		if (cli_control_alive(sock, 500))
			return 0;
		if (kill(dpid, 0) == -1 && errno == ESRCH) {
			cli_errx("%s exited at once (see %s); running the "
			    "command without a daemon", DAEMON_NAME, logpath);
			return -1;
		}
		usleep(50 * 1000);
	} while (now_ms() < deadline);
	cli_errx("%s did not answer on %s within %d s (see %s); running the "
	    "command anyway", DAEMON_NAME, sock, WAIT_MS / 1000, logpath);
	return -1;
err:
	if (pfd[0] != -1)
		close(pfd[0]);
	if (pfd[1] != -1)
		close(pfd[1]);
	return -1;
}

static void
run_usage(FILE *f)
{
	fprintf(f,
	    "usage: ratetap run [--no-daemon] [--control PATH] [--] CMD "
	    "[ARG...]\n"
	    "\n"
	    "Run CMD with libratetap.so preloaded, so that its libcurl "
	    "transfers to the\n"
	    "Anthropic API are counted.  Starts ratetapd in the background "
	    "when none\n"
	    "answers.  The exit status is CMD's (127: not found, 126: not "
	    "executable,\n"
	    "125: ratetap itself failed).\n"
	    "\n"
	    "  --no-daemon     do not start ratetapd\n"
	    "  --control PATH  the daemon's control socket\n"
	    "  --help          this text\n"
	    "  --version       print the version\n"
	    "\n"
	    "The shim is $RATETAP_SHIM, else libratetap.so beside ratetap, "
	    "else\n"
	    "%s/libratetap.so.\n", RATETAP_LIBDIR);
}

/* A RATETAP_HOSTS entry the shim cannot use, said where the user looks. */
static void
run_hosts_warn(void *arg, const char *msg)
{
	(void)arg;
	cli_errx("%s", msg);
}

int
cli_run_main(int argc, char **argv, const char *control)
{
	static const struct option opts[] = {
		{ "no-daemon", no_argument, NULL, 'n' },
		{ "control", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	char shim[PATH_MAX], sock[RT_FILE_MAX], err[PATH_MAX + 256];
	char *preload;
	int c, no_daemon = 0, e;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+c:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			no_daemon = 1;
			break;
		case 'c':
			control = optarg;
			break;
		case 'h':
			run_usage(stdout);
			return 0;
		case 'V':
			printf("ratetap %s\n", RATETAP_VERSION);
			return 0;
		default:
			run_usage(stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		cli_errx("run: no command given; usage: ratetap run [--] CMD "
		    "[ARG...]");
		return CLI_EXIT_USAGE;
	}
	if (cli_find_shim(shim, sizeof(shim), err, sizeof(err)) == -1) {
		cli_errx("%s", err);
		return CLI_EXIT_RUN_FAIL;
	}
	if (!no_daemon) {
		if (cli_control_path(control, sock, sizeof(sock)) == -1)
			cli_errx("the control socket path is too long; not "
			    "starting a daemon");
		else if (!cli_control_alive(sock, 1000))
			(void)start_daemon(control, sock);
	}

	(void)rt_hosts_check_env(run_hosts_warn, NULL);
	/* RATETAP_OAUTH_TOKEN is ratetapd's alone (the daemon started above
	   had it): CMD does not get it.  CLAUDE_CODE_OAUTH_TOKEN is Claude
	   Code's own and stays. */
	if (unsetenv("RATETAP_OAUTH_TOKEN") == -1) {
		cli_errx("cannot unset RATETAP_OAUTH_TOKEN: %s",
		    strerror(errno));
		return CLI_EXIT_RUN_FAIL;
	}
	if ((preload = cli_preload_prepend(getenv("LD_PRELOAD"), shim)) ==
	    NULL || setenv("LD_PRELOAD", preload, 1) == -1) {
		cli_errx("cannot set LD_PRELOAD: %s", strerror(errno));
		free(preload);
		return CLI_EXIT_RUN_FAIL;
	}
	free(preload);
	fflush(NULL);
	execvp(argv[optind], argv + optind);
	e = errno;
	if (e == ENOENT) {
		cli_errx("%s: command not found", argv[optind]);
		return CLI_EXIT_NOTFOUND;
	}
	cli_errx("%s: %s", argv[optind], strerror(e));
	return CLI_EXIT_NOEXEC;
}
