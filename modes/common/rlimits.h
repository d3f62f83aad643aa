/* Resource limits every sandbox gets, from the settings. */
#ifndef PYEXECD_RLIMITS_H
#define PYEXECD_RLIMITS_H

#include <stdbool.h>

struct config;

struct rlimit_plan {
    bool nproc; /* RLIMIT_NPROC: per host uid, so only with a uid of the sandbox's own */
    bool stack; /* RLIMIT_STACK set explicitly (gVisor accepts it; the host default is kept) */
};

/* Called in the sandbox before the uid is dropped. Async-signal-safe. */
int rlimits_apply(const struct config *cfg, struct rlimit_plan plan, const char **step);

#endif
