#include "uid.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SWEEP_TRIES 8

struct limit {
    const pid_t *pids;
    int n, resource;
    unsigned long long value;
};

int uid_run(uid_t uid, int (*fn)(void *arg), void *arg)
{
    int status;
    pid_t pid = fork();
    if (pid == 0) {
        /* Raw system calls (forked from a threaded daemon). No supplementary groups, and all
         * three uids: leaving uid 0 drops every capability, so the helper can do only what the
         * uid itself could. */
        if (syscall(SYS_setgroups, 0, NULL) != 0 || syscall(SYS_setresgid, uid, uid, uid) != 0 ||
            syscall(SYS_setresuid, uid, uid, uid) != 0)
            _exit(125);
        _exit(fn(arg) == 0 ? 0 : 1);
    }
    if (pid < 0)
        return -1;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    /* A helper the uid's own processes killed did not finish: never taken for success. */
    errno = WIFEXITED(status) && WEXITSTATUS(status) == 125 ? EPERM : ECANCELED;
    return -1;
}

static int kill_all(void *arg)
{
    (void)arg;
    /* kill(-1) skips the caller. Twice: a process forking during the first call is caught by the
     * second; the caller checks what is left anyway. */
    kill(-1, SIGKILL);
    kill(-1, SIGKILL);
    return 0;
}

static int set_limit(void *arg)
{
    const struct limit *lim = arg;
    const struct rlimit rl = {(rlim_t)lim->value, (rlim_t)lim->value};
    for (int i = 0; i < lim->n; i++)
        prlimit(lim->pids[i], (enum __rlimit_resource)lim->resource, &rl, NULL); /* ESRCH: gone */
    return 0;
}

int uid_kill_all(uid_t uid)
{
    /* The helper may be killed by a concurrent sweep of the same uid: that is what it was for. */
    return uid_run(uid, kill_all, NULL) != 0 && errno == EPERM ? -1 : 0;
}

int uid_sweep(uid_t uid)
{
    const struct timespec pause = {0, 2000000};
    for (int i = 0; i < SWEEP_TRIES; i++) {
        if (uid_kill_all(uid) != 0)
            return -1;
        /* Success is what /proc shows afterwards, not what the helper said. */
        int live = uid_live(uid);
        if (live <= 0)
            return live;
        nanosleep(&pause, NULL);
    }
    errno = EBUSY;
    return -1;
}

int uid_prlimit(uid_t uid, const pid_t *pids, int n, int resource, unsigned long long value)
{
    struct limit lim = {pids, n, resource, value};
    return uid_run(uid, set_limit, &lim);
}

/* 1 if /proc/<pid>/status names uid, 0 if not (or it is gone); zombies count only if asked. */
static int status_has_uid(const char *pid, uid_t uid, bool zombies)
{
    char path[64], line[256];
    unsigned long u[4];
    int found = 0;
    snprintf(path, sizeof(path), "/proc/%s/status", pid);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return 0; /* gone meanwhile */
    while (fgets(line, sizeof(line), f) != NULL) {
        if (!zombies && strncmp(line, "State:", 6) == 0 && strchr(line, 'Z') != NULL)
            break; /* a zombie holds nothing and can do nothing */
        if (strncmp(line, "Uid:", 4) != 0)
            continue;
        if (sscanf(line + 4, "%lu %lu %lu %lu", &u[0], &u[1], &u[2], &u[3]) == 4)
            found = u[0] == uid || u[1] == uid || u[2] == uid || u[3] == uid;
        break;
    }
    fclose(f);
    return found;
}

static int scan(uid_t uid, bool zombies)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    int found = 0;
    if (d == NULL)
        return -1;
    while (!found && (e = readdir(d)) != NULL)
        if (e->d_name[0] >= '1' && e->d_name[0] <= '9')
            found = status_has_uid(e->d_name, uid, zombies);
    closedir(d);
    return found;
}

int uid_in_use(uid_t uid)
{
    return scan(uid, true);
}

int uid_live(uid_t uid)
{
    return scan(uid, false);
}
