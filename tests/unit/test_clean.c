/* Cleaning what a sandbox wrote (modes/cloud/clean.c), with a live attacker where it matters: the
 * owner's helper must never remove anything outside /tmp, whatever is renamed under it, and root
 * must never enter a directory someone else could have written. Needs root (it takes uids). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../modes/cloud/clean.h"
#include "../../modes/cloud/uid.h"
#include "check.h"

#define UID 299990 /* nothing else runs as it: the helpers' uid */

static char base[] = "/var/tmp/pyexecd-clean.XXXXXX";
static int base_fd, root_fd;

static bool exists(int dir, const char *path)
{
    struct stat st;
    return fstatat(dir, path, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static int write_file(int dir, const char *name)
{
    int fd = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    int rc = write(fd, "x", 1) == 1 ? 0 : -1;
    close(fd);
    return rc;
}

/* As root: a slot root with a file of root's, an empty /tmp of UID's, and beside it a directory
 * anyone may write (what a neighbour's passed fd would give), holding root's victims. */
static void lay_out(void)
{
    CHECK(mkdirat(base_fd, "root", 0755) == 0 && mkdirat(base_fd, "root/usr", 0755) == 0);
    CHECK(write_file(base_fd, "root/usr/keep") == 0);
    CHECK(mkdirat(base_fd, "root/tmp", 0700) == 0 &&
          fchownat(base_fd, "root/tmp", UID, UID, AT_SYMLINK_NOFOLLOW) == 0);
    CHECK(mkdirat(base_fd, "shared", 0777) == 0 && fchmodat(base_fd, "shared", 0777, 0) == 0);
    CHECK(write_file(base_fd, "shared/victim") == 0);
    CHECK(mkdirat(base_fd, "shared/neighbour", 0755) == 0);
    CHECK(write_file(base_fd, "shared/neighbour/root-file") == 0);
    root_fd = openat(base_fd, "root", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHECK(root_fd >= 0);
}

static bool victims_intact(void)
{
    return exists(base_fd, "root/usr/keep") && exists(base_fd, "shared/victim") &&
           exists(base_fd, "shared/neighbour/root-file");
}

static void tear_down(void)
{
    close(root_fd);
    CHECK(clean_tree(base_fd, "root") == 0);
    if (clean_tree(base_fd, "shared") != 0) /* refused: 0777, as it should be */
        CHECK(system("rm -rf -- /var/tmp/pyexecd-clean.*/shared") == 0);
}

/* As UID, in /tmp: a chain deeper than any walk descends, directories the owner cannot read or
 * write (000, 0300, 0500), symlinks out of /tmp, many entries. */
static int fill_tmp(void *arg)
{
    (void)arg;
    int tmp = openat(root_fd, "tmp", O_RDONLY | O_DIRECTORY), fd = dup(tmp);
    char name[16];
    for (int i = 0; i < 3000 && fd >= 0; i++) {
        int next = mkdirat(fd, "d", 0700) == 0 ? openat(fd, "d", O_RDONLY | O_DIRECTORY) : -1;
        close(fd);
        fd = next;
    }
    if (fd < 0 || write_file(fd, "bottom") != 0 || mkdirat(tmp, "none", 0) != 0 ||
        mkdirat(tmp, "wx", 0700) != 0 || write_file(tmp, "wx/f") != 0 ||
        fchmodat(tmp, "wx", 0300, 0) != 0 || mkdirat(tmp, "rx", 0700) != 0 ||
        mkdirat(tmp, "rx/sub", 0700) != 0 || write_file(tmp, "rx/sub/f") != 0 ||
        fchmodat(tmp, "rx/sub", 0, 0) != 0 || fchmodat(tmp, "rx", 0500, 0) != 0 ||
        symlinkat(base, tmp, "to-base") != 0 || symlinkat("/", tmp, "to-root") != 0)
        return -1;
    for (int i = 0; i < 3000; i++) {
        snprintf(name, sizeof(name), "f%d", i);
        if (write_file(tmp, name) != 0)
            return -1;
    }
    close(fd);
    return 0;
}

static void test_owner_empties_any_tree(void)
{
    lay_out();
    CHECK(uid_run(UID, fill_tmp, NULL) == 0);
    CHECK(clean_tmp(root_fd) == 0);
    CHECK(!exists(root_fd, "tmp"));
    CHECK(victims_intact());
    tear_down();
}

/* As UID: a tree to walk, then moves its directories out of /tmp into the shared directory and
 * back while the cleaner works in them, for ever (the test kills it): a walk that climbed back
 * with ".." would go on in the shared directory and remove root's victims there. */
static int fill_wide(void *arg)
{
    (void)arg;
    char name[64];
    for (int i = 0; i < 40; i++) {
        snprintf(name, sizeof(name), "tmp/a%d", i);
        if (mkdirat(root_fd, name, 0700) != 0)
            return -1;
        for (int j = 0; j < 30; j++) {
            snprintf(name, sizeof(name), "tmp/a%d/b%d", i, j);
            if (mkdirat(root_fd, name, 0700) != 0 ||
                (snprintf(name, sizeof(name), "tmp/a%d/b%d/f", i, j), write_file(root_fd, name)) !=
                    0)
                return -1;
        }
    }
    return 0;
}

static int rename_loop(void *arg)
{
    int shared = *(int *)arg, tmp = openat(root_fd, "tmp", O_RDONLY | O_DIRECTORY);
    char name[16];
    for (unsigned n = 0;; n++) {
        snprintf(name, sizeof(name), "a%u", n % 40);
        (void)renameat(tmp, name, shared, name);
        (void)renameat(shared, name, tmp, name);
    }
    return 0;
}

static void test_renames_during_the_walk_reach_nothing_outside(void)
{
    for (int round = 0; round < 10; round++) {
        lay_out();
        int shared = openat(base_fd, "shared", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        CHECK(uid_run(UID, fill_wide, NULL) == 0);
        pid_t attacker = fork();
        if (attacker == 0)
            _exit(uid_run(UID, rename_loop, &shared));
        usleep(2000);
        (void)clean_tmp(root_fd); /* it may fail (something was moved back in): never harm */
        CHECK(kill(attacker, SIGKILL) == 0 && waitpid(attacker, NULL, 0) == attacker);
        CHECK(uid_sweep(UID) == 0);
        CHECK(victims_intact());
        close(shared);
        CHECK(clean_tmp(root_fd) == 0); /* once the attacker is gone */
        tear_down();
    }
}

/* Root enters only what root alone could have written. */
static void test_root_refuses_foreign_directories(void)
{
    lay_out();
    CHECK(mkdirat(base_fd, "root/usr/theirs", 0755) == 0 &&
          fchownat(base_fd, "root/usr/theirs", UID, UID, 0) == 0);
    CHECK(write_file(base_fd, "root/usr/theirs/f") == 0);
    close(root_fd);
    CHECK(clean_tree(base_fd, "root") == -1 && errno == EPERM);
    CHECK(exists(base_fd, "root/usr/theirs/f"));
    CHECK(unlinkat(base_fd, "root/usr/theirs/f", 0) == 0 &&
          unlinkat(base_fd, "root/usr/theirs", AT_REMOVEDIR) == 0);
    CHECK(fchmodat(base_fd, "root/usr", 0777, 0) == 0);
    CHECK(clean_tree(base_fd, "root") == -1 && exists(base_fd, "root/usr/keep"));
    CHECK(fchmodat(base_fd, "root/usr", 0755, 0) == 0);
    root_fd = openat(base_fd, "root", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    tear_down();
}

/* A file system mounted inside /tmp is not crossed (where this host lets root mount). */
static void test_mount_points_are_not_crossed(void)
{
    char path[64];
    lay_out();
    snprintf(path, sizeof(path), "%s/root/tmp/m", base);
    CHECK(mkdirat(base_fd, "root/tmp/m", 0700) == 0);
    if (mount("tmpfs", path, "tmpfs", 0, "size=1m,mode=0777") != 0) {
        printf("# no tmpfs mount here (%s): mount crossing not tested\n", strerror(errno));
    } else {
        CHECK(write_file(base_fd, "root/tmp/m/other-fs") == 0);
        CHECK(clean_tmp(root_fd) == -1);
        CHECK(exists(base_fd, "root/tmp/m/other-fs"));
        CHECK(umount(path) == 0);
    }
    tear_down();
}

int main(void)
{
    if (geteuid() != 0) {
        printf("clean: needs root (it takes uids): skipped\n");
        return 0;
    }
    CHECK(mkdtemp(base) != NULL && chmod(base, 0711) == 0);
    base_fd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHECK(base_fd >= 0);
    test_owner_empties_any_tree();
    test_renames_during_the_walk_reach_nothing_outside();
    test_root_refuses_foreign_directories();
    test_mount_points_are_not_crossed();
    CHECK(rmdir(base) == 0);
    return check_report("clean");
}
