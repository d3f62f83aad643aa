#include "guardian.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../src/config.h"
#include "../common/rlimits.h"
#include "../common/sandbox.h"
#include "fs.h"
#include "guard.h"

#define MIB (1024ULL * 1024ULL)

/* Moves fd to 3 and closes every other descriptor above 2: the guardian never execs, so whatever
 * it inherited (the daemon's sockets, other sandboxes' pipes) would otherwise stay open in it. */
static int keep_only(int fd)
{
    if (fd != 3 && dup2(fd, 3) != 3)
        return -1;
    return close_range(4, INT_MAX, 0);
}

/* The parent pid of pid, from /proc (async-signal-safe); -1 if unreadable. */
static pid_t parent_of(pid_t pid)
{
    char path[40], buf[512];
    fs_proc_path(path, pid, "stat");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t len = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (len <= 0)
        return -1;
    buf[len] = '\0';
    /* "pid (comm) S ppid ...": comm may hold anything, so from its last ')'. */
    char *s = strrchr(buf, ')');
    if (s == NULL || s[1] != ' ' || s[2] == '\0' || s[3] != ' ')
        return -1;
    pid_t ppid = 0;
    for (s += 4; *s >= '0' && *s <= '9'; s++)
        ppid = ppid * 10 + (*s - '0');
    return *s == ' ' ? ppid : -1;
}

/* An attached pid is the zygote's sandbox only while the zygote is its parent. Checked once it is
 * stopped and traced: it can then no longer exit and have its pid reused unseen. */
static int check_parent(pid_t pid, pid_t parent)
{
    if (parent <= 0 || parent_of(pid) == parent)
        return 0;
    errno = ESRCH;
    return -1;
}

void guardian_run(struct guard *g, pid_t pid, pid_t parent, const struct config *cfg,
                  struct sandbox_pipes *p)
{
    const char *step = "trace the sandbox";
    g->tmp_bytes = (uint64_t)cfg->tmp_mb * MIB;
    g->tmp_entries = GUARD_TMP_ENTRIES;
    if (guard_attach(pid, parent > 0) != 0 ||
        (step = "check the attached sandbox", check_parent(pid, parent)) != 0 ||
        rlimits_apply_to(pid, cfg, (struct rlimit_plan){.nproc = true, .stack = true}, &step) !=
            0 ||
        (step = "release the sandbox", sandbox_release(p)) != 0) {
        int saved = errno;
        kill(pid, SIGKILL);
        waitpid(pid, NULL, __WALL);
        errno = saved;
        sandbox_fail(p, step);
    }
    pipes_close_all(p);
    if (keep_only(g->tmp_fd) != 0) {
        kill(pid, SIGKILL);
        _exit(126);
    }
    g->tmp_fd = 3;
    guard_watch(g, pid);
}
