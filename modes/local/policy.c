/* The local jail's seccomp deny-list. Namespaces already fence the sandbox in; this list takes
 * away the kernel interfaces that are the usual way out of them (and that Docker's default
 * profile also refuses). */
#include "policy.h"

#include <sched.h>

static const char *const deny[] = {
    "acct",
    "add_key",
    "bpf",
    "chroot",
    "clock_adjtime",
    "clock_settime",
    "adjtimex",
    "settimeofday",
    "create_module",
    "delete_module",
    "finit_module",
    "init_module",
    "fanotify_init",
    "fsconfig",
    "fsmount",
    "fsopen",
    "fspick",
    "io_uring_enter",
    "io_uring_register",
    "io_uring_setup",
    "kcmp",
    "kexec_file_load",
    "kexec_load",
    "keyctl",
    "lookup_dcookie",
    "mount",
    "mount_setattr",
    "move_mount",
    "name_to_handle_at",
    "open_by_handle_at",
    "open_tree",
    "perf_event_open",
    "personality",
    "pivot_root",
    "process_madvise",
    "process_vm_readv",
    "process_vm_writev",
    "ptrace",
    "quotactl",
    "quotactl_fd",
    "reboot",
    "request_key",
    "setns",
    "swapoff",
    "swapon",
    "syslog",
    "umount2",
    "unshare",
    "userfaultfd",
    "uselib",
    "vhangup",
    "iopl",
    "ioperm",
};

#define NS_FLAGS                                                                                   \
    (CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET |     \
     CLONE_NEWCGROUP)

const struct seccomp_policy local_policy = {
    .deny = deny,
    .ndeny = sizeof(deny) / sizeof(deny[0]),
    .clone_deny_flags = NS_FLAGS,
};
