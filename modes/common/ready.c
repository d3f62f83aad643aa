#include "ready.h"

#include "../../src/log.h"
#include "../jail.h"
#include "sandbox.h"

int ready_take(struct jail_sandbox *ready, struct jail_slot *slot, int index,
               const struct ready_ops *ops, struct jail_sandbox *sb, char *err, size_t errlen)
{
    if (ready->pid > 0) {
        /* Ready since the last request, unless something ended it while it waited. */
        if (sandbox_running(ready->pid)) {
            *sb = *ready;
            ready->pid = -1;
            return 0;
        }
        log_warn("slot %d: its ready sandbox died while waiting; starting another", index);
        ops->discard(ready);
    }
    return ops->start(slot, sb, err, errlen);
}

void ready_fill(struct jail_sandbox *ready, struct jail_slot *slot, int index,
                const struct ready_ops *ops)
{
    char err[256];
    if (ready->pid > 0)
        return;
    if (ops->start(slot, ready, err, sizeof(err)) != 0)
        log_warn("slot %d: no sandbox ready ahead of time: %s", index, err);
}
