/* libFuzzer: src/utf8.c against a decoder written from RFC 3629 alone (differential), and the
 * repair's promises: its output is valid, and valid input comes back unchanged. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

/* Length of the well-formed sequence at s, or 0: decode, then check the code point's range. */
static size_t reference(const unsigned char *s, size_t len)
{
    size_t n = s[0] < 0x80             ? 1
               : (s[0] & 0xE0) == 0xC0 ? 2
               : (s[0] & 0xF0) == 0xE0 ? 3
               : (s[0] & 0xF8) == 0xF0 ? 4
                                       : 0;
    if (n == 0 || n > len)
        return 0;
    uint32_t cp = n == 1 ? s[0] : s[0] & (0x7F >> n);
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    static const uint32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < least[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bool valid = true;
    for (size_t i = 0; i < size;) {
        size_t got = utf8_sequence(data + i, size - i), want = reference(data + i, size - i);
        if (got != want)
            abort();
        if (got == 0) {
            valid = false;
            i++;
        } else {
            i += got;
        }
    }
    if (utf8_valid((const char *)data, size) != valid)
        abort();
    char *out = malloc(size * 3 + 1);
    if (out == NULL)
        return 0;
    size_t n = utf8_repair((const char *)data, size, out);
    if (!utf8_valid(out, n) || (valid && (n != size || memcmp(out, data, size) != 0)))
        abort();
    free(out);
    return 0;
}
