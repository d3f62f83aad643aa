/* The guardian: the first process of every cloud sandbox. It stays outside the jail (root, not
 * chrooted, no seccomp filter), traces every thread and process of the sandbox with ptrace, and
 * ends the whole sandbox when any of them makes a forbidden system call.
 *
 * Why a tracer: the seccomp filter must kill the whole sandbox, from any thread. Under gVisor
 * libseccomp reports API level 2, SECCOMP_RET_KILL_PROCESS acts as KILL_THREAD (the other
 * threads go on), and the SIGSYS of SECCOMP_RET_TRAP is not forced: a thread that blocked SIGSYS
 * returns from the trapped call and carries on (both measured with runsc 20221219). A
 * SECCOMP_RET_TRACE stop can be neither blocked nor ignored: the thread stops before the call
 * runs, on the host kernel and under gVisor alike, and the guardian kills every process of the
 * slot uid. The same mechanism is used on every kernel, so the host test run exercises it.
 *
 * Besides, the guardian is the sandbox's subreaper where the kernel allows (orphans are reaped
 * here, not by a daemon that may be pid 1), ends the sandbox when its first process ends (as a pid
 * namespace would), and keeps /tmp within its cap, which no file system does here: it measures /tmp
 * every tick, and once /tmp holds more than the cap it sets RLIMIT_FSIZE of every sandbox process
 * to 0, so writes to files fail with EFBIG as they would on a full disk (for the rest of the run).
 * More entries than the cap (or deeper directories than it walks) end the sandbox. It exits the
 * way the sandbox ended: SIGSYS after a forbidden call, SIGXFSZ after too many /tmp entries,
 * otherwise as the first process did. Its code runs in a process forked from the threaded
 * daemon: system calls only. */
#ifndef PYEXECD_CLOUD_GUARD_H
#define PYEXECD_CLOUD_GUARD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* What the guardian tells the daemon, in memory they share (it dies before it could send it). */
struct guard_report {
    long long cpu_ms; /* the first process's CPU time (with what it reaped): a warm sandbox is
                         the zygote's child, so the daemon's rusage lacks it */
    long call;        /* the forbidden call that ended the sandbox, or one of: */
};
#define GUARD_CALL_NONE (-2)
#define GUARD_CALL_FOREIGN (-1) /* a call of another architecture (i386, x32) */

struct guard {
    uid_t uid;          /* the slot uid: ending the sandbox kills every process of it */
    int tmp_fd;         /* the sandbox's /tmp, for the usage walk */
    uint64_t tmp_bytes; /* caps on /tmp */
    uint64_t tmp_entries;
    struct guard_report *report; /* may be NULL */
};

#define GUARD_TICK_MS 20     /* how often /tmp is measured (less often when a walk is slow) */
#define GUARD_TMP_DEPTH 64   /* deeper directories in /tmp count as too many entries */
#define GUARD_MAX_TASKS 4160 /* threads and processes tracked: the pids setting's maximum + 64 */
#define GUARD_TMP_MARGIN (64ULL << 20) /* /tmp past 2 x its cap + this ends the sandbox */
#define GUARD_TMP_ENTRIES 16384        /* as the local jail's tmpfs nr_inodes */

/* In the guardian, before it forks the sandbox: dies with the daemon (and the sandbox with it),
 * never dumps core (it holds a copy of the daemon's memory), becomes the subreaper if it can,
 * and is named pyexecd-guard (for ps and the tests). */
int guard_prepare(pid_t daemon);

/* Whether a guardian can be the sandbox's subreaper here (gVisor 20221219 lacks
 * PR_SET_CHILD_SUBREAPER: orphans then go to pid 1, which must reap them). */
bool guard_can_subreap(void);

/* In the sandbox, first step: be traced by the guardian, and wait until it has set up. */
int guard_traceme(void);

/* In the guardian: waits for the sandbox's first stop and sets the trace options, so every thread
 * and process it creates is traced from its first instruction. The sandbox stays stopped. With
 * seize, it first attaches to a sandbox it did not fork (a warm one: the zygote's child, which
 * allowed it with PR_SET_PTRACER and waits for "go"; same uid, dumpable: no CAP_SYS_PTRACE). */
int guard_attach(pid_t pid, bool seize);

/* The system call a thread in a PTRACE_EVENT_SECCOMP stop made: from the trace data, or, for the
 * policy's default action, from its registers. GUARD_CALL_FOREIGN for another architecture's. */
long guard_seccomp_call(pid_t pid);

/* Resumes the sandbox and watches it to its end; then exits the way it ended. SIGTERM asks it to
 * kill the whole sandbox now (the daemon's jail_kill). */
__attribute__((noreturn)) void guard_watch(const struct guard *g, pid_t pid);

#endif
