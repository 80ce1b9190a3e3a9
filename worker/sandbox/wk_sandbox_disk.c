/*
 * wk_sandbox_disk.c - the bounded /mnt/data of a sandbox: a sparse ext4
 * image of SANDBOX_DISK_MB with SANDBOX_DISK_INODES inodes, loop-mounted
 * (nosuid, nodev) at the host data dir $DATA_DIR/<token>, so a program gets
 * ENOSPC when it fills either, and the host disk grows by at most the
 * image's size.  The image lives in $DATA_DIR/.disk/, which no container
 * sees.  docs/sandbox.md ("Disk") has the cost measured.
 *
 * Blocking (mkfs, mount): threadpool only.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wk_sandbox.h"

#include "ci_log.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* mkfs.ext4 without a journal (the data dies with the sandbox), no blocks
 * reserved for root, inode table initialised lazily: ~20 ms. */
static int run_mkfs(const char *img, int64_t inodes, uid_t uid, gid_t gid)
{
    char n[32], opts[96];
    snprintf(n, sizeof n, "%lld", (long long)inodes);
    snprintf(opts, sizeof opts, "lazy_itable_init=1,nodiscard,root_owner=%u:%u", (unsigned)uid,
             (unsigned)gid);
    char *argv[] = {"mkfs.ext4", "-q",           "-F", "-m", "0",         "-N", n,
                    "-O",        "^has_journal", "-E", opts, (char *)img, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    /* A stop signal meant for the worker (a process-group kill, systemd's
     * control-group SIGTERM) must not cut a ~20 ms mkfs short: the job whose
     * sandbox it prepares is one the drain lets finish.  Own group, and the
     * termination signals blocked across exec. */
    posix_spawnattr_t at;
    sigset_t blocked;
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGTERM);
    sigaddset(&blocked, SIGINT);
    sigaddset(&blocked, SIGHUP);
    posix_spawnattr_init(&at);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setsigmask(&at, &blocked);
    pid_t pid;
    int rc = posix_spawnp(&pid, "mkfs.ext4", &fa, &at, argv, environ);
    posix_spawnattr_destroy(&at);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return -rc;
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -errno;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EIO;
}

/* Attaches `img` to a free loop device (auto-cleared on the last umount)
 * and mounts it at `mnt`. */
static int loop_mount(const char *img, const char *mnt)
{
    int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
    int bfd = open(img, O_RDWR | O_CLOEXEC);
    int rc = -EBUSY;
    if (ctl < 0 || bfd < 0) {
        rc = -errno;
        goto out;
    }
    for (int tries = 0; tries < 16 && rc == -EBUSY; tries++) {
        int n = ioctl(ctl, LOOP_CTL_GET_FREE);
        if (n < 0) {
            rc = -errno;
            break;
        }
        char dev[32];
        snprintf(dev, sizeof dev, "/dev/loop%d", n);
        int lfd = open(dev, O_RDWR | O_CLOEXEC);
        if (lfd < 0) {
            rc = -errno;
            break;
        }
        struct loop_config cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.fd = (unsigned)bfd;
        cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;
        if (ioctl(lfd, LOOP_CONFIGURE, &cfg) != 0) {
            rc = -errno; /* EBUSY: another attach took it; try the next */
            close(lfd);
            continue;
        }
        rc = mount(dev, mnt, "ext4", MS_NOSUID | MS_NODEV | MS_NOATIME, NULL) == 0 ? 0 : -errno;
        close(lfd); /* AUTOCLEAR: detached with the last umount (or now, on failure) */
    }
out:
    if (ctl >= 0)
        close(ctl);
    if (bfd >= 0)
        close(bfd);
    return rc;
}

int wk_sandbox_disk_make(const char *img, const char *mnt, int64_t mb, int64_t inodes, uid_t uid,
                         gid_t gid)
{
    int fd = open(img, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600);
    int rc;
    if (fd < 0)
        return -errno;
    rc = ftruncate(fd, (off_t)mb << 20) == 0 ? 0 : -errno;
    close(fd);
    if (rc == 0)
        rc = run_mkfs(img, inodes, uid, gid);
    if (rc == 0)
        rc = loop_mount(img, mnt);
    if (rc == 0) {
        char lf[4200];
        snprintf(lf, sizeof lf, "%s/lost+found", mnt);
        rmdir(lf);                 /* not a file of the session's */
        if (chmod(mnt, 0700) != 0) /* the fs root: the sandbox user's (root_owner) */
            rc = -errno;
    }
    if (rc < 0) {
        umount2(mnt, MNT_DETACH);
        unlink(img);
    }
    return rc;
}

void wk_sandbox_disk_remove(const char *img, const char *mnt)
{
    if (umount2(mnt, MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
        log_warn("cannot unmount %s: %s", mnt, strerror(errno));
    if (unlink(img) != 0 && errno != ENOENT)
        log_warn("cannot remove %s: %s", img, strerror(errno));
}
