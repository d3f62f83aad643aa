#include "guard.h"

#include <elf.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../common/sandbox.h"
#include "../common/seccomp.h"
#include "fs.h"
#include "held.h"
#include "uid.h"

#define TRACE_OPTIONS                                                                              \
    (PTRACE_O_TRACESECCOMP | PTRACE_O_EXITKILL | PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK |        \
     PTRACE_O_TRACEVFORK | PTRACE_O_TRACEEXEC)

struct watch {
    const struct guard *g;
    pid_t first; /* the sandbox's first process (the harness) */
    int first_status;
    bool first_done;
    bool ending;         /* every task is being killed */
    int verdict;         /* 0, or the signal the guardian ends with: SIGSYS, SIGXFSZ */
    bool full;           /* /tmp is over its byte cap: RLIMIT_FSIZE is 0 */
    long long next_walk; /* ms, monotonic */
    int ntasks;          /* every traced thread and process still there */
    bool overflow;       /* more than GUARD_MAX_TASKS were: the list is incomplete */
    pid_t tasks[GUARD_MAX_TASKS];
};

static volatile sig_atomic_t ticked, stop_asked;

static void on_signal(int sig)
{
    if (sig == SIGALRM)
        ticked = 1;
    else
        stop_asked = 1; /* SIGTERM from the daemon: jail_kill */
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
    /* Where the kernel offers it (gVisor does not): orphans are reaped here. */
    (void)prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    return prctl(PR_SET_NAME, "pyexecd-guard", 0, 0, 0);
}

bool guard_can_subreap(void)
{
    int st;
    pid_t pid = fork();
    if (pid == 0)
        _exit(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0 ? 0 : 1);
    if (pid < 0 || waitpid(pid, &st, 0) != pid)
        return false;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

int guard_traceme(void)
{
    /* The guardian made itself non-dumpable and the sandbox inherited that; gVisor's
     * PTRACE_TRACEME (unlike Linux's) then demands CAP_SYS_PTRACE, which Docker's default set
     * lacks. The sandbox is still root here and changes uid later, which makes it non-dumpable
     * again; the tracing relation set up now stays. */
    if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0 || ptrace(PTRACE_TRACEME, 0, NULL, NULL) != 0)
        return -1;
    return kill(getpid(), SIGSTOP);
}

