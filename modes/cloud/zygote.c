/* The cloud zygote's way, in order:
 *   daemon: fork
 *   zygote: session, chroot into the rootfs (root stays root: the zygote never runs a script,
 *           and the rootfs is read-only for the sandboxes' uids only), death signal, fds,
 *           signals, exec of rootfs/zygote.py
 *   daemon: sends the seccomp program, waits for "ready"
 * Then per sandbox: the daemon sends the pipes and the slot's root; the zygote answers with the
 * sandbox's pid. */
#include "zygote.h"

#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "../../src/config.h"
#include "../common/sandbox.h"
#include "../common/zygote_ctl.h"

#define NFDS 7

static int rootfs = -1;
static const char *preload;
static pid_t daemon_pid;

__attribute__((noreturn)) static void contain(int sock)
{
    const char *step = "setsid";
    if (setsid() < 0)
        goto fail;
    step = "chroot into the rootfs";
    if (fchdir(rootfs) != 0 || chroot(".") != 0 || chdir("/") != 0)
        goto fail;
    step = "parent death signal";
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 || getppid() != daemon_pid)
        goto fail;
    zygote_ctl_exec(sock, preload);
fail:
    zygote_ctl_report_failure(sock, step);
    _exit(127);
}

static pid_t launch(int sock, const char **step)
{
    *step = "fork";
    daemon_pid = getpid();
    pid_t pid = fork();
    if (pid == 0)
        contain(sock);
    return pid;
}

void cloud_zygote_init(int rootfs_fd, const struct config *cfg, const struct seccomp_prog *prog)
{
    rootfs = rootfs_fd;
    preload = cfg->preload;
    zygote_ctl_init(&(struct zygote_spec){.launch = launch, .prog = prog, .preload = preload});
}

pid_t cloud_zygote_spawn(const struct sandbox_pipes *p, uid_t uid, int root_fd, pid_t *zygote,
                         char *err, size_t errlen)
{
    char msg[32];
    const int fds[NFDS] = {p->script[0], p->out[1],    p->err[1], p->result[1],
                           p->go[0],     p->report[1], root_fd};
    snprintf(msg, sizeof(msg), "C %u", (unsigned)uid);
    return zygote_ctl_spawn(msg, fds, NFDS, zygote, err, errlen);
}

void cloud_zygote_stop(void)
{
    zygote_ctl_stop();
}
