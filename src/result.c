#include "result.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_in.h"
#include "utf8.h"

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

/* The harness's error frame: {"type", "message", "exception", "traceback", "line", "offset"}.
 * It is the sandbox's word, so only the types a harness may report are believed. */
static void harness_error(const char *text, size_t len, struct exec_result *res)
{
    char err[128];
    struct json_field f[] = {
        {"type", JF_STRING, false, NULL, 0, 0},      {"message", JF_STRING, false, NULL, 0, 0},
        {"exception", JF_STRING, false, NULL, 0, 0}, {"traceback", JF_STRING, false, NULL, 0, 0},
        {"line", JF_INT, false, NULL, 0, 0},         {"offset", JF_INT, false, NULL, 0, 0}};
    enum err_type t = ERR_NONE;
    if (json_parse_fields(text, len, f, 6, false, err, sizeof(err)) == 0 && f[0].str && f[1].str)
        t = err_from_harness(f[0].str);
    if (t == ERR_NONE) {
        result_fail(res, ERR_EXECUTION, "the result channel carried a malformed error report");
    } else {
        result_fail(res, t, "%s", f[1].str);
        res->exception = f[2].str;
        res->traceback = f[3].str;
        f[2].str = f[3].str = NULL;
        res->line = f[4].num;
        res->offset = f[5].num;
    }
    json_fields_free(f, 6);
}

void result_from_frame(const char *frame, size_t len, struct exec_result *res)
{
    if (len > 1 && frame[0] == 'R' && utf8_valid(frame + 1, len - 1) &&
        json_is_value(frame + 1, len - 1)) {
        res->result = malloc(len - 1);
        if (res->result == NULL) {
            result_fail(res, ERR_INTERNAL, "out of memory");
            return;
        }
        memcpy(res->result, frame + 1, len - 1);
        res->result_len = len - 1;
        /* json.dumps writes lone surrogates (from surrogateescape strings) as \udcXX escapes:
         * valid JSON syntax, but not Unicode any client can decode. */
        json_repair_surrogates(res->result, res->result_len);
        res->err = ERR_NONE;
    } else if (len > 1 && frame[0] == 'E') {
        harness_error(frame + 1, len - 1, res);
    } else {
        result_fail(res, ERR_EXECUTION,
                    "the result channel carried something that is not a result");
    }
}
