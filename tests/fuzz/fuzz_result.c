/* libFuzzer: the result frame a sandbox writes on its result channel (src/result.c), read back
 * and answered (src/response.c) as the supervisor does: whatever the sandbox wrote, the answer is
 * one valid JSON object in valid UTF-8. The first input byte picks stdout/stderr bytes too. */
#include <event2/buffer.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json_in.h"
#include "response.h"
#include "result.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct exec_result r;
    if (size == 0)
        return 0;
    struct evbuffer *out = evbuffer_new();
    if (out == NULL)
        return 0;
    size_t split = size > 1 ? data[0] % size : 0; /* data[1..split) is what the script printed */
    result_init(&r, 1 << 16, 1 << 16);
    r.ran = true;
    if (split > 1 && (buf_append(&r.out, (const char *)data + 1, split - 1) != 0 ||
                      buf_append(&r.errout, (const char *)data + 1, split - 1) != 0))
        abort();
    size_t at = split > 1 ? split : 1;
    result_from_frame((const char *)data + at, size - at, &r);
    if (response_build(&r, out) != 0)
        abort();
    size_t len = evbuffer_get_length(out);
    const char *body = (const char *)evbuffer_pullup(out, -1);
    if (len == 0 || body[0] != '{' || !utf8_valid(body, len) || !json_is_value(body, len))
        abort();
    result_free(&r);
    evbuffer_free(out);
    return 0;
}
