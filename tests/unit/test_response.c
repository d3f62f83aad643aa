/* JSON out: bodies are valid JSON, results are spliced verbatim, output is repaired. */
#include <stdlib.h>

#include "check.h"
#include "json_in.h"
#include "response.h"

static char *build(const struct exec_result *r)
{
    struct evbuffer *b = evbuffer_new();
    char *s = NULL;
    if (b != NULL && response_build(r, b) == 0) {
        size_t n = evbuffer_get_length(b);
        s = calloc(1, n + 1);
        if (s != NULL)
            evbuffer_remove(b, s, n);
    }
    if (b != NULL)
        evbuffer_free(b);
    return s;
}

static void test_success(void)
{
    struct exec_result r;
    result_init(&r, 100, 100);
    r.ran = true;
    r.result = strdup("{\"rows\":2}");
    r.result_len = strlen(r.result);
    buf_append(&r.out, "hi\n", 3);
    char *s = build(&r);
    CHECK_STR(s, "{\"result\":{\"rows\":2},\"stdout\":\"hi\\n\",\"stderr\":\"\"}");
    CHECK(s != NULL && json_is_value(s, strlen(s)));
    free(s);
    result_free(&r);
}

static void test_error_with_bad_utf8_output(void)
{
    struct exec_result r;
    result_init(&r, 4, 100);
    r.ran = true;
    result_fail(&r, ERR_EXECUTION, "boom %d", 1);
    r.exception = strdup("ValueError");
    buf_append(&r.out,
               "a\xff"
               "bcdef",
               7); /* over the cap of 4: truncated */
    char *s = build(&r);
    CHECK(s != NULL && json_is_value(s, strlen(s)));
    CHECK(s != NULL && strstr(s, "\"type\":\"ExecutionError\"") != NULL);
    CHECK(s != NULL && strstr(s, "\"message\":\"boom 1\"") != NULL);
    CHECK(s != NULL && strstr(s, "\"stdout\":\"a\xef\xbf\xbd"
                                 "bc\"") != NULL);
    CHECK(s != NULL && strstr(s, "\"stdout_truncated\":true") != NULL);
    free(s);
    result_free(&r);
}

static void test_plain_error(void)
{
    struct evbuffer *b = evbuffer_new();
    CHECK(response_error(ERR_NOT_FOUND, "nope", b) == 0);
    size_t n = evbuffer_get_length(b);
    char *s = (char *)evbuffer_pullup(b, -1);
    CHECK(n > 0 && json_is_value(s, n));
    CHECK(memmem(s, n, "\"stdout\"", 8) == NULL); /* the script never ran */
    evbuffer_free(b);
    CHECK(err_status(ERR_TIMEOUT) == 504 && err_status(ERR_BUSY) == 503);
    CHECK(err_from_harness("ValidationError") == ERR_VALIDATION);
    CHECK(err_from_harness("ServerBusy") == ERR_NONE); /* not the sandbox's to say */
}

int main(void)
{
    test_success();
    test_error_with_bad_utf8_output();
    test_plain_error();
    return check_report("response");
}
