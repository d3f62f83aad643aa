#include "guardian.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../src/config.h"
#include "../common/rlimits.h"
#include "../common/sandbox.h"
#include "guard.h"

#define MIB (1024ULL * 1024ULL)

/* Moves fd to 3 and closes every other descriptor above 2: the guardian never execs, so whatever
 * it inherited (the daemon's sockets, other sandboxes' pipes) would otherwise stay open in it. */
static int keep_only(int fd)
{
    if (fd != 3 && dup2(fd, 3) != 3)
        return -1;
    return close_range(4, INT_MAX, 0);
}

void guardian_run(struct guard *g, pid_t pid, bool seize, const struct config *cfg,
                  struct sandbox_pipes *p)
{
    const char *step = "trace the sandbox";
    g->tmp_bytes = (uint64_t)cfg->tmp_mb * MIB;
    g->tmp_entries = GUARD_TMP_ENTRIES;
    if (guard_attach(pid, seize) != 0 ||
        rlimits_apply_to(pid, cfg, (struct rlimit_plan){.nproc = true, .stack = true}, &step) !=
            0 ||
        (step = "release the sandbox", sandbox_release(p)) != 0) {
        int saved = errno;
        kill(pid, SIGKILL);
        waitpid(pid, NULL, __WALL);
        errno = saved;
        sandbox_fail(p, step);
    }
    pipes_close_all(p);
    if (keep_only(g->tmp_fd) != 0) {
        kill(pid, SIGKILL);
        _exit(126);
    }
    g->tmp_fd = 3;
    guard_watch(g, pid);
}
