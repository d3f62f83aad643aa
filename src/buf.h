/* A byte buffer that grows up to a cap and remembers whether anything was cut off. */
#ifndef PYEXECD_BUF_H
#define PYEXECD_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct buf {
    char *data;
    size_t len, alloc, cap;
    bool truncated;
};

void buf_init(struct buf *b, size_t cap);
/* Appends what fits under the cap; sets truncated for the rest. -1 on allocation failure. */
int buf_append(struct buf *b, const char *data, size_t len);
void buf_free(struct buf *b);

#endif
