/* A slot's root: the sandbox's whole file system view, one per slot.
 *
 * There are no mounts in the cloud jail, so a private /tmp cannot be laid over a shared rootfs.
 * Instead every slot gets a tree of its own under the scratch directory: real directories, and
 * hard links to the rootfs's files (the file data is shared, the names are not). Only the
 * tree's /tmp differs: created for each request, owned by the slot uid, removed after it by
 * that uid. A root that cannot be proven intact is rebuilt, never reused. */
#ifndef PYEXECD_CLOUD_TREE_H
#define PYEXECD_CLOUD_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct tree_stats {
    unsigned dirs, files, links;
    const char *devices; /* "character devices" or why they are plain files */
};

/* Checks that the rootfs at rootfs_fd is read-only by ownership and permissions (root-owned, no
 * group/other write bit, no setuid/setgid file) and copies it as scratch_fd/name, skipping /tmp.
 * /dev's placeholders become real null, zero and urandom character devices where mknod works.
 * -1 with a message on failure. */
int tree_build(int rootfs_fd, int scratch_fd, const char *name, struct tree_stats *st, char *err,
               size_t errlen);

/* Removes a slot's root (its /tmp as the owner, the rest as root: clean.h). */
int tree_remove(int scratch_fd, const char *name);

/* A few entries of a built root, to tell later whether it is still intact (a cheap check before
 * every sandbox: a hard-linked file keeps the rootfs's inode, a directory its own). */
#define TREE_MARKS 8
struct tree_marks {
    ino_t ino[TREE_MARKS];
    unsigned long long top; /* digest of the top directory's names and types, /tmp aside */
};
int tree_mark(int root_fd, struct tree_marks *m);
bool tree_intact(int root_fd, const struct tree_marks *m);

#endif
