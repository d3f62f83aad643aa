/* libFuzzer: the JSON request parser (src/json_in.c over yajl's callback parser) on any bytes,
 * as /execute and the result channel use it, with the promises the callers rely on. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json_in.h"
#include "utf8.h"

static void fields(const char *text, size_t len, bool strict)
{
    char err[256];
    struct json_field f[] = {{"script", JF_STRING, false, NULL, 0, 0},
                             {"line", JF_INT, false, NULL, 0, 0}};
    if (json_parse_fields(text, len, f, 2, strict, err, sizeof(err)) == 0) {
        /* a string field is a NUL-terminated copy of its length */
        if (f[0].seen && (f[0].str == NULL || f[0].str[f[0].len] != '\0'))
            abort();
    } else if (err[0] == '\0') {
        abort(); /* a failure always says why */
    }
    json_fields_free(f, 2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    fields(text, size, true);
    fields(text, size, false);
    bool value = json_is_value(text, size);
    json_escapes_ok(text, size);
    /* The repair of lone surrogate escapes keeps a value a value, and leaves none behind. */
    char *copy = malloc(size + 1);
    if (copy == NULL)
        return 0;
    memcpy(copy, data, size);
    json_repair_surrogates(copy, size);
    if (value && (!json_is_value(copy, size) || !json_escapes_ok(copy, size)))
        abort();
    free(copy);
    return 0;
}
