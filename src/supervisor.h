/* The supervisor: feeds a script to an isolated Python obtained from the jail, collects stdout,
 * stderr and the result on separate pipes, enforces the wall-clock limit and the output caps,
 * kills every process of the sandbox at the end and says what happened. */
#ifndef PYEXECD_SUPERVISOR_H
#define PYEXECD_SUPERVISOR_H

#include <stdatomic.h>
#include <stddef.h>

#include "result.h"

struct config;
struct jail_slot;

/* Set during shutdown: running sandboxes are killed and answered with ServerBusy. */
extern atomic_bool supervisor_abort;

void supervisor_run(const struct config *cfg, struct jail_slot *slot, const char *script,
                    size_t len, struct exec_result *res);

#endif
