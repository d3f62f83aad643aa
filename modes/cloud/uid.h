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

/* Runs fn(arg) in a short-lived helper that has taken uid (real, effective, saved, no groups,
 * hence no capabilities): what it does, the uid itself could do. 0 when fn returned 0; -1 with
 * errno EPERM when the helper could not take the uid, ECANCELED when fn failed or the helper was
 * killed. Async-signal-safe if fn is. */
int uid_run(uid_t uid, int (*fn)(void *arg), void *arg);

/* SIGKILLs every process of uid, once. 0, or -1 when the helper could not take the uid.
 * Async-signal-safe (the guardian's way; it does not check what is left). */
int uid_kill_all(uid_t uid);

/* SIGKILLs every process of uid until /proc shows none alive (zombies aside), a few times. 0, or
 * -1 with errno (EBUSY: processes were still there). Not for the guardian: it reads /proc. */
int uid_sweep(uid_t uid);

/* Sets a resource limit (soft and hard) of the given processes of uid, as uid: lowering one's
 * own limits needs no capability (CAP_SYS_RESOURCE is not in Docker's default set). 0, or -1 when
 * the helper could not run. Async-signal-safe. */
int uid_prlimit(uid_t uid, const pid_t *pids, int n, int resource, unsigned long long value);

/* Whether any process has uid as its real, effective, saved or file-system uid, from /proc: 1
 * yes, 0 no, -1 /proc unreadable. uid_in_use counts zombies (at start-up they show a uid still
 * taken), uid_live does not. */
int uid_in_use(uid_t uid);
int uid_live(uid_t uid);

#endif
