/* The user namespace: one sandbox uid/gid inside, mapped to the slot's unprivileged host ids. */
#ifndef PYEXECD_USER_H
#define PYEXECD_USER_H

#include <sys/types.h>

#define SANDBOX_UID 1000 /* inside the namespace: the rootfs's "sandbox" user */

/* From the supervisor, before the sandbox carries on. */
int user_map(pid_t pid, unsigned host_id, const char **step);
int user_map_zygote(pid_t pid, unsigned zygote_id, unsigned first_slot_id, unsigned nslots,
                    const char **step);

#endif
