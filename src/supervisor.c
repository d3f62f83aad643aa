#include "supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../modes/jail.h"
#include "classify.h"
#include "clock.h"
#include "config.h"
#include "log.h"

#define SLICE_MS 50  /* longest poll: how soon a shutdown or a lost exit is noticed */
#define DRAIN_MS 200 /* after the end, how long to collect what is still in the pipes */
#define CHUNK (64 * 1024)

atomic_bool supervisor_abort;

struct run {
    const struct config *cfg;
    struct jail_sandbox sb;
    struct exec_result *res;
    struct buf frame;
    const char *script;
    size_t script_len, script_off;
    const char *overflow; /* which stream went past its cap */
    int status;
    struct rusage ru;
    enum sandbox_stop stop;
};

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* Reads what is there; on EOF closes the fd. Returns false when the stream went over its cap. */
static bool pump(int *fd, struct buf *b)
{
    char chunk[CHUNK];
    for (;;) {
        ssize_t n = read(*fd, chunk, sizeof(chunk));
        if (n > 0) {
            if (buf_append(b, chunk, (size_t)n) != 0 || b->truncated)
                return false;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
            close_fd(fd);
        return true;
    }
}

static void feed_script(struct run *r)
{
    while (r->script_off < r->script_len) {
        ssize_t n =
            write(r->sb.script_fd, r->script + r->script_off, r->script_len - r->script_off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            if (errno != EAGAIN)
                close_fd(&r->sb.script_fd); /* the harness is gone; its exit tells why */
            return;
        }
        r->script_off += (size_t)n;
    }
    close_fd(&r->sb.script_fd); /* EOF: the harness starts */
}

static bool reaped(struct run *r, int flags)
{
    pid_t p;
    if (r->sb.pid <= 0)
        return true;
    do
        p = wait4(r->sb.pid, &r->status, flags, &r->ru);
    while (p < 0 && errno == EINTR);
    if (p != r->sb.pid)
        return false;
    r->sb.pid = -1; /* reaped: the number may be reused, the jail must not signal it */
    return true;
}

static void read_streams(struct run *r, struct pollfd *pfd, int n)
{
    struct {
        int *fd;
        struct buf *b;
        const char *name;
    } s[] = {{&r->sb.stdout_fd, &r->res->out, "stdout"},
             {&r->sb.stderr_fd, &r->res->errout, "stderr"},
             {&r->sb.result_fd, &r->frame, "result"}};
    for (int i = 0; i < n; i++) {
        for (size_t k = 0; k < 3; k++) {
            if (pfd[i].fd != *s[k].fd || !(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            if (!pump(s[k].fd, s[k].b) && r->overflow == NULL)
                r->overflow = s[k].name;
        }
    }
}

/* One round of the loop: returns the reason to stop, or RUNNING. */
static enum sandbox_stop step(struct run *r, long long deadline, int *idle_ms)
{
    struct pollfd pfd[4];
    int n = 0;
    int *fds[] = {&r->sb.stdout_fd, &r->sb.stderr_fd, &r->sb.result_fd};
    if (r->sb.script_fd >= 0)
        pfd[n++] = (struct pollfd){.fd = r->sb.script_fd, .events = POLLOUT};
    for (int i = 0; i < 3; i++)
        if (*fds[i] >= 0)
            pfd[n++] = (struct pollfd){.fd = *fds[i], .events = POLLIN};
    long long left = deadline - now_ms();
    /* With every pipe closed only the exit is left to wait for: poll it closely at first. */
    int timeout = n > 0 ? SLICE_MS : *idle_ms;
    if (n == 0 && *idle_ms < SLICE_MS)
        *idle_ms = *idle_ms * 2 + 1;
    if (timeout > left)
        timeout = left > 0 ? (int)left : 0;
    if (poll(pfd, (nfds_t)n, timeout) < 0 && errno != EINTR)
        return STOP_ABORTED;
    for (int i = 0; i < n; i++)
        if (pfd[i].fd == r->sb.script_fd && pfd[i].revents)
            feed_script(r);
    read_streams(r, pfd, n);
    if (r->overflow != NULL)
        return STOP_OVERFLOW;
    if (r->sb.result_fd < 0 && r->frame.len > 0)
        return STOP_GOT_RESULT; /* main() returned: whatever else runs is not needed */
    if (reaped(r, WNOHANG))
        return STOP_EXITED;
    if (now_ms() >= deadline)
        return STOP_TIMED_OUT;
    if (atomic_load(&supervisor_abort))
        return STOP_ABORTED;
    return STOP_RUNNING;
}

static void set_nonblock(int fd)
{
    if (fd >= 0) {
        int fl = fcntl(fd, F_GETFL);
        if (fl >= 0)
            fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    }
}

/* After the end: collect what the pipes still hold, without waiting on stragglers forever. */
static void drain(struct run *r)
{
    long long until = now_ms() + DRAIN_MS;
    while ((r->sb.stdout_fd >= 0 || r->sb.stderr_fd >= 0 || r->sb.result_fd >= 0) &&
           now_ms() < until && r->overflow == NULL) {
        struct pollfd pfd[3];
        int n = 0;
        int *fds[] = {&r->sb.stdout_fd, &r->sb.stderr_fd, &r->sb.result_fd};
        for (int i = 0; i < 3; i++)
            if (*fds[i] >= 0)
                pfd[n++] = (struct pollfd){.fd = *fds[i], .events = POLLIN};
        if (poll(pfd, (nfds_t)n, 10) < 0 && errno != EINTR)
            break;
        read_streams(r, pfd, n);
    }
}

static void collect(struct run *r)
{
    int idle_ms = 0;
    long long deadline = now_ms() + r->cfg->wall_ms;
    set_nonblock(r->sb.script_fd);
    set_nonblock(r->sb.stdout_fd);
    set_nonblock(r->sb.stderr_fd);
    set_nonblock(r->sb.result_fd);
    feed_script(r);
    while ((r->stop = step(r, deadline, &idle_ms)) == STOP_RUNNING)
        ;
    if (r->stop != STOP_EXITED) {
        jail_kill(&r->sb);
        while (!reaped(r, 0) && errno != ECHILD)
            ;
    }
    jail_kill(&r->sb); /* whatever the first process left behind */
    drain(r);
}

static void describe_exit(enum sandbox_stop stop, int status, char *out, size_t len)
{
    if (stop == STOP_GOT_RESULT)
        snprintf(out, len, "result delivered, then stopped");
    else if (WIFSIGNALED(status))
        snprintf(out, len, "signal %d", WTERMSIG(status));
    else
        snprintf(out, len, "exit %d", WEXITSTATUS(status));
}

void supervisor_run(const struct config *cfg, struct jail_slot *slot, const char *script,
                    size_t len, struct exec_result *res)
{
    char err[256];
    struct jail_outcome outcome = {0};
    struct run r = {.cfg = cfg, .res = res, .script = script, .script_len = len};
    long long start = now_ms();
    buf_init(&r.frame, (size_t)cfg->result_bytes + 1);
    int rc = jail_start(slot, &r.sb, err, sizeof(err));
    if (rc == JAIL_UNAVAILABLE) {
        log_error("sandbox unavailable: %s", err);
        result_fail(res, ERR_UNAVAILABLE,
                    "the sandbox slot is being rebuilt (%s); the script did not run, retry", err);
        buf_free(&r.frame);
        return;
    }
    if (rc != 0) {
        log_error("sandbox set-up failed: %s", err);
        result_fail(res, ERR_INTERNAL,
                    "the sandbox could not be set up (%s); the script did not run", err);
        buf_free(&r.frame);
        return;
    }
    res->ran = true;
    collect(&r);
    jail_cleanup(&r.sb, &outcome);
    close_fd(&r.sb.script_fd);
    close_fd(&r.sb.stdout_fd);
    close_fd(&r.sb.stderr_fd);
    close_fd(&r.sb.result_fd);
    res->wall_ms = now_ms() - start;
    res->cpu_ms = (long long)(r.ru.ru_utime.tv_sec + r.ru.ru_stime.tv_sec) * 1000 +
                  (r.ru.ru_utime.tv_usec + r.ru.ru_stime.tv_usec) / 1000;
    if (outcome.cpu_ms > res->cpu_ms)
        res->cpu_ms = outcome.cpu_ms;
    describe_exit(r.stop, r.status, res->exit_desc, sizeof(res->exit_desc));
    struct sandbox_end end = {.stop = r.stop,
                              .overflow = r.overflow,
                              .status = r.status,
                              .cpu_ms = res->cpu_ms,
                              .frame = r.frame.data,
                              .frame_len = r.frame.len,
                              .oom = outcome.oom,
                              .pids_exhausted = outcome.pids_exhausted,
                              .forbidden_call = outcome.forbidden_call};
    classify(cfg, &end, res);
    buf_free(&r.frame);
}
