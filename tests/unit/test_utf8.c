/* Strict UTF-8 checks and repair of sandbox output. */
#include "check.h"
#include "utf8.h"

#define S(s) s, sizeof(s) - 1

int main(void)
{
    char out[64];
    CHECK(utf8_valid(S("plain ascii")));
    CHECK(utf8_valid(S("h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80")));
    CHECK(!utf8_valid(S("\xff")));
    CHECK(!utf8_valid(S("\xc0\xaf")));         /* overlong '/' */
    CHECK(!utf8_valid(S("\xe0\x80\xaf")));     /* overlong */
    CHECK(!utf8_valid(S("\xed\xa0\x80")));     /* surrogate U+D800 */
    CHECK(!utf8_valid(S("\xf4\x90\x80\x80"))); /* above U+10FFFF */
    CHECK(!utf8_valid(S("\xe2\x9c")));         /* truncated */
    size_t n = utf8_repair(S("a\xff"
                             "b"),
                           out);
    CHECK(n == 5 && memcmp(out,
                           "a\xef\xbf\xbd"
                           "b",
                           5) == 0);
    n = utf8_repair(S("\xe2\x9c\x93"), out);
    CHECK(n == 3 && memcmp(out, "\xe2\x9c\x93", 3) == 0);
    return check_report("utf8");
}
