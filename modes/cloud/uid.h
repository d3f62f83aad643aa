/* Killing a sandbox without pid namespaces, cgroups or pidfds: every process of a sandbox runs as
 * its slot's uid and nothing else does, so "every process of the sandbox" is "every process of
 * that uid". A short-lived helper takes the uid (real, effective and saved, and with it loses
 * every capability) and calls kill(-1, SIGKILL): the kernel then signals exactly the processes
 * that uid may signal, which are its own. The daemon, the guardian and other slots are never
 * reached. (kill(-1)'s return value says nothing about which processes it reached: it is 0 as
 * long as any other process exists at all.) */
#ifndef PYEXECD_CLOUD_UID_H
#define PYEXECD_CLOUD_UID_H

#include <sys/types.h>

/* SIGKILLs every process of uid. 0, or -1 when the helper could not run. Async-signal-safe (the
 * guardian calls it too). */
int uid_sweep(uid_t uid);

/* Sets a resource limit (soft and hard) of the given processes of uid, as uid: lowering one's
 * own limits needs no capability (CAP_SYS_RESOURCE is not in Docker's default set). 0, or -1 when
 * the helper could not run. Async-signal-safe. */
int uid_prlimit(uid_t uid, const pid_t *pids, int n, int resource, unsigned long long value);

/* Whether any process has uid as its real, effective, saved or file-system uid, from /proc: 1
 * yes, 0 no, -1 /proc unreadable. For start-up only: it reads every process's status. */
int uid_in_use(uid_t uid);

#endif
