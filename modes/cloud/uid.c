#include "uid.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

struct limit {
    const pid_t *pids;
    int n, resource;
    unsigned long long value;
};

/* In the helper: raw system calls only (it is forked from a threaded daemon). NULL: kill. */
__attribute__((noreturn)) static void helper(uid_t uid, const struct limit *lim)
{
    /* All three uids: kill(-1) then reaches only processes of this uid, and leaving uid 0 drops
     * every capability (CAP_KILL among them). */
    if (syscall(SYS_setresgid, uid, uid, uid) != 0 || syscall(SYS_setresuid, uid, uid, uid) != 0)
        _exit(1);
    if (lim != NULL) {
        const struct rlimit rl = {(rlim_t)lim->value, (rlim_t)lim->value};
        for (int i = 0; i < lim->n; i++)
            prlimit(lim->pids[i], (enum __rlimit_resource)lim->resource, &rl, NULL);
        _exit(0); /* ESRCH: gone meanwhile */
    }
    /* Twice: a process that was forking during the first call is caught by the second. */
    kill(-1, SIGKILL);
    kill(-1, SIGKILL);
    _exit(0);
}

static int run_helper(uid_t uid, const struct limit *lim)
{
    int status;
    pid_t pid = fork();
    if (pid == 0)
        helper(uid, lim);
    if (pid < 0)
        return -1;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    /* SIGKILL: a sweep of the same uid (the guardian's and the daemon's may overlap) took the
     * helper with everything else, which is what this one was for. */
    if ((WIFEXITED(status) && WEXITSTATUS(status) == 0) ||
        (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
        return 0;
    errno = EPERM; /* the helper could not take the uid */
    return -1;
}

int uid_sweep(uid_t uid)
{
    return run_helper(uid, NULL);
}

int uid_prlimit(uid_t uid, const pid_t *pids, int n, int resource, unsigned long long value)
{
    const struct limit lim = {pids, n, resource, value};
    return run_helper(uid, &lim);
}

static int status_has_uid(const char *pid, uid_t uid)
{
    char path[64], line[256];
    unsigned long u[4];
    int found = 0;
    snprintf(path, sizeof(path), "/proc/%s/status", pid);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return 0; /* gone meanwhile */
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "Uid:", 4) != 0)
            continue;
        if (sscanf(line + 4, "%lu %lu %lu %lu", &u[0], &u[1], &u[2], &u[3]) == 4)
            found = u[0] == uid || u[1] == uid || u[2] == uid || u[3] == uid;
        break;
    }
    fclose(f);
    return found;
}

int uid_in_use(uid_t uid)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    int found = 0;
    if (d == NULL)
        return -1;
    while (!found && (e = readdir(d)) != NULL)
        if (e->d_name[0] >= '1' && e->d_name[0] <= '9')
            found = status_has_uid(e->d_name, uid);
    closedir(d);
    return found;
}
