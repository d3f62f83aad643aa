/* Messages on the control socket (rootfs/zygote.py has the full list):
 *   daemon -> zygote: "F" + the seccomp program, once; then spawn requests
 *   zygote -> daemon: "R" ready, "P <pid>" spawned, "E <errno> <step>" failed */
#include "zygote_ctl.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../src/log.h"
#include "sandbox.h"
#include "seccomp.h"

#define START_TIMEOUT_MS 120000 /* importing pandas takes ~0.5 s here, ~2 s under gVisor */
#define SPAWN_TIMEOUT_MS 10000
#define MAX_FDS 8

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct zygote_spec spec;
static pid_t zpid = -1;
static int ctl = -1;

void zygote_ctl_exec(int sock, const char *preload)
{
    const char *step = "fds";
    if (dup2(sock, 0) == 0 && close_range(3, INT_MAX, 0) == 0 &&
        (step = "signals", sandbox_reset_signals()) == 0) {
        step = "execve " ZYGOTE_SCRIPT;
        sandbox_exec_python(ZYGOTE_SCRIPT, preload);
    }
    zygote_ctl_report_failure(sock, step);
    _exit(127);
}

void zygote_ctl_report_failure(int sock, const char *step)
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

/* A message with fds attached; 0 once all of it is sent. */
static int send_with_fds(const void *msg, size_t len, const int *fds, int nfds)
{
    char cbuf[CMSG_SPACE(MAX_FDS * sizeof(int))];
    struct iovec iov = {.iov_base = (void *)msg, .iov_len = len};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    if (nfds < 0 || nfds > MAX_FDS) {
        errno = EINVAL;
        return -1;
    }
    if (nfds > 0) {
        memset(cbuf, 0, sizeof(cbuf));
        mh.msg_control = cbuf;
        mh.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
        memcpy(CMSG_DATA(cm), fds, (size_t)nfds * sizeof(int));
    }
    return sendmsg(ctl, &mh, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

static int send_program(void)
{
    size_t len = spec.prog->fprog.len * sizeof(struct sock_filter);
    char *msg = malloc(len + 1);
    if (msg == NULL)
        return -1;
    msg[0] = 'F';
    memcpy(msg + 1, spec.prog->fprog.filter, len);
    int rc = send_with_fds(msg, len + 1, NULL, 0);
    free(msg);
    return rc;
}

static int start_locked(char *err, size_t errlen)
{
    int sv[2];
    const char *step = "socketpair";
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
        goto fail;
    zpid = spec.launch(sv[1], &step);
    int saved = errno;
    close(sv[1]);
    ctl = sv[0];
    errno = saved;
    if (zpid < 0 || (step = "send the seccomp program", send_program()) != 0) {
        saved = errno;
        stop_locked();
        errno = saved;
        goto fail;
    }
    char reply[128];
    ssize_t n = await_reply(reply, sizeof(reply), START_TIMEOUT_MS);
    if (n == 1 && reply[0] == 'R')
        return 0;
    if (!failure_reply(reply, n, err, errlen))
        snprintf(err, errlen, "zygote: %s before it had imported %s (its traceback is in the log)",
                 n > 0    ? "unexpected reply"
                 : n == 0 ? "it exited"
                          : strerror(errno),
                 spec.preload);
    stop_locked();
    return -1;
fail:
    snprintf(err, errlen, "zygote: %s: %s", step, strerror(errno));
    return -1;
}

void zygote_ctl_init(const struct zygote_spec *s)
{
    spec = *s;
}

/* -1 and err on failure; *broken when the zygote itself no longer answers. */
static pid_t request_locked(const char *msg, const int *fds, int nfds, bool *broken, char *err,
                            size_t errlen)
{
    char reply[128];
    *broken = true;
    if (send_with_fds(msg, strlen(msg), fds, nfds) != 0) {
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

pid_t zygote_ctl_spawn(const char *msg, const int *fds, int nfds, pid_t *zygote, char *err,
                       size_t errlen)
{
    pid_t pid = -1;
    bool broken = true;
    pthread_mutex_lock(&lock);
    for (int attempt = 0; attempt < 2 && pid < 0 && broken; attempt++) {
        if (!alive_locked()) {
            stop_locked();
            if (start_locked(err, errlen) != 0)
                break;
        }
        pid = request_locked(msg, fds, nfds, &broken, err, errlen);
        if (broken)
            stop_locked();
    }
    if (zygote != NULL)
        *zygote = zpid;
    pthread_mutex_unlock(&lock);
    return pid;
}

void zygote_ctl_stop(void)
{
    pthread_mutex_lock(&lock);
    stop_locked();
    pthread_mutex_unlock(&lock);
}
