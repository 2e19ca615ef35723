/*
 * Listening sockets of ratetapd (see sockets.h): a private directory,
 * unlink-if-stale, bind under a tight umask, chmod, nonblocking,
 * close-on-exec; TCP for the optional metrics listener; and sockets handed
 * over by a service manager.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "ratetap/safe.h"

#include "sockets.h"

#define LISTEN_BACKLOG	64

int
sock_private_dir(const char *dir, char *err, size_t errlen)
{
	/* the check the shim and the CLI make too (common/safe.c) */
	return rt_dir_ensure(dir, err, errlen);
}

static int
fill_sun(struct sockaddr_un *sun, const char *path, char *err, size_t errlen)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path)) {
		snprintf(err, errlen, "%s: socket path too long (at most %zu "
		    "bytes)", path, sizeof(sun->sun_path) - 1);
		return -1;
	}
	memcpy(sun->sun_path, path, strlen(path) + 1);
	return 0;
}

/* 1 when something accepts a connection on path, 0 when nobody does
 * (stale), -1 on another error. */
static int
socket_answers(const char *path, char *err, size_t errlen)
{
	static const int types[] = { SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET };
	struct sockaddr_un sun;
	size_t i;
	int fd, rc;

	if (fill_sun(&sun, path, err, errlen) == -1)
		return -1;
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if ((fd = socket(AF_UNIX, types[i] | SOCK_CLOEXEC, 0)) == -1) {
			snprintf(err, errlen, "socket: %s", strerror(errno));
			return -1;
		}
		rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
		if (rc == -1 && errno == EPROTOTYPE) {
			close(fd);
			continue;	/* another socket type: try it */
		}
		if (rc == 0) {
			close(fd);
			return 1;
		}
		rc = errno;
		close(fd);
		if (rc == ECONNREFUSED)
			return 0;
		if (rc == EAGAIN)	/* listen queue full: alive */
			return 1;
		snprintf(err, errlen, "%s: %s", path, strerror(rc));
		return -1;
	}
	return 0;
}

int
sock_prepare_path(const char *path, int *busy, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	struct sockaddr_un sun;
	struct stat st;
	const char *slash;
	int rc;

	*busy = 0;
	if (fill_sun(&sun, path, err, errlen) == -1)
		return -1;
	if ((slash = strrchr(path, '/')) == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	if (sock_private_dir(dir, err, errlen) == -1)
		return -1;
	if (lstat(path, &st) == -1) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a socket; not "
		    "touching it", path);
		return -1;
	}
	if (st.st_uid != geteuid()) {
		snprintf(err, errlen, "%s belongs to uid %u, not to us; not "
		    "touching it", path, (unsigned)st.st_uid);
		return -1;
	}
	if ((rc = socket_answers(path, err, errlen)) == -1)
		return -1;
	if (rc == 1) {
		*busy = 1;
		snprintf(err, errlen, "%s is in use by a running process",
		    path);
		return -1;
	}
	if (unlink(path) == -1 && errno != ENOENT) {
		snprintf(err, errlen, "cannot remove stale socket %s: %s",
		    path, strerror(errno));
		return -1;
	}
	return 0;
}

static int
bind_unix(const char *path, int type, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	mode_t old;
	int fd, rc, e;

	if (fill_sun(&sun, path, err, errlen) == -1)
		return -1;
	if ((fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) ==
	    -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	old = umask(077);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rc == -1) {
		snprintf(err, errlen, "bind %s: %s", path, strerror(errno));
		goto err;
	}
	if (chmod(sun.sun_path, 0600) == -1) {
		e = errno;
		snprintf(err, errlen, "chmod %s: %s", sun.sun_path,
		    strerror(e));
		unlink(path);
		goto err;
	}
	return fd;
err:
	close(fd);
	return -1;
}

int
sock_setup_ingest(int fd, char *err, size_t errlen)
{
	int one = 1, size = SOCK_RCVBUF, fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1) {
		snprintf(err, errlen, "ingest socket: fcntl: %s",
		    strerror(errno));
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) == -1) {
		snprintf(err, errlen, "ingest socket: SO_PASSCRED: %s",
		    strerror(errno));
		return -1;
	}
	/* beyond net.core.rmem_max only with privilege: best effort */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size,
	    sizeof(size)) == -1)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size,
		    sizeof(size));
	return 0;
}

int
sock_bind_ingest(const char *path, char *err, size_t errlen)
{
	int fd;

	if ((fd = bind_unix(path, SOCK_DGRAM, err, errlen)) == -1)
		return -1;
	if (sock_setup_ingest(fd, err, errlen) == -1) {
		close(fd);
		unlink(path);
		return -1;
	}
	return fd;
}

