/* The only interface between src/ and a jail. Exactly one implementation is linked in
 * (modes/local or modes/cloud), chosen by `make MODE=...`.
 *
 * The split: jail_start() obtains an isolated Python (the harness, waiting for a script on fd 0);
 * the supervisor in src/ feeds it the script and collects stdout, stderr and the result. */
#ifndef PYEXECD_JAIL_H
#define PYEXECD_JAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct config;
struct jail_slot;

/* What the start-up probe found, for the log and GET /health. */
struct jail_probe_item {
    const char *name;
    bool ok;
    char detail[96];
};
#define JAIL_PROBE_MAX 16
struct jail_probe {
    const char *mode;
    const char *hint; /* what to do when this jail cannot be built here */
    int n;
    struct jail_probe_item items[JAIL_PROBE_MAX];
};

/* A running sandbox as the supervisor sees it. */
struct jail_sandbox {
    pid_t pid;     /* the process the supervisor waits for */
    int script_fd; /* write end: the harness reads the script from its fd 0 */
    int stdout_fd; /* read ends of the harness's fds 1, 2 and 3 */
    int stderr_fd;
    int result_fd;
    struct jail_slot *slot;
};

/* How the sandbox ended, beyond its wait status. */
struct jail_outcome {
    bool oom;            /* the kernel's memory limit killed something */
    bool pids_exhausted; /* process creation hit the pids limit */
    long long cpu_ms;    /* the sandbox's CPU time as the jail measured it, 0 if it did not (where
                            the sandbox is not a child of sb->pid, its rusage lacks it) */
    char forbidden_call[32]; /* the system call that ended it, "" if none or not known */
};

/* At start-up, once: probe the host, build what every sandbox shares (seccomp program, cgroup
 * parent). Returns -1 with a message when a guarantee this jail gives cannot be met. */
int jail_init(const struct config *cfg, struct jail_probe *probe, char *err, size_t errlen);

/* At exit: removes what jail_init made (cgroup parents, the seccomp program). */
void jail_shutdown(void);

/* Slot n (0 <= n < max_sandboxes) is used by one sandbox at a time. */
struct jail_slot *jail_slot_get(int n);

/* Starts a fresh sandbox in the slot. On failure returns -1 and names the failed step in err;
 * nothing is left running. JAIL_UNAVAILABLE: the slot could not be proven clean and is being
 * rebuilt (err says why); the request may be retried. */
#define JAIL_UNAVAILABLE (-2)
int jail_start(struct jail_slot *slot, struct jail_sandbox *sb, char *err, size_t errlen);

/* On the slot's worker, between requests (after the reply went out): gets the slot's next
 * sandbox ready ahead of time, so a request need not wait for it (warm start). Jails that start
 * sandboxes on demand do nothing here. */
void jail_slot_prepare(struct jail_slot *slot);

/* Kills every process of the sandbox (it may be called more than once). */
void jail_kill(struct jail_sandbox *sb);

/* After the supervisor has reaped sb->pid: kill stragglers, remove the sandbox's cgroups, mounts
 * and files, and report what the kernel saw (out may be NULL). The supervisor closes the fds. */
void jail_cleanup(struct jail_sandbox *sb, struct jail_outcome *out);

#endif
