/* Resource limits every sandbox gets, from the settings. */
#ifndef PYEXECD_RLIMITS_H
#define PYEXECD_RLIMITS_H

#include <stdbool.h>
#include <sys/types.h>

struct config;

struct rlimit_plan {
    bool nproc; /* RLIMIT_NPROC: per host uid, so only with a uid of the sandbox's own */
    bool stack; /* RLIMIT_STACK set explicitly (gVisor accepts it; the host default is kept) */
};

/* Sets the limits of process pid (0: the caller) with prlimit. The supervisor calls it on the
 * sandbox before releasing it, so the sandbox's own start-up has one step less (and valgrind,
 * which refuses a process changing its own hard NOFILE limit, can run the daemon). */
int rlimits_apply_to(pid_t pid, const struct config *cfg, struct rlimit_plan plan,
                     const char **step);
/* The same for the calling process. Async-signal-safe. */
int rlimits_apply(const struct config *cfg, struct rlimit_plan plan, const char **step);

#endif
