#include "json_in.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl_parse.h>

#define MAX_DEPTH 64

struct ctx {
    struct json_field *fields;
    size_t n;
    bool strict;
    int depth;
    struct json_field *cur; /* the field whose value comes next, at depth 1 */
    bool seen_root;
    char *err;
    size_t errlen;
};

static int fail(struct ctx *c, const char *fmt, const char *arg)
{
    snprintf(c->err, c->errlen, fmt, arg);
    return 0; /* cancels the parse */
}

#define OTHER (-1) /* any JSON kind that no field has */

/* Every value passes here first: the root must be an object, fields must have their type. */
static int value(struct ctx *c, int kind)
{
    if (c->depth == 0)
        return fail(c, "the body must be a JSON object%s", "");
    if (c->depth == 1 && c->cur != NULL) {
        struct json_field *f = c->cur;
        c->cur = NULL;
        if ((int)f->kind != kind)
            return fail(c,
                        f->kind == JF_STRING ? "'%s' must be a string" : "'%s' must be an integer",
                        f->name);
    }
    return 1;
}

static int on_null(void *x)
{
    return value(x, OTHER);
}

static int on_bool(void *x, int b)
{
    (void)b;
    return value(x, OTHER);
}

static int on_double(void *x, double d)
{
    (void)d;
    return value(x, OTHER);
}

static int on_integer(void *x, long long v)
{
    struct ctx *c = x;
    struct json_field *f = c->depth == 1 ? c->cur : NULL;
    if (!value(c, JF_INT))
        return 0;
    if (f != NULL)
        f->num = v;
    return 1;
}

static int on_string(void *x, const unsigned char *s, size_t len)
{
    struct ctx *c = x;
    struct json_field *f = c->depth == 1 ? c->cur : NULL;
    if (!value(c, JF_STRING))
        return 0;
    if (f != NULL) {
        f->str = malloc(len + 1);
        if (f->str == NULL)
            return fail(c, "out of memory%s", "");
        memcpy(f->str, s, len);
        f->str[len] = '\0';
        f->len = len;
    }
    return 1;
}

static int open_container(struct ctx *c, bool is_map)
{
    if (c->depth == 0 && !is_map)
        return fail(c, "the body must be a JSON object%s", "");
    if (c->depth == 0)
        c->seen_root = true;
    else if (!value(c, OTHER))
        return 0;
    if (++c->depth > MAX_DEPTH)
        return fail(c, "JSON nested deeper than %s levels", "64");
    return 1;
}

static int on_start_map(void *x)
{
    return open_container(x, true);
}

static int on_start_array(void *x)
{
    return open_container(x, false);
}

static int on_end(void *x)
{
    ((struct ctx *)x)->depth--;
    return 1;
}

static int on_key(void *x, const unsigned char *k, size_t len)
{
    struct ctx *c = x;
    if (c->depth != 1)
        return 1;
    c->cur = NULL;
    for (size_t i = 0; i < c->n; i++) {
        struct json_field *f = &c->fields[i];
        if (strlen(f->name) == len && memcmp(f->name, k, len) == 0) {
            if (f->seen)
                return fail(c, "duplicate key '%s'", f->name);
            f->seen = true;
            c->cur = f;
            return 1;
        }
    }
    if (c->strict)
        return fail(c, "unknown key in the body (only documented keys are accepted)%s", "");
    return 1;
}

static const yajl_callbacks callbacks = {
    on_null,      on_bool, on_integer, on_double,      NULL,   on_string,
    on_start_map, on_key,  on_end,     on_start_array, on_end,
};

/* yajl 2.1.0 accepts a complete value followed by an unterminated string ("1\"x", even
 * "{...}\""): its lexer keeps the partial token, and yajl_complete_parse() never looks at it.
 * Inside an array the same text ends before the array's "]", which yajl does report. */
