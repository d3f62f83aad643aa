/* Warm start: one zygote (rootfs/zygote.py) per daemon, a Python that imported the preload list
 * inside the base jail, clones each sandbox on request. The sandbox is the daemon's child, as a
 * cold one is; the daemon then sets its limits and lets it finish its jail. */
#ifndef PYEXECD_ZYGOTE_H
#define PYEXECD_ZYGOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct config;
struct sandbox_pipes;
struct seccomp_prog;

/* The zygote's host uid/gid: after every slot's (the slots use sandbox_uid + 0..63). */
#define ZYGOTE_UID_OFFSET 64

/* What the zygote is made of. It starts with the first sandbox (the daemon's self-test). */
void zygote_init(const char *rootfs, const struct config *cfg, const struct seccomp_prog *prog);

/* A new sandbox for slot `slot`, holding the sandbox ends of p, stopped until p's "go". Starts
 * the zygote first if it is not running (and waits until it has imported the preload list).
 * Returns the sandbox's pid, or -1 with the failed step in err. Safe to call from several
 * threads. */
pid_t zygote_spawn(const struct sandbox_pipes *p, int slot, bool cgroupns, char *err,
                   size_t errlen);

/* Kills and reaps the zygote. */
void zygote_stop(void);

#endif
