#include "tree.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "clean.h"
#include "fs.h"

#define OPEN_DIR (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

struct copy {
    int dst;             /* the directory being filled */
    char path[PATH_MAX]; /* of the source directory, relative to the rootfs, for messages */
    struct tree_stats *st;
    char *err;
    size_t errlen;
};

static int fail(struct copy *c, const char *name, const char *what)
{
    snprintf(c->err, c->errlen, "rootfs /%s%s%s: %s%s%s", c->path, c->path[0] ? "/" : "", name,
             what, errno ? ": " : "", errno ? strerror(errno) : "");
    return -1;
}

/* The sandbox is kept out of the rootfs by ownership and modes alone (no read-only mount). */
static int check_mode(struct copy *c, const char *name, const struct stat *s)
{
    errno = 0;
    if (S_ISLNK(s->st_mode))
        return 0;
    if (s->st_uid != 0)
        return fail(c, name, "not owned by root");
    if (s->st_mode & 022)
        return fail(c, name, "writable by group or others");
    if (s->st_mode & 06000)
        return fail(c, name, "setuid or setgid");
    return 0;
}

static int copy_dir(int src, struct copy *c);

static int copy_subdir(struct copy *c, int src, const char *name, const struct stat *s)
{
    struct copy sub = *c;
    int n = snprintf(sub.path, sizeof(sub.path), "%s%s%s", c->path, c->path[0] ? "/" : "", name);
    if (n < 0 || n >= (int)sizeof(sub.path))
        return errno = ENAMETOOLONG, fail(c, name, "path");
    if (mkdirat(c->dst, name, 0700) != 0)
        return fail(c, name, "mkdir in the slot's root");
    int from = openat(src, name, OPEN_DIR);
    sub.dst = openat(c->dst, name, OPEN_DIR);
    int rc = from >= 0 && sub.dst >= 0 ? copy_dir(from, &sub) : fail(c, name, "open");
    /* Modes last, so a read-only directory could still be filled. */
    if (rc == 0 &&
        (fchown(sub.dst, s->st_uid, s->st_gid) != 0 || fchmod(sub.dst, s->st_mode & 07777) != 0))
        rc = fail(c, name, "chown/chmod in the slot's root");
    if (from >= 0)
        close(from);
    if (sub.dst >= 0)
        close(sub.dst);
    c->st->dirs++;
    return rc;
}

static int copy_link(struct copy *c, int src, const char *name, const struct stat *s)
{
    char target[PATH_MAX];
    ssize_t n = readlinkat(src, name, target, sizeof(target) - 1);
    if (n < 0)
        return fail(c, name, "readlink");
    target[n] = '\0';
    if (symlinkat(target, c->dst, name) != 0 ||
        fchownat(c->dst, name, s->st_uid, s->st_gid, AT_SYMLINK_NOFOLLOW) != 0)
        return fail(c, name, "symlink in the slot's root");
    c->st->links++;
    return 0;
}

static int copy_one(struct copy *c, int src, const char *name)
{
    struct stat s;
    if (fstatat(src, name, &s, AT_SYMLINK_NOFOLLOW) != 0)
        return fail(c, name, "stat");
    if (c->path[0] == '\0' && strcmp(name, "tmp") == 0)
        return 0; /* made fresh for every request */
    if (check_mode(c, name, &s) != 0)
        return -1;
    if (S_ISDIR(s.st_mode))
        return copy_subdir(c, src, name, &s);
    if (S_ISLNK(s.st_mode))
        return copy_link(c, src, name, &s);
    if (!S_ISREG(s.st_mode))
        return errno = 0, fail(c, name, "neither a file, a directory nor a symlink");
    /* A hard link: the data is shared with the rootfs, and as read-only as it is there. */
    if (linkat(src, name, c->dst, name, 0) != 0)
        return fail(c, name, "hard link into the slot's root");
    c->st->files++;
    return 0;
}

/* 1 stops the listing: the error is already described. */
static int copy_entry(int src, const char *name, unsigned char type, void *arg)
{
    (void)type;
    return copy_one(arg, src, name) == 0 ? 0 : 1;
}

static int copy_dir(int src, struct copy *c)
{
    int rc = fs_each_entry(src, copy_entry, c);
    if (rc > 0)
        return -1; /* copy_entry's error, already described */
    return rc == 0 ? 0 : fail(c, "", "read the directory");
}

/* The rootfs carries empty files for /dev/null, zero and urandom (the local jail bind-mounts the
 * host's devices onto them); a slot's root gets real ones when this host lets root mknod and open
 * them (Docker grants CAP_MKNOD by default; a nodev scratch file system refuses to open them). */
