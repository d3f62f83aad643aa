#include "seccomp.h"

#include <errno.h>
#include <limits.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* libseccomp resolves names up to this number; anything newer answers ENOSYS, so an
 * allow-by-default filter does not fail open on syscalls added after the library. */
#define FIRST_UNKNOWN_NR 457
#define LAST_GUARDED_NR 1023

static int add_named(scmp_filter_ctx ctx, uint32_t action, const char *const *names, size_t n,
                     char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        int nr = seccomp_syscall_resolve_name(names[i]);
        if (nr == __NR_SCMP_ERROR) {
            snprintf(err, errlen, "seccomp: unknown syscall %s", names[i]);
            return -1;
        }
        int rc = seccomp_rule_add(ctx, seccomp_deny_action(action, nr), nr, 0);
        if (rc != 0) {
            snprintf(err, errlen, "seccomp: rule for %s: %s", names[i], strerror(-rc));
            return -1;
        }
    }
    return 0;
}

/* clone() carrying any namespace flag kills: one masked rule per flag (rules are OR'ed). */
static int add_clone_rules(scmp_filter_ctx ctx, uint32_t kill, uint64_t flags, char *err,
                           size_t errlen)
{
    for (int bit = 0; bit < 64; bit++) {
        uint64_t f = 1ULL << bit;
        if (!(flags & f))
            continue;
        int rc = seccomp_rule_add(ctx, seccomp_deny_action(kill, SCMP_SYS(clone)), SCMP_SYS(clone),
                                  1, SCMP_A0(SCMP_CMP_MASKED_EQ, f, f));
        if (rc != 0) {
            snprintf(err, errlen, "seccomp: clone rule for flag %#llx: %s", (unsigned long long)f,
                     strerror(-rc));
            return -1;
        }
    }
    /* glibc falls back from clone3 to clone on ENOSYS; clone3's flags cannot be inspected. */
    int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
    if (rc != 0) {
        snprintf(err, errlen, "seccomp: clone3 rule: %s", strerror(-rc));
        return -1;
    }
    return 0;
}

static int add_unknown_guard(scmp_filter_ctx ctx, char *err, size_t errlen)
{
    for (int nr = FIRST_UNKNOWN_NR; nr <= LAST_GUARDED_NR; nr++) {
        int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0);
        if (rc != 0) {
            snprintf(err, errlen, "seccomp: guard for syscall %d: %s", nr, strerror(-rc));
            return -1;
        }
    }
    return 0;
}

static int export_prog(scmp_filter_ctx ctx, struct seccomp_prog *out, char *err, size_t errlen)
{
    int fd = memfd_create("pyexecd-seccomp", MFD_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "seccomp: memfd_create: %s", strerror(errno));
        return -1;
    }
    int rc = seccomp_export_bpf(ctx, fd);
    struct stat st;
    if (rc != 0 || fstat(fd, &st) != 0 || st.st_size <= 0 ||
        st.st_size % (off_t)sizeof(struct sock_filter) != 0) {
        snprintf(err, errlen, "seccomp: export: %s", rc ? strerror(-rc) : "bad size");
        close(fd);
        return -1;
    }
    struct sock_filter *f = malloc((size_t)st.st_size);
    if (f == NULL || pread(fd, f, (size_t)st.st_size, 0) != st.st_size) {
        snprintf(err, errlen, "seccomp: reading the exported program failed");
        free(f);
        close(fd);
        return -1;
    }
    close(fd);
    out->fprog.filter = f;
    out->fprog.len = (unsigned short)(st.st_size / (off_t)sizeof(struct sock_filter));
    return 0;
}

static int add_answers(scmp_filter_ctx ctx, const struct seccomp_answer *a, size_t n, char *err,
                       size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        const char *const name[] = {a[i].name};
        if (add_named(ctx, SCMP_ACT_ERRNO((uint32_t)a[i].err), name, 1, err, errlen) != 0)
            return -1;
    }
    return 0;
}

