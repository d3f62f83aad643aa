#include "mnt.h"

#include <stdio.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PATHLEN 4096

#define TRY(what, expr)                                                                            \
    do {                                                                                           \
        *step = (what);                                                                            \
        if ((expr) != 0)                                                                           \
            return -1;                                                                             \
    } while (0)

static const char *const devices[] = {"null", "zero", "urandom"};

/* A remount in a user namespace must keep the flags the outer namespace locked (atime ones
 * among them), or it fails with EPERM: carry over what statvfs reports. */
static unsigned long locked_flags(const char *path)
{
    struct statvfs sv;
    unsigned long flags = 0;
    if (statvfs(path, &sv) != 0)
        return 0;
    if (sv.f_flag & ST_NOATIME)
        flags |= MS_NOATIME;
    if (sv.f_flag & ST_NODIRATIME)
        flags |= MS_NODIRATIME;
    if (sv.f_flag & ST_RELATIME)
        flags |= MS_RELATIME;
    if (sv.f_flag & ST_NOEXEC)
        flags |= MS_NOEXEC;
    return flags;
}

static int path_in(char *out, const char *root, const char *rel)
{
    int n = snprintf(out, PATHLEN, "%s/%s", root, rel);
    return n > 0 && n < PATHLEN ? 0 : -1;
}

static int mount_devices(const char *root, const char **step)
{
    char from[64], to[PATHLEN];
    for (size_t i = 0; i < sizeof(devices) / sizeof(devices[0]); i++) {
        snprintf(from, sizeof(from), "/dev/%s", devices[i]);
        TRY("path of a device", path_in(to, root, from + 1));
        TRY("bind a device", mount(from, to, "none", MS_BIND, NULL));
        TRY("remount a device nosuid,noexec",
            mount("none", to, "none",
                  MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NOEXEC | locked_flags(to), NULL));
    }
    return 0;
}

int mnt_setup(const char *root, const struct mnt_plan *plan, const char **step)
{
    char tmp[PATHLEN], proc[PATHLEN], opts[128];
    /* Nothing we mount may propagate back to the host's namespace. */
    TRY("make / private", mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL));
    /* pivot_root needs the new root to be a mount point: bind the rootfs onto itself. */
    TRY("bind the rootfs", mount(root, root, "none", MS_BIND, NULL));
    /* Writable places are mounted before the root turns read-only, on top of it. */
    TRY("path of /tmp", path_in(tmp, root, "tmp"));
    snprintf(opts, sizeof(opts), "size=%lldm,nr_inodes=16384,mode=0700,uid=%u,gid=%u",
             (long long)plan->tmp_mb, plan->tmp_uid, plan->tmp_uid);
    if (plan->tmp_mb > 0)
        TRY("mount tmpfs on /tmp", mount("tmpfs", tmp, "tmpfs", MS_NOSUID | MS_NODEV, opts));
    if (mount_devices(root, step) != 0)
        return -1;
    /* This proc shows the new pid namespace only. */
    TRY("path of /proc", path_in(proc, root, "proc"));
    if (plan->host_proc) {
        TRY("bind /proc", mount("/proc", proc, "none", MS_BIND | MS_REC, NULL));
        TRY("remount /proc read-only", mount("none", proc, "none",
                                             MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID |
                                                 MS_NODEV | MS_NOEXEC | locked_flags(proc),
                                             NULL));
    } else {
        TRY("mount /proc", mount("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL));
    }
    TRY("remount the rootfs read-only",
        mount("none", root, "none",
              MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | locked_flags(root), NULL));
    /* pivot_root(".", ".") stacks the old root on the new one; detaching it leaves only the
     * rootfs visible (pivot_root(2)). */
    TRY("chdir to the rootfs", chdir(root));
    TRY("pivot_root", (int)syscall(SYS_pivot_root, ".", "."));
    TRY("detach the old root", umount2(".", MNT_DETACH));
    TRY("chdir /", chdir("/"));
    return 0;
}
