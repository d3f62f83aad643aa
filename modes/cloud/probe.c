#include "probe.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/sandbox.h"
#include "../common/seccomp.h"
#include "guard.h"

/* Exit codes of the probe: what failed. */
enum {
    P_OK,
    P_TRACEME = 10,
    P_CHROOT,
    P_RLIMIT,
    P_SETUID,
    P_SETUID_UNDONE,
    P_NPROC,
    P_SECCOMP,
    P_NOT_STOPPED,
    P_ATTACH,
    P_FORK,
    P_WRONG_EVENT,
};

static const struct {
    int code;
    const char *why;
} reasons[] = {
    {P_TRACEME, "ptrace(PTRACE_TRACEME) is refused (is pyexecd itself traced, by strace or a "
                "debugger? Yama ptrace_scope 3? a seccomp profile without ptrace?): the guardian "
                "cannot trace a sandbox"},
    {P_CHROOT, "chroot is refused (is CAP_SYS_CHROOT missing?)"},
    {P_RLIMIT, "setrlimit(RLIMIT_NPROC) is refused"},
    {P_SETUID, "setresuid to the slot uid is refused (is CAP_SETUID missing?)"},
    {P_SETUID_UNDONE, "a process could become root again after setresuid to the slot uid"},
    {P_NPROC, "RLIMIT_NPROC is not enforced: a fork bomb could not be bounded"},
    {P_SECCOMP, "the seccomp program does not load"},
    {P_NOT_STOPPED, "a forbidden call returned instead of stopping for the guardian "
                    "(SECCOMP_RET_TRACE unsupported?)"},
    {P_ATTACH, "PTRACE_SETOPTIONS on the probe sandbox failed"},
    {P_FORK, "fork failed"},
    {P_WRONG_EVENT, "the guardian saw a seccomp stop for another call than the forbidden one"},
};

/* The probe sandbox, in the slot's root as its uid. Exit code: what failed. */
__attribute__((noreturn)) static void probe_sandbox(int root_fd, uid_t uid,
                                                    const struct seccomp_prog *prog)
{
    const struct rlimit one = {1, 1};
    if (guard_traceme() != 0)
        _exit(P_TRACEME);
    if (fchdir(root_fd) != 0 || chroot(".") != 0 || chdir("/") != 0)
        _exit(P_CHROOT);
    if (setrlimit(RLIMIT_NPROC, &one) != 0)
        _exit(P_RLIMIT);
    if (sandbox_become(uid, uid) != 0)
        _exit(P_SETUID);
    if (setresuid(0, 0, 0) == 0)
        _exit(P_SETUID_UNDONE);
    /* One process allowed: of two forks at least one must fail (gVisor lets one more through). */
    bool refused = false;
    for (int i = 0; i < 2 && !refused; i++) {
        pid_t c = fork();
        if (c == 0)
            _exit(0);
        refused = c < 0 && errno == EAGAIN;
    }
    if (!refused)
        _exit(P_NPROC);
    if (seccomp_prog_load(prog) != 0)
        _exit(P_SECCOMP);
    syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0);
    _exit(P_NOT_STOPPED);
}

/* The probe's guardian: resumes everything until the forbidden call's stop. */
__attribute__((noreturn)) static void probe_guardian(int root_fd, uid_t uid,
                                                     const struct seccomp_prog *prog)
{
    int st, code = P_OK;
    bool stopped = false;
    /* Its forks' orphans come back here to be reaped, where the kernel allows. */
    (void)prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    pid_t sbx = fork();
    if (sbx == 0)
        probe_sandbox(root_fd, uid, prog);
    if (sbx < 0)
        _exit(P_FORK);
    if (guard_attach(sbx, false) != 0) {
        code = errno == ECHILD ? P_TRACEME : P_ATTACH; /* ECHILD: it could not trace itself */
        kill(sbx, SIGKILL);
    } else {
        ptrace(PTRACE_CONT, sbx, NULL, NULL);
    }
    for (pid_t p; (p = waitpid(-1, &st, __WALL)) > 0 || errno == EINTR;) {
        if (p > 0 && WIFSTOPPED(st) && (unsigned)st >> 16 == PTRACE_EVENT_SECCOMP) {
            /* ptrace is not on the list: this also proves the call is read from the registers */
            stopped = guard_seccomp_call(p) == SYS_ptrace;
            code = stopped ? P_OK : P_WRONG_EVENT;
            kill(p, SIGKILL);
        } else if (p > 0 && WIFSTOPPED(st)) {
            ptrace(PTRACE_CONT, p, NULL, NULL);
        } else if (p == sbx && !stopped && code == P_OK) {
            code = WIFEXITED(st) ? WEXITSTATUS(st) : P_NOT_STOPPED;
        }
    }
    _exit(code);
}

int probe_jail(int root_fd, uid_t uid, const struct seccomp_prog *prog, char *why, size_t len)
{
    int st;
    pid_t pid = fork();
    if (pid == 0)
        probe_guardian(root_fd, uid, prog);
    if (pid < 0 || waitpid(pid, &st, 0) != pid) {
        snprintf(why, len, "the probe could not run: %s", strerror(errno));
        return -1;
    }
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    if (code == P_OK)
        return 0;
    snprintf(why, len, "the probe sandbox ended with status %#x", st);
    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
        if (reasons[i].code == code)
            snprintf(why, len, "%s", reasons[i].why);
    return -1;
}
