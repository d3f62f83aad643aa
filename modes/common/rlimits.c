#include "rlimits.h"

#include <sys/resource.h>

#include "../../src/config.h"

#define MIB (1024ULL * 1024ULL)
#define STACK_BYTES (8 * MIB)

static int set(pid_t pid, int resource, rlim_t value)
{
    struct rlimit rl = {value, value};
    return prlimit(pid, (enum __rlimit_resource)resource, &rl, NULL);
}

int rlimits_apply(const struct config *cfg, struct rlimit_plan plan, const char **step)
{
    return rlimits_apply_to(0, cfg, plan, step);
}

int rlimits_apply_to(pid_t pid, const struct config *cfg, struct rlimit_plan plan,
                     const char **step)
{
    /* Soft == hard for CPU: the kernel then sends SIGKILL, which a pid-namespace init (and a
     * script's own handler) cannot ignore, where SIGXCPU could be. */
    const struct {
        int resource;
        rlim_t value;
        bool wanted;
        const char *name;
    } limits[] = {
        {RLIMIT_AS, (rlim_t)cfg->memory_mb * MIB, true, "RLIMIT_AS"},
        {RLIMIT_CPU, (rlim_t)cfg->cpu_s, true, "RLIMIT_CPU"},
        {RLIMIT_FSIZE, (rlim_t)cfg->fsize_mb * MIB, true, "RLIMIT_FSIZE"},
        {RLIMIT_NOFILE, (rlim_t)cfg->nofile, true, "RLIMIT_NOFILE"},
        {RLIMIT_CORE, 0, true, "RLIMIT_CORE"},
        {RLIMIT_NPROC, (rlim_t)cfg->pids, plan.nproc, "RLIMIT_NPROC"},
        {RLIMIT_STACK, STACK_BYTES, plan.stack, "RLIMIT_STACK"},
    };
    for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
        if (limits[i].wanted && set(pid, limits[i].resource, limits[i].value) != 0) {
            *step = limits[i].name;
            return -1;
        }
    }
    return 0;
}
