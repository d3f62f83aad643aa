/* The zygote's way, in order:
 *   daemon: clone into new user, mount, net, ipc and uts namespaces (not pid: its sandboxes
 *           are cloned with CLONE_PARENT, so they are the daemon's children, which an init of
 *           a pid namespace could not make); map root to an unprivileged host id and the slot
 *           uids (user.c)
 *   zygote: session, mounts + pivot_root (mnt.c, with the host's /proc), hostname, root of its
 *           namespace, death signal, fds, signals, exec of rootfs/zygote.py
 *   daemon: sends the seccomp program, waits for "ready" (the preload is imported)
 * Then per sandbox: the daemon sends its pipes, the zygote answers with the sandbox's pid. */
#include "zygote.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../src/config.h"
#include "../common/sandbox.h"
#include "../common/zygote_ctl.h"
#include "mnt.h"
#include "user.h"

#define ZYGOTE_FLAGS (CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS)
#define NFDS 6

static const struct config *cfg;
static const char *root;

__attribute__((noreturn)) static void contain(int sock, int go)
{
    const char *step = "wait for the daemon";
    struct mnt_plan plan = {.host_proc = true};
    char c;
    if (read(go, &c, 1) != 1)
        goto fail;
    step = "setsid";
    if (setsid() < 0 || mnt_setup(root, &plan, &step) != 0)
        goto fail;
    step = "hostname";
    if (sethostname("sandbox", 7) != 0)
        goto fail;
    step = "become root of the namespace";
    if (sandbox_become(0, 0) != 0)
        goto fail;
    /* After the uid change, which clears it. */
    step = "parent death signal";
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0)
        goto fail;
    zygote_ctl_exec(sock, cfg->preload);
fail:
    zygote_ctl_report_failure(sock, step);
    _exit(127);
}

/* The zygote's user namespace gets its maps from outside before it may go on. */
static pid_t launch(int sock, const char **step)
{
    int go[2];
    *step = "pipe";
    if (pipe2(go, O_CLOEXEC) != 0)
        return -1;
    /* A raw clone, as for a cold sandbox: the child runs only async-signal-safe code. */
    pid_t pid = (pid_t)syscall(SYS_clone, ZYGOTE_FLAGS | SIGCHLD, NULL, NULL, NULL, NULL);
    if (pid == 0)
        contain(sock, go[0]);
    int saved = errno;
    close(go[0]);
    errno = saved;
    *step = "clone";
    unsigned first = (unsigned)cfg->sandbox_uid;
    if (pid > 0 && (user_map_zygote(pid, first + ZYGOTE_UID_OFFSET, first,
                                    (unsigned)cfg->max_sandboxes, step) != 0 ||
                    (*step = "release the zygote", write(go[1], "g", 1)) != 1)) {
        saved = errno;
        kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        errno = saved;
        pid = -1;
    }
    close(go[1]);
    return pid;
}

void zygote_init(const char *rootfs, const struct config *c, const struct seccomp_prog *p)
{
    root = rootfs;
    cfg = c;
    zygote_ctl_init(&(struct zygote_spec){.launch = launch, .prog = p, .preload = c->preload});
}

pid_t zygote_spawn(const struct sandbox_pipes *p, int slot, bool cgroupns, char *err, size_t errlen)
{
    char msg[64];
    const int fds[NFDS] = {p->script[0], p->out[1], p->err[1],
                           p->result[1], p->go[0],  p->report[1]};
    snprintf(msg, sizeof(msg), "S %d %lld %d", SANDBOX_UID + slot, (long long)cfg->tmp_mb,
             cgroupns ? 1 : 0);
    return zygote_ctl_spawn(msg, fds, NFDS, NULL, err, errlen);
}

void zygote_stop(void)
{
    zygote_ctl_stop();
}
