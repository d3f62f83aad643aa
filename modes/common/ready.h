/* Warm start's pool, the same for every jail: each slot keeps one sandbox made ahead of time (by
 * the slot's worker, between requests), which the slot's next request takes. */
#ifndef PYEXECD_READY_H
#define PYEXECD_READY_H

#include <stdbool.h>
#include <stddef.h>

struct jail_sandbox;
struct jail_slot;

/* Makes a sandbox for the slot (the jail's own jail_start). */
typedef int (*ready_start_fn)(struct jail_slot *slot, struct jail_sandbox *sb, char *err,
                              size_t errlen);

/* Kills and reaps a sandbox that will not run a script (sb->pid, the daemon's child, takes the rest
 * of the sandbox with it in every jail), closes its fds and lets the jail clean up after it. */
void ready_discard(struct jail_sandbox *sb);

/* jail_start with a pool: the ready sandbox if it is still there (one that died while waiting is
 * discarded and logged), else a new one. */
int ready_take(struct jail_sandbox *ready, struct jail_slot *slot, int index, ready_start_fn start,
               struct jail_sandbox *sb, char *err, size_t errlen);

/* jail_slot_prepare with a pool: makes the slot's ready sandbox unless it has one (a failure is
 * logged; the next request then makes its own). */
void ready_fill(struct jail_sandbox *ready, struct jail_slot *slot, int index,
                ready_start_fn start);

#endif
