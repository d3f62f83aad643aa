#include "guard.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../common/sandbox.h"
#include "fs.h"
#include "uid.h"

#define TRACE_OPTIONS                                                                              \
    (PTRACE_O_TRACESECCOMP | PTRACE_O_EXITKILL | PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK |       \
     PTRACE_O_TRACEVFORK | PTRACE_O_TRACEEXEC)

struct watch {
    const struct guard *g;
    pid_t first;         /* the sandbox's first process (the harness) */
    int first_status;
    bool first_done;
    int verdict;         /* 0, or the signal the guardian ends with: SIGSYS, SIGXFSZ */
    long long next_walk; /* ms, monotonic */
};

static volatile sig_atomic_t ticked;

static void on_tick(int sig)
{
    (void)sig;
    ticked = 1;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int guard_prepare(pid_t daemon)
{
    const struct rlimit no_core = {0, 0};
    /* A clean slate: the daemon's thread may block signals the guardian relies on. */
    if (sandbox_reset_signals() != 0)
        return -1;
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 || getppid() != daemon)
        return -1;
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0 || setrlimit(RLIMIT_CORE, &no_core) != 0)
        return -1;
    return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
}

int guard_traceme(void)
{
    if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) != 0)
        return -1;
    return kill(getpid(), SIGSTOP);
}

int guard_attach(pid_t pid)
{
    int st;
    pid_t w;
    do
        w = waitpid(pid, &st, __WALL);
    while (w < 0 && errno == EINTR);
    if (w != pid)
        return -1;
    if (!WIFSTOPPED(st) || WSTOPSIG(st) != SIGSTOP) {
        errno = ECHILD; /* it ended before it could be traced */
        return -1;
    }
    return (int)ptrace(PTRACE_SETOPTIONS, pid, NULL, (void *)(long)TRACE_OPTIONS);
}

/* Kills every process of the slot uid; the stopped thread that made a forbidden call dies
 * without running it. */
static void end_sandbox(struct watch *w, int verdict)
{
    if (w->verdict == 0)
        w->verdict = verdict;
    (void)uid_sweep(w->g->uid);
}

static void resume(pid_t pid, int sig)
{
    /* ESRCH: killed meanwhile; nothing else can fail for a stopped tracee. */
    (void)ptrace(PTRACE_CONT, pid, NULL, (void *)(long)sig);
}

static void on_stop(struct watch *w, pid_t pid, int status)
{
    int sig = WSTOPSIG(status), event = (unsigned)status >> 16;
    siginfo_t si;
    if (event == PTRACE_EVENT_SECCOMP) {
        end_sandbox(w, SIGSYS);
        return; /* left stopped: SIGKILL ends it from there */
    }
    if (w->verdict != 0) {
        kill(pid, SIGKILL); /* a task the sweep raced with */
        return;
    }
    /* Fork, clone and exec events; a new task's first stop; SIGSTOP (the sandbox has no job
     * control); a group-stop (no siginfo): all simply resume. Other signals are delivered. */
    if (event != 0 || sig == SIGSTOP || ptrace(PTRACE_GETSIGINFO, pid, NULL, &si) != 0)
        resume(pid, 0);
    else
        resume(pid, sig);
}

/* Between events: measure /tmp (never more often than every 4x the last walk's time), or, once
 * the sandbox is ending, kill what is still running. */
static void on_tick_work(struct watch *w)
{
    if (w->verdict != 0 || w->first_done) {
        (void)uid_sweep(w->g->uid);
        return;
    }
    long long start = now_ms();
    if (start < w->next_walk)
        return;
    struct fs_usage u = {.max_bytes = w->g->tmp_bytes,
                         .max_entries = w->g->tmp_entries,
                         .max_depth = GUARD_TMP_DEPTH};
    fs_usage_walk(w->g->tmp_fd, &u);
    w->next_walk = now_ms() + 3 * (now_ms() - start);
    if (u.over)
        end_sandbox(w, SIGXFSZ);
}

static int start_ticks(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_tick; /* no SA_RESTART: a tick interrupts waitpid */
    sigemptyset(&sa.sa_mask);
    struct itimerval it = {{0, GUARD_TICK_MS * 1000}, {0, GUARD_TICK_MS * 1000}};
    if (sigaction(SIGALRM, &sa, NULL) != 0)
        return -1;
    return setitimer(ITIMER_REAL, &it, NULL);
}

__attribute__((noreturn)) static void die_of(int sig)
{
    struct sigaction sa;
    sigset_t set;
    const struct itimerval off = {{0, 0}, {0, 0}};
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    sigemptyset(&set);
    sigaddset(&set, sig);
    setitimer(ITIMER_REAL, &off, NULL);
    if (sigaction(sig, &sa, NULL) == 0 && sigprocmask(SIG_UNBLOCK, &set, NULL) == 0)
        kill(getpid(), sig);
    _exit(128 + sig); /* a signal whose default is not to terminate */
}

__attribute__((noreturn)) static void finish(const struct watch *w)
{
    if (w->verdict != 0)
        die_of(w->verdict);
    if (WIFEXITED(w->first_status))
        _exit(WEXITSTATUS(w->first_status));
    die_of(WTERMSIG(w->first_status));
}

void guard_watch(const struct guard *g, pid_t pid)
{
    struct watch w = {.g = g, .first = pid, .first_status = W_EXITCODE(0, SIGKILL)};
    if (start_ticks() != 0)
        kill(pid, SIGKILL); /* unwatched, it may not run */
    resume(pid, 0);
    for (;;) {
        int st;
        if (ticked) {
            ticked = 0;
            on_tick_work(&w);
        }
        pid_t p = waitpid(-1, &st, __WALL);
        if (p < 0 && errno == EINTR)
            continue;
        if (p < 0)
            break; /* ECHILD: no process of the sandbox is left */
        if (WIFSTOPPED(st)) {
            on_stop(&w, p, st);
        } else if (p == w.first && !w.first_done) {
            w.first_done = true;
            w.first_status = st;
            /* What the first process leaves behind ends with it, as in a pid namespace. */
            (void)uid_sweep(g->uid);
        }
    }
    finish(&w);
}
