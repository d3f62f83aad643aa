/* What a sandbox holds in /tmp that no directory shows: files it unlinked but keeps open or
 * mapped. Their blocks stay allocated until the last holder lets go, so the guardian counts them
 * against the /tmp cap with what its walk sees. (memfd_create and O_TMPFILE, which make such
 * files without a name, are refused by the seccomp policy.) */
#ifndef PYEXECD_CLOUD_HELD_H
#define PYEXECD_CLOUD_HELD_H

#include <stdint.h>
#include <sys/types.h>

/* Bytes of unlinked regular files that the given tasks hold, each file once: an open one by its
 * allocated blocks, one only mapped by the length of its mappings (a mapping cannot grow a file;
 * RLIMIT_FSIZE bounds what it was written to). Reads /proc with the fs ids of the tasks' owner
 * uid; async-signal-safe. */
uint64_t held_bytes(const pid_t *tasks, int n, uid_t uid);

#endif
