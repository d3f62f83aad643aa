#include "response.h"

#include <stdlib.h>
#include <string.h>
#include <yajl_gen.h>

#include "utf8.h"

#define OK(expr)                                                                                   \
    do {                                                                                           \
        if ((expr) != yajl_gen_status_ok)                                                          \
            return -1;                                                                             \
    } while (0)

static int put_key(yajl_gen g, const char *key)
{
    return yajl_gen_string(g, (const unsigned char *)key, strlen(key)) == yajl_gen_status_ok ? 0
                                                                                             : -1;
}

/* Output of a sandbox is arbitrary bytes: repair it to valid UTF-8 first. */
static int put_bytes(yajl_gen g, const char *s, size_t len)
{
    if (utf8_valid(s, len))
        return yajl_gen_string(g, (const unsigned char *)s, len) == yajl_gen_status_ok ? 0 : -1;
    char *fixed = malloc(len * 3 + 1);
    if (fixed == NULL)
        return -1;
    size_t n = utf8_repair(s, len, fixed);
    int rc = yajl_gen_string(g, (const unsigned char *)fixed, n) == yajl_gen_status_ok ? 0 : -1;
    free(fixed);
    return rc;
}

static int put_str(yajl_gen g, const char *key, const char *val)
{
    if (val == NULL)
        return 0;
    return put_key(g, key) == 0 ? put_bytes(g, val, strlen(val)) : -1;
}

static int put_error(yajl_gen g, const struct exec_result *r)
{
    if (put_key(g, "error") != 0)
        return -1;
    OK(yajl_gen_map_open(g));
    if (put_str(g, "type", err_name(r->err)) != 0 ||
        put_str(g, "message", r->message ? r->message : err_name(r->err)) != 0 ||
        put_str(g, "exception", r->exception) != 0 || put_str(g, "traceback", r->traceback) != 0 ||
        put_str(g, "limit", r->limit) != 0 || put_str(g, "signal", r->signal) != 0)
        return -1;
    if (r->line > 0) {
        if (put_key(g, "line") != 0)
            return -1;
        OK(yajl_gen_integer(g, r->line));
        if (put_key(g, "offset") != 0)
            return -1;
        OK(yajl_gen_integer(g, r->offset));
    }
    OK(yajl_gen_map_close(g));
    return 0;
}

static int put_output(yajl_gen g, const char *key, const struct buf *b, const char *flag)
{
    if (put_key(g, key) != 0 || put_bytes(g, b->data ? b->data : "", b->len) != 0)
        return -1;
    if (b->truncated) {
        if (put_key(g, flag) != 0)
            return -1;
        OK(yajl_gen_bool(g, 1));
    }
    return 0;
}

/* Everything but the result; the result is validated JSON text spliced in front, because
 * yajl_gen would cap its nesting at 128 levels and re-encode numbers. */
static int gen_body(yajl_gen g, const struct exec_result *r)
{
    OK(yajl_gen_map_open(g));
    if (r->err != ERR_NONE && put_error(g, r) != 0)
        return -1;
    if (r->ran && (put_output(g, "stdout", &r->out, "stdout_truncated") != 0 ||
                   put_output(g, "stderr", &r->errout, "stderr_truncated") != 0))
        return -1;
    OK(yajl_gen_map_close(g));
    return 0;
}

int response_build(const struct exec_result *r, struct evbuffer *out)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    const unsigned char *body;
    size_t len;
    int rc = -1;
    if (g == NULL || !yajl_gen_config(g, yajl_gen_validate_utf8, 1))
        goto done;
    if (gen_body(g, r) != 0 || yajl_gen_get_buf(g, &body, &len) != yajl_gen_status_ok)
        goto done;
    if (r->err == ERR_NONE) {
        /* body is {...}: emit {"result":<json>, then the rest after its opening brace. */
        if (evbuffer_add_printf(out, "{\"result\":") < 0 ||
            evbuffer_add(out, r->result, r->result_len) != 0 ||
            (len > 2 && evbuffer_add(out, ",", 1) != 0) ||
            evbuffer_add(out, body + 1, len - 1) != 0)
            goto done;
    } else if (evbuffer_add(out, body, len) != 0) {
        goto done;
    }
    rc = 0;
done:
    if (g != NULL)
        yajl_gen_free(g);
    return rc;
}

int response_error(enum err_type t, const char *message, struct evbuffer *out)
{
    struct exec_result r;
    memset(&r, 0, sizeof(r));
    r.err = t;
    r.message = (char *)message;
    return response_build(&r, out);
}
