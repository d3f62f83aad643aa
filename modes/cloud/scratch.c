#include "scratch.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clean.h"

#define OPEN_DIR (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

static int refuse(int fd, char *err, size_t errlen, const char *path, const char *why)
{
    snprintf(err, errlen, "scratch %s: %s%s%s", path, why, errno ? ": " : "",
             errno ? strerror(errno) : "");
    if (fd >= 0)
        close(fd);
    return -1;
}

int scratch_open(const char *path, int rootfs_fd, char *err, size_t errlen)
{
    struct stat st, rst;
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return refuse(-1, err, errlen, path, "mkdir");
    int fd = open(path, OPEN_DIR);
    if (fd < 0)
        return refuse(-1, err, errlen, path, "open (it must be a directory, not a symlink)");
    errno = 0;
    if (fstat(fd, &st) != 0 || fstat(rootfs_fd, &rst) != 0)
        return refuse(fd, err, errlen, path, "stat");
    /* Anyone else who could write here could swap a slot's root under the daemon. */
    if (st.st_uid != 0 || (st.st_mode & 022))
        return refuse(fd, err, errlen, path, "must be owned by root and not writable by others");
    if (st.st_dev != rst.st_dev)
        return refuse(fd, err, errlen, path,
                      "must be on the rootfs's file system (the slots' roots are hard links to "
                      "it); choose --scratch next to --rootfs");
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK)
            return refuse(fd, err, errlen, path, "lock");
        errno = 0;
        return refuse(fd, err, errlen, path, "in use by another pyexecd (one scratch per daemon)");
    }
    return fd;
}

int scratch_tmp_create(int root_fd, uid_t uid)
{
    if (clean_tmp(root_fd) != 0)
        return -1;
    if (mkdirat(root_fd, "tmp", 0700) != 0)
        return -1;
    /* The owner's own mode, whatever the daemon's umask: nobody else may even look inside. */
    if (fchownat(root_fd, "tmp", uid, uid, AT_SYMLINK_NOFOLLOW) != 0 ||
        fchmodat(root_fd, "tmp", 0700, 0) != 0) {
        int saved = errno;
        unlinkat(root_fd, "tmp", AT_REMOVEDIR);
        errno = saved;
        return -1;
    }
    return 0;
}

int scratch_tmp_open(int root_fd)
{
    return openat(root_fd, "tmp", OPEN_DIR);
}
