/* The local jail: a fresh set of namespaces per sandbox, the rootfs read-only behind
 * pivot_root, cgroup and rlimit limits, no capabilities, and a seccomp deny-list.
 *
 * The sandbox's way, in order (each step is a function of its own file):
 *   clone into new user, pid, net, mount, ipc and uts namespaces     (jail_start)
 *   supervisor: uid/gid maps (user.c), rlimits, cgroup (cgroup.c), then "go"
 *   sandbox: session, cgroup namespace, mounts + pivot_root (mnt.c), hostname, uid/gid,
 *            death signal, capabilities, fds, signals, seccomp, exec
 * The new net namespace has only a loopback device that is down: no network at all.
 *
 * Warm start (zygote.c) changes who clones: the zygote, which already imported numpy and pandas,
 * clones the sandbox into fresh pid, mount, net, ipc and uts namespaces inside its own user
 * namespace, as the daemon's child; the steps from "rlimits" on are the same. Each slot keeps
 * one such sandbox ready (jail_slot_prepare), so a request only hands it the script. */
#include "../jail.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../src/config.h"
#include "../../src/log.h"
#include "../common/probe_list.h"
#include "../common/ready.h"
#include "../common/rlimits.h"
#include "../common/sandbox.h"
#include "../common/seccomp.h"
#include "cgroup.h"
#include "mnt.h"
#include "policy.h"
#include "user.h"
#include "zygote.h"

#define NS_FLAGS                                                                                   \
    (CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS)

struct jail_slot {
    int index;
    unsigned long runs;
    struct cgroup cg;
    struct jail_sandbox ready; /* warm start: the next sandbox, waiting for a script */
};

static const struct config *cfg;
static char rootfs[PATH_MAX];
static struct seccomp_prog prog;
static enum cgroup_version cgv;
static struct jail_slot slots[64];

/* Can this host give a process all the namespaces? (Docker's default seccomp and AppArmor
 * profiles refuse it, gVisor lacks parts of it.) */
static int probe_namespaces(char *why, size_t len)
{
    pid_t pid = (pid_t)syscall(SYS_clone, NS_FLAGS | SIGCHLD, NULL, NULL, NULL, NULL);
    if (pid < 0) {
        snprintf(why, len, "clone with new user/pid/net/mount/ipc/uts namespaces: %s",
                 strerror(errno));
        return -1;
    }
    if (pid == 0) /* mnt.c's first step; gVisor has the namespaces but refuses this */
        _exit(mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) == 0 ? 0 : errno & 0xff);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(why, len, "making / private in a new mount namespace fails: %s",
                 WIFEXITED(status) ? strerror(WEXITSTATUS(status)) : "the probe was killed");
        return -1;
    }
    return 0;
}

int jail_init(const struct config *c, struct jail_probe *p, char *err, size_t errlen)
{
    char detail[128];
    cfg = c;
    p->mode = "local";
    p->hint = "in a container, run it with the flags Dockerfile.local documents; under gVisor "
              "use the cloud build (make MODE=cloud)";
    if (realpath(c->rootfs, rootfs) == NULL || access(rootfs, R_OK | X_OK) != 0) {
        snprintf(err, errlen, "rootfs %s: %s (build it with `make rootfs`)", c->rootfs,
                 strerror(errno));
        return -1;
    }
    probe_add(p, "rootfs", true, "%.90s", rootfs);
    if (probe_namespaces(detail, sizeof(detail)) != 0) {
        snprintf(err, errlen,
                 "the local jail needs user, pid, net, mount, ipc and uts namespaces, and %s. "
                 "Under gVisor use the cloud build (make MODE=cloud); under Docker see "
                 "Dockerfile.local for the flags",
                 detail);
        return -1;
    }
    probe_add(p, "namespaces", true, "user pid net mount ipc uts cgroup");
    if (seccomp_prog_build(&local_policy, &prog, err, errlen) != 0)
        return -1;
    probe_add(p, "seccomp", true, "api level %d, %s, %u instructions", prog.api_level,
              prog.kill_action, prog.fprog.len);
    cgv = cgroup_init(detail, sizeof(detail));
    probe_add(p, "cgroup", cgv != CGROUP_NONE, "%s", detail);
    /* Where the memory cap comes from, so an operator sees what a cgroup-less host loses. */
    probe_add(p, "memory", true,
              cgv != CGROUP_NONE ? "cgroup memory.max %lld MiB per sandbox, and RLIMIT_AS"
                                 : "RLIMIT_AS %lld MiB per process only (no cgroup here)",
              (long long)c->memory_mb);
    probe_add(p, "tmp", true, "tmpfs of %lld MiB per request (unlinked files count)",
              (long long)c->tmp_mb);
    for (int i = 0; i < (int)(sizeof(slots) / sizeof(slots[0])); i++) {
        slots[i].index = i;
        slots[i].ready.pid = -1;
    }
    zygote_init(rootfs, c, &prog);
    probe_add(p, "warm_start", true, c->warm_start ? "zygote, preloaded: %.60s" : "off",
              c->preload);
    return 0;
}

