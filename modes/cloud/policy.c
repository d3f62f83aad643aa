/* The cloud jail's seccomp policy: default-deny. There are no namespaces behind it: the sandbox
 * shares the host's (or gVisor's) mount, pid, ipc and network namespaces and is fenced in only by
 * chroot, its own uid, rlimits and this list. So only the system calls that real workloads make
 * run (the list is derived from the tests/corpus scripts with tests/syscalls.sh, which prints what
 * the corpus uses and this file does not name); a few answer an error that callers handle.
 *
 * Everything else is the default action, SECCOMP_RET_TRACE: the thread stops before the call
 * runs and the guardian (guard.c) ends the whole sandbox and names the call. Not an ERRNO: a gap
 * in the list, or an attack, becomes visible and named instead of silently changing what the
 * program does; and the guardian is needed anyway, as gVisor can only kill the calling thread.
 * Left out on purpose, so ending the sandbox: ptrace, process_vm_*, kcmp, pidfd_getfd, the mount
 * family, chroot, the setuid family, chmod/chown and the rest of that family (the rootfs is kept
 * read-only by ownership and modes alone), bpf, keyctl, perf_event_open, userfaultfd, io_uring_*,
 * personality, seccomp, unshare, setns; SysV IPC (shm*, msg*, sem*) and POSIX message queues
 * (mq_*): their objects live in the shared ipc namespace, outlive the request and so are a channel
 * between concurrent requests; nothing in the rootfs (multiprocessing, numpy, pandas) uses them;
 * sendmsg/sendmmsg: descriptors parked in a socketpair's queue (SCM_RIGHTS) would hide files
 * from /proc/<pid>/fd, and the corpus never sends any. */
#include "policy.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/prctl.h>
#include <sched.h>
#include <stdbool.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>

static const char *const allow[] = {
    /* processes and threads (clone: extra_rules); kill reaches only the slot uid's processes */
    "execve",
    "exit",
    "exit_group",
    "fork",
    "vfork",
    "wait4",
    "waitid",
    "kill",
    "tgkill",
    "tkill",
    "getpid",
    "getppid",
    "gettid",
    "getuid",
    "geteuid",
    "getgid",
    "getegid",
    "getresuid",
    "getresgid",
    "getgroups",
    "getpgrp",
    "getpgid",
    "getsid",
    "setsid",
    "setpgid",
    "set_tid_address",
    "set_robust_list",
    "rseq",
    "arch_prctl",
    "futex",
    "sched_yield",
    "sched_getaffinity",
    "prlimit64",
    "getrusage",
    "times",
    "sysinfo",
    "uname",
    "getrandom",
    /* memory (mmap: extra_rules). Every protection, PROT_EXEC with PROT_WRITE too: the sandbox
     * runs arbitrary code (ctypes) anyway, so W^X would be no boundary here. */
    "brk",
    "mprotect",
    "munmap",
    "mremap",
    "madvise",
    "msync",
    /* signals and timers */
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "rt_sigpending",
    "sigaltstack",
    "restart_syscall",
    "pause",
    "alarm",
    "setitimer",
    "getitimer",
    "nanosleep",
    "clock_nanosleep",
    "clock_gettime",
    "clock_getres",
    "gettimeofday",
    "time",
    /* descriptors and waiting */
    "read",
    "write",
    "readv",
    "writev",
    "pread64",
    "pwrite64",
    "preadv",
    "pwritev",
    "lseek",
    "close",
    "close_range",
    "dup",
    "dup2",
    "dup3",
    "pipe",
    "pipe2",
    "fcntl",
    "poll",
    "ppoll",
    "select",
    "pselect6",
    "epoll_create1",
    "epoll_ctl",
    "epoll_wait",
    "epoll_pwait",
    "sendfile",
    /* a socketpair's own end (socket, socketpair: extra_rules) */
    "sendto",
    "recvfrom",
    "getsockname",
    "getpeername",
    "shutdown",
    /* files (open, openat: extra_rules); the uid keeps them to /tmp and what is world-readable */
    "creat",
    "access",
    "faccessat",
    "faccessat2",
    "stat",
    "fstat",
    "lstat",
    "newfstatat",
    "statx",
    "statfs",
    "fstatfs",
    "readlink",
    "readlinkat",
    "getdents64",
    "getcwd",
    "chdir",
    "fchdir",
    "mkdir",
    "symlink",
    "symlinkat",
    /* sem_open links its file into /dev/shm (the request's /tmp); a link to a file of root's is
     * refused by protected_hardlinks, and would only add a name in /tmp */
    "link",
    "linkat",
    "mkdirat",
    "rmdir",
    "rename",
    "renameat",
    "renameat2",
    "unlink",
    "unlinkat",
    "utimensat",
    "truncate",
    "ftruncate",
    "fsync",
    "fdatasync",
    "umask",
};

static const struct seccomp_answer answers[] = {
    /* no network: every family fails, as without a network (AF_UNIX too: abstract sockets were a
     * channel between concurrent requests) */
    {"socket", EACCES},
    /* glibc falls back to clone, whose flags can be checked */
    {"clone3", ENOSYS},
    /* its pages are counted by no cap in this jail; callers fall back to a file */
    {"memfd_create", ENOSYS},
    /* its flags sit in a struct the filter cannot read (O_TMPFILE); glibc falls back to openat */
    {"openat2", ENOSYS},
    /* Python 3.12's asyncio (and gVisor) treat ENOSYS as "no pidfds" and watch children by wait */
    {"pidfd_open", ENOSYS},
};

