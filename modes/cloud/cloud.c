/* The cloud jail: no namespaces, no mounts, no cgroups, so it runs where the platform offers none
 * of them (Google Cloud Run's gVisor, a container with Docker's default capabilities). It is built
 * from what remains: chroot into a slot's own copy of the rootfs (tree.c), a uid of the slot's
 * own, no capabilities, rlimits, and a default-deny seccomp allow-list (policy.c) enforced by a
 * ptrace guardian (guard.c).
 *
 * The way of a request, in order:
 *   daemon:   create the slot's /tmp (scratch.c), fork the guardian
 *   guardian: dies with the daemon, subreaper; forks the sandbox, traces it, sets its rlimits,
 *             lets it go (guardian.c)
 *   sandbox:  traced, setsid, chroot into the slot's root, bounding set, uid/gid, capabilities,
 *             fds, signals, seccomp, exec of the harness                        (contain)
 *   guardian: watches to the end (forbidden calls, /tmp size), reaps everything, exits like the
 *             sandbox did
 *   daemon:   at the end, kills every process of the slot uid until none is left (uid.c), has
 *             /tmp emptied by that uid (clean.c); a slot that cannot be proven clean so, or
 *             whose root is no longer intact, is quarantined and rebuilt before its next sandbox
 *
 * Warm start (zygote.c) changes who makes the sandbox: the zygote, which already imported numpy
 * and pandas, forks it before the guardian exists; the guardian attaches to it instead of forking
 * it, and the sandbox takes the same steps from "setsid" on (in rootfs/zygote.py) and runs the
 * harness without an exec. Each slot keeps one such sandbox ready (jail_slot_prepare). */
#include "../jail.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../src/config.h"
#include "../../src/log.h"
#include "../common/probe_list.h"
#include "../common/ready.h"
#include "../common/rlimits.h"
#include "../common/sandbox.h"
#include "../common/seccomp.h"
#include "clean.h"
#include "guard.h"
#include "guardian.h"
#include "policy.h"
#include "probe.h"
#include "fs.h"
#include "scratch.h"
#include "tree.h"
#include "uid.h"
#include "zygote.h"

#define MAX_SLOTS 64
#define GUARDIAN_GRACE_MS 2000 /* after jail_kill's SIGTERM, before the guardian is killed */

struct jail_slot {
    int index;
    uid_t uid;
    char name[16]; /* the slot's root in the scratch directory */
    int root_fd;
    struct tree_marks marks; /* of its root as built */
    bool quarantined;        /* not proven clean: rebuilt before its next sandbox */
    unsigned rebuilds;
    struct guard_report *report; /* shared with its guardian: CPU time, the forbidden call */
    struct jail_sandbox ready;   /* warm start: the next sandbox, waiting for a script */
};

static const struct config *cfg;
static struct seccomp_prog prog;
static int rootfs_fd = -1, scratch_fd = -1;
static int nslots;
static struct jail_slot slots[MAX_SLOTS];
static struct guard_report *reports; /* one per slot, shared with the guardians (MAP_SHARED) */

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The slot uids are the sandboxes' boundary: nothing else may run as them. */
static int check_uids(char *err, size_t errlen)
{
    for (int i = 0; i < nslots; i++) {
        int busy = uid_in_use(slots[i].uid);
        if (busy != 0) {
            snprintf(err, errlen,
                     busy < 0 ? "cannot read /proc to check that nothing runs as uid %u"
                              : "processes already run as uid %u: another pyexecd or a user has "
                                "this uid; choose another --sandbox-uid range",
                     (unsigned)slots[i].uid);
            return -1;
        }
    }
    return 0;
}