int guard_attach(pid_t pid, bool seize)
{
    int st;
    pid_t w;
    if (seize && ptrace(PTRACE_ATTACH, pid, NULL, NULL) != 0)
        return -1;
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

/* The number of the call the stopped thread is making, from its registers. */
static long stopped_call(pid_t pid)
{
#if defined(__x86_64__)
    struct user_regs_struct regs;
#elif defined(__aarch64__)
    struct user_pt_regs regs;
#endif
    struct iovec iov = {&regs, sizeof(regs)};
    if (ptrace(PTRACE_GETREGSET, pid, (void *)NT_PRSTATUS, &iov) != 0)
        return GUARD_CALL_NONE;
#if defined(__x86_64__)
    return (long)regs.orig_rax;
#elif defined(__aarch64__)
    return (long)regs.regs[8];
#endif
}

long guard_seccomp_call(pid_t pid)
{
    unsigned long data = 0;
    if (ptrace(PTRACE_GETEVENTMSG, pid, NULL, &data) != 0)
        return GUARD_CALL_NONE;
    if (data == SECCOMP_TRACE_BADARCH)
        return GUARD_CALL_FOREIGN;
    return data == SECCOMP_TRACE_NOT_ALLOWED ? stopped_call(pid) : (long)data;
}

static void task_add(struct watch *w, pid_t tid)
{
    if (w->ntasks < GUARD_MAX_TASKS)
        w->tasks[w->ntasks++] = tid;
    else
        w->overflow = true;
}

static void task_remove(struct watch *w, pid_t tid)
{
    for (int i = 0; i < w->ntasks; i++) {
        if (w->tasks[i] == tid) {
            w->tasks[i] = w->tasks[--w->ntasks];
            return;
        }
    }
}

/* /tmp went over its cap: from now on no process of the sandbox can write to a file (EFBIG),
 * as on a full disk. For the rest of the run: raising a hard limit again would need
 * CAP_SYS_RESOURCE, which Docker's default set lacks. Repeated every walk while /tmp stays full,
 * for a task forked from one not yet limited. rlimits belong to the process: any thread will do. */
static void make_full(struct watch *w)
{
    w->full = true;
    (void)uid_prlimit(w->g->uid, w->tasks, w->ntasks, RLIMIT_FSIZE, 0);
}

/* Kills every task of the sandbox: by id, as root, which no sandbox process can prevent (each id
 * stays reserved until the guardian has seen the task end). A thread's id names its process.
 * Then, for good measure, every process of the slot uid. */
static void kill_all(struct watch *w)
{
    for (int i = 0; i < w->ntasks; i++)
        kill(w->tasks[i], SIGKILL);
    (void)uid_kill_all(w->g->uid);
}

/* The stopped thread that made a forbidden call dies there, without running it. */
static void end_sandbox(struct watch *w, int verdict)
{
    if (w->verdict == 0)
        w->verdict = verdict;
    w->ending = true;
    kill_all(w);
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
    unsigned long msg = 0;
    if (event == PTRACE_EVENT_SECCOMP) {
        /* The first forbidden call is the one the daemon names. */
        if (w->verdict == 0 && w->g->report != NULL)
            w->g->report->call = guard_seccomp_call(pid);
        end_sandbox(w, SIGSYS);
        return; /* left stopped: SIGKILL ends it from there */
    }
    if (event != 0 && ptrace(PTRACE_GETEVENTMSG, pid, NULL, &msg) == 0) {
        if (event == PTRACE_EVENT_EXEC && (pid_t)msg != pid)
            task_remove(w, (pid_t)msg); /* a thread's exec took over the leader's id */
        else if (event != PTRACE_EVENT_EXEC)
            task_add(w, (pid_t)msg); /* fork, vfork, clone: the new task's id */
    }
    if (w->ending) {
        kill(pid, SIGKILL); /* a task made while the others were killed */
        return;
    }
    /* Fork, clone and exec events; a new task's first stop; SIGSTOP (the sandbox has no job
     * control); a group-stop (no siginfo): all simply resume. Other signals are delivered. */
    if (event != 0 || sig == SIGSTOP || ptrace(PTRACE_GETSIGINFO, pid, NULL, &si) != 0)
        resume(pid, 0);
    else
        resume(pid, sig);
}

/* Between events: measure /tmp (at most half the time: a walk of a large /tmp is slow under
 * gVisor), or, once the sandbox is ending, kill what is still running. */
static void on_tick_work(struct watch *w)
{
    if (w->ending) {
        kill_all(w); /* what is still running after the end */
        return;
    }
    long long start = now_ms();
    if (start < w->next_walk)
        return;
    struct fs_usage u = {.max_bytes = w->g->tmp_bytes,
                         .max_entries = w->g->tmp_entries,
                         .max_depth = GUARD_TMP_DEPTH};
    fs_usage_walk(w->g->tmp_fd, &u);
    u.bytes += held_bytes(w->tasks, w->ntasks, w->g->uid);
    long long end = now_ms();
    w->next_walk = end + (end - start);
    /* The limit is set by a helper with the slot uid, which the sandbox can kill: past twice the
     * cap (and a margin for what one tick lets a writer add), the sandbox ends instead. */
    if (u.too_many || u.bytes > 2 * w->g->tmp_bytes + GUARD_TMP_MARGIN)
        end_sandbox(w, SIGXFSZ);
    else if (u.bytes > w->g->tmp_bytes || w->full)
        make_full(w);
}

static int start_ticks(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal; /* no SA_RESTART: both interrupt waitpid */
    sigemptyset(&sa.sa_mask);
    struct itimerval it = {{0, GUARD_TICK_MS * 1000}, {0, GUARD_TICK_MS * 1000}};
    if (sigaction(SIGALRM, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0)
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
    if (sig == SIGKILL ||
        (sigaction(sig, &sa, NULL) == 0 && sigprocmask(SIG_UNBLOCK, &set, NULL) == 0))
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
    static struct watch w; /* the task list is large for a stack */
    memset(&w, 0, sizeof(w));
    w.g = g;
    w.first = pid;
    w.first_status = W_EXITCODE(0, SIGKILL);
    task_add(&w, pid);
    if (start_ticks() != 0)
        kill(pid, SIGKILL); /* unwatched, it may not run */
    resume(pid, 0);
    for (;;) {
        int st;
        if (stop_asked && !w.ending)
            end_sandbox(&w, 0);
        if (ticked) {
            ticked = 0;
            on_tick_work(&w);
        }
        struct rusage ru;
        pid_t p = wait4(-1, &st, __WALL, &ru);
        if (p < 0 && errno == EINTR)
            continue;
        if (p < 0)
            break; /* ECHILD: no process of the sandbox is left */
        if (WIFSTOPPED(st)) {
            on_stop(&w, p, st);
            continue;
        }
        task_remove(&w, p);
        if (p == w.first && !w.first_done) {
            w.first_done = true;
            w.first_status = st;
            if (g->report != NULL)
                g->report->cpu_ms = (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
                                    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
            /* What the first process leaves behind ends with it, as in a pid namespace. */
            if (!w.ending && (w.ntasks > 0 || w.overflow))
                end_sandbox(&w, 0);
        }
    }
    finish(&w);
}
