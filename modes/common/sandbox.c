#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../jail.h"
#include "seccomp.h"

#define HARNESS "/opt/pyexecd/harness.py"
#define PYTHON "/usr/bin/python3"
#define REPORT_FD 4 /* where the report pipe sits once the harness's fds are in place */
#define HIGH_FD 64  /* scratch numbers above every fd the daemon hands over */

struct report {
    int err;
    char step[60];
};

static int report_fd = -1; /* per sandbox process: -1 until the fds are in place */

int pipes_open(struct sandbox_pipes *p)
{
    int *all[] = {p->script, p->out, p->err, p->result, p->go, p->report};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        all[i][0] = all[i][1] = -1;
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        if (pipe2(all[i], O_CLOEXEC) != 0) {
            pipes_close_all(p);
            return -1;
        }
    }
    return 0;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

void pipes_close_all(struct sandbox_pipes *p)
{
    int *all[] = {p->script, p->out, p->err, p->result, p->go, p->report};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        close_fd(&all[i][0]);
        close_fd(&all[i][1]);
    }
}

void pipes_keep_parent_ends(struct sandbox_pipes *p, struct jail_sandbox *sb)
{
    close_fd(&p->script[0]);
    close_fd(&p->out[1]);
    close_fd(&p->err[1]);
    close_fd(&p->result[1]);
    close_fd(&p->go[0]);
    close_fd(&p->report[1]);
    sb->script_fd = p->script[1];
    sb->stdout_fd = p->out[0];
    sb->stderr_fd = p->err[0];
    sb->result_fd = p->result[0];
    p->script[1] = p->out[0] = p->err[0] = p->result[0] = -1;
}

void sandbox_close_fds(struct jail_sandbox *sb)
{
    close_fd(&sb->script_fd);
    close_fd(&sb->stdout_fd);
    close_fd(&sb->stderr_fd);
    close_fd(&sb->result_fd);
}

int sandbox_handover(struct sandbox_pipes *p, struct jail_sandbox *sb, char *err, size_t errlen)
{
    pipes_keep_parent_ends(p, sb);
    if (sandbox_await_exec(p, sb->pid, err, errlen) != 0) {
        sandbox_close_fds(sb);
        return -1;
    }
    pipes_close_all(p);
    return 0;
}

bool sandbox_running(pid_t pid)
{
    siginfo_t si;
    memset(&si, 0, sizeof(si));
    /* WNOWAIT: an ended child stays a zombie, for its owner to reap. */
    if (pid <= 0 || waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0)
        return false; /* reaped already */
    return si.si_pid == 0;
}

int sandbox_release(struct sandbox_pipes *p)
{
    char go = 'g';
    ssize_t n;
    do
        n = write(p->go[1], &go, 1);
    while (n < 0 && errno == EINTR);
    close_fd(&p->go[1]);
    return n == 1 ? 0 : -1;
}

int sandbox_await_exec(struct sandbox_pipes *p, pid_t pid, char *err, size_t errlen)
{
    struct report r;
    ssize_t n;
    do
        n = read(p->report[0], &r, sizeof(r));
    while (n < 0 && errno == EINTR);
    close_fd(&p->report[0]);
    if (n == 0)
        return 0; /* closed by execve: the harness is running */
    if (n == (ssize_t)sizeof(r)) {
        r.step[sizeof(r.step) - 1] = '\0';
        snprintf(err, errlen, "%s: %s", r.step, strerror(r.err));
    } else {
        snprintf(err, errlen, "reading the sandbox's start-up report: %s",
                 n < 0 ? strerror(errno) : "short read");
    }
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    return -1;
}

void sandbox_fail(const struct sandbox_pipes *p, const char *step)
{
    struct report r = {.err = errno};
    size_t i = 0;
    for (; step[i] != '\0' && i < sizeof(r.step) - 1; i++)
        r.step[i] = step[i];
    r.step[i] = '\0';
    int fd = report_fd >= 0 ? report_fd : p->report[1];
    if (write(fd, &r, sizeof(r)) != (ssize_t)sizeof(r))
        _exit(126);
    _exit(127);
}

int sandbox_wait_go(const struct sandbox_pipes *p)
{
    char c;
    ssize_t n;
    do
        n = read(p->go[0], &c, 1);
    while (n < 0 && errno == EINTR);
    if (n == 1)
        return 0;
    if (n == 0)
        errno = EPIPE; /* the supervisor gave up on us */
    return -1;
}

