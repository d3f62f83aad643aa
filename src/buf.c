#include "buf.h"

#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b, size_t cap)
{
    memset(b, 0, sizeof(*b));
    b->cap = cap;
}

int buf_append(struct buf *b, const char *data, size_t len)
{
    size_t room = b->cap - b->len;
    if (len > room) {
        b->truncated = true;
        len = room;
    }
    if (len == 0)
        return 0;
    if (b->len + len > b->alloc) {
        size_t want = b->alloc ? b->alloc * 2 : 4096;
        while (want < b->len + len)
            want *= 2;
        if (want > b->cap)
            want = b->cap;
        char *p = realloc(b->data, want);
        if (p == NULL)
            return -1;
        b->data = p;
        b->alloc = want;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
    return 0;
}

void buf_free(struct buf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}
