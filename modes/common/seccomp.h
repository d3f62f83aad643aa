/* Seccomp: the filter is compiled once at start-up to a BPF program; a sandbox only loads it. */
#ifndef PYEXECD_SECCOMP_H
#define PYEXECD_SECCOMP_H

#include <linux/filter.h>
#include <stddef.h>
#include <stdint.h>

struct seccomp_policy {
    const char *const *deny; /* syscalls that kill the sandbox */
    size_t ndeny;
    uint64_t clone_deny_flags; /* clone() with any of these flags kills the sandbox */
    const char *const *eperm;  /* syscalls that fail with EPERM instead (the program goes on) */
    size_t neperm;
    int (*extra)(void *ctx, uint32_t kill); /* jail-specific rules, may be NULL */
};

struct seccomp_prog {
    struct sock_fprog fprog;
    int api_level;
    const char *kill_action; /* "kill_process" or "kill_thread" */
};

/* Builds and exports the program. -1 with a message on failure: a missing rule is an error. */
int seccomp_prog_build(const struct seccomp_policy *pol, struct seccomp_prog *out, char *err,
                       size_t errlen);
void seccomp_prog_free(struct seccomp_prog *p);

/* In the sandbox, last step before execve: no_new_privs, then the filter. Async-signal-safe. */
int seccomp_prog_load(const struct seccomp_prog *p);

#endif
