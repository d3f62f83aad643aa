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
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../src/config.h"
#include "../../src/log.h"
#include "../common/sandbox.h"
#include "../common/seccomp.h"
#include "mnt.h"
#include "user.h"

#define ZYGOTE "/opt/pyexecd/zygote.py"
#define ZYGOTE_FLAGS (CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS)
#define START_TIMEOUT_MS 120000 /* importing pandas takes ~0.5 s here; a loaded host, more */
#define SPAWN_TIMEOUT_MS 10000
#define NFDS 6

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static const struct config *cfg;
static const struct seccomp_prog *prog;
static const char *root;
static pid_t zpid = -1;
static int ctl = -1;

/* In the zygote before exec (async-signal-safe only: the daemon may be threaded): the failed
 * step goes to the daemon as a spawn failure would, "E <errno> <step>". */
static void report_failure(int sock, const char *step)
{
    char msg[96] = "E ", num[16];
    int n = 0, e = errno;
    do
        num[sizeof(num) - 1 - n++] = (char)('0' + e % 10);
    while ((e /= 10) > 0 && n < (int)sizeof(num));
    size_t len = 2;
    memcpy(msg + len, num + sizeof(num) - n, (size_t)n);
    len += (size_t)n;
    msg[len++] = ' ';
    for (size_t i = 0; step[i] != '\0' && len < sizeof(msg); i++)
        msg[len++] = step[i];
    if (send(sock, msg, len, MSG_NOSIGNAL) < 0)
        _exit(126);
}

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
    step = "fds";
    if (dup2(sock, 0) != 0 || close_range(3, INT_MAX, 0) != 0)
        goto fail;
    step = "signals";
    if (sandbox_reset_signals() != 0)
        goto fail;
    step = "execve " ZYGOTE;
    sandbox_exec_python(ZYGOTE, cfg->preload);
fail:
    report_failure(sock, step);
    _exit(127);
}

/* One message from the zygote, within timeout_ms: its length, 0 if it closed, -1 on error. */
static ssize_t await_reply(char *buf, size_t size, int timeout_ms)
{
    struct pollfd pfd = {.fd = ctl, .events = POLLIN};
    int rc;
    while ((rc = poll(&pfd, 1, timeout_ms)) < 0 && errno == EINTR)
        ;
    if (rc == 0)
        errno = ETIMEDOUT;
    if (rc <= 0)
        return -1;
    ssize_t n;
    while ((n = recv(ctl, buf, size - 1, 0)) < 0 && errno == EINTR)
        ;
    if (n >= 0)
        buf[n] = '\0';
    return n;
}

/* "E <errno> <step>" from the zygote or a spawn: true, with err set. */
static bool failure_reply(const char *reply, ssize_t n, char *err, size_t errlen)
{
    int e, off = 0;
    if (n <= 0 || sscanf(reply, "E %d %n", &e, &off) != 1 || off == 0)
        return false;
    snprintf(err, errlen, "zygote: %.60s: %s", reply + off, strerror(e));
    return true;
}

