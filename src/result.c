#include "result.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void result_init(struct exec_result *r, size_t stdout_cap, size_t stderr_cap)
{
    memset(r, 0, sizeof(*r));
    buf_init(&r->out, stdout_cap);
    buf_init(&r->errout, stderr_cap);
}

void result_free(struct exec_result *r)
{
    free(r->message);
    free(r->exception);
    free(r->traceback);
    free(r->result);
    buf_free(&r->out);
    buf_free(&r->errout);
    memset(r, 0, sizeof(*r));
}

void result_fail(struct exec_result *r, enum err_type t, const char *fmt, ...)
{
    va_list ap;
    char *msg = NULL;
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    free(r->message);
    r->message = msg;
    r->err = t;
}
