/* Warm start's pool, the same for every jail: each slot keeps one sandbox made ahead of time (by
 * the slot's worker, between requests), which the slot's next request takes. */
#ifndef PYEXECD_READY_H
#define PYEXECD_READY_H

#include <stdbool.h>
#include <stddef.h>

struct jail_sandbox;
struct jail_slot;

/* The jail's own steps. */
struct ready_ops {
    /* Makes a sandbox for the slot (as jail_start). */
    int (*start)(struct jail_slot *slot, struct jail_sandbox *sb, char *err, size_t errlen);
    /* Kills, reaps and cleans up a sandbox that never ran a script. */
    void (*discard)(struct jail_sandbox *sb);
};

/* jail_start with a pool: the ready sandbox if it is still there (one that died while waiting is
 * discarded and logged), else a new one. */
int ready_take(struct jail_sandbox *ready, struct jail_slot *slot, int index,
               const struct ready_ops *ops, struct jail_sandbox *sb, char *err, size_t errlen);

/* jail_slot_prepare with a pool: makes the slot's ready sandbox unless it has one (a failure is
 * logged; the next request then makes its own). */
void ready_fill(struct jail_sandbox *ready, struct jail_slot *slot, int index,
                const struct ready_ops *ops);

#endif
