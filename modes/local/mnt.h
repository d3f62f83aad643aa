/* The sandbox's filesystem: the rootfs read-only, a private /tmp, a minimal /dev, its own /proc. */
#ifndef PYEXECD_MNT_H
#define PYEXECD_MNT_H

#include <stdint.h>

#include <stdbool.h>

struct mnt_plan {
    int64_t tmp_mb;   /* 0: no /tmp of its own (the zygote: each sandbox mounts a fresh one) */
    unsigned tmp_uid; /* owner of /tmp */
    bool host_proc;   /* bind the host's /proc instead of mounting a new one (the zygote, which
                         stays in the host's pid namespace: its sandboxes mount their own proc,
                         which the kernel allows only where a full proc is already visible) */
};

/* In the sandbox, inside its new user and mount namespaces. On failure returns -1 and names the
 * step. Async-signal-safe. */
int mnt_setup(const char *rootfs, const struct mnt_plan *plan, const char **step);

#endif