void jail_shutdown(void)
{
    for (int i = 0; i < (int)(sizeof(slots) / sizeof(slots[0])); i++)
        if (slots[i].ready.pid > 0)
            ready_discard(&slots[i].ready);
    zygote_stop();
    cgroup_shutdown();
    seccomp_prog_free(&prog);
}

struct jail_slot *jail_slot_get(int n)
{
    return n >= 0 && n < (int)(sizeof(slots) / sizeof(slots[0])) ? &slots[n] : NULL;
}

/* In the sandbox: from clone to exec. Every failure is reported with the step's name. */
__attribute__((noreturn)) static void contain(const struct sandbox_pipes *p)
{
    const char *step = "?";
    if (sandbox_wait_go(p) != 0)
        sandbox_fail(p, "wait for the supervisor");
    if (setsid() < 0)
        sandbox_fail(p, "setsid");
    /* After the supervisor moved us into our cgroup: the namespace's root is that cgroup. */
    if (cgv != CGROUP_NONE && unshare(CLONE_NEWCGROUP) != 0)
        sandbox_fail(p, "cgroup namespace");
    struct mnt_plan plan = {.tmp_mb = cfg->tmp_mb, .tmp_uid = SANDBOX_UID};
    if (mnt_setup(rootfs, &plan, &step) != 0)
        sandbox_fail(p, step);
    if (sethostname("sandbox", 7) != 0)
        sandbox_fail(p, "hostname");
    if (sandbox_become(SANDBOX_UID, SANDBOX_UID) != 0)
        sandbox_fail(p, "drop to the sandbox uid");
    /* After the uid change, which clears it: the sandbox dies with the daemon's worker. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0)
        sandbox_fail(p, "parent death signal");
    sandbox_enter(p, &prog);
}

/* The sandbox's first process: cloned by the daemon (cold) or by the zygote (warm). */
static pid_t launch(struct jail_slot *slot, struct sandbox_pipes *p, char *err, size_t errlen)
{
    const char *step = "?";
    if (cfg->warm_start)
        return zygote_spawn(p, slot->index, cgv != CGROUP_NONE, err, errlen);
    /* A raw clone: the child runs only async-signal-safe code until exec. */
    pid_t pid = (pid_t)syscall(SYS_clone, NS_FLAGS | SIGCHLD, NULL, NULL, NULL, NULL);
    if (pid == 0)
        contain(p);
    if (pid < 0) {
        snprintf(err, errlen, "clone: %s", strerror(errno));
        return -1;
    }
    if (user_map(pid, (unsigned)(cfg->sandbox_uid + slot->index), &step) != 0) {
        snprintf(err, errlen, "%s: %s", step, strerror(errno));
        kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        return -1;
    }
    return pid;
}

static int start(struct jail_slot *slot, struct jail_sandbox *sb, char *err, size_t errlen)
{
    struct sandbox_pipes p;
    const char *step = "?";
    char name[64];

    memset(sb, 0, sizeof(*sb));
    sb->pid = -1;
    sb->slot = slot;
    snprintf(name, sizeof(name), "sbx-%d-%lu", slot->index, ++slot->runs);
    if (pipes_open(&p) != 0) {
        snprintf(err, errlen, "pipes: %s", strerror(errno));
        return -1;
    }
    if (cgroup_create(&slot->cg, name, cfg, &step) != 0) {
        snprintf(err, errlen, "%s: %s", step, strerror(errno));
        pipes_close_all(&p);
        return -1;
    }
    pid_t pid = launch(slot, &p, err, errlen);
    if (pid < 0)
        goto fail;
    sb->pid = pid;
    if (rlimits_apply_to(pid, cfg, (struct rlimit_plan){.nproc = true}, &step) != 0 ||
        (step = "cgroup attach", cgroup_attach(&slot->cg, pid)) != 0 ||
        (step = "release the sandbox", sandbox_release(&p)) != 0) {
        snprintf(err, errlen, "%s: %s", step, strerror(errno));
        kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        goto fail;
    }
    if (sandbox_handover(&p, sb, err, errlen) != 0)
        goto fail;
    return 0;
fail:
    pipes_close_all(&p);
    jail_cleanup(sb, NULL);
    return -1;
}

int jail_start(struct jail_slot *slot, struct jail_sandbox *sb, char *err, size_t errlen)
{
    return ready_take(&slot->ready, slot, slot->index, start, sb, err, errlen);
}

void jail_slot_prepare(struct jail_slot *slot)
{
    if (cfg->warm_start)
        ready_fill(&slot->ready, slot, slot->index, start);
}

void jail_kill(struct jail_sandbox *sb)
{
    /* The sandbox's first process is its pid namespace's init: when it dies, the kernel kills
     * every other process in the namespace. The cgroup catches anything else. */
    if (sb->pid > 0)
        kill(sb->pid, SIGKILL);
    cgroup_kill(&sb->slot->cg);
}

void jail_cleanup(struct jail_sandbox *sb, struct jail_outcome *out)
{
    if (out != NULL)
        memset(out, 0, sizeof(*out));
    cgroup_destroy(&sb->slot->cg, out);
}
