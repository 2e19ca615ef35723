/*
 * Checks for paths under a directory other users may share (/tmp): the
 * one implementation used by the shim, the daemon and the CLI before they
 * trust a socket or a file in the runtime directory.  libc only, no
 * allocation, safe to call from the shim.
 *
 * Each function returns 0 (or an fd) on success, -1 with errno set and a
 * one-line reason in err (paths and errno text only) on failure.
 */
#ifndef RATETAP_SAFE_H
#define RATETAP_SAFE_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/*
 * Check that dir is private to the effective uid: a directory owned by
 * it, not writable by group or others, and not a symbolic link unless
 * one of ours to such a directory; and that every directory above it is
 * owned by root or by us and is not writable by group or others unless it
 * is sticky (/tmp).  ENOENT when dir does not exist.
 */
int rt_dir_check(const char *dir, char *err, size_t errlen);

/*
 * rt_dir_check(), creating dir with mode 0700 first when it is missing
 * (its parent must exist).
 */
int rt_dir_ensure(const char *dir, char *err, size_t errlen);

/*
 * Open the file at path (whose directory the caller has checked) with
 * flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC (mode for O_CREAT), then
 * refuse it unless it is a regular file owned by the effective uid with
 * one link and no permission bits for group or others.  Returns the fd,
 * its fstat() in *st when st is not NULL.  A symbolic link fails with
 * ELOOP, a FIFO or device with EINVAL, someone else's file with EPERM.
 */
int rt_open_private(const char *path, int flags, mode_t mode,
    struct stat *st, char *err, size_t errlen);

/*
 * The uid of the process at the other end of the connected AF_UNIX
 * socket fd (SO_PEERCRED).  Returns 0 with *uid set, or -1.
 */
int rt_peer_uid(int fd, uid_t *uid);

/* The directory part of path into dir (size len): "." without a slash,
 * "/" for a file in the root.  -1 (ENAMETOOLONG) when it does not fit. */
int rt_dirname(const char *path, char *dir, size_t len);

#endif /* RATETAP_SAFE_H */