#define NS_FLAGS                                                                                   \
    (CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET |     \
     CLONE_NEWCGROUP)
#define TMPFILE_BIT 020000000 /* __O_TMPFILE, which O_TMPFILE adds to O_DIRECTORY */

/* The ioctl requests real code makes: isatty, terminal size, readable bytes, (non)blocking and
 * close-on-exec. Requests outside the terminal range fail as on a file that does not know them;
 * the others in it (TIOCSTI, TIOCSCTTY, ...) act on a terminal and end the sandbox. */
static const unsigned long ioctls[] = {TCGETS, TIOCGWINSZ, FIONREAD, FIONBIO, FIONCLEX, FIOCLEX};

static int rule(void *ctx, uint32_t action, int nr, struct scmp_arg_cmp cmp)
{
    return seccomp_rule_add(ctx, action, nr, 1, cmp);
}

/* Allowed without the flag, answered with err with it. */
static int flag_rule(void *ctx, int nr, unsigned arg, uint64_t flag, int err)
{
    struct scmp_arg_cmp off = {arg, SCMP_CMP_MASKED_EQ, flag, 0};
    struct scmp_arg_cmp on = {arg, SCMP_CMP_MASKED_EQ, flag, flag};
    if (rule(ctx, SCMP_ACT_ALLOW, nr, off) != 0)
        return -1;
    return rule(ctx, SCMP_ACT_ERRNO((uint32_t)err), nr, on);
}

static int ioctl_rules(void *ctx)
{
    size_t n = sizeof(ioctls) / sizeof(ioctls[0]);
    for (size_t i = 0; i < n; i++)
        if (rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), SCMP_A1(SCMP_CMP_EQ, ioctls[i])) != 0)
            return -1;
    /* libseccomp lets the stricter of overlapping rules win: the answers cover only what lies
     * outside the range of the allowed requests (TCGETS is its lowest, FIOCLEX its highest). */
    if (rule(ctx, SCMP_ACT_ERRNO(ENOTTY), SCMP_SYS(ioctl), SCMP_A1(SCMP_CMP_LT, TCGETS)) != 0)
        return -1;
    return rule(ctx, SCMP_ACT_ERRNO(ENOTTY), SCMP_SYS(ioctl), SCMP_A1(SCMP_CMP_GT, FIOCLEX));
}

/* Thread names, and the read-only questions whether the jail is in force. A filter of the
 * script's own could out-rank these rules, so PR_SET_SECCOMP ends the sandbox; any other option
 * fails as an unknown one would (the lowest and highest allowed ones bound the range). */
static int prctl_rules(void *ctx, uint32_t kill)
{
    int nr = SCMP_SYS(prctl);
    if (rule(ctx, SCMP_ACT_ERRNO(EINVAL), nr, SCMP_A0(SCMP_CMP_LT, PR_SET_NAME)) != 0 ||
        rule(ctx, SCMP_ACT_ERRNO(EINVAL), nr, SCMP_A0(SCMP_CMP_GT, PR_GET_NO_NEW_PRIVS)) != 0)
        return -1;
    for (int opt = PR_SET_NAME; opt <= PR_GET_NO_NEW_PRIVS; opt++) {
        bool read_only = opt == PR_GET_NAME || opt == PR_GET_SECCOMP || opt == PR_GET_NO_NEW_PRIVS;
        uint32_t action = opt == PR_SET_NAME || read_only ? SCMP_ACT_ALLOW
                          : opt == PR_SET_SECCOMP         ? seccomp_deny_action(kill, nr)
                                                          : SCMP_ACT_ERRNO(EINVAL);
        if (rule(ctx, action, nr, SCMP_A0(SCMP_CMP_EQ, (uint64_t)opt)) != 0)
            return -1;
    }
    return 0;
}

static int extra_rules(void *ctx, uint32_t kill)
{
    /* threads, fork and vfork; a namespace, or a child hidden from the guardian, ends it */
    if (rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone),
             SCMP_A0(SCMP_CMP_MASKED_EQ, NS_FLAGS | CLONE_UNTRACED, 0)) != 0)
        return -1;
    /* a pipe's kin only: other families fail as the kernel answers for most of them */
    if (rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socketpair), SCMP_A0(SCMP_CMP_EQ, AF_UNIX)) != 0 ||
        rule(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socketpair),
             SCMP_A0(SCMP_CMP_NE, AF_UNIX)) != 0)
        return -1;
    /* an unnamed file in /tmp would escape the guardian's walk; tempfile falls back to a name */
    if (flag_rule(ctx, SCMP_SYS(open), 1, TMPFILE_BIT, EOPNOTSUPP) != 0 ||
        flag_rule(ctx, SCMP_SYS(openat), 2, TMPFILE_BIT, EOPNOTSUPP) != 0)
        return -1;
    /* huge pages come from a pool shared by the whole host: fail as with an empty pool */
    if (flag_rule(ctx, SCMP_SYS(mmap), 3, MAP_HUGETLB, ENOMEM) != 0)
        return -1;
    return ioctl_rules(ctx) != 0 ? -1 : prctl_rules(ctx, kill);
}

const struct seccomp_policy cloud_policy = {
    .allow = allow,
    .nallow = sizeof(allow) / sizeof(allow[0]),
    .answers = answers,
    .nanswers = sizeof(answers) / sizeof(answers[0]),
    .extra = extra_rules,
    .nfiltered = 7, /* clone, socketpair, open, openat, mmap, ioctl, prctl */
    .trace = true,
};
