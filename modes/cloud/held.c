#include "held.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"

#define MAX_FILES 1024 /* distinct files remembered per count; past it each counts again */
#define DIRBUF 2048

struct seen {
    ino_t ino[MAX_FILES];
    int n;
};

/* True the first time an inode is met (or when the list is full: over-counting is safe). */
static bool first_time(struct seen *s, ino_t ino)
{
    for (int i = 0; i < s->n; i++)
        if (s->ino[i] == ino)
            return false;
    if (s->n < MAX_FILES)
        s->ino[s->n++] = ino;
    return true;
}

/* Threads share their process's files and maps: only a process's leader is read. */
static bool is_leader(pid_t tid)
{
    char path[40], buf[512];
    fs_proc_path(path, tid, "status");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t len = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (len <= 0)
        return false;
    buf[len] = '\0';
    const char *t = strstr(buf, "\nTgid:");
    long tgid = 0;
    for (t = t ? t + 6 : ""; *t == '\t' || *t == ' '; t++)
        ;
    for (; *t >= '0' && *t <= '9'; t++)
        tgid = tgid * 10 + (*t - '0');
    return tgid == tid;
}

static uint64_t open_files(pid_t pid, struct seen *s)
{
    char path[40], buf[DIRBUF] __attribute__((aligned(8)));
    uint64_t bytes = 0;
    struct stat st;
    fs_proc_path(path, pid, "fd");
    int dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0)
        return 0; /* gone */
    ssize_t n;
    while ((n = getdents64(dir, buf, sizeof(buf))) > 0) {
        for (ssize_t off = 0; off < n;) {
            struct dirent64 *d = (struct dirent64 *)(void *)(buf + off);
            off += d->d_reclen;
            /* Following the link reaches the file itself, named or not. */
            if (d->d_name[0] != '.' && fstatat(dir, d->d_name, &st, 0) == 0 &&
                S_ISREG(st.st_mode) && st.st_nlink == 0 && first_time(s, st.st_ino))
                bytes += (uint64_t)st.st_blocks * 512;
        }
    }
    close(dir);
    return bytes;
}

/* One line of /proc/<pid>/maps: "start-end perms offset dev inode path". */
static uint64_t mapped_line(char *line, struct seen *s)
{
    static const char deleted[] = " (deleted)";
    size_t len = strlen(line), dl = sizeof(deleted) - 1;
    if (len < dl || strcmp(line + len - dl, deleted) != 0)
        return 0;
    unsigned long long start = 0, end = 0, ino = 0;
    char *p = line;
    for (; (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'); p++)
        start = start * 16 + (unsigned)(*p <= '9' ? *p - '0' : *p - 'a' + 10);
    for (p += *p == '-'; (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'); p++)
        end = end * 16 + (unsigned)(*p <= '9' ? *p - '0' : *p - 'a' + 10);
    for (int field = 0; field < 4 && *p != '\0'; field++) { /* to the inode */
        while (*p == ' ')
            p++;
        while (*p != ' ' && *p != '\0')
            p++;
    }
    while (*p == ' ')
        p++;
    for (; *p >= '0' && *p <= '9'; p++)
        ino = ino * 10 + (unsigned)(*p - '0');
    while (*p == ' ')
        p++;
    /* Only files: not anonymous shared memory, SysV segments or devices. */
    if (ino == 0 || *p != '/' || strncmp(p, "/memfd:", 7) == 0 || strncmp(p, "/SYSV", 5) == 0 ||
        strncmp(p, "/dev/", 5) == 0 || end <= start)
        return 0;
    return first_time(s, (ino_t)ino) ? end - start : 0;
}

static uint64_t mapped_files(pid_t pid, struct seen *s)
{
    char path[40], buf[4096 + 1], line[512];
    uint64_t bytes = 0;
    size_t used = 0;
    bool overlong = false;
    fs_proc_path(path, pid, "maps");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf) - 1)) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] != '\n') {
                if (used < sizeof(line) - 1)
                    line[used++] = buf[i];
                else
                    overlong = true; /* a path too long to read: its tail is lost */
                continue;
            }
            line[used] = '\0';
            if (!overlong)
                bytes += mapped_line(line, s);
            used = 0;
            overlong = false;
        }
    }
    close(fd);
    return bytes;
}

/* /proc/<pid>/fd and maps of another uid's process need CAP_SYS_PTRACE, which Docker's default
 * set lacks; read as the owner (the fs ids only), they need the process to be dumpable, which
 * the jail keeps its sandboxes. True when the fs ids are now (uid, uid). */
static bool read_as(uid_t uid)
{
    (void)setfsgid(uid);
    (void)setfsuid(uid);
    return (uid_t)setfsuid(uid) == uid && (gid_t)setfsgid(uid) == uid;
}

uint64_t held_bytes(const pid_t *tasks, int n, uid_t uid)
{
    static struct seen s; /* large for the guardian's stack */
    uint64_t bytes = 0;
    s.n = 0;
    bool as_owner = read_as(uid);
    for (int i = 0; i < n; i++)
        if (is_leader(tasks[i]))
            bytes += open_files(tasks[i], &s) + mapped_files(tasks[i], &s);
    if (as_owner && !read_as(0))
        _exit(127); /* a guardian that cannot take its fs ids back must not go on */
    return bytes;
}