int sandbox_setup_fds(const struct sandbox_pipes *p)
{
    /* Move everything high first, so no dup2 below overwrites a source not yet placed. */
    const int src[] = {p->script[0], p->out[1], p->err[1], p->result[1], p->report[1]};
    int high[5];
    for (int i = 0; i < 5; i++) {
        high[i] = fcntl(src[i], F_DUPFD_CLOEXEC, HIGH_FD);
        if (high[i] < 0)
            return -1;
    }
    for (int i = 0; i < 4; i++)
        if (dup2(high[i], i) != i)
            return -1;
    if (dup2(high[4], REPORT_FD) != REPORT_FD || fcntl(REPORT_FD, F_SETFD, FD_CLOEXEC) != 0)
        return -1;
    report_fd = REPORT_FD;
    /* Everything else the daemon had open (listening and client sockets, other sandboxes'
     * pipes) goes. INT_MAX, not ~0U: gVisor rejects the latter. */
    return close_range(REPORT_FD + 1, INT_MAX, 0);
}

int sandbox_reset_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP)
            continue;
        if (sigaction(sig, &sa, NULL) != 0 && errno != EINVAL)
            return -1;
    }
    sigset_t none;
    sigemptyset(&none);
    return sigprocmask(SIG_SETMASK, &none, NULL);
}

int sandbox_drop_bounding_caps(void)
{
    /* Only what is still in the set: dropping needs CAP_SETPCAP, which a jail that leaves real
     * root by setuid no longer has once it has dropped everything here. */
    for (int cap = 0; cap <= CAP_LAST_CAP; cap++)
        if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1 && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0)
            return -1;
    return 0;
}

int sandbox_drop_caps(void)
{
    if (sandbox_drop_bounding_caps() != 0)
        return -1;
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
        return -1;
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
    memset(data, 0, sizeof(data));
    return (int)syscall(SYS_capset, &hdr, data);
}

/* Raw system calls, not glibc's wrappers: those broadcast the change to every thread glibc
 * knows of, and after a raw clone from the threaded daemon its list is a stale copy (in a new
 * pid namespace one of those ids can be the sandbox itself, and the wrapper waits forever). */
int sandbox_become(uid_t uid, gid_t gid)
{
    if (syscall(SYS_setgroups, 0, NULL) != 0)
        return -1;
    if (syscall(SYS_setresgid, gid, gid, gid) != 0)
        return -1;
    return (int)syscall(SYS_setresuid, uid, uid, uid);
}

void sandbox_enter(const struct sandbox_pipes *p, const struct seccomp_prog *prog)
{
    if (sandbox_drop_caps() != 0)
        sandbox_fail(p, "drop capabilities");
    if (sandbox_setup_fds(p) != 0)
        sandbox_fail(p, "set up fds");
    if (sandbox_reset_signals() != 0)
        sandbox_fail(p, "reset signals");
    /* Last: the filter is then in force for everything the harness does. */
    if (seccomp_prog_load(prog) != 0)
        sandbox_fail(p, "load seccomp");
    sandbox_exec_harness(p);
}

void sandbox_exec_harness(const struct sandbox_pipes *p)
{
    sandbox_exec_python(HARNESS, NULL);
    sandbox_fail(p, "execve " PYTHON);
}

void sandbox_exec_python(const char *script, const char *arg)
{
    /* A fixed environment: nothing of the daemon's leaks in. One BLAS thread: the pids
     * limit and the CPU share are per sandbox. Two malloc arenas: each further thread's arena
     * reserves 64 MiB of address space, which RLIMIT_AS counts (256 MiB allowed 5 threads). */
    char *const envp[] = {
        "PATH=/usr/local/bin:/usr/bin:/bin",
        "HOME=/tmp",
        "TMPDIR=/tmp",
        "LANG=C.UTF-8",
        "OPENBLAS_NUM_THREADS=1",
        "OMP_NUM_THREADS=1",
        "MALLOC_ARENA_MAX=2",
        NULL,
    };
    /* -I: ignore PYTHON* variables and the user site; -B: the tree is read-only; -u: what the
     * script printed reaches the pipe even if it ends with os._exit. */
    char *const argv[] = {"python3", "-I", "-B", "-u", (char *)script, (char *)arg, NULL};
    execve(PYTHON, argv, envp);
}
