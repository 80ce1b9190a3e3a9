/*
 * st_local.c - the local-directory backend: key "a/b/c" is the file
 * $STORAGE_DIR/a/b/c.
 *
 * Writes go to a temporary file ".st-tmp-<hex>" in the target directory and
 * are renamed into place, so readers see the old or the new object, never
 * a partial one.  Listing skips those temporaries.  Content types are not
 * stored (callers keep them in their own metadata).  Everything is opened
 * with O_NOFOLLOW.  The etag is derived from size and mtime.  Empty
 * directories left by deletes are removed (best effort).
 */
#include "st_int.h"

#include "ci_env.h"
#include "ci_file.h"
#include "ci_log.h"
#include "ci_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TMP_PREFIX ".st-tmp-"
#define LIST_DEPTH_MAX 8

struct st_local {
    struct st_store base;
    char root[PATH_MAX];
};

static const char *root_of(struct st_store *st)
{
    return ((struct st_local *)st)->root;
}

static int path_of(struct st_store *st, const char *key, char *out, size_t outsz)
{
    int n = snprintf(out, outsz, "%s/%s", root_of(st), key);
    return n < 0 || (size_t)n >= outsz ? -ENAMETOOLONG : 0;
}

/* mkdir -p of the directory part of path (below the root). */
static int make_parents(const char *path)
{
    char buf[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path)
        return 0;
    if ((size_t)(slash - path) >= sizeof buf)
        return -ENAMETOOLONG;
    memcpy(buf, path, (size_t)(slash - path));
    buf[slash - path] = '\0';
    return ci_mkdir_p(buf, 0755);
}

