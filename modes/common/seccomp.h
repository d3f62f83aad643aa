/* Seccomp: the filter is compiled once at start-up to a BPF program; a sandbox only loads it. */
#ifndef PYEXECD_SECCOMP_H
#define PYEXECD_SECCOMP_H

#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A system call answered with an error without running: the program sees the failure and goes
 * on (for calls that libraries probe and handle). */
struct seccomp_answer {
    const char *name;
    int err;
};

/* Two forms. Allow-by-default (allow == NULL): the deny list and clone_deny_flags kill, system
 * calls newer than libseccomp answer ENOSYS. Default-deny (allow != NULL): only the allow list and
 * the calls `extra` lets through run; everything else takes the kill action. */
struct seccomp_policy {
    const char *const *deny; /* syscalls that kill the sandbox */
    size_t ndeny;
    uint64_t clone_deny_flags; /* clone() with any of these flags kills the sandbox */
    const char *const *allow;  /* syscalls allowed with any arguments */
    size_t nallow;
    const struct seccomp_answer *answers;
    size_t nanswers;
    int (*extra)(void *ctx, uint32_t kill); /* jail-specific rules, may be NULL */
    size_t nfiltered;                       /* how many syscalls `extra` filters by argument */
    /* Deny rules answer SECCOMP_RET_TRACE, with the syscall's number as the trace data, instead
     * of killing: for a jail whose ptrace guardian ends the whole sandbox itself (gVisor can kill
     * only the offending thread from seccomp). */
    bool trace;
};

/* SECCOMP_RET_TRACE data for a system call of a foreign architecture (i386, x32), and for one
 * that a default-deny policy does not allow (the default action cannot carry the number: the
 * tracer reads it from the stopped thread's registers). */
#define SECCOMP_TRACE_BADARCH 0xffff
#define SECCOMP_TRACE_NOT_ALLOWED 0xfffe

struct seccomp_prog {
    struct sock_fprog fprog;
    int api_level;
    const char *kill_action; /* "kill_process", "kill_thread" or "trace" */
};

/* Builds and exports the program. -1 with a message on failure: a missing rule is an error. */
int seccomp_prog_build(const struct seccomp_policy *pol, struct seccomp_prog *out, char *err,
                       size_t errlen);
void seccomp_prog_free(struct seccomp_prog *p);

/* The action for a deny rule on syscall nr, given the policy's kill action (for `extra` hooks). */
uint32_t seccomp_deny_action(uint32_t kill, int nr);

/* The name of native system call nr into buf ("syscall 999" if libseccomp does not know it). */
void seccomp_call_name(long nr, char *buf, size_t len);

/* How many seccomp filters the daemon itself runs under (a container runtime's profile), from
 * /proc/self/status; -1 if unknown. A sandbox's filter stacks under them, and the kernel takes the
 * strongest action of all: their EPERM outranks a trace. */
int seccomp_outer_filters(void);

/* In the sandbox, last step before execve: no_new_privs, then the filter. Async-signal-safe. */
int seccomp_prog_load(const struct seccomp_prog *p);

#endif
