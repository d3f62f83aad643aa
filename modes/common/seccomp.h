/* Seccomp: the filter is compiled once at start-up to a BPF program; a sandbox only loads it. */
#ifndef PYEXECD_SECCOMP_H
#define PYEXECD_SECCOMP_H

#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct seccomp_policy {
    const char *const *deny; /* syscalls that kill the sandbox */
    size_t ndeny;
    uint64_t clone_deny_flags; /* clone() with any of these flags kills the sandbox */
    const char *const *eperm;  /* syscalls that fail with EPERM instead (the program goes on) */
    size_t neperm;
    int (*extra)(void *ctx, uint32_t kill); /* jail-specific rules, may be NULL */
    /* Deny rules answer SECCOMP_RET_TRACE, with the syscall's number as the trace data, instead
     * of killing: for a jail whose ptrace guardian ends the whole sandbox itself (gVisor can kill
     * only the offending thread from seccomp). */
    bool trace;
};

/* SECCOMP_RET_TRACE data for a system call of a foreign architecture (i386, x32). */
#define SECCOMP_TRACE_BADARCH 0xffff

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

/* In the sandbox, last step before execve: no_new_privs, then the filter. Async-signal-safe. */
int seccomp_prog_load(const struct seccomp_prog *p);

#endif