int
sock_bind_control(const char *path, char *err, size_t errlen)
{
	int fd;

	if ((fd = bind_unix(path, SOCK_STREAM, err, errlen)) == -1)
		return -1;
	if (listen(fd, LISTEN_BACKLOG) == -1) {
		snprintf(err, errlen, "listen %s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	return fd;
}

static int
parse_port(const char *s, char *err, size_t errlen)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (s[0] == '\0' || *end != '\0' || errno != 0 || v < 0 ||
	    v > 65535) {
		snprintf(err, errlen, "bad port \"%s\" (0-65535)", s);
		return -1;
	}
	return (int)v;
}

int
sock_listen_tcp(const char *spec, char *bound, size_t boundlen, char *err,
    size_t errlen)
{
	struct addrinfo hints, *res = NULL, *ai;
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	char host[256], port[16], addr[INET6_ADDRSTRLEN];
	const char *colon, *p;
	int fd = -1, one = 1, rc, pnum;

	if (strlen(spec) >= sizeof(host)) {
		snprintf(err, errlen, "--metrics-listen: address too long");
		return -1;
	}
	if (spec[0] == '[') {
		if ((p = strchr(spec, ']')) == NULL || p[1] != ':') {
			snprintf(err, errlen, "--metrics-listen %s: expected "
			    "[ADDR]:PORT", spec);
			return -1;
		}
		snprintf(host, sizeof(host), "%.*s", (int)(p - spec - 1),
		    spec + 1);
		p += 2;
	} else if ((colon = strrchr(spec, ':')) != NULL) {
		snprintf(host, sizeof(host), "%.*s", (int)(colon - spec), spec);
		p = colon + 1;
	} else {
		snprintf(host, sizeof(host), "127.0.0.1");
		p = spec;
	}
	if (host[0] == '\0') {
		snprintf(err, errlen, "--metrics-listen %s: empty address",
		    spec);
		return -1;
	}
	if ((pnum = parse_port(p, err, errlen)) == -1)
		return -1;
	snprintf(port, sizeof(port), "%d", pnum);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		snprintf(err, errlen, "--metrics-listen %s: %s", spec,
		    gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);
		if (fd == -1)
			continue;
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
		    sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, LISTEN_BACKLOG) == 0)
			break;
		rc = errno;
		close(fd);
		fd = -1;
		errno = rc;
	}
	if (fd == -1) {
		snprintf(err, errlen, "--metrics-listen %s: %s", spec,
		    strerror(errno));
		goto err;
	}
	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) == 0) {
		if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

			inet_ntop(AF_INET6, &s6->sin6_addr, addr, sizeof(addr));
			snprintf(bound, boundlen, "[%s]:%u", addr,
			    (unsigned)ntohs(s6->sin6_port));
		} else {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

			inet_ntop(AF_INET, &s4->sin_addr, addr, sizeof(addr));
			snprintf(bound, boundlen, "%s:%u", addr,
			    (unsigned)ntohs(s4->sin_port));
		}
	} else
		snprintf(bound, boundlen, "%s", spec);
	freeaddrinfo(res);
	return fd;
err:
	if (res != NULL)
		freeaddrinfo(res);
	return -1;
}

static int
sock_int(int fd, int opt)
{
	socklen_t len = sizeof(int);
	int v = -1;

	if (getsockopt(fd, SOL_SOCKET, opt, &v, &len) == -1)
		return -1;
	return v;
}

/* The i-th ':'-separated name of names into buf ("" when absent). */
static void
nth_name(const char *names, int i, char *buf, size_t len)
{
	const char *p = names, *e;

	buf[0] = '\0';
	if (names == NULL)
		return;
	while (i-- > 0) {
		if ((p = strchr(p, ':')) == NULL)
			return;
		p++;
	}
	e = strchr(p, ':');
	snprintf(buf, len, "%.*s", (int)(e != NULL ? e - p : (long)strlen(p)),
	    p);
}

int
sock_activation(int *ingest, int *control, char *err, size_t errlen)
{
	const char *pid_s = getenv("LISTEN_PID"), *n_s = getenv("LISTEN_FDS");
	const char *names = getenv("LISTEN_FDNAMES");
	char name[64];
	long pid, n;
	int i, fd, type, role, taken = 0, rc = -1;

	*ingest = *control = -1;
	if (pid_s == NULL || n_s == NULL) {
		rc = 0;
		goto out;
	}
	pid = strtol(pid_s, NULL, 10);
	n = strtol(n_s, NULL, 10);
	if (pid != (long)getpid() || n < 1 || n > 64) {
		rc = 0;
		goto out;
	}
	for (i = 0; i < n; i++) {
		fd = 3 + i;
		nth_name(names, i, name, sizeof(name));
		type = sock_int(fd, SO_TYPE);
		if (type == -1) {
			snprintf(err, errlen, "passed fd %d: not a socket", fd);
			goto out;
		}
		if (sock_int(fd, SO_DOMAIN) != AF_UNIX) {
			snprintf(err, errlen, "passed fd %d (%s): not an "
			    "AF_UNIX socket", fd, name[0] ? name : "unnamed");
			goto out;
		}
		if (strcmp(name, "ingest") == 0)
			role = 'i';
		else if (strcmp(name, "control") == 0)
			role = 'c';
		else
			role = type == SOCK_DGRAM ? 'i' : 'c';
		if (role == 'i') {
			if (type != SOCK_DGRAM || *ingest != -1) {
				snprintf(err, errlen, "passed fd %d: expected "
				    "one datagram socket for ingest", fd);
				goto out;
			}
			if (sock_setup_ingest(fd, err, errlen) == -1)
				goto out;
			*ingest = fd;
			taken++;
		} else {
			if (type != SOCK_STREAM ||
			    sock_int(fd, SO_ACCEPTCONN) != 1 ||
			    *control != -1) {
				snprintf(err, errlen, "passed fd %d: expected "
				    "one listening stream socket for control",
				    fd);
				goto out;
			}
			if (fcntl(fd, F_SETFD, FD_CLOEXEC) == -1 ||
			    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) |
			    O_NONBLOCK) == -1) {
				snprintf(err, errlen, "passed fd %d: %s", fd,
				    strerror(errno));
				goto out;
			}
			*control = fd;
			taken++;
		}
	}
	rc = taken;
out:
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return rc;
}
