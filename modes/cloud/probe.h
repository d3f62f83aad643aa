/* The cloud jail's start-up probe: before any request, a throw-away sandbox proves on this kernel
 * (host or gVisor) each mechanism the jail relies on, and a host that lacks one is named. */
#ifndef PYEXECD_CLOUD_PROBE_H
#define PYEXECD_CLOUD_PROBE_H

#include <stddef.h>
#include <sys/types.h>

struct seccomp_prog;

/* In a slot's root as its uid: chroot, an irreversible setuid, an enforced RLIMIT_NPROC, and the
 * seccomp program stopping a forbidden call for a ptrace guardian. 0, or -1 with the reason. */
int probe_jail(int root_fd, uid_t uid, const struct seccomp_prog *prog, char *why, size_t len);

#endif
