#include "clean.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "uid.h"

#define OPEN_DIR (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
#define OWNER_DEPTH 16      /* deeper directories are moved up to /tmp's top, not descended */
#define ROOT_DEPTH 64       /* the rootfs is far shallower: deeper is not root's copy */
#define CLEAN_TIMEOUT_S 30  /* the helper is killed past this: the slot is then rebuilt */
#define MAX_PASSES 1000000L /* over one directory (moved-up pieces come back to /tmp's top) */

/* ---- as the owner of /tmp, in the helper: system calls only --------------------------------- */

struct owner_walk {
    int top;          /* /tmp */
    dev_t dev;        /* /tmp's file system: no other is entered */
    unsigned long up; /* names for directories moved up */
};

struct owner_dir {
    struct owner_walk *w;
    int depth;
    long seen;
};

static int empty_owned(struct owner_walk *w, int dirfd, int depth);

/* A free name at /tmp's top ("up-N"), for a directory too deep to descend. */
static int move_up(struct owner_walk *w, int dirfd, const char *name)
{
    char to[32] = "up-";
    for (;;) {
        fs_put_uint(to + 3, w->up++);
        struct stat st;
        if (fstatat(w->top, to, &st, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT)
            return renameat(dirfd, name, w->top, to);
    }
}

static int remove_owned(int dirfd, const char *name, unsigned char type, void *arg)
{
    struct owner_dir *d = arg;
    struct stat st;
    d->seen++;
    if (type != DT_DIR && unlinkat(dirfd, name, 0) == 0)
        return 0;
    if (unlinkat(dirfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
        return 0;
    if (errno == ENOTDIR)
        return unlinkat(dirfd, name, 0); /* DT_UNKNOWN file systems */
    if (errno != ENOTEMPTY && errno != EEXIST)
        return -1;
    /* A directory with content: its owner may open, empty and move it whatever mode the script
     * gave it (000, 0500). One another uid owns stays, and the removal fails. */
    if (fchmodat(dirfd, name, 0700, 0) != 0 && errno != EPERM)
        return -1;
    if (d->depth + 1 >= OWNER_DEPTH)
        return move_up(d->w, dirfd, name);
    int fd = openat(dirfd, name, OPEN_DIR);
    if (fd < 0)
        return -1;
    int rc = -1;
    if (fstat(fd, &st) == 0 && st.st_dev == d->w->dev)
        rc = empty_owned(d->w, fd, d->depth + 1);
    else
        errno = EXDEV;
    close(fd);
    return rc == 0 ? unlinkat(dirfd, name, AT_REMOVEDIR) : -1;
}

/* Passes until one finds nothing: entries removed during a listing may hide others from it. */
static int empty_owned(struct owner_walk *w, int dirfd, int depth)
{
    for (long pass = 0; pass < MAX_PASSES; pass++) {
        struct owner_dir d = {w, depth, 0};
        if (fs_each_entry(dirfd, remove_owned, &d) != 0)
            return -1;
        if (d.seen == 0)
            return 0;
    }
    errno = ELOOP;
    return -1;
}

static int empty_tmp_as_owner(void *arg)
{
    const int *root_fd = arg;
    sigset_t alrm;
    struct stat st;
    sigemptyset(&alrm);
    sigaddset(&alrm, SIGALRM);
    if (signal(SIGALRM, SIG_DFL) == SIG_ERR || sigprocmask(SIG_UNBLOCK, &alrm, NULL) != 0)
        return -1;
    alarm(CLEAN_TIMEOUT_S);
    struct owner_walk w = {.top = openat(*root_fd, "tmp", OPEN_DIR)};
    if (w.top < 0 || fstat(w.top, &st) != 0)
        return -1;
    w.dev = st.st_dev;
    return empty_owned(&w, w.top, 0);
}

/* ---- as root, over root's own copy of the rootfs --------------------------------------------- */

struct root_dir {
    dev_t dev;
    int depth;
    long seen;
};

static int remove_root_dir(int dirfd, const char *name, const struct stat *st, dev_t dev,
                           int depth);

static int remove_root_entry(int dirfd, const char *name, unsigned char type, void *arg)
{
    struct root_dir *d = arg;
    struct stat st;
    (void)type;
    d->seen++;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode))
        return unlinkat(dirfd, name, 0);
    return remove_root_dir(dirfd, name, &st, d->dev, d->depth + 1);
}

/* Only a directory nobody but root could have written is entered; and it must still be the one
 * that was checked once it is open. */
static int remove_root_dir(int dirfd, const char *name, const struct stat *st, dev_t dev, int depth)
{
    struct stat fst;
    if (st->st_uid != 0 || (st->st_mode & 022) || st->st_dev != dev || depth > ROOT_DEPTH) {
        errno = EPERM;
        return -1;
    }
    int fd = openat(dirfd, name, OPEN_DIR);
    if (fd < 0)
        return -1;
    int rc = 0;
    if (fstat(fd, &fst) != 0 || fst.st_ino != st->st_ino || fst.st_dev != st->st_dev) {
        rc = -1;
        errno = ESTALE;
    }
    if (rc == 0 && depth == 0)
        rc = clean_tmp(fd);
    for (long pass = 0; rc == 0 && pass < MAX_PASSES; pass++) {
        struct root_dir d = {dev, depth, 0};
        if ((rc = fs_each_entry(fd, remove_root_entry, &d)) == 0 && d.seen == 0)
            break;
    }
    close(fd);
    return rc == 0 ? unlinkat(dirfd, name, AT_REMOVEDIR) : -1;
}

int clean_tmp(int root_fd)
{
    struct stat st;
    if (fstatat(root_fd, "tmp", &st, AT_SYMLINK_NOFOLLOW) != 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode))
        return unlinkat(root_fd, "tmp", 0);
    if (st.st_uid == 0)
        return remove_root_dir(root_fd, "tmp", &st, st.st_dev, 1);
    if (uid_run(st.st_uid, empty_tmp_as_owner, &root_fd) != 0)
        return -1;
    return unlinkat(root_fd, "tmp", AT_REMOVEDIR);
}

int clean_tree(int dirfd, const char *name)
{
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode))
        return unlinkat(dirfd, name, 0);
    return remove_root_dir(dirfd, name, &st, st.st_dev, 0);
}
