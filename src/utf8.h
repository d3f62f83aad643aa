/* Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF. */
#ifndef PYEXECD_UTF8_H
#define PYEXECD_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Length of the valid sequence starting at s (1-4), or 0 if it is invalid. */
size_t utf8_sequence(const unsigned char *s, size_t len);

bool utf8_valid(const char *s, size_t len);

/* Writes s into out with every invalid byte replaced by U+FFFD. out must hold 3 * len bytes.
 * Returns the length written. */
size_t utf8_repair(const char *s, size_t len, char *out);

#endif
