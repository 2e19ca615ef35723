/*
 * Private-directory, private-file and peer checks (see
 * include/ratetap/safe.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ratetap/errbuf.h"
#include "ratetap/safe.h"

static int fail(int, char *, size_t, const char *, ...)
    __attribute__((format(printf, 4, 5)));

static int
fail(int e, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rt_vseterr(err, errlen, fmt, ap);
	va_end(ap);
	errno = e;
	return -1;
}

int
rt_dirname(const char *path, char *dir, size_t len)
{
	const char *slash = strrchr(path, '/');
	size_t n;

	if (slash == NULL) {
		if (len < 2)
			goto toolong;
		memcpy(dir, ".", 2);
		return 0;
	}
	n = slash == path ? 1 : (size_t)(slash - path);
	if (n >= len)
		goto toolong;
	memcpy(dir, path, n);
	dir[n] = '\0';
	return 0;
toolong:
	errno = ENAMETOOLONG;
	return -1;
}

/* Every directory above dir (an absolute or relative path): owned by root
 * or by us, and not writable by group or others unless sticky. */
static int
check_parents(const char *dir, char *err, size_t errlen)
{
	char buf[4096];
	struct stat st;
	size_t n = strlen(dir);
	uid_t me = geteuid();

	if (n >= sizeof(buf))
		return fail(ENAMETOOLONG, err, errlen, "%s: path too long",
		    dir);
	memcpy(buf, dir, n + 1);
	while (n > 1 && buf[n - 1] == '/')
		buf[--n] = '\0';
	for (;;) {
		char *slash = strrchr(buf, '/');

		if (slash == NULL)
			break;		/* relative: the cwd is the caller's */
		if (slash == buf)
			slash[1] = '\0';
		else
			*slash = '\0';
		if (stat(buf, &st) == -1)
			return fail(errno, err, errlen, "%s: %s", buf,
			    strerror(errno));
		if (st.st_uid != 0 && st.st_uid != me)
			return fail(EPERM, err, errlen, "%s: owned by uid %u, "
			    "neither root nor us (uid %u); refusing to use "
			    "what is below it", buf, (unsigned)st.st_uid,
			    (unsigned)me);
		if ((st.st_mode & (S_IWGRP | S_IWOTH)) &&
		    !(st.st_mode & S_ISVTX))
			return fail(EPERM, err, errlen, "%s: writable by group "
			    "or others and not sticky (mode %04o); refusing to "
			    "use what is below it", buf,
			    (unsigned)(st.st_mode & 07777));
		if (slash == buf)
			break;
	}
	return 0;
}

static int
check_one(const char *dir, const struct stat *st, char *err, size_t errlen)
{
	uid_t me = geteuid();

	if (!S_ISDIR(st->st_mode))
		return fail(ENOTDIR, err, errlen, "%s: not a directory", dir);
	if (st->st_uid != me)
		return fail(EPERM, err, errlen, "%s: owned by uid %u, not by "
		    "us (uid %u); refusing to use it", dir,
		    (unsigned)st->st_uid, (unsigned)me);
	if (st->st_mode & (S_IWGRP | S_IWOTH))
		return fail(EPERM, err, errlen, "%s: writable by group or "
		    "others (mode %04o); refusing to use it (chmod 700 it)",
		    dir, (unsigned)(st->st_mode & 07777));
	return 0;
}

int
rt_dir_check(const char *dir, char *err, size_t errlen)
{
	struct stat lst, st;

	if (lstat(dir, &lst) == -1)
		return fail(errno, err, errlen, "%s: %s", dir,
		    strerror(errno));
	if (S_ISLNK(lst.st_mode)) {
		/* a link of ours to a directory of ours; never someone
		   else's link, whatever it points to */
		if (lst.st_uid != geteuid())
			return fail(EPERM, err, errlen, "%s: a symbolic link "
			    "owned by uid %u, not by us (uid %u); refusing to "
			    "follow it", dir, (unsigned)lst.st_uid,
			    (unsigned)geteuid());
		if (stat(dir, &st) == -1)
			return fail(errno, err, errlen, "%s: a symbolic link "
			    "to nothing usable (%s)", dir, strerror(errno));
	} else
		st = lst;
	if (check_one(dir, &st, err, errlen) == -1)
		return -1;
	return check_parents(dir, err, errlen);
}

int
rt_dir_ensure(const char *dir, char *err, size_t errlen)
{
	struct stat st;

	if (lstat(dir, &st) == -1 && errno == ENOENT &&
	    mkdir(dir, 0700) == -1 && errno != EEXIST)
		return fail(errno, err, errlen, "cannot create %s: %s",
		    dir, strerror(errno));
	return rt_dir_check(dir, err, errlen);
}

int
rt_open_private(const char *path, int flags, mode_t mode,
    struct stat *stp, char *err, size_t errlen)
{
	struct stat st;
	int fd, e;

	fd = open(path, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, mode);
	if (fd == -1) {
		e = errno;
		if (e == ELOOP)
			return fail(e, err, errlen, "%s: a symbolic link; "
			    "refusing to follow it", path);
		return fail(e, err, errlen, "%s: %s", path, strerror(e));
	}
	if (fstat(fd, &st) == -1) {
		e = errno;
		close(fd);
		return fail(e, err, errlen, "%s: %s", path, strerror(e));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return fail(EINVAL, err, errlen, "%s: not a regular file; "
		    "refusing it", path);
	}
	if (st.st_uid != geteuid()) {
		close(fd);
		return fail(EPERM, err, errlen, "%s: owned by uid %u, not by "
		    "us (uid %u); refusing it", path, (unsigned)st.st_uid,
		    (unsigned)geteuid());
	}
	if (st.st_nlink != 1 || (st.st_mode & 077) != 0) {
		close(fd);
		return fail(EPERM, err, errlen, "%s: has %u links or mode "
		    "%04o (want 1 link, no access for group or others); "
		    "refusing it", path, (unsigned)st.st_nlink,
		    (unsigned)(st.st_mode & 07777));
	}
	if (stp != NULL)
		*stp = st;
	return fd;
}

int
rt_peer_uid(int fd, uid_t *uid)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == -1)
		return -1;
	if (len < sizeof(cr)) {
		errno = EPROTO;
		return -1;
	}
	*uid = cr.uid;
	return 0;
}
