#include "cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../src/config.h"
#include "../../src/log.h"
#include "../jail.h"

#define V1_MEM "/sys/fs/cgroup/memory/pyexecd"
#define V1_PIDS "/sys/fs/cgroup/pids/pyexecd"
#define V2_ROOT "/sys/fs/cgroup"

static enum cgroup_version version;
static char v2_parent[PATH_MAX]; /* where sandbox cgroups are created on v2 */
/* This daemon's own parents below the shared pyexecd ones: daemons sharing a host never touch
 * each other's cgroups, and the shared parents are never removed. */
static char v1_mem[PATH_MAX], v1_pids[PATH_MAX];
/* "<pid>-<random>": daemons in containers share a host hierarchy and are often all pid 1. */
static char instance[32];

static int instance_init(void)
{
    unsigned int nonce;
    if (getrandom(&nonce, sizeof(nonce), 0) != (ssize_t)sizeof(nonce))
        return -1;
    snprintf(instance, sizeof(instance), "%d-%08x", (int)getpid(), nonce);
    return 0;
}

static int path_join(char out[PATH_MAX], const char *dir, const char *name)
{
    int n = snprintf(out, PATH_MAX, "%s/%s", dir, name);
    if (n < 0 || n >= PATH_MAX) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

static int write_file(const char *dir, const char *file, const char *val)
{
    char path[PATH_MAX];
    if (path_join(path, dir, file) != 0)
        return -1;
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t len = strlen(val);
    ssize_t n = write(fd, val, len);
    int saved = errno;
    close(fd);
    errno = saved;
    return n == (ssize_t)len ? 0 : -1;
}

/* Reads "key N" from a flat keyed file such as memory.events; 0 when absent. */
static long long read_key(const char *dir, const char *file, const char *key)
{
    char path[PATH_MAX], line[256];
    long long val = 0;
    if (path_join(path, dir, file) != 0)
        return 0;
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return 0;
    size_t klen = strlen(key);
    while (fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, key, klen) == 0 && line[klen] == ' ')
            val = atoll(line + klen + 1);
    fclose(f);
    return val;
}

static bool make_dir(const char *path)
{
    return mkdir(path, 0700) == 0 || errno == EEXIST;
}

/* The parent directory of path, in a static buffer. */
static const char *dirname_of(const char *path)
{
    static char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash != NULL && slash != dir)
        *slash = '\0';
    return dir;
}

static bool v1_usable(void)
{
    return make_dir(V1_MEM) && make_dir(V1_PIDS) && path_join(v1_mem, V1_MEM, instance) == 0 &&
           path_join(v1_pids, V1_PIDS, instance) == 0 && make_dir(v1_mem) && make_dir(v1_pids);
}

/* v2 forbids processes in a cgroup that hands controllers to children, so the daemon moves
 * into a leaf of its own first; sandboxes live in a sibling parent. */
static bool v2_usable(char *why, size_t len)
{
    char own[PATH_MAX] = "", line[PATH_MAX], base[PATH_MAX], leaf[PATH_MAX];
    FILE *f = fopen("/proc/self/cgroup", "re");
    if (f == NULL)
        return false;
    while (fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, "0::", 3) == 0)
            snprintf(own, sizeof(own), "%s", line + 3);
    fclose(f);
    own[strcspn(own, "\n")] = '\0';
    if (path_join(base, V2_ROOT, own[0] == '/' ? own + 1 : own) != 0)
        return false;
    char mine[48];
    snprintf(mine, sizeof(mine), "pyexecd/%s", instance);
    if (path_join(leaf, base, "pyexecd-daemon") != 0 || path_join(v2_parent, base, mine) != 0)
        return false;
    const char *step = "create the daemon's leaf cgroup";
    if (make_dir(leaf) &&
        (step = "move the daemon into its leaf", write_file(leaf, "cgroup.procs", "0") == 0) &&
        (step = "enable memory and pids",
         write_file(base, "cgroup.subtree_control", "+memory +pids") == 0) &&
        (step = "create the sandboxes' parent",
         make_dir(dirname_of(v2_parent)) && make_dir(v2_parent)) &&
        (step = "enable memory and pids below it",
         write_file(v2_parent, "cgroup.subtree_control", "+memory +pids") == 0))
        return true;
    snprintf(why, len, "cgroup v2 at %s unusable: %s: %s", base, step, strerror(errno));
    return false;
}

