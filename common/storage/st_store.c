/*
 * st_store.c - the storage front: configuration, key checks, dispatch to
 * the backend (st_local.c, st_s3.c).
 */
#include "st_int.h"

#include "ci_env.h"
#include "ci_log.h"
#include "ci_util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define ST_KEY_MAX 512

int st_store_open_from_env(struct st_store **out)
{
    const char *b = ci_env_str("STORAGE_BACKEND", "local");
    *out = NULL;
    if (strcasecmp(b, "local") == 0)
        return st__local_open(out);
    if (strcasecmp(b, "s3") == 0)
        return st__s3_open(out);
    log_error("STORAGE_BACKEND=%s: expected \"local\" or \"s3\"", b);
    return -EINVAL;
}

void st_store_close(struct st_store *st)
{
    if (st)
        st->ops->close(st);
}

const char *st_store_backend(const struct st_store *st)
{
    return st->ops->name;
}

static int key_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

/* Shared by keys and prefixes: a prefix may end with '/'. */
static int path_valid(const char *key, int allow_trailing_slash)
{
    size_t n = key ? strlen(key) : 0;
    if (n == 0 || n > ST_KEY_MAX || key[0] == '/')
        return 0;
    const char *seg = key;
    for (size_t i = 0; i <= n; i++) {
        if (key[i] != '/' && key[i] != '\0') {
            if (!key_char((unsigned char)key[i]))
                return 0;
            continue;
        }
        size_t len = (size_t)(key + i - seg);
        if (len == 0 && !(allow_trailing_slash && key[i] == '\0' && i > 0))
            return 0;
        if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
            return 0;
        seg = key + i + 1;
    }
    return 1;
}

int st_key_valid(const char *key)
{
    return path_valid(key, 0);
}

int st_put(struct st_store *st, const char *key, const void *data, size_t len,
           const char *content_type)
{
    if (!st_key_valid(key))
        return -EINVAL;
    return st->ops->put(st, key, data, len, content_type);
}

int st_put_file(struct st_store *st, const char *key, const char *path, const char *content_type)
{
    if (!st_key_valid(key) || !path)
        return -EINVAL;
    return st->ops->put_file(st, key, path, content_type);
}

int st_get(struct st_store *st, const char *key, size_t max, char **data, size_t *len)
{
    *data = NULL;
    *len = 0;
    if (!st_key_valid(key))
        return -EINVAL;
    return st->ops->get(st, key, max, data, len);
}

int st_get_to_file(struct st_store *st, const char *key, const char *path, int64_t max)
{
    if (!st_key_valid(key) || !path)
        return -EINVAL;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    int rc = st->ops->get_to_fd(st, key, fd, max);
    if (close(fd) != 0 && rc == 0)
        rc = -EIO;
    if (rc != 0)
        unlink(path);
    return rc;
}

/* An anonymous file under TMPDIR (gone once closed). */
static int st_tmpfile(void)
{
    const char *dir = getenv("TMPDIR");
    char path[PATH_MAX];
    if (!dir || !*dir)
        dir = "/tmp";
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
        return fd >= 0 ? fd : -errno;
    snprintf(path, sizeof path, "%s/ci-st-XXXXXX", dir); /* no O_TMPFILE here */
    fd = mkostemp(path, O_CLOEXEC);
    if (fd < 0)
        return -errno;
    unlink(path);
    return fd;
}

int st_open_read(struct st_store *st, const char *key, int64_t max, int *fd, int64_t *size)
{
    struct stat sb;
    *fd = -1;
    *size = 0;
    if (!st_key_valid(key))
        return -EINVAL;
    if (st->ops->open_read)
        return st->ops->open_read(st, key, max, fd, size);
    int tmp = st_tmpfile();
    if (tmp < 0) {
        log_error("storage: no temporary file for %s: %s", key, strerror(-tmp));
        return -EIO;
    }
    int rc = st->ops->get_to_fd(st, key, tmp, max);
    if (rc == 0 && (lseek(tmp, 0, SEEK_SET) != 0 || fstat(tmp, &sb) != 0))
        rc = -EIO;
    if (rc != 0) {
        close(tmp);
        return rc;
    }
    *fd = tmp;
    *size = sb.st_size;
    return 0;
}

int st_head(struct st_store *st, const char *key, struct st_object_info *info)
{
    memset(info, 0, sizeof *info);
    if (!st_key_valid(key))
        return -EINVAL;
    return st->ops->head(st, key, info);
}

int st_delete(struct st_store *st, const char *key)
{
    if (!st_key_valid(key))
        return -EINVAL;
    return st->ops->del(st, key);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int st_list(struct st_store *st, const char *prefix, char ***keys, size_t *n)
{
    size_t cap = 0;
    *keys = NULL;
    *n = 0;
    if (!path_valid(prefix, 1))
        return -EINVAL;
    int rc = st->ops->list(st, prefix, keys, n, &cap);
    if (rc != 0) {
        st_list_free(*keys, *n);
        *keys = NULL;
        *n = 0;
        return rc;
    }
    if (*n > 1)
        qsort(*keys, *n, sizeof **keys, cmp_str);
    return 0;
}

void st_list_free(char **keys, size_t n)
{
    for (size_t i = 0; keys && i < n; i++)
        free(keys[i]);
    free(keys);
}

void st__list_add(char ***keys, size_t *n, size_t *cap, const char *key, size_t keylen)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        *keys = ci_xrealloc(*keys, *cap * sizeof **keys);
    }
    (*keys)[(*n)++] = ci_xstrndup(key, keylen);
}
