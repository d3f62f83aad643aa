#include "fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DIRBUF 2048 /* per directory level: the usage walk recurses */
#define OPEN_DIR (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

static bool is_dot(const char *name)
{
    return name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

int fs_each_entry(int dirfd, int (*fn)(int dirfd, const char *name, unsigned char type, void *arg),
                  void *arg)
{
    char buf[DIRBUF] __attribute__((aligned(8)));
    if (lseek(dirfd, 0, SEEK_SET) < 0)
        return -1;
    for (;;) {
        ssize_t n = getdents64(dirfd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n == 0 ? 0 : -1;
        for (ssize_t off = 0; off < n;) {
            struct dirent64 *d = (struct dirent64 *)(void *)(buf + off);
            off += d->d_reclen;
            if (is_dot(d->d_name))
                continue;
            int rc = fn(dirfd, d->d_name, d->d_type, arg);
            if (rc != 0)
                return rc;
        }
    }
}

static void walk(int dirfd, struct fs_usage *u, int depth);

struct walk_arg {
    struct fs_usage *u;
    int depth;
};

static int count_entry(int dirfd, const char *name, unsigned char type, void *arg)
{
    struct walk_arg *w = arg;
    struct stat st;
    (void)type;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return 0; /* removed meanwhile */
    w->u->entries++;
    w->u->bytes += (uint64_t)st.st_blocks * 512;
    if (w->u->entries > w->u->max_entries || w->u->bytes > w->u->max_bytes)
        w->u->over = true;
    else if (S_ISDIR(st.st_mode) && w->depth >= w->u->max_depth)
        w->u->over = true; /* what is below would go uncounted */
    else if (S_ISDIR(st.st_mode)) {
        int fd = openat(dirfd, name, OPEN_DIR);
        if (fd >= 0) {
            walk(fd, w->u, w->depth + 1);
            close(fd);
        }
    }
    return w->u->over ? 1 : 0;
}

static void walk(int dirfd, struct fs_usage *u, int depth)
{
    struct walk_arg w = {u, depth};
    /* A directory that cannot be read adds nothing: the guardian is root, so only a directory
     * removed meanwhile gets here. */
    (void)fs_each_entry(dirfd, count_entry, &w);
}

void fs_usage_walk(int dirfd, struct fs_usage *u)
{
    u->bytes = u->entries = 0;
    u->over = false;
    walk(dirfd, u, 0);
}

struct empty_arg {
    int child; /* a non-empty subdirectory to descend into, or -1 */
    int removed;
};

/* Removes one entry; a subdirectory that is not empty is opened for the caller to descend. */
static int remove_entry(int dirfd, const char *name, unsigned char type, void *arg)
{
    struct empty_arg *a = arg;
    if (type != DT_DIR && unlinkat(dirfd, name, 0) == 0) {
        a->removed++;
        return 0;
    }
    if (unlinkat(dirfd, name, AT_REMOVEDIR) == 0) {
        a->removed++;
        return 0;
    }
    if (errno == ENOENT)
        return 0;
    if (errno == ENOTDIR)
        return unlinkat(dirfd, name, 0) == 0 ? 0 : -1; /* DT_UNKNOWN file systems */
    if (errno != ENOTEMPTY && errno != EEXIST)
        return -1;
    a->child = openat(dirfd, name, OPEN_DIR);
    return a->child >= 0 ? 1 : -1;
}

/* Empties dirfd, or returns 1 with a subdirectory to empty first in *child. */
static int empty_dir(int dirfd, int *child)
{
    for (;;) {
        struct empty_arg a = {-1, 0};
        int rc = fs_each_entry(dirfd, remove_entry, &a);
        if (rc == 1) {
            *child = a.child;
            return 1;
        }
        if (rc != 0)
            return -1;
        if (a.removed == 0)
            return 0; /* a pass found nothing left */
    }
}

int fs_remove(int dirfd, const char *name)
{
    if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
        return 0;
    if (unlinkat(dirfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
        return 0;
    int cur = openat(dirfd, name, OPEN_DIR);
    int depth = 0, rc, saved;
    /* Depth-first with one open directory at a time, so no depth is too deep. */
    while (cur >= 0) {
        int child = -1;
        rc = empty_dir(cur, &child);
        if (rc < 0)
            break;
        if (rc == 1) {
            close(cur);
            cur = child;
            depth++;
            continue;
        }
        if (depth == 0) {
            close(cur);
            return unlinkat(dirfd, name, AT_REMOVEDIR);
        }
        int up = openat(cur, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        close(cur);
        cur = up;
        depth--;
    }
    saved = errno;
    if (cur >= 0)
        close(cur);
    errno = saved;
    return -1;
}
