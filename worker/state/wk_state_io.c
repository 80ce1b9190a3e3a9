/*
 * wk_state_io.c - bounded, symlink-safe state file I/O (wk_state_io.h).
 */
#include "wk_state_io.h"

#include "ci_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int wk_state_io_write(const char *path, const void *data, size_t len)
{
    const char *p = data;
    int rc = 0;
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    if (fchmod(fd, 0644) < 0) { /* whatever the umask */
        rc = -errno;
        goto out;
    }
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            goto out;
        }
        p += n;
        len -= (size_t)n;
    }
out:
    if (close(fd) < 0 && rc == 0)
        rc = -errno;
    if (rc < 0)
        unlink(path);
    return rc;
}

void wk_state_io_unlink(const char *path)
{
    unlink(path);
}