static bool nothing_pending(const char *text, size_t len)
{
    yajl_handle h = yajl_alloc(NULL, NULL, NULL);
    if (h == NULL)
        return false;
    yajl_status st = yajl_parse(h, (const unsigned char *)"[", 1);
    if (st == yajl_status_ok)
        st = yajl_parse(h, (const unsigned char *)text, len);
    if (st == yajl_status_ok)
        st = yajl_parse(h, (const unsigned char *)"]", 1);
    if (st == yajl_status_ok)
        st = yajl_complete_parse(h);
    yajl_free(h);
    return st == yajl_status_ok;
}

int json_parse_fields(const char *text, size_t len, struct json_field *fields, size_t n,
                      bool strict, char *err, size_t errlen)
{
    struct ctx c = {.fields = fields, .n = n, .strict = strict, .err = err, .errlen = errlen};
    err[0] = '\0';
    yajl_handle h = yajl_alloc(&callbacks, NULL, &c);
    if (h == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    yajl_status st = yajl_parse(h, (const unsigned char *)text, len);
    if (st == yajl_status_ok)
        st = yajl_complete_parse(h);
    if (st != yajl_status_ok && err[0] == '\0') {
        unsigned char *msg = yajl_get_error(h, 0, (const unsigned char *)text, len);
        snprintf(err, errlen, "the body is not valid JSON: %s", msg ? (char *)msg : "?");
        if (msg != NULL)
            yajl_free_error(h, msg);
    }
    yajl_free(h);
    if (st == yajl_status_ok && !nothing_pending(text, len)) {
        snprintf(err, errlen, "the body is not valid JSON: an unterminated string after it");
        st = yajl_status_error;
    }
    if (st == yajl_status_ok && !c.seen_root) {
        snprintf(err, errlen, "the body is empty");
        st = yajl_status_error;
    }
    if (st != yajl_status_ok) {
        json_fields_free(fields, n);
        return -1;
    }
    return 0;
}

void json_fields_free(struct json_field *fields, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(fields[i].str);
        fields[i].str = NULL;
    }
}

bool json_is_value(const char *text, size_t len)
{
    yajl_handle h = yajl_alloc(NULL, NULL, NULL);
    if (h == NULL)
        return false;
    yajl_status st = yajl_parse(h, (const unsigned char *)text, len);
    if (st == yajl_status_ok)
        st = yajl_complete_parse(h);
    yajl_free(h);
    return st == yajl_status_ok && len > 0 && nothing_pending(text, len);
}

static int hex4(const char *s, size_t left)
{
    int v = 0;
    if (left < 4)
        return -1;
    for (int i = 0; i < 4; i++) {
        char ch = s[i];
        int d = ch >= '0' && ch <= '9'   ? ch - '0'
                : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                         : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* Counts the \u escapes of unpaired UTF-16 surrogates; with fix, rewrites each as \ufffd (the
 * same six characters long, so the text stays valid JSON). */
static size_t lone_surrogates(char *t, size_t len, bool fix)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (t[i] != '\\' || i + 1 >= len)
            continue;
        if (t[++i] != 'u')
            continue;
        size_t at = i - 1;
        int cu = hex4(t + i + 1, len - i - 1);
        i += 4;
        bool high = cu >= 0xD800 && cu <= 0xDBFF, low = cu >= 0xDC00 && cu <= 0xDFFF;
        if (high && i + 6 < len && t[i + 1] == '\\' && t[i + 2] == 'u') {
            int lo = hex4(t + i + 3, len - i - 3);
            if (lo >= 0xDC00 && lo <= 0xDFFF) {
                i += 6; /* a proper pair */
                continue;
            }
        }
        if (high || low) {
            n++;
            if (fix)
                memcpy(t + at, "\\ufffd", 6);
        }
    }
    return n;
}

bool json_escapes_ok(const char *t, size_t len)
{
    return lone_surrogates((char *)t, len, false) == 0;
}

void json_repair_surrogates(char *t, size_t len)
{
    lone_surrogates(t, len, true);
}
