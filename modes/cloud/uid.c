#include "uid.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* In the helper: raw system calls only (it is forked from a threaded daemon). */
__attribute__((noreturn)) static void helper(uid_t uid)
{
    /* All three uids: kill(-1) then reaches only processes of this uid, and leaving uid 0 drops
     * every capability (CAP_KILL among them). */
    if (syscall(SYS_setresgid, uid, uid, uid) != 0 || syscall(SYS_setresuid, uid, uid, uid) != 0)
        _exit(1);
    /* Twice: a process that was forking during the first call is caught by the second. */
    kill(-1, SIGKILL);
    kill(-1, SIGKILL);
    _exit(0);
}

int uid_sweep(uid_t uid)
{
    int status;
    pid_t pid = fork();
    if (pid == 0)
        helper(uid);
    if (pid < 0)
        return -1;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
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
