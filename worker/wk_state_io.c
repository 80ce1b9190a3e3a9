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

int wk_state_io_read(const char *path, size_t max, char **data, size_t *len)
{
    char *buf = NULL;
    size_t got = 0;
    struct stat st;
    int rc = 0;
    *data = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return errno == ELOOP ? -EINVAL : -errno;
    if (fstat(fd, &st) < 0) {
        rc = -errno;
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = -EINVAL;
        goto out;
    }
    if ((uint64_t)st.st_size > max) {
        *len = (size_t)st.st_size;
        rc = -EFBIG;
        goto out;
    }
    buf = ci_xmalloc((size_t)st.st_size + 1);
    while (got < (size_t)st.st_size) { /* a file that shrinks ends early */
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            goto out;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    *data = buf;
    *len = got;
    buf = NULL;
out:
    free(buf);
    close(fd);
    return rc;
}

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
