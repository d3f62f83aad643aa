/* JSON in: the request body parser and its checks. */
#include <stdlib.h>

#include "check.h"
#include "json_in.h"

static int parse_script(const char *body, size_t len, char **script, size_t *slen)
{
    char err[256];
    struct json_field f = {"script", JF_STRING, false, NULL, 0, 0};
    if (json_parse_fields(body, len, &f, 1, true, err, sizeof(err)) != 0)
        return -1;
    if (!f.seen)
        return -2;
    *script = f.str;
    *slen = f.len;
    return 0;
}

#define BODY(s) s, sizeof(s) - 1

static void test_accepts_script(void)
{
    char *s = NULL;
    size_t n = 0;
    CHECK(parse_script(BODY("{\"script\": \"def main():\\n    return 1\"}"), &s, &n) == 0);
    CHECK_STR(s, "def main():\n    return 1");
    CHECK(n == strlen("def main():\n    return 1"));
    free(s);
}

static void test_keeps_nul_visible(void)
{
    char *s = NULL;
    size_t n = 0;
    CHECK(parse_script(BODY("{\"script\": \"a\\u0000b\"}"), &s, &n) == 0);
    CHECK(n == 3 && memchr(s, '\0', n) == s + 1);
    free(s);
}

static void test_rejects(void)
{
    char *s = NULL;
    size_t n = 0;
    CHECK(parse_script(BODY("[1]"), &s, &n) == -1);
    CHECK(parse_script(BODY("\"x\""), &s, &n) == -1);
    CHECK(parse_script(BODY("{\"script\": 1}"), &s, &n) == -1);
    CHECK(parse_script(BODY("{\"script\": null}"), &s, &n) == -1);
    CHECK(parse_script(BODY("{\"script\": [\"x\"]}"), &s, &n) == -1);
    CHECK(parse_script(BODY("{\"script\": \"a\", \"script\": \"b\"}"), &s, &n) == -1);
    CHECK(parse_script(BODY("{\"script\": \"a\", \"other\": 1}"), &s, &n) == -1);
    CHECK(parse_script(BODY("{\"script\": \"a\"} {}"), &s, &n) == -1);
    CHECK(parse_script(BODY("{\"script\": \"a\" /* c */}"), &s, &n) == -1);
    CHECK(parse_script(BODY("{\"script\": \"a\""), &s, &n) == -1);
    CHECK(parse_script(BODY(""), &s, &n) == -1);
    CHECK(parse_script(BODY("{\"script\": \"a\"}\"x"), &s, &n) == -1); /* unterminated, after */
    CHECK(parse_script(BODY("{}"), &s, &n) == -2);
}

static void test_depth_limit(void)
{
    char body[4096];
    char *s = NULL;
    size_t n = 0, len = 0;
    len += (size_t)sprintf(body, "{\"x\":");
    for (int i = 0; i < 100; i++)
        body[len++] = '[';
    for (int i = 0; i < 100; i++)
        body[len++] = ']';
    body[len++] = '}';
    char err[128];
    struct json_field f = {"script", JF_STRING, false, NULL, 0, 0};
    CHECK(json_parse_fields(body, len, &f, 1, false, err, sizeof(err)) == -1);
    CHECK(strstr(err, "deeper") != NULL);
    (void)s;
    (void)n;
}

static void test_escapes(void)
{
    CHECK(json_escapes_ok(BODY("{\"s\": \"\\ud83d\\ude00\"}")));
    CHECK(!json_escapes_ok(BODY("{\"s\": \"\\ud800\"}")));
    CHECK(!json_escapes_ok(BODY("{\"s\": \"\\udc00\"}")));
    CHECK(!json_escapes_ok(BODY("{\"s\": \"\\ud800\\u0041\"}")));
    CHECK(json_escapes_ok(BODY("{\"s\": \"\\\\ud800\"}"))); /* an escaped backslash, then text */
}

static void test_repair_surrogates(void)
{
    char t[] = "[\"\\udcff\",\"a\\ud800b\",\"\\ud83d\\ude00\"]";
    json_repair_surrogates(t, strlen(t));
    CHECK_STR(t, "[\"\\ufffd\",\"a\\ufffdb\",\"\\ud83d\\ude00\"]");
    CHECK(json_escapes_ok(t, strlen(t)));
}

static void test_is_value(void)
{
    CHECK(json_is_value(BODY("{\"a\":[1,2.5,null,true,\"x\"]}")));
    CHECK(json_is_value(BODY("1")));
    CHECK(!json_is_value(BODY("1 2")));
    CHECK(!json_is_value(BODY("{")));
    CHECK(!json_is_value(BODY("NaN")));
    CHECK(!json_is_value(BODY("")));
    /* found by tests/fuzz/fuzz_result: yajl leaves an unterminated string after a value unread */
    CHECK(!json_is_value(BODY("3\"%")));
    CHECK(!json_is_value(BODY("1\"\\\"")));
    CHECK(!json_is_value(BODY("{}\"")));
    CHECK(json_is_value(BODY("\"a\" ")));
}

int main(void)
{
    test_accepts_script();
    test_keeps_nul_visible();
    test_rejects();
    test_depth_limit();
    test_escapes();
    test_is_value();
    test_repair_surrogates();
    return check_report("json_in");
}
