#include "probe_list.h"

#include <stdarg.h>
#include <stdio.h>

void probe_add(struct jail_probe *p, const char *name, bool ok, const char *fmt, ...)
{
    if (p->n >= JAIL_PROBE_MAX)
        return;
    struct jail_probe_item *it = &p->items[p->n++];
    va_list ap;
    it->name = name;
    it->ok = ok;
    va_start(ap, fmt);
    vsnprintf(it->detail, sizeof(it->detail), fmt, ap);
    va_end(ap);
}
