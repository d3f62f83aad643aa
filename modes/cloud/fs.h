/* Walking directory trees that a sandbox wrote: never following a symlink, using only system
 * calls (the guardian and the cleaning helper run them in processes forked from the threaded
 * daemon). Removal is clean.c's. */
#ifndef PYEXECD_CLOUD_FS_H
#define PYEXECD_CLOUD_FS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* What a tree holds, and the caps past which a walk stops counting. */
struct fs_usage {
    uint64_t bytes;   /* allocated bytes (st_blocks), entries included */
    uint64_t entries; /* files, directories, links, fifos, sockets */
    uint64_t max_bytes, max_entries;
    int max_depth; /* deeper directories count as too many entries */
    bool too_many; /* max_entries or max_depth was passed: the walk stopped, counts are partial */
};

/* Adds up everything below the directory dirfd (not dirfd itself). Bytes past max_bytes do not
 * stop the walk (the caller compares); entries or depth past theirs do. Async-signal-safe. */
void fs_usage_walk(int dirfd, struct fs_usage *u);

/* Writes v in decimal at out, with a terminating NUL; returns the digits' count. */
int fs_put_uint(char *out, unsigned long v);

/* "/proc/<pid>/<what>" into out (at least 32 + strlen(what) bytes). */
void fs_proc_path(char *out, pid_t pid, const char *what);

/* Calls fn for every entry of the directory dirfd except "." and "..": stops at the first
 * non-zero return and returns it; -1 with errno when reading the directory fails. */
int fs_each_entry(int dirfd, int (*fn)(int dirfd, const char *name, unsigned char type, void *arg),
                  void *arg);

#endif
