/* JSON in: yajl's callback parser (lengths, not NUL-terminated strings; bounded depth). Never
 * yajl_tree on untrusted input (see DEVELOPERS notes). */
#ifndef PYEXECD_JSON_IN_H
#define PYEXECD_JSON_IN_H

#include <stdbool.h>
#include <stddef.h>

enum json_kind { JF_STRING, JF_INT };

struct json_field {
    const char *name;
    enum json_kind kind;
    bool seen;
    char *str; /* JF_STRING: malloc'd, NUL-terminated, may hold NULs (len says) */
    size_t len;
    long long num; /* JF_INT */
};

/* Parses a JSON object into the named top-level fields. Duplicate keys and wrongly typed fields
 * are errors; unknown keys are errors when strict. -1 with a message in err on failure. */
int json_parse_fields(const char *text, size_t len, struct json_field *fields, size_t n,
                      bool strict, char *err, size_t errlen);
void json_fields_free(struct json_field *fields, size_t n);

/* Is text exactly one JSON value? */
bool json_is_value(const char *text, size_t len);

/* Is every \u escape of a UTF-16 surrogate part of a proper pair? (yajl turns a lone one into
 * '?' silently.) */
bool json_escapes_ok(const char *text, size_t len);
/* Rewrites each unpaired surrogate escape as \ufffd, in place. */
void json_repair_surrogates(char *text, size_t len);

#endif
