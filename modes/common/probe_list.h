/* The start-up probe's findings, as GET /health reports them. */
#ifndef PYEXECD_PROBE_LIST_H
#define PYEXECD_PROBE_LIST_H

#include <stdbool.h>

#include "../jail.h"

void probe_add(struct jail_probe *p, const char *name, bool ok, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
