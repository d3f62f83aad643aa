/* Removing what a sandbox could have written, without root ever acting on it.
 *
 * A slot's /tmp is emptied by a helper that has taken the /tmp's owner uid (uid.c): whatever a
 * sandbox built there (renames racing the walk, symlinks, hard links, directories moved in from
 * elsewhere), the helper can only remove what that uid could remove itself. Root then removes the
 * empty directory from the slot's root, which only root can write. The rest of a slot's root is
 * root's own copy of the rootfs: root walks it only through directories that are root-owned and
 * writable by nobody else, on one file system, and never climbs back with "..". */
#ifndef PYEXECD_CLOUD_CLEAN_H
#define PYEXECD_CLOUD_CLEAN_H

/* Removes root_fd/tmp and everything in it (nothing if it is absent). Only once no process of its
 * owner runs. 0, or -1 with errno: the slot cannot be proven clean. */
int clean_tmp(int root_fd);

/* Removes dirfd/name, a slot's root (its /tmp first, as above). A directory that root did not
 * make (not root-owned, or writable by others, or on another file system) is not entered: -1. */
int clean_tree(int dirfd, const char *name);

#endif
