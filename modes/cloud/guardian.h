/* The guardian process's way once it has its sandbox, whichever way the sandbox came to be:
 * forked by the guardian itself (cold start) or by the zygote (warm start: the guardian attaches
 * to it). The guardian is the daemon's fork either way (cloud.c). */
#ifndef PYEXECD_CLOUD_GUARDIAN_H
#define PYEXECD_CLOUD_GUARDIAN_H

#include <sys/types.h>

struct config;
struct guard;
struct sandbox_pipes;

/* Traces the sandbox (every thread and process it creates, from its first instruction; parent > 0:
 * it is not the guardian's child but parent's, and waits to be attached to), sets its rlimits, then
 * lets it go
 * ("go" pipe) and lets go of the pipes (only the sandbox holds them then: their EOFs mean what
 * they say), keeps only g->tmp_fd (as fd 3) and watches the sandbox to its end. The caller fills
 * g's uid, tmp_fd and report; the /tmp caps come from cfg. A failed step goes to the report
 * pipe. */
__attribute__((noreturn)) void guardian_run(struct guard *g, pid_t sandbox, pid_t parent,
                                            const struct config *cfg, struct sandbox_pipes *p);

#endif
