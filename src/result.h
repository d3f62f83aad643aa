/* What running one script produced: the outcome the supervisor classifies and the response
 * reports. */
#ifndef PYEXECD_RESULT_H
#define PYEXECD_RESULT_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "errors.h"

struct exec_result {
    enum err_type err;
    char *message;          /* malloc'd */
    char *exception;        /* ExecutionError: the exception's type */
    char *traceback;        /* ExecutionError: the script's frames */
    long long line, offset; /* ValidationError for a syntax error (0 when unknown) */
    const char *limit;      /* TimeoutError: "wall" or "cpu"; OutputLimitError: which stream */
    const char *signal;     /* SecurityViolation: the signal that ended the sandbox */
    char *result;           /* success: main()'s result, validated JSON text */
    size_t result_len;
    bool ran;                  /* the script ran, so stdout and stderr belong in the response */
    long long wall_ms, cpu_ms; /* for the log */
    char exit_desc[48];        /* how the sandbox's first process ended, for the log */
    struct buf out, errout;
};

void result_init(struct exec_result *r, size_t stdout_cap, size_t stderr_cap);
void result_free(struct exec_result *r);
/* Sets the error type and a formatted message (replacing an earlier one). */
void result_fail(struct exec_result *r, enum err_type t, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* What the harness wrote on the result channel, the sandbox's word: 'R' and main()'s result as
 * JSON, or 'E' and an error report. Anything else is an ExecutionError. */
void result_from_frame(const char *frame, size_t len, struct exec_result *res);

#endif
