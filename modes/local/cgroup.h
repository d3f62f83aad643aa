/* Memory and pids limits through cgroups: v1 (memory + pids hierarchies), v2 (unified), or
 * none when no writable hierarchy exists (then rlimits alone bound the sandbox). */
#ifndef PYEXECD_CGROUP_H
#define PYEXECD_CGROUP_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct config;
struct jail_outcome;

enum cgroup_version { CGROUP_NONE = 0, CGROUP_V1 = 1, CGROUP_V2 = 2 };

struct cgroup {
    char mem[PATH_MAX];  /* v1 memory cgroup, or the v2 cgroup */
    char pids[PATH_MAX]; /* v1 pids cgroup; empty on v2 */
    bool created;
};

/* Finds a writable hierarchy and prepares pyexecd's parent cgroup. Never fails: describes in
 * detail what it found and returns the version used. */
enum cgroup_version cgroup_init(char *detail, size_t len);
void cgroup_shutdown(void);

int cgroup_create(struct cgroup *cg, const char *name, const struct config *cfg, const char **step);
int cgroup_attach(const struct cgroup *cg, pid_t pid);
void cgroup_kill(const struct cgroup *cg);
/* Reports OOM kills and pids exhaustion, then removes the cgroup. */
void cgroup_destroy(struct cgroup *cg, struct jail_outcome *out);

#endif