/* A slot's root, built and opened, with the marks of its intact state. */
static int slot_root_build(struct jail_slot *s, struct tree_stats *st, char *err, size_t errlen)
{
    if (tree_build(rootfs_fd, scratch_fd, s->name, st, err, errlen) != 0)
        return -1;
    s->root_fd = openat(scratch_fd, s->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (s->root_fd < 0 || tree_mark(s->root_fd, &s->marks) != 0) {
        snprintf(err, errlen, "scratch: open %s: %s", s->name, strerror(errno));
        return -1;
    }
    return 0;
}

/* Whatever an earlier daemon left in the scratch directory (slot-N, slot-N.old-M) goes first. */
static int remove_leftover(int dir, const char *name, unsigned char type, void *arg)
{
    char *err = arg;
    (void)type;
    if (strncmp(name, "slot-", 5) != 0 || tree_remove(dir, name) == 0)
        return 0;
    snprintf(err, 160, "scratch %s: remove %s: %s", cfg->scratch, name, strerror(errno));
    return 1;
}

/* One root per slot, built fresh. */
static int build_trees(struct jail_probe *p, char *err, size_t errlen)
{
    struct tree_stats st = {0};
    char why[160];
    long long start = now_ms();
    int rc = fs_each_entry(scratch_fd, remove_leftover, why);
    if (rc != 0) {
        snprintf(err, errlen, "%s", rc > 0 ? why : "scratch: cannot list it");
        return -1;
    }
    for (int i = 0; i < nslots; i++)
        if (slot_root_build(&slots[i], &st, err, errlen) != 0)
            return -1;
    probe_add(p, "slot_roots", true, "%d x (%u dirs, %u hard links, %u symlinks) in %lld ms",
              nslots, st.dirs, st.files, st.links, now_ms() - start);
    probe_add(p, "devices", strcmp(st.devices, "character devices") == 0,
              "/dev/null, zero, urandom: %s", st.devices);
    return 0;
}

/* Orphans of a sandbox go to the guardian where it can be a subreaper, else to pid 1. */
static void probe_reaper(struct jail_probe *p)
{
    if (guard_can_subreap()) {
        probe_add(p, "reaper", true, "the guardian is each sandbox's subreaper");
    } else if (getpid() == 1) {
        probe_add(p, "reaper", false,
                  "no subreaper here and pyexecd is pid 1: orphaned sandbox "
                  "processes stay zombies; run it under an init (tini)");
        log_warn("no PR_SET_CHILD_SUBREAPER and pyexecd is pid 1: processes a sandbox orphans "
                 "are reparented to pyexecd, which does not reap them; run it under an init "
                 "such as tini");
    } else {
        probe_add(p, "reaper", true, "no subreaper here: orphaned sandbox processes go to pid 1");
    }
}

static int open_rootfs(struct jail_probe *p, char *err, size_t errlen)
{
    char path[PATH_MAX];
    if (realpath(cfg->rootfs, path) == NULL ||
        (rootfs_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        snprintf(err, errlen, "rootfs %s: %s (build it with `make rootfs`)", cfg->rootfs,
                 strerror(errno));
        return -1;
    }
    probe_add(p, "rootfs", true, "%.90s", path);
    return 0;
}

/* What no probe can fail: the limits as configured, for /health. */
static void describe_limits(struct jail_probe *p)
{
    probe_add(p, "tmp", true,
              "private per slot (0700, slot uid), cap %lld MiB (unlinked files held count) and "
              "%d entries",
              (long long)cfg->tmp_mb, GUARD_TMP_ENTRIES);
    probe_add(p, "processes", true, "fork allowed; RLIMIT_NPROC %lld per slot uid",
              (long long)cfg->pids);
    probe_add(p, "network", true, "no namespace: socket() fails (EACCES), socketpair AF_UNIX only");
    probe_add(p, "memory", true, "RLIMIT_AS %lld MiB per process (no cgroups)",
              (long long)cfg->memory_mb);
}

/* The zygote itself starts with the first sandbox (the daemon's self-test). */
static void init_warm_start(struct jail_probe *p)
{
    if (cfg->warm_start)
        cloud_zygote_init(rootfs_fd, cfg, &prog);
    probe_add(p, "warm_start", true, cfg->warm_start ? "zygote, preloaded: %.60s" : "off",
              cfg->preload);
}

static int init_steps(struct jail_probe *p, char *err, size_t errlen)
{
    char why[128];
    if (open_rootfs(p, err, errlen) != 0)
        return -1;
    if ((scratch_fd = scratch_open(cfg->scratch, rootfs_fd, err, errlen)) < 0)
        return -1;
    probe_add(p, "scratch", true, "%.90s", cfg->scratch);
    if (check_uids(err, errlen) != 0 || build_trees(p, err, errlen) != 0)
        return -1;
    probe_add(p, "uids", true, "%u-%u: one per slot, setgroups cleared, no capabilities",
              (unsigned)slots[0].uid, (unsigned)slots[nslots - 1].uid);
    if (seccomp_prog_build(&cloud_policy, &prog, err, errlen) != 0)
        return -1;
    int outer = seccomp_outer_filters();
    probe_add(p, "seccomp", true,
              "api level %d, %s: allow-list of %zu + %zu filtered, %zu errno (%u insns)%s",
              prog.api_level, prog.kill_action, cloud_policy.nallow, cloud_policy.nfiltered,
              cloud_policy.nanswers, prog.fprog.len, outer > 0 ? "; under a runtime filter" : "");
    if (probe_jail(slots[0].root_fd, slots[0].uid, &prog, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "the cloud jail cannot give its guarantees here: %s", why);
        return -1;
    }
    probe_add(p, "jail", true, "chroot, setuid, RLIMIT_NPROC and the guardian's ptrace work");
    probe_reaper(p);
    describe_limits(p);
    init_warm_start(p);
    return 0;
}

int jail_init(const struct config *c, struct jail_probe *p, char *err, size_t errlen)
{
    cfg = c;
    p->mode = "cloud";
    p->hint = "the cloud jail needs root with Docker's default capabilities (chroot, setuid, "
              "ptrace of its own children) and --scratch on the rootfs's file system";
    nslots = (int)(c->max_sandboxes < MAX_SLOTS ? c->max_sandboxes : MAX_SLOTS);
    reports = mmap(NULL, MAX_SLOTS * sizeof(*reports), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (reports == MAP_FAILED) {
        snprintf(err, errlen, "mmap: %s", strerror(errno));
        reports = NULL;
        return -1;
    }
    for (int i = 0; i < nslots; i++) {
        slots[i] = (struct jail_slot){.index = i, .uid = (uid_t)(c->sandbox_uid + i)};
        slots[i].root_fd = -1;
        slots[i].ready.pid = -1;
        slots[i].report = &reports[i];
        snprintf(slots[i].name, sizeof(slots[i].name), "slot-%d", i);
    }
    if (init_steps(p, err, errlen) != 0) {
        jail_shutdown(); /* a refusal leaves nothing in the scratch directory either */
        return -1;
    }
    return 0;
}

/* Until no process of a slot uid is left (bounded): the killed ready sandboxes are the zygote's
 * children, which it reaps only while it lives; orphaned to pid 1, they can stay zombies of the
 * slot uid for long (and block the next daemon's start-up check). */
static void await_slot_uids(void)
{
    const struct timespec pause = {0, 5000000};
    for (int i = 0; i < nslots; i++)
        for (int waited = 0; waited < 2000 && uid_in_use(slots[i].uid) == 1; waited += 5)
            nanosleep(&pause, NULL);
}

void jail_shutdown(void)
{
    for (int i = 0; i < nslots; i++)
        if (slots[i].ready.pid > 0)
            ready_discard(&slots[i].ready);
    await_slot_uids();
    cloud_zygote_stop();
    for (int i = 0; i < nslots; i++) {
        if (slots[i].root_fd >= 0)
            close(slots[i].root_fd);
        slots[i].root_fd = -1;
    }
    char why[160] = "";
    if (scratch_fd >= 0 && fs_each_entry(scratch_fd, remove_leftover, why) != 0)
        log_error("%s", why[0] ? why : "scratch: cannot list it");
    seccomp_prog_free(&prog);
    if (reports != NULL)
        munmap(reports, MAX_SLOTS * sizeof(*reports));
    reports = NULL;
    if (scratch_fd >= 0)
        close(scratch_fd); /* and with it the lock */
    if (rootfs_fd >= 0)
        close(rootfs_fd);
    scratch_fd = rootfs_fd = -1;
}

struct jail_slot *jail_slot_get(int n)
{
    return n >= 0 && n < nslots ? &slots[n] : NULL;
}

/* In the sandbox: from fork to exec. Every failure is reported with the step's name. */
__attribute__((noreturn)) static void contain(const struct sandbox_pipes *p,
                                              const struct jail_slot *slot)
{
    /* Traced before anything else: the guardian sees every thread and process made from here. */
    if (guard_traceme() != 0)
        sandbox_fail(p, "be traced by the guardian");
    /* Until the guardian has set its options and limits (a warm sandbox waits the same way); EOF:
     * the guardian is gone. */
    close(p->go[1]);
    if (sandbox_wait_go(p) != 0)
        sandbox_fail(p, "wait for the guardian");
    /* Its own session: nothing sent to the daemon's process group or terminal reaches it. */
    if (setsid() < 0)
        sandbox_fail(p, "setsid");
    if (fchdir(slot->root_fd) != 0 || chroot(".") != 0 || chdir("/") != 0)
        sandbox_fail(p, "chroot into the slot's root");
    /* The bounding set needs CAP_SETPCAP, which leaving uid 0 takes away. */
    if (sandbox_drop_bounding_caps() != 0)
        sandbox_fail(p, "drop the bounding set");
    if (sandbox_become(slot->uid, slot->uid) != 0)
        sandbox_fail(p, "drop to the slot uid");
    sandbox_enter(p, &prog);
}

/* Between the daemon and the sandbox, for the sandbox's whole life. sandbox: a warm one the
 * zygote (pid zygote) made, or 0: fork it here (cold). */
__attribute__((noreturn)) static void guardian(struct sandbox_pipes *p, struct jail_slot *slot,
                                               pid_t daemon, pid_t sandbox, pid_t zygote)
{
    struct guard g = {.uid = slot->uid, .report = slot->report};
    if (guard_prepare(daemon) != 0)
        sandbox_fail(p, "guardian set-up");
    if ((g.tmp_fd = scratch_tmp_open(slot->root_fd)) < 0)
        sandbox_fail(p, "open the slot's /tmp");
    pid_t pid = sandbox > 0 ? sandbox : fork();
    if (pid == 0)
        contain(p, slot);
    if (pid < 0)
        sandbox_fail(p, "fork the sandbox");
    guardian_run(&g, pid, sandbox > 0 ? zygote : 0, cfg, p);
}

/* The guardian of a new sandbox, the daemon's child either way; a warm sandbox is first made by
 * the zygote (waiting for the guardian to attach). */
static pid_t launch(struct jail_slot *slot, struct sandbox_pipes *p, char *err, size_t errlen)
{
    pid_t sandbox = 0, zygote = 0;
    if (cfg->warm_start &&
        (sandbox = cloud_zygote_spawn(p, slot->uid, slot->root_fd, &zygote, err, errlen)) < 0)
        return -1;
    pid_t daemon = getpid();
    pid_t pid = fork();
    if (pid == 0)
        guardian(p, slot, daemon, sandbox, zygote);
    if (pid < 0)
        snprintf(err, errlen, "fork the guardian: %s", strerror(errno));
    return pid;
}

/* err: the errno behind why, or 0. */
static void quarantine(struct jail_slot *s, const char *why, int err)
{
    if (!s->quarantined)
        log_error("slot %d quarantined: %s%s%s; its root is rebuilt before its next sandbox",
                  s->index, why, err ? ": " : "", err ? strerror(err) : "");
    s->quarantined = true;
}

/* The damaged root is moved aside before a fresh one is built: nothing of it is reused. */
static int slot_rebuild(struct jail_slot *s, char *err, size_t errlen)
{
    char old[32];
    struct tree_stats st;
    if (uid_sweep(s->uid) != 0) {
        snprintf(err, errlen, "slot %d: processes of uid %u survive: %s", s->index,
                 (unsigned)s->uid, strerror(errno));
        return -1;
    }
    if (s->root_fd >= 0)
        close(s->root_fd);
    s->root_fd = -1;
    snprintf(old, sizeof(old), "%s.old-%u", s->name, s->rebuilds++);
    if (renameat(scratch_fd, s->name, scratch_fd, old) != 0 && errno != ENOENT) {
        snprintf(err, errlen, "slot %d: move its root aside: %s", s->index, strerror(errno));
        return -1;
    }
    if (slot_root_build(s, &st, err, errlen) != 0)
        return -1;
    if (tree_remove(scratch_fd, old) != 0)
        log_error("slot %d: its old root %s stays in the scratch directory until shutdown: %s",
                  s->index, old, strerror(errno));
    s->quarantined = false;
    log_info("slot %d: root rebuilt", s->index);
    return 0;
}

/* Before a sandbox is handed out or made: a root that is no longer as built quarantines the slot,
 * and a ready sandbox made in it is dropped. */
static void slot_check(struct jail_slot *s)
{
    if (s->quarantined || tree_intact(s->root_fd, &s->marks))
        return;
    quarantine(s, "its root is no longer as built", 0);
    if (s->ready.pid > 0)
        ready_discard(&s->ready);
}

static int start(struct jail_slot *slot, struct jail_sandbox *sb, char *err, size_t errlen)
{
    struct sandbox_pipes p;
    memset(sb, 0, sizeof(*sb));
    sb->pid = -1;
    sb->slot = slot;
    sb->script_fd = sb->stdout_fd = sb->stderr_fd = sb->result_fd = -1;
    if (slot->quarantined && slot_rebuild(slot, err, errlen) != 0)
        return JAIL_UNAVAILABLE;
    if (scratch_tmp_create(slot->root_fd, slot->uid) != 0) {
        snprintf(err, errlen, "create the slot's /tmp: %s", strerror(errno));
        return -1;
    }
    if (pipes_open(&p) != 0) {
        snprintf(err, errlen, "pipes: %s", strerror(errno));
        jail_cleanup(sb, NULL);
        return -1;
    }
    *slot->report = (struct guard_report){.call = GUARD_CALL_NONE};
    sb->pid = launch(slot, &p, err, errlen);
    /* Only the guardian may let the sandbox go: if it dies first, the sandbox reads EOF. */
    close(p.go[1]);
    p.go[1] = -1;
    if (sb->pid < 0 || sandbox_handover(&p, sb, err, errlen) != 0) {
        sb->pid = -1; /* reaped by sandbox_handover, or never made */
        pipes_close_all(&p);
        jail_cleanup(sb, NULL);
        return -1;
    }
    return 0;
}

int jail_start(struct jail_slot *slot, struct jail_sandbox *sb, char *err, size_t errlen)
{
    slot_check(slot);
    return ready_take(&slot->ready, slot, slot->index, start, sb, err, errlen);
}

void jail_slot_prepare(struct jail_slot *slot)
{
    char err[256];
    slot_check(slot);
    /* Healed off the request path where it can be. */
    if (slot->quarantined && slot_rebuild(slot, err, sizeof(err)) != 0)
        log_warn("slot %d: not rebuilt yet: %s", slot->index, err);
    if (cfg->warm_start)
        ready_fill(&slot->ready, slot, slot->index, start);
}

void jail_kill(struct jail_sandbox *sb)
{
    const struct timespec pause = {0, 1000000};
    if (!sandbox_running(sb->pid))
        return;
    /* The guardian kills every task of the sandbox by id, as root: nothing in the sandbox can stop
     * that (a helper with the slot uid could be killed by the sandbox first). */
    kill(sb->pid, SIGTERM);
    for (int ms = 0; ms < GUARDIAN_GRACE_MS; ms++) {
        if (!sandbox_running(sb->pid))
            return;
        nanosleep(&pause, NULL);
    }
    /* A guardian that does not end: killed, it takes its tracees with it (PTRACE_O_EXITKILL). */
    log_error("slot %d: the guardian did not end the sandbox within %d ms; killing it",
              sb->slot->index, GUARDIAN_GRACE_MS);
    kill(sb->pid, SIGKILL);
}

/* The forbidden call the slot's guardian saw, for the 403 and the log. */
static void name_call(const struct jail_slot *slot, char *buf, size_t len)
{
    long nr = slot->report->call;
    if (nr == GUARD_CALL_NONE)
        return;
    if (nr == GUARD_CALL_FOREIGN)
        snprintf(buf, len, "a call of another architecture");
    else
        seccomp_call_name(nr, buf, len);
    log_info("slot %d: forbidden system call %s: the sandbox was ended", slot->index, buf);
}

void jail_cleanup(struct jail_sandbox *sb, struct jail_outcome *out)
{
    struct jail_slot *slot = sb->slot;
    if (out != NULL) {
        memset(out, 0, sizeof(*out));
        out->cpu_ms = slot->report->cpu_ms; /* written by the guardian, which is reaped */
        name_call(slot, out->forbidden_call, sizeof(out->forbidden_call));
    }
    /* The guardian ends only when no process it traced is left, and every process of the sandbox
     * was traced from its first instruction (or killed with a dying guardian, PTRACE_O_EXITKILL).
     * The sweep proves it (and kills what the failure paths, where the guardian was killed, left);
     * only then is /tmp emptied, by its owner. Either failing: the slot is not reused as it is. */
    if (uid_sweep(slot->uid) != 0)
        quarantine(slot, "processes of its uid survived the sweep", errno);
    else if (clean_tmp(slot->root_fd) != 0)
        quarantine(slot, "its /tmp could not be emptied by its uid", errno);
}
