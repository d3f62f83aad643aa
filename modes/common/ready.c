#include "ready.h"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>

#include "../../src/log.h"
#include "../jail.h"
#include "sandbox.h"

void ready_discard(struct jail_sandbox *sb)
{
    if (sb->pid > 0) {
        kill(sb->pid, SIGKILL);
        while (waitpid(sb->pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    sb->pid = -1;
    sandbox_close_fds(sb);
    jail_cleanup(sb, NULL);
}

int ready_take(struct jail_sandbox *ready, struct jail_slot *slot, int index, ready_start_fn start,
               struct jail_sandbox *sb, char *err, size_t errlen)
{
    if (ready->pid > 0) {
        /* Ready since the last request, unless something ended it while it waited. */
        if (sandbox_running(ready->pid)) {
            *sb = *ready;
            ready->pid = -1;
            return 0;
        }
        log_warn("slot %d: its ready sandbox died while waiting; starting another", index);
        ready_discard(ready);
    }
    return start(slot, sb, err, errlen);
}

void ready_fill(struct jail_sandbox *ready, struct jail_slot *slot, int index, ready_start_fn start)
{
    char err[256];
    if (ready->pid > 0)
        return;
    if (start(slot, ready, err, sizeof(err)) != 0)
        log_warn("slot %d: no sandbox ready ahead of time: %s", index, err);
}