static int write_all(int fd, const char *p, size_t len)
{
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -EIO;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Copies src to dst up to max bytes (max < 0: no limit). */
static int copy_fd(int src, int dst, int64_t max)
{
    char buf[65536];
    int64_t total = 0;
    for (;;) {
        ssize_t r = read(src, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -EIO;
        if (r == 0)
            return 0;
        total += r;
        if (max >= 0 && total > max)
            return -EFBIG;
        int rc = write_all(dst, buf, (size_t)r);
        if (rc != 0)
            return rc;
    }
}

/* Opens a temp file next to the key's path; fills tmp. */
static int open_tmp(const char *path, char *tmp, size_t tmpsz)
{
    char hex[17];
    const char *slash = strrchr(path, '/');
    if (ci_random_hex(hex, 8) != 0)
        return -EIO;
    int n = snprintf(tmp, tmpsz, "%.*s/" TMP_PREFIX "%s", (int)(slash - path), path, hex);
    if (n < 0 || (size_t)n >= tmpsz)
        return -ENAMETOOLONG;
    int rc = make_parents(path);
    if (rc != 0)
        return rc;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    return fd < 0 ? -errno : fd;
}

/* Closes fd and renames tmp over path when rc == 0; else removes tmp. */
static int finish_tmp(int fd, const char *tmp, const char *path, int rc)
{
    if (close(fd) != 0 && rc == 0)
        rc = -EIO;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno;
    if (rc != 0) {
        unlink(tmp);
        log_warn("storage: cannot write %s: %s", path, strerror(-rc));
    }
    return rc;
}

static int l_put(struct st_store *st, const char *key, const void *data, size_t len,
                 const char *content_type)
{
    char path[PATH_MAX], tmp[PATH_MAX];
    int rc = path_of(st, key, path, sizeof path);
    if (rc != 0)
        return rc;
    int fd = open_tmp(path, tmp, sizeof tmp);
    if (fd < 0)
        return fd == -ENAMETOOLONG ? -EINVAL : -EIO;
    return finish_tmp(fd, tmp, path, write_all(fd, data, len));
}

static int l_put_file(struct st_store *st, const char *key, const char *src,
                      const char *content_type)
{
    char path[PATH_MAX], tmp[PATH_MAX];
    int rc = path_of(st, key, path, sizeof path);
    if (rc != 0)
        return rc;
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return -errno;
    int fd = open_tmp(path, tmp, sizeof tmp);
    if (fd < 0) {
        close(in);
        return -EIO;
    }
    rc = copy_fd(in, fd, -1);
    close(in);
    return finish_tmp(fd, tmp, path, rc);
}

static int open_obj(struct st_store *st, const char *key, struct stat *sb)
{
    char path[PATH_MAX];
    int rc = path_of(st, key, path, sizeof path);
    if (rc != 0)
        return -ENOENT;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT || errno == ENOTDIR || errno == ELOOP ? -ENOENT : -EIO;
    if (fstat(fd, sb) != 0 || !S_ISREG(sb->st_mode)) {
        close(fd);
        return -ENOENT;
    }
    return fd;
}

static int l_get(struct st_store *st, const char *key, size_t max, char **data, size_t *len)
{
    struct stat sb;
    int fd = open_obj(st, key, &sb), rc = 0;
    if (fd < 0)
        return fd;
    if ((uint64_t)sb.st_size > max) {
        rc = -EFBIG;
        goto out;
    }
    size_t cap = (size_t)sb.st_size, got = 0;
    char *buf = ci_xmalloc(cap + 1);
    for (;;) {
        if (got == cap) { /* the file may have grown; read one more byte to check */
            char c;
            ssize_t r = read(fd, &c, 1);
            if (r == 0)
                break;
            free(buf);
            rc = r < 0 ? -EIO : -EFBIG;
            goto out;
        }
        ssize_t r = read(fd, buf + got, cap - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r == 0)
                break;
            free(buf);
            rc = -EIO;
            goto out;
        }
        got += (size_t)r;
    }
    buf[got] = '\0';
    *data = buf;
    *len = got;
out:
    close(fd);
    return rc;
}

static int l_get_to_fd(struct st_store *st, const char *key, int out, int64_t max)
{
    struct stat sb;
    int fd = open_obj(st, key, &sb);
    if (fd < 0)
        return fd;
    int rc = max >= 0 && sb.st_size > max ? -EFBIG : copy_fd(fd, out, max);
    close(fd);
    return rc;
}

static int l_open_read(struct st_store *st, const char *key, int64_t max, int *out,
                       int64_t *size)
{
    struct stat sb;
    int fd = open_obj(st, key, &sb);
    if (fd < 0)
        return fd;
    if (max >= 0 && sb.st_size > max) {
        close(fd);
        return -EFBIG;
    }
    *out = fd;
    *size = sb.st_size;
    return 0;
}

static int l_head(struct st_store *st, const char *key, struct st_object_info *info)
{
    struct stat sb;
    int fd = open_obj(st, key, &sb);
    if (fd < 0)
        return fd;
    close(fd);
    info->size = sb.st_size;
    info->mtime_ms = (int64_t)sb.st_mtim.tv_sec * 1000 + sb.st_mtim.tv_nsec / 1000000;
    snprintf(info->etag, sizeof info->etag, "\"%llx-%llx%09lx\"", (unsigned long long)sb.st_size,
             (unsigned long long)sb.st_mtim.tv_sec, (unsigned long)sb.st_mtim.tv_nsec);
    return 0;
}

static int l_del(struct st_store *st, const char *key)
{
    char path[PATH_MAX];
    if (path_of(st, key, path, sizeof path) != 0)
        return 0;
    if (unlink(path) != 0 && errno != ENOENT && errno != ENOTDIR) {
        log_warn("storage: cannot delete %s: %s", path, strerror(errno));
        return -EIO;
    }
    /* tidy: remove now-empty parents up to (not including) the root */
    size_t rootlen = strlen(root_of(st));
    for (char *slash = strrchr(path, '/'); slash && (size_t)(slash - path) > rootlen;
         slash = strrchr(path, '/')) {
        *slash = '\0';
        if (rmdir(path) != 0)
            break;
    }
    return 0;
}

/* Recursively collects files under dir (key form `rel`) whose key starts
 * with prefix. */
static int walk(const char *dir, const char *rel, const char *prefix, int depth, char ***keys,
                size_t *n, size_t *cap)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT || errno == ENOTDIR ? 0 : -EIO;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
            continue;
        if (strncmp(e->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) == 0)
            continue;
        char path[PATH_MAX], key[PATH_MAX];
        int a = snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        int b = snprintf(key, sizeof key, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
        if (a < 0 || (size_t)a >= sizeof path || b < 0 || (size_t)b >= sizeof key)
            continue;
        struct stat sb;
        if (lstat(path, &sb) != 0)
            continue;
        size_t kl = strlen(key), pl = strlen(prefix);
        if (S_ISDIR(sb.st_mode) && depth < LIST_DEPTH_MAX) {
            /* descend only where the prefix can still match */
            size_t m = kl < pl ? kl : pl;
            if (strncmp(key, prefix, m) == 0)
                rc = walk(path, key, prefix, depth + 1, keys, n, cap);
        } else if (S_ISREG(sb.st_mode) && kl >= pl && strncmp(key, prefix, pl) == 0) {
            st__list_add(keys, n, cap, key, kl);
        }
    }
    closedir(d);
    return rc;
}

static int l_list(struct st_store *st, const char *prefix, char ***keys, size_t *n, size_t *cap)
{
    return walk(root_of(st), "", prefix, 0, keys, n, cap);
}

static void l_close(struct st_store *st)
{
    free(st);
}

static const struct st_ops local_ops = {
    .name = "local",
    .put = l_put,
    .put_file = l_put_file,
    .get = l_get,
    .get_to_fd = l_get_to_fd,
    .open_read = l_open_read,
    .head = l_head,
    .del = l_del,
    .list = l_list,
    .close = l_close,
};

int st__local_open(struct st_store **out)
{
    const char *dir = ci_env_str("STORAGE_DIR", "/var/lib/code-interpreter/storage");
    if (dir[0] != '/' || strlen(dir) > PATH_MAX - 600) {
        log_error("STORAGE_DIR=%s: must be an absolute path", dir);
        return -EINVAL;
    }
    struct st_local *l = ci_xcalloc(1, sizeof *l);
    l->base.ops = &local_ops;
    snprintf(l->root, sizeof l->root, "%s", dir);
    size_t len = strlen(l->root);
    while (len > 1 && l->root[len - 1] == '/')
        l->root[--len] = '\0';
    char probe[PATH_MAX + 8];
    snprintf(probe, sizeof probe, "%s/x", l->root);
    if (make_parents(probe) != 0) {
        log_error("STORAGE_DIR=%s: cannot create it: %s", l->root, strerror(errno));
        free(l);
        return -EINVAL;
    }
    *out = &l->base;
    return 0;
}
