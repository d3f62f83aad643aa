#include "user.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int write_map(pid_t pid, const char *file, const char *map)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t len = strlen(map);
    ssize_t n = write(fd, map, len);
    int saved = errno;
    close(fd);
    errno = saved;
    return n == (ssize_t)len ? 0 : -1;
}

static int write_maps(pid_t pid, const char *map, const char **step)
{
    *step = "write uid_map";
    if (write_map(pid, "uid_map", map) != 0)
        return -1;
    *step = "write gid_map";
    return write_map(pid, "gid_map", map);
}

/* Only the sandbox uid is mapped: there is no root inside, and nothing inside can become a
 * host id other than the slot's own. setgroups stays allowed so the sandbox can drop the
 * daemon's supplementary groups. */
int user_map(pid_t pid, unsigned host_id, const char **step)
{
    char map[64];
    snprintf(map, sizeof(map), "%u %u 1\n", SANDBOX_UID, host_id);
    return write_maps(pid, map, step);
}

/* The zygote is root of its namespace (it builds each sandbox's namespaces) as an unprivileged
 * host id; the slot uids are mapped for its sandboxes, slot n as SANDBOX_UID + n. */
int user_map_zygote(pid_t pid, unsigned zygote_id, unsigned first_slot_id, unsigned nslots,
                    const char **step)
{
    char map[96];
    snprintf(map, sizeof(map), "0 %u 1\n%u %u %u\n", zygote_id, SANDBOX_UID, first_slot_id, nslots);
    return write_maps(pid, map, step);
}
