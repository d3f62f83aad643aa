/* From a sandbox's end to the answer: signals, limits, harness frames (untrusted). */
#include <signal.h>
#include <stdlib.h>

#include "check.h"
#include "classify.h"
#include "config.h"

static struct config cfg = {.cpu_s = 2,
                            .wall_ms = 1000,
                            .memory_mb = 64,
                            .pids = 8,
                            .stdout_bytes = 10,
                            .stderr_bytes = 10,
                            .result_bytes = 10};

static enum err_type run(struct sandbox_end e, struct exec_result *r)
{
    result_init(r, 10, 10);
    classify(&cfg, &e, r);
    return r->err;
}

#define FRAME(s) .frame = s, .frame_len = sizeof(s) - 1

int main(void)
{
    struct exec_result r;
    CHECK(run((struct sandbox_end){.stop = STOP_GOT_RESULT, FRAME("R[1,2]")}, &r) == ERR_NONE);
    CHECK(r.result_len == 5 && memcmp(r.result, "[1,2]", 5) == 0);
    result_free(&r);
    CHECK(run((struct sandbox_end){.stop = STOP_GOT_RESULT, FRAME("R[1,")}, &r) == ERR_EXECUTION);
    result_free(&r);
    CHECK(run((struct sandbox_end){.stop = STOP_GOT_RESULT, FRAME("R1R2")}, &r) == ERR_EXECUTION);
    result_free(&r);
    CHECK(run((struct sandbox_end){.stop = STOP_GOT_RESULT,
                                   FRAME("E{\"type\":\"ServerBusy\",\"message\":\"x\"}")},
              &r) == ERR_EXECUTION); /* a type the harness may not claim */
    result_free(&r);
    CHECK(run((struct sandbox_end){.stop = STOP_EXITED,
                                   FRAME("E{\"type\":\"ValidationError\",\"message\":\"m\","
                                         "\"line\":3,\"offset\":4}")},
              &r) == ERR_VALIDATION);
    CHECK(r.line == 3 && r.offset == 4 && strcmp(r.message, "m") == 0);
    result_free(&r);
    CHECK(run((struct sandbox_end){.stop = STOP_EXITED, .status = SIGSYS}, &r) == ERR_SECURITY);
    result_free(&r);
    CHECK(run((struct sandbox_end){.stop = STOP_EXITED, .status = SIGKILL, .oom = true}, &r) ==
          ERR_MEMORY);
    result_free(&r);
    CHECK(run((struct sandbox_end){.stop = STOP_EXITED, .status = SIGKILL, .cpu_ms = 2000}, &r) ==
          ERR_TIMEOUT);
    CHECK_STR(r.limit, "cpu");
    result_free(&r);
    /* A loaded VM's rusage fell 12% short of the limit that fired; a kill far below it is not
     * the CPU limit. */
    CHECK(run((struct sandbox_end){.stop = STOP_EXITED, .status = SIGKILL, .cpu_ms = 1760}, &r) ==
          ERR_TIMEOUT);
    CHECK_STR(r.limit, "cpu");
    result_free(&r);
    CHECK(run((struct sandbox_end){.stop = STOP_EXITED, .status = SIGKILL, .cpu_ms = 500}, &r) ==
          ERR_EXECUTION);
    result_free(&r);
    CHECK(run((struct sandbox_end){.stop = STOP_TIMED_OUT, .status = SIGKILL}, &r) == ERR_TIMEOUT);
    CHECK_STR(r.limit, "wall");
    result_free(&r);
    CHECK(run((struct sandbox_end){.stop = STOP_OVERFLOW, .overflow = "stdout"}, &r) == ERR_OUTPUT);
    result_free(&r);
    CHECK(run((struct sandbox_end){.stop = STOP_EXITED, .status = 3 << 8}, &r) == ERR_EXECUTION);
    CHECK(strstr(r.message, "status 3") != NULL);
    result_free(&r);
    CHECK(run((struct sandbox_end){.stop = STOP_EXITED, .status = 1 << 8, .pids_exhausted = true},
              &r) == ERR_EXECUTION);
    CHECK(strstr(r.message, "limit of 8 processes") != NULL);
    result_free(&r);
    return check_report("classify");
}
