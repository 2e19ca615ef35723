/*
 * ratetapd's listening sockets: the private directory they live in, the
 * AF_UNIX ingest (datagram) and control (stream) sockets, the optional TCP
 * metrics socket, and sockets passed by a service manager (LISTEN_FDS).
 *
 * Every function returns 0 or an fd on success and -1 with a one-line
 * reason in err on failure; err never contains more than paths and errno
 * text.
 */
#ifndef RATETAP_SOCKETS_H
#define RATETAP_SOCKETS_H

#include <stddef.h>

#define SOCK_RCVBUF	(4 * 1024 * 1024)	/* ingest receive buffer */

/*
 * Make sure dir is a private directory of ours: create it with mode 0700
 * when missing (its parent must exist); refuse one that is not a directory,
 * is owned by another user, is writable by group or others, is a symbolic
 * link that is not ours or leads to such a directory, or lies below a
 * directory that others may write without the sticky bit (rt_dir_ensure()).
 */
int sock_private_dir(const char *dir, char *err, size_t errlen);

/*
 * Prepare path for binding: refuse a path that exists and is not a
 * socket, or belongs to someone else, or answers (a live process owns it:
 * err says so and *busy is set); unlink a stale socket of ours.  Also checks
 * the directory of path with sock_private_dir().
 */
int sock_prepare_path(const char *path, int *busy, char *err, size_t errlen);

/*
 * Bind the ingest socket at path (sock_prepare_path() first): SOCK_DGRAM,
 * nonblocking, close-on-exec, bound under umask 077 then chmod 0600,
 * SO_PASSCRED on, receive buffer raised.  Returns the fd.
 */
int sock_bind_ingest(const char *path, char *err, size_t errlen);

/*
 * Bind and listen on the control socket at path likewise (SOCK_STREAM,
 * mode 0600).  Returns the fd.
 */
int sock_bind_control(const char *path, char *err, size_t errlen);

/*
 * Set up an ingest fd (bound here or passed by a service manager):
 * nonblocking, close-on-exec, SO_PASSCRED, large receive buffer.
 */
int sock_setup_ingest(int fd, char *err, size_t errlen);

/*
 * Listen on TCP at spec, "[ADDR:]PORT" ("[v6addr]:PORT" for IPv6; just a
 * port means 127.0.0.1).  Returns the fd; the bound address is written to
 * bound (e.g. "127.0.0.1:9464", for the log).
 */
int sock_listen_tcp(const char *spec, char *bound, size_t boundlen,
    char *err, size_t errlen);

/*
 * Sockets passed by a service manager (sd_listen_fds protocol): when
 * LISTEN_PID is our pid and LISTEN_FDS >= 1, classify the fds from 3 on by
 * LISTEN_FDNAMES ("ingest", "control") or else by type (SOCK_DGRAM is the
 * ingest socket, a listening SOCK_STREAM the control socket), set them up,
 * and unset LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES.  *ingest and
 * *control get the fds, or -1 when not passed.  Returns the number of fds
 * taken, or -1 on an unusable fd.
 */
int sock_activation(int *ingest, int *control, char *err, size_t errlen);

#endif /* RATETAP_SOCKETS_H */