enum cgroup_version cgroup_init(char *detail, size_t len)
{
    char why[PATH_MAX + 128] = "no writable cgroup hierarchy";
    bool named = instance_init() == 0;
    if (!named)
        snprintf(why, sizeof(why), "getrandom: %s", strerror(errno));
    if (named && v1_usable()) {
        version = CGROUP_V1;
        snprintf(detail, len, "v1 (memory, pids)");
    } else if (named && access(V2_ROOT "/cgroup.controllers", R_OK) == 0 &&
               v2_usable(why, sizeof(why))) {
        version = CGROUP_V2;
        snprintf(detail, len, "v2 (memory, pids)");
    } else {
        version = CGROUP_NONE;
        snprintf(detail, len, "none: rlimits only (%.60s)", why);
        log_warn("cgroups unavailable, memory and pids are bounded by rlimits only: %s", why);
    }
    return version;
}

void cgroup_shutdown(void)
{
    if (version == CGROUP_V1) {
        rmdir(v1_mem);
        rmdir(v1_pids);
    } else if (version == CGROUP_V2) {
        rmdir(v2_parent);
    }
}

int cgroup_create(struct cgroup *cg, const char *name, const struct config *cfg, const char **step)
{
    char mem[32], pids[32];
    memset(cg, 0, sizeof(*cg));
    if (version == CGROUP_NONE)
        return 0;
    snprintf(mem, sizeof(mem), "%lld", (long long)cfg->memory_mb * 1024 * 1024);
    snprintf(pids, sizeof(pids), "%lld", (long long)cfg->pids);
    *step = "cgroup path";
    if (path_join(cg->mem, version == CGROUP_V1 ? v1_mem : v2_parent, name) != 0 ||
        (version == CGROUP_V1 && path_join(cg->pids, v1_pids, name) != 0))
        return -1;
    *step = "cgroup mkdir";
    if (mkdir(cg->mem, 0700) != 0 || (cg->pids[0] && mkdir(cg->pids, 0700) != 0))
        goto fail;
    cg->created = true;
    const char *pids_dir = cg->pids[0] ? cg->pids : cg->mem;
    *step = "cgroup memory limit";
    if (write_file(cg->mem, version == CGROUP_V1 ? "memory.limit_in_bytes" : "memory.max", mem))
        goto fail;
    /* No swap on top of the memory limit, where swap accounting exists at all. */
    if (write_file(cg->mem,
                   version == CGROUP_V1 ? "memory.memsw.limit_in_bytes" : "memory.swap.max",
                   version == CGROUP_V1 ? mem : "0") != 0 &&
        errno != ENOENT)
        goto fail;
    *step = "cgroup pids limit";
    if (write_file(pids_dir, "pids.max", pids) != 0)
        goto fail;
    return 0;
fail:
    cgroup_destroy(cg, NULL);
    return -1;
}

int cgroup_attach(const struct cgroup *cg, pid_t pid)
{
    char val[32];
    if (!cg->created)
        return 0;
    snprintf(val, sizeof(val), "%d", (int)pid);
    if (write_file(cg->mem, "cgroup.procs", val) != 0)
        return -1;
    return cg->pids[0] ? write_file(cg->pids, "cgroup.procs", val) : 0;
}

void cgroup_kill(const struct cgroup *cg)
{
    char path[PATH_MAX], line[32];
    if (!cg->created)
        return;
    if (version == CGROUP_V2 && write_file(cg->mem, "cgroup.kill", "1") == 0)
        return;
    if (path_join(path, cg->pids[0] ? cg->pids : cg->mem, "cgroup.procs") != 0)
        return;
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return;
    while (fgets(line, sizeof(line), f) != NULL)
        kill((pid_t)atoi(line), SIGKILL);
    fclose(f);
}

/* A cgroup can be removed only once its last process is gone; dying ones take a moment. */
static void remove_dir(const char *path)
{
    struct timespec pause = {0, 1000000};
    for (int i = 0; i < 2000; i++) {
        if (rmdir(path) == 0 || errno == ENOENT)
            return;
        if (errno != EBUSY)
            break;
        nanosleep(&pause, NULL);
    }
    log_error("could not remove cgroup %s: %s", path, strerror(errno));
}

void cgroup_destroy(struct cgroup *cg, struct jail_outcome *out)
{
    if (!cg->created)
        return;
    if (out != NULL) {
        const char *pids_dir = cg->pids[0] ? cg->pids : cg->mem;
        out->oom = read_key(cg->mem, version == CGROUP_V1 ? "memory.oom_control" : "memory.events",
                            "oom_kill") > 0;
        out->pids_exhausted = read_key(pids_dir, "pids.events", "max") > 0;
    }
    for (int i = 0; i < 3; i++)
        cgroup_kill(cg);
    remove_dir(cg->mem);
    if (cg->pids[0])
        remove_dir(cg->pids);
    cg->created = false;
}