static void stop_locked(void)
{
    if (ctl >= 0)
        close(ctl);
    ctl = -1;
    if (zpid > 0) {
        kill(zpid, SIGKILL);
        while (waitpid(zpid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    zpid = -1;
}

static int send_program(void)
{
    size_t len = prog->fprog.len * sizeof(struct sock_filter);
    char *msg = malloc(len + 1);
    if (msg == NULL)
        return -1;
    msg[0] = 'F';
    memcpy(msg + 1, prog->fprog.filter, len);
    ssize_t n = send(ctl, msg, len + 1, MSG_NOSIGNAL);
    free(msg);
    return n == (ssize_t)(len + 1) ? 0 : -1;
}

static int start_locked(char *err, size_t errlen)
{
    int sv[2], go[2];
    const char *step = "socketpair";
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
        goto fail;
    step = "pipe";
    if (pipe2(go, O_CLOEXEC) != 0) {
        close(sv[0]);
        close(sv[1]);
        goto fail;
    }
    /* A raw clone, as for a cold sandbox: the child runs only async-signal-safe code. */
    pid_t pid = (pid_t)syscall(SYS_clone, ZYGOTE_FLAGS | SIGCHLD, NULL, NULL, NULL, NULL);
    if (pid == 0)
        contain(sv[1], go[0]);
    int saved = errno;
    close(sv[1]);
    close(go[0]);
    ctl = sv[0];
    zpid = pid;
    errno = saved;
    step = "clone";
    unsigned first = (unsigned)cfg->sandbox_uid;
    if (pid < 0 ||
        user_map_zygote(pid, first + ZYGOTE_UID_OFFSET, first, (unsigned)cfg->max_sandboxes,
                        &step) != 0 ||
        (step = "release the zygote", write(go[1], "g", 1)) != 1 ||
        (step = "send the seccomp program", send_program()) != 0) {
        saved = errno;
        close(go[1]);
        stop_locked();
        errno = saved;
        goto fail;
    }
    close(go[1]);
    char reply[128];
    ssize_t n = await_reply(reply, sizeof(reply), START_TIMEOUT_MS);
    if (n == 1 && reply[0] == 'R')
        return 0;
    if (!failure_reply(reply, n, err, errlen))
        snprintf(err, errlen, "zygote: %s before it had imported %s (its traceback is in the log)",
                 n > 0    ? "unexpected reply"
                 : n == 0 ? "it exited"
                          : strerror(errno),
                 cfg->preload);
    stop_locked();
    return -1;
fail:
    snprintf(err, errlen, "zygote: %s: %s", step, strerror(errno));
    return -1;
}

void zygote_init(const char *rootfs, const struct config *c, const struct seccomp_prog *p)
{
    root = rootfs;
    cfg = c;
    prog = p;
}

/* -1 and err on failure; *broken when the zygote itself no longer answers. */
static pid_t request_locked(const struct sandbox_pipes *p, int slot, bool cgroupns, bool *broken,
                            char *err, size_t errlen)
{
    char msg[64], reply[128], cbuf[CMSG_SPACE(NFDS * sizeof(int))];
    int fds[NFDS] = {p->script[0], p->out[1], p->err[1], p->result[1], p->go[0], p->report[1]};
    int len = snprintf(msg, sizeof(msg), "S %d %lld %d", SANDBOX_UID + slot, (long long)cfg->tmp_mb,
                       cgroupns ? 1 : 0);
    struct iovec iov = {.iov_base = msg, .iov_len = (size_t)len};
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
    memset(cbuf, 0, sizeof(cbuf));
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(fds));
    memcpy(CMSG_DATA(cm), fds, sizeof(fds));
    *broken = true;
    if (sendmsg(ctl, &mh, MSG_NOSIGNAL) != len) {
        snprintf(err, errlen, "zygote: send the sandbox's pipes: %s", strerror(errno));
        return -1;
    }
    ssize_t n = await_reply(reply, sizeof(reply), SPAWN_TIMEOUT_MS);
    if (n <= 0) {
        snprintf(err, errlen, "zygote: %s", n < 0 ? strerror(errno) : "it exited");
        return -1;
    }
    *broken = false;
    int pid;
    if (sscanf(reply, "P %d", &pid) == 1 && pid > 0)
        return pid;
    if (!failure_reply(reply, n, err, errlen))
        snprintf(err, errlen, "zygote: unexpected reply %.40s", reply);
    return -1;
}

static bool alive_locked(void)
{
    int status;
    if (zpid <= 0)
        return false;
    if (waitpid(zpid, &status, WNOHANG) != zpid)
        return true;
    log_warn("the zygote exited (%s %d); starting a new one",
             WIFSIGNALED(status) ? "signal" : "status",
             WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    zpid = -1;
    return false;
}

pid_t zygote_spawn(const struct sandbox_pipes *p, int slot, bool cgroupns, char *err, size_t errlen)
{
    pid_t pid = -1;
    bool broken = true;
    pthread_mutex_lock(&lock);
    /* A zygote that died or stopped answering is replaced once, on the request's time. */
    for (int attempt = 0; attempt < 2 && pid < 0 && broken; attempt++) {
        if (!alive_locked()) {
            stop_locked();
            if (start_locked(err, errlen) != 0)
                break;
        }
        pid = request_locked(p, slot, cgroupns, &broken, err, errlen);
        if (broken)
            stop_locked();
    }
    pthread_mutex_unlock(&lock);
    return pid;
}

void zygote_stop(void)
{
    pthread_mutex_lock(&lock);
    stop_locked();
    pthread_mutex_unlock(&lock);
}