static const char *make_devices(int root)
{
    static const struct {
        const char *name;
        unsigned minor;
    } devs[] = {{"null", 3}, {"zero", 5}, {"urandom", 9}};
    static char why[64];
    int dev = openat(root, "dev", OPEN_DIR);
    if (dev < 0)
        return "plain files (no /dev)";
    for (size_t i = 0; i < sizeof(devs) / sizeof(devs[0]); i++) {
        const char *n = devs[i].name;
        int fd = -1;
        if (unlinkat(dev, n, 0) != 0 && errno != ENOENT)
            break;
        if (mknodat(dev, n, S_IFCHR | 0666, makedev(1, devs[i].minor)) != 0 ||
            fchmodat(dev, n, 0666, 0) != 0 || (fd = openat(dev, n, O_RDWR | O_CLOEXEC)) < 0 ||
            write(fd, "", 1) != 1) {
            snprintf(why, sizeof(why), "plain files (/dev/%s: %s)", n, strerror(errno));
            if (fd >= 0)
                close(fd);
            close(dev);
            return why;
        }
        close(fd);
    }
    close(dev);
    return "character devices";
}

/* Where mknod failed, the placeholders come back as they are in the rootfs. */
static int restore_placeholders(int rootfs, int root)
{
    static const char *const names[] = {"null", "zero", "urandom"};
    int src = openat(rootfs, "dev", OPEN_DIR), dst = openat(root, "dev", OPEN_DIR), rc = 0;
    for (size_t i = 0; rc == 0 && i < 3; i++) {
        if (unlinkat(dst, names[i], 0) != 0 && errno != ENOENT)
            rc = -1;
        else if (linkat(src, names[i], dst, names[i], 0) != 0)
            rc = -1;
    }
    if (src >= 0)
        close(src);
    if (dst >= 0)
        close(dst);
    return src >= 0 && dst >= 0 ? rc : -1;
}

int tree_build(int rootfs_fd, int scratch_fd, const char *name, struct tree_stats *st, char *err,
               size_t errlen)
{
    struct stat s;
    struct copy c = {.st = st, .err = err, .errlen = errlen};
    memset(st, 0, sizeof(*st));
    if (fstat(rootfs_fd, &s) != 0)
        return fail(&c, "", "stat");
    if (check_mode(&c, "", &s) != 0)
        return -1;
    if (mkdirat(scratch_fd, name, 0700) != 0 || (c.dst = openat(scratch_fd, name, OPEN_DIR)) < 0) {
        snprintf(err, errlen, "scratch: mkdir %s: %s", name, strerror(errno));
        return -1;
    }
    int rc = copy_dir(rootfs_fd, &c);
    if (rc == 0) {
        st->devices = make_devices(c.dst);
        if (strcmp(st->devices, "character devices") != 0 &&
            restore_placeholders(rootfs_fd, c.dst) != 0)
            rc = fail(&c, "dev", "restore the placeholder files");
    }
    if (rc == 0 && (fchown(c.dst, s.st_uid, s.st_gid) != 0 || fchmod(c.dst, s.st_mode & 07777)))
        rc = fail(&c, "", "chown/chmod the slot's root");
    close(c.dst);
    return rc;
}

int tree_remove(int scratch_fd, const char *name)
{
    return clean_tree(scratch_fd, name);
}

/* What a damaged root would miss first: the top directories and the harness. */
static const char *const marked[TREE_MARKS] = {
    ".", "usr", "usr/bin", "usr/lib", "etc", "dev", "opt/pyexecd", "opt/pyexecd/harness.py",
};

/* Adds one top-level entry to an order-free digest (FNV-1a of type and name, summed). */
static int digest_entry(int dirfd, const char *name, unsigned char type, void *arg)
{
    (void)dirfd;
    if (strcmp(name, "tmp") == 0)
        return 0; /* made for each request, removed after it */
    unsigned long long h = 14695981039346656037ULL ^ type;
    for (const char *c = name; *c != '\0'; c++)
        h = (h ^ (unsigned char)*c) * 1099511628211ULL;
    *(unsigned long long *)arg += h;
    return 0;
}

/* The top directory's entries, not its link count: gVisor keeps a directory's st_nlink at 2. */
static int digest_top(int root_fd, unsigned long long *out)
{
    *out = 0;
    return fs_each_entry(root_fd, digest_entry, out);
}

int tree_mark(int root_fd, struct tree_marks *m)
{
    struct stat st;
    for (int i = 0; i < TREE_MARKS; i++) {
        if (fstatat(root_fd, marked[i], &st, AT_SYMLINK_NOFOLLOW) != 0)
            return -1;
        m->ino[i] = st.st_ino;
    }
    return digest_top(root_fd, &m->top);
}

bool tree_intact(int root_fd, const struct tree_marks *m)
{
    struct stat st;
    unsigned long long top;
    for (int i = 0; i < TREE_MARKS; i++)
        if (fstatat(root_fd, marked[i], &st, AT_SYMLINK_NOFOLLOW) != 0 || st.st_ino != m->ino[i])
            return false;
    return digest_top(root_fd, &top) == 0 && top == m->top;
}
