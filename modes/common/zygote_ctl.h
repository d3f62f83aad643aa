/* Warm start, the daemon's side of it in every jail: one zygote per daemon (rootfs/zygote.py, a
 * Python that imported the preload list ahead of requests) on the far end of a SOCK_SEQPACKET
 * control socket. How the zygote is started, and what a spawn request carries, is the jail's. */
#ifndef PYEXECD_ZYGOTE_CTL_H
#define PYEXECD_ZYGOTE_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct seccomp_prog;

/* Starts the zygote with sock (its end of the control socket) as its fd 0, running zygote.py
 * with the preload list. Returns its pid (a child of the daemon), or -1 with the failed step. */
typedef pid_t (*zygote_launch_fn)(int sock, const char **step);

struct zygote_spec {
    zygote_launch_fn launch;
    const struct seccomp_prog *prog; /* sent first: every sandbox loads it */
    const char *preload;             /* for messages */
};

void zygote_ctl_init(const struct zygote_spec *spec);

/* Sends msg with the fds (SCM_RIGHTS) and returns the pid the zygote answers ("P <pid>"), or -1
 * with the failed step in err; *zygote (if not NULL) is the zygote's own pid. Starts the zygote
 * first if it is not running (and waits until it has imported the preload list); one that died or
 * stopped answering is replaced once, on this request's time, and the log says so. Safe to call
 * from several threads. */
pid_t zygote_ctl_spawn(const char *msg, const int *fds, int nfds, pid_t *zygote, char *err,
                       size_t errlen);

/* Kills and reaps the zygote. */
void zygote_ctl_stop(void);

#define ZYGOTE_SCRIPT "/opt/pyexecd/zygote.py"

/* In the zygote's process, after the jail's own steps: the control socket becomes fd 0, every
 * other fd but 1 and 2 is closed, signals are reset, and zygote.py is exec'd with the preload
 * list. Reports the failed step and exits if any fails. Async-signal-safe. */
__attribute__((noreturn)) void zygote_ctl_exec(int sock, const char *preload);

/* In the zygote's process before its exec (async-signal-safe): the failed step goes to the
 * daemon as a failed spawn would, "E <errno> <step>". */
void zygote_ctl_report_failure(int sock, const char *step);

#endif
