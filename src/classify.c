#include "classify.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "config.h"

static void by_signal(const struct config *cfg, const struct sandbox_end *e,
                      struct exec_result *res)
{
    int sig = WTERMSIG(e->status);
    if (sig == SIGSYS && e->forbidden_call != NULL && e->forbidden_call[0] != '\0') {
        result_fail(res, ERR_SECURITY,
                    "the script made a forbidden system call (%s); the sandbox was killed",
                    e->forbidden_call);
        res->signal = "SIGSYS";
    } else if (sig == SIGSYS) {
        result_fail(res, ERR_SECURITY,
                    "the script made a forbidden system call; the sandbox was killed");
        res->signal = "SIGSYS";
    } else if (e->oom) {
        result_fail(res, ERR_MEMORY, "the sandbox went over its memory limit of %lld MiB",
                    (long long)cfg->memory_mb);
    } else if ((sig == SIGKILL || sig == SIGXCPU) && e->cpu_ms * 4 >= cfg->cpu_s * 1000 * 3) {
        /* RLIMIT_CPU fires on the scheduler's clock; the rusage wait4 reports falls short of it
         * (2638 ms at a 3 s limit on a loaded VM), so anything within 25% of the limit counts. */
        result_fail(res, ERR_TIMEOUT, "the script used more than its CPU limit of %lld s",
                    (long long)cfg->cpu_s);
        res->limit = "cpu";
    } else {
        result_fail(res, ERR_EXECUTION, "the script was killed by signal %d (%s)", sig,
                    strsignal(sig));
    }
}

void classify(const struct config *cfg, const struct sandbox_end *e, struct exec_result *res)
{
    if (e->stop == STOP_OVERFLOW) {
        long long cap = strcmp(e->overflow, "stdout") == 0   ? cfg->stdout_bytes
                        : strcmp(e->overflow, "stderr") == 0 ? cfg->stderr_bytes
                                                             : cfg->result_bytes;
        result_fail(res, ERR_OUTPUT,
                    "%s went over its limit of %lld bytes; the sandbox was stopped", e->overflow,
                    cap);
        res->limit = e->overflow;
    } else if (e->stop == STOP_TIMED_OUT) {
        result_fail(res, ERR_TIMEOUT, "the script ran past its wall-clock limit of %lld ms",
                    (long long)cfg->wall_ms);
        res->limit = "wall";
    } else if (e->stop == STOP_ABORTED) {
        result_fail(res, ERR_BUSY, "the server is shutting down; the run was stopped");
    } else if (e->stop == STOP_GOT_RESULT) {
        result_from_frame(e->frame, e->frame_len, res);
    } else if (WIFSIGNALED(e->status)) {
        by_signal(cfg, e, res);
    } else if (e->frame_len > 0) {
        result_from_frame(e->frame, e->frame_len, res);
    } else if (e->oom) {
        result_fail(res, ERR_MEMORY, "the sandbox went over its memory limit of %lld MiB",
                    (long long)cfg->memory_mb);
    } else {
        result_fail(res, ERR_EXECUTION, "the script exited with status %d before main() returned",
                    WEXITSTATUS(e->status));
    }
    if (res->err == ERR_EXECUTION && e->pids_exhausted) {
        char *m = NULL;
        if (asprintf(&m, "%s (the sandbox reached its limit of %lld processes)",
                     res->message ? res->message : "", (long long)cfg->pids) >= 0) {
            free(res->message);
            res->message = m;
        }
    }
}
