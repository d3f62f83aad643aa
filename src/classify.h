/* From how a sandbox ended to the API's answer. */
#ifndef PYEXECD_CLASSIFY_H
#define PYEXECD_CLASSIFY_H

#include <stdbool.h>
#include <stddef.h>

#include "result.h"

struct config;

enum sandbox_stop {
    STOP_RUNNING,    /* not stopped yet */
    STOP_EXITED,     /* its first process ended by itself */
    STOP_TIMED_OUT,  /* the wall-clock limit: killed */
    STOP_OVERFLOW,   /* stdout, stderr or the result went over its cap: killed */
    STOP_GOT_RESULT, /* the harness delivered its frame: killed, nothing more needed */
    STOP_ABORTED,    /* the server is shutting down: killed */
};

struct sandbox_end {
    enum sandbox_stop stop;
    const char *overflow; /* STOP_OVERFLOW: "stdout", "stderr" or "result" */
    int status;           /* wait status of the first process */
    long long cpu_ms;
    const char *frame; /* what the harness wrote on the result channel */
    size_t frame_len;
    bool oom, pids_exhausted;
    const char *forbidden_call; /* "" if the jail does not know it */
};

void classify(const struct config *cfg, const struct sandbox_end *end, struct exec_result *res);

#endif
