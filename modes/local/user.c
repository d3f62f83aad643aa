#include "user.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int write_map(pid_t pid, const char *file, unsigned host_id)
{
    char path[64], map[64];
    snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
    int len = snprintf(map, sizeof(map), "%u %u 1\n", SANDBOX_UID, host_id);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, map, (size_t)len);
    int saved = errno;
    close(fd);
    errno = saved;
    return n == len ? 0 : -1;
}

/* Only the sandbox uid is mapped: there is no root inside, and nothing inside can become a
 * host id other than the slot's own. setgroups stays allowed so the sandbox can drop the
 * daemon's supplementary groups. */
int user_map(pid_t pid, unsigned host_id, const char **step)
{
    *step = "write uid_map";
    if (write_map(pid, "uid_map", host_id) != 0)
        return -1;
    *step = "write gid_map";
    return write_map(pid, "gid_map", host_id);
}
