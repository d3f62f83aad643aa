/* The sandbox's filesystem: the rootfs read-only, a private /tmp, a minimal /dev, its own /proc. */
#ifndef PYEXECD_MNT_H
#define PYEXECD_MNT_H

#include <stdint.h>

/* In the sandbox, inside its new user and mount namespaces. On failure returns -1 and names the
 * step. Async-signal-safe. */
int mnt_setup(const char *rootfs, int64_t tmp_mb, unsigned uid, const char **step);

#endif
