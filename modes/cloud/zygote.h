/* Warm start for the cloud jail: one zygote per daemon (rootfs/zygote.py), root and chrooted into
 * the rootfs, which imported the preload list. Per sandbox it forks a child that allows the
 * daemon's descendants to trace it (PR_SET_PTRACER) and waits for "go"; the daemon then forks the
 * sandbox's guardian as for a cold sandbox, which attaches to it, sets its limits and lets it go.
 * The child then takes the cold sandbox's steps (chroot into the slot's root, uid, capabilities,
 * fds, seccomp) and runs the harness. */
#ifndef PYEXECD_CLOUD_ZYGOTE_H
#define PYEXECD_CLOUD_ZYGOTE_H

#include <stddef.h>
#include <sys/types.h>

struct config;
struct sandbox_pipes;
struct seccomp_prog;

/* What the zygote is made of; it starts with the first sandbox. */
void cloud_zygote_init(int rootfs_fd, const struct config *cfg, const struct seccomp_prog *prog);

/* A new sandbox for the slot (uid, its root), holding the sandbox ends of p and waiting on p's
 * "go" for its guardian. Returns its pid (the zygote's child, not the daemon's; *zygote is the
 * zygote's pid), or -1 with the failed step in err. Safe to call from several threads. */
pid_t cloud_zygote_spawn(const struct sandbox_pipes *p, uid_t uid, int root_fd, pid_t *zygote,
                         char *err, size_t errlen);

/* Kills and reaps the zygote (ready sandboxes stay: their guardians hold them). */
void cloud_zygote_stop(void);

#endif
