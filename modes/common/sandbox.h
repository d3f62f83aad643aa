/* What every jail does around its own isolation steps: the pipes between supervisor and
 * sandbox, the start-up handshake, and the sandbox's last steps (fds, signals, capabilities,
 * exec of the harness). */
#ifndef PYEXECD_SANDBOX_H
#define PYEXECD_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct jail_sandbox;
struct seccomp_prog;

/* [0] read end, [1] write end. */
struct sandbox_pipes {
    int script[2]; /* supervisor -> harness fd 0 */
    int out[2];    /* harness fd 1 -> supervisor */
    int err[2];    /* harness fd 2 -> supervisor */
    int result[2]; /* harness fd 3 -> supervisor */
    int go[2];     /* supervisor -> sandbox: set-up from outside is done, carry on */
    int report[2]; /* sandbox -> supervisor: the step that failed; EOF at exec means success */
};

int pipes_open(struct sandbox_pipes *p);
void pipes_close_all(struct sandbox_pipes *p);

/* Parent side. */
void pipes_keep_parent_ends(struct sandbox_pipes *p, struct jail_sandbox *sb);
void sandbox_close_fds(struct jail_sandbox *sb);
int sandbox_release(struct sandbox_pipes *p);
/* Whether pid, a child of the daemon, has not ended yet (until it is reaped, its pid cannot name
 * another process). */
bool sandbox_running(pid_t pid);
/* The supervisor's side once the sandbox runs: keeps its pipe ends in sb, waits for the exec
 * of the harness (or the failed step, then reaps sb->pid and closes sb's fds). */
int sandbox_handover(struct sandbox_pipes *p, struct jail_sandbox *sb, char *err, size_t errlen);
/* Waits for the sandbox to exec the harness or report a failed step (then reaps it). */
int sandbox_await_exec(struct sandbox_pipes *p, pid_t pid, char *err, size_t errlen);

/* Sandbox side (async-signal-safe: it runs between clone/fork and exec in a threaded daemon). */
__attribute__((noreturn)) void sandbox_fail(const struct sandbox_pipes *p, const char *step);
int sandbox_wait_go(const struct sandbox_pipes *p);
int sandbox_setup_fds(const struct sandbox_pipes *p);
int sandbox_reset_signals(void);
/* Empties the bounding set; needs CAP_SETPCAP, so a jail that leaves real root by setuid calls it
 * before sandbox_become. */
int sandbox_drop_bounding_caps(void);
/* The bounding set (what is left of it), the ambient set, then every capability. */
int sandbox_drop_caps(void);
int sandbox_become(uid_t uid, gid_t gid);
__attribute__((noreturn)) void sandbox_exec_harness(const struct sandbox_pipes *p);
/* execve of the rootfs's python3 with the fixed environment: `python3 -I -B -u script [arg]`.
 * Returns only on failure. */
void sandbox_exec_python(const char *script, const char *arg);
/* Every jail's last steps, in this order: capabilities, fds, signals, seccomp, exec. */
__attribute__((noreturn)) void sandbox_enter(const struct sandbox_pipes *p,
                                             const struct seccomp_prog *prog);

#endif