/* The rules of either form (see struct seccomp_policy). */
static int add_rules(scmp_filter_ctx ctx, const struct seccomp_policy *pol, uint32_t kill,
                     char *err, size_t errlen)
{
    if (add_named(ctx, kill, pol->deny, pol->ndeny, err, errlen) != 0 ||
        add_named(ctx, SCMP_ACT_ALLOW, pol->allow, pol->nallow, err, errlen) != 0 ||
        add_answers(ctx, pol->answers, pol->nanswers, err, errlen) != 0)
        return -1;
    if (pol->extra && pol->extra(ctx, kill) != 0) {
        snprintf(err, errlen, "seccomp: jail-specific rules failed");
        return -1;
    }
    if (pol->allow != NULL)
        return 0;
    if (add_clone_rules(ctx, kill, pol->clone_deny_flags, err, errlen) != 0)
        return -1;
    return add_unknown_guard(ctx, err, errlen);
}

int seccomp_prog_build(const struct seccomp_policy *pol, struct seccomp_prog *out, char *err,
                       size_t errlen)
{
    memset(out, 0, sizeof(*out));
    /* KILL_PROCESS needs API level 3; gVisor reports 2 and refuses it (see DEVELOPERS notes):
     * there KILL_THREAD is the strongest action and the supervisor kills the rest. */
    out->api_level = (int)seccomp_api_get();
    uint32_t kill = out->api_level >= 3 ? SCMP_ACT_KILL_PROCESS : SCMP_ACT_KILL_THREAD;
    out->kill_action = out->api_level >= 3 ? "kill_process" : "kill_thread";
    uint32_t not_allowed = kill;
    if (pol->trace) {
        kill = SCMP_ACT_TRACE(SECCOMP_TRACE_BADARCH);
        not_allowed = SCMP_ACT_TRACE(SECCOMP_TRACE_NOT_ALLOWED);
        out->kill_action = "trace";
    }
    scmp_filter_ctx ctx = seccomp_init(pol->allow != NULL ? not_allowed : SCMP_ACT_ALLOW);
    if (ctx == NULL) {
        snprintf(err, errlen, "seccomp: seccomp_init failed");
        return -1;
    }
    int rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, kill);
    if (rc == 0)
        rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
    if (rc != 0) {
        snprintf(err, errlen, "seccomp: attributes: %s", strerror(-rc));
        seccomp_release(ctx);
        return -1;
    }
    if (add_rules(ctx, pol, kill, err, errlen) != 0 || export_prog(ctx, out, err, errlen) != 0) {
        seccomp_release(ctx);
        return -1;
    }
    seccomp_release(ctx);
    return 0;
}

uint32_t seccomp_deny_action(uint32_t kill, int nr)
{
    /* A trace rule carries its syscall number, so the guardian can name the call. */
    if ((kill & SECCOMP_RET_ACTION_FULL) == SCMP_ACT_TRACE(0))
        return SCMP_ACT_TRACE((uint32_t)nr & SECCOMP_RET_DATA);
    return kill;
}

void seccomp_call_name(long nr, char *buf, size_t len)
{
    char *name = nr >= 0 && nr <= INT_MAX
                     ? seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, (int)nr)
                     : NULL;
    if (name != NULL)
        snprintf(buf, len, "%s", name);
    else
        snprintf(buf, len, "syscall %ld", nr);
    free(name);
}

void seccomp_prog_free(struct seccomp_prog *p)
{
    free(p->fprog.filter);
    p->fprog.filter = NULL;
}

int seccomp_prog_load(const struct seccomp_prog *p)
{
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -1;
    /* prctl rather than seccomp(2): the same filter, and every tool (valgrind too) knows it. */
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &p->fprog, 0, 0);
}

int seccomp_outer_filters(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    if (f == NULL)
        return -1;
    char line[256];
    int n = -1;
    while (fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "Seccomp_filters: %d", &n) == 1)
            break;
    if (fclose(f) != 0)
        return -1;
    return n;
}
