/* The scratch directory (setting `scratch`): it holds the slots' roots, and in each the /tmp of
 * the request running there. */
#ifndef PYEXECD_CLOUD_SCRATCH_H
#define PYEXECD_CLOUD_SCRATCH_H

#include <stddef.h>
#include <sys/types.h>

/* Opens (creating it if missing) the scratch directory: it must be a root-owned directory that
 * nobody else can write, on the rootfs's file system (hard links cannot cross file systems), and
 * not in use by another daemon (an exclusive lock on it, held until close). Returns the fd, or -1
 * with a message. */
int scratch_open(const char *path, int rootfs_fd, char *err, size_t errlen);

/* Creates the empty /tmp of a slot's root for one request: owned by the slot uid, mode 0700
 * (whatever an earlier, interrupted run left there is removed first, as its owner). */
int scratch_tmp_create(int root_fd, uid_t uid);

/* Opens a slot's /tmp for the guardian's usage walk. */
int scratch_tmp_open(int root_fd);

#endif
