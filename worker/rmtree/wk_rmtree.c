/*
 * wk_rmtree.c - descriptor-based removal of a tree of any depth (see
 * wk_rmtree.h for the method).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wk_rmtree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Entries for a directory we have moved up to the top level. */
#define MOVED_PREFIX ".ci-rm-"

static int is_dir_at(int dfd, const char *name, const struct dirent *e)
{
    struct stat st;
    if (e->d_type != DT_UNKNOWN)
        return e->d_type == DT_DIR;
    return fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

/* Moves `name` (a directory in dfd) to the top directory under a fresh
 * name.  Returns 0 or a negative errno. */
static int move_up(int dfd, const char *name, int top, unsigned long *seq)
{
    char fresh[64];
    for (int tries = 0; tries < 1000; tries++) {
        snprintf(fresh, sizeof fresh, MOVED_PREFIX "%lu", (*seq)++);
        if (renameat2(dfd, name, top, fresh, RENAME_NOREPLACE) == 0)
            return 0;
        if (errno != EEXIST)
            return -errno;
    }
    return -EEXIST;
}

/* Empties directory `dfd`: unlinks what is not a directory, moves every
 * subdirectory up to `top` (when dfd is top itself, a subdirectory is
 * emptied in place the same way and removed).  One pass over dfd. */
static int empty_dir(int dfd, int top, unsigned long *seq, int *more)
{
    int err = 0;
    int fd2 = dup(dfd);
    if (fd2 < 0)
        return -errno;
    DIR *d = fdopendir(fd2);
    if (!d) {
        close(fd2);
        return -errno;
    }
    rewinddir(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *n = e->d_name;
        if (n[0] == '.' && (n[1] == '\0' || (n[1] == '.' && n[2] == '\0')))
            continue;
        if (!is_dir_at(dfd, n, e)) {
            if (unlinkat(dfd, n, 0) != 0 && errno != ENOENT && !err)
                err = -errno;
            continue;
        }
        if (dfd != top) { /* never descend: bring it up */
            int rc = move_up(dfd, n, top, seq);
            if (rc < 0 && !err)
                err = rc;
            *more = 1;
            continue;
        }
        /* a directory at the top: empty it (its subdirectories come up
         * here), then remove it */
        int cfd = openat(dfd, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (cfd < 0) {
            if (errno != ENOENT && !err)
                err = -errno;
            continue;
        }
        int rc = empty_dir(cfd, top, seq, more);
        close(cfd);
        if (rc < 0 && !err)
            err = rc;
        if (unlinkat(dfd, n, AT_REMOVEDIR) != 0) {
            if (errno == ENOTEMPTY || errno == EEXIST)
                *more = 1; /* something failed inside; counted above */
            else if (errno != ENOENT && !err)
                err = -errno;
        }
    }
    closedir(d);
    return err;
}

int wk_rmtree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : -errno;
    if (!S_ISDIR(st.st_mode))
        return unlink(path) == 0 || errno == ENOENT ? 0 : -errno;
    int top = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (top < 0)
        return -errno;
    unsigned long seq = 0;
    int err = 0, more = 1;
    /* Each pass empties what is at the top now; directories moved up come
     * back in a later pass.  A pass that moves nothing ends it. */
    while (more) {
        more = 0;
        int rc = empty_dir(top, top, &seq, &more);
        if (rc < 0) {
            err = rc;
            break; /* an entry that cannot go would come back every pass */
        }
    }
    close(top);
    if (rmdir(path) != 0 && errno != ENOENT && !err)
        err = -errno;
    return err;
}
