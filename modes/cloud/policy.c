/* The cloud jail's seccomp policy. There are no namespaces behind it: the sandbox shares the
 * host's (or gVisor's) mount, pid and network namespaces and is fenced in only by chroot, its own
 * uid and this list. So on top of the local jail's list it takes away changing file ownership and
 * modes, changing identity, and every network socket.
 *
 * Every deny rule answers SECCOMP_RET_TRACE: the sandbox stops before the call runs and the
 * guardian (guard.c) ends the whole sandbox, whichever thread made the call. A script cannot
 * stack a filter of its own (seccomp and prctl(PR_SET_SECCOMP) are denied too), so no
 * higher-precedence ERRNO can turn a forbidden call into a mere failure. */
#include "policy.h"

#include <errno.h>
#include <linux/prctl.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/socket.h>

static const char *const deny[] = {
    /* file ownership and modes: the rootfs is read-only by ownership and modes alone */
    "chmod",
    "fchmod",
    "fchmodat",
    "fchmodat2",
    "chown",
    "fchown",
    "fchownat",
    "lchown",
    /* identity: the slot uid is the sandbox's boundary */
    "setuid",
    "setgid",
    "setreuid",
    "setregid",
    "setresuid",
    "setresgid",
    "setfsuid",
    "setfsgid",
    "setgroups",
    "capset",
    /* mounts and roots */
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "fsopen",
    "fsmount",
    "fsconfig",
    "fspick",
    "move_mount",
    "open_tree",
    "mount_setattr",
    /* other processes' memory and descriptors */
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "process_madvise",
    "kcmp",
    "pidfd_getfd",
    /* namespaces */
    "unshare",
    "setns",
    /* kernel interfaces that are the usual way out (Docker's default profile refuses them too) */
    "bpf",
    "keyctl",
    "add_key",
    "request_key",
    "perf_event_open",
    "userfaultfd",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "create_module",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "open_by_handle_at",
    "name_to_handle_at",
    "lookup_dcookie",
    "fanotify_init",
    "personality",
    "uselib",
    "iopl",
    "ioperm",
    "vhangup",
    "acct",
    "quotactl",
    "quotactl_fd",
    "swapon",
    "swapoff",
    "reboot",
    "syslog",
    "clock_settime",
    "clock_adjtime",
    "settimeofday",
    "adjtimex",
    /* a filter of the script's own could out-rank these rules */
    "seccomp",
};

#define NS_FLAGS                                                                                   \
    (CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET |     \
     CLONE_NEWCGROUP)

static int extra_rules(void *ctx, uint32_t kill)
{
    /* No network namespace to fall back on: sockets of every family but AF_UNIX fail, the way
     * a sandbox without network would see it (the program goes on). */
    if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(socket), 1,
                         SCMP_A0(SCMP_CMP_NE, AF_UNIX)) != 0)
        return -1;
    return seccomp_rule_add(ctx, seccomp_deny_action(kill, SCMP_SYS(prctl)), SCMP_SYS(prctl), 1,
                            SCMP_A0(SCMP_CMP_EQ, PR_SET_SECCOMP));
}

const struct seccomp_policy cloud_policy = {
    .deny = deny,
    .ndeny = sizeof(deny) / sizeof(deny[0]),
    .clone_deny_flags = NS_FLAGS,
    .extra = extra_rules,
    .trace = true,
};
