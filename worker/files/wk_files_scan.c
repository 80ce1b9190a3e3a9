/*
 * wk_files_scan.c - walking the data dir by fd, bounded (wk_files_int.h).
 */
#include "wk_files_int.h"

#include "ci_util.h"
#include "wk_config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct walk {
    struct wk_files_seen *out;
    size_t cap;
    size_t visited;
    size_t max_entries;
    size_t max_depth;
};

void wk_files_record(struct wk_files_entry *e, const struct stat *sb)
{
    e->dev = sb->st_dev;
    e->ino = sb->st_ino;
    e->size = (int64_t)sb->st_size;
    e->mtime = sb->st_mtim;
    e->ctime = sb->st_ctim;
}

int wk_files_same(const struct wk_files_entry *e, const struct stat *sb)
{
    return e && e->name && S_ISREG(sb->st_mode) && e->dev == sb->st_dev && e->ino == sb->st_ino &&
           e->size == (int64_t)sb->st_size && e->mtime.tv_sec == sb->st_mtim.tv_sec &&
           e->mtime.tv_nsec == sb->st_mtim.tv_nsec && e->ctime.tv_sec == sb->st_ctim.tv_sec &&
           e->ctime.tv_nsec == sb->st_ctim.tv_nsec;
}

static char *join(const char *prefix, const char *name)
{
    size_t n = strlen(prefix) + strlen(name) + 2;
    char *p = ci_xmalloc(n);
    snprintf(p, n, "%s%s%s", prefix, prefix[0] ? "/" : "", name);
    return p;
}

static void add_file(struct walk *w, char *name, const struct stat *sb)
{
    struct wk_files_seen *s = w->out;
    if (s->n == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 64;
        s->e = ci_xrealloc(s->e, w->cap * sizeof *s->e);
    }
    struct wk_files_entry *e = &s->e[s->n++];
    memset(e, 0, sizeof *e);
    e->name = name;
    wk_files_record(e, sb);
}

static void add_deep(struct walk *w, char *name)
{
    struct wk_files_seen *s = w->out;
    if (s->ndeep < WK_FILES_DEEP_NAMES)
        s->deep[s->ndeep] = name;
    else
        free(name);
    s->ndeep++;
}

/* Walks the directory at dfd (closed here); prefix is its relative path,
 * depth its number of components. */
static void walk_dir(struct walk *w, int dfd, const char *prefix, size_t depth)
{
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (w->visited >= w->max_entries) {
            w->out->truncated = 1;
            break;
        }
        w->visited++;
        struct stat sb;
        if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        if (S_ISREG(sb.st_mode)) {
            add_file(w, join(prefix, de->d_name), &sb);
        } else if (S_ISDIR(sb.st_mode)) {
            char *sub = join(prefix, de->d_name);
            /* a file in it would have depth + 2 components */
            if (depth + 2 > w->max_depth) {
                add_deep(w, sub);
                continue;
            }
            int fd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (fd >= 0)
                walk_dir(w, fd, sub, depth + 1);
            free(sub);
            if (w->out->truncated)
                break;
        } /* symlinks, fifos, sockets, devices: never outputs, never followed */
    }
    closedir(d);
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const struct wk_files_entry *)a)->name,
                  ((const struct wk_files_entry *)b)->name);
}

int wk_files_scan(int dfd, struct wk_files_seen *out)
{
    memset(out, 0, sizeof *out);
    int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct walk w = {
        .out = out,
        .max_entries = wk_cfg.max_scan_entries ? wk_cfg.max_scan_entries : 10000,
        .max_depth = wk_cfg.max_output_depth ? wk_cfg.max_output_depth : 8,
    };
    walk_dir(&w, fd, "", 0);
    if (out->n > 1)
        qsort(out->e, out->n, sizeof *out->e, cmp_entry);
    return 0;
}

void wk_files_seen_release(struct wk_files_seen *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->e[i].name);
    free(s->e);
    for (size_t i = 0; i < s->ndeep && i < WK_FILES_DEEP_NAMES; i++)
        free(s->deep[i]);
    memset(s, 0, sizeof *s);
}

const struct wk_files_entry *wk_files_find(const struct wk_files_seen *s, const char *name)
{
    struct wk_files_entry key = {.name = (char *)name};
    if (!s || s->n == 0)
        return NULL;
    return bsearch(&key, s->e, s->n, sizeof *s->e, cmp_entry);
}

/* 0 when comp[0..len) is a usable path component. */
static int bad_component(const char *comp, size_t len)
{
    return len == 0 || len > 255 || (len == 1 && comp[0] == '.') ||
           (len == 2 && comp[0] == '.' && comp[1] == '.');
}

int wk_files_open_parent(int dfd, const char *rel, int create, int *dirfd_out, const char **base)
{
    if (!rel || rel[0] == '/' || rel[0] == '\0')
        return -EINVAL;
    int cur = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cur < 0)
        return -errno;
    const char *p = rel;
    for (;;) {
        const char *slash = strchr(p, '/');
        if (!slash)
            break;
        size_t len = (size_t)(slash - p);
        char comp[256];
        if (bad_component(p, len)) {
            close(cur);
            return -EINVAL;
        }
        memcpy(comp, p, len);
        comp[len] = '\0';
        if (create && mkdirat(cur, comp, 0755) == 0 &&
            fchownat(cur, comp, WK_FILES_UID, WK_FILES_GID, AT_SYMLINK_NOFOLLOW) != 0) {
            int e = errno;
            close(cur);
            return -e;
        }
        int next = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int e = errno;
        close(cur);
        if (next < 0)
            return e == ELOOP || e == ENOTDIR ? -ELOOP : -e;
        cur = next;
        p = slash + 1;
    }
    if (bad_component(p, strlen(p))) {
        close(cur);
        return -EINVAL;
    }
    *dirfd_out = cur;
    *base = p;
    return 0;
}

int wk_files_stat_rel(int dfd, const char *rel, struct stat *sb)
{
    int pfd;
    const char *base;
    int rc = wk_files_open_parent(dfd, rel, 0, &pfd, &base);
    if (rc != 0)
        return rc;
    rc = fstatat(pfd, base, sb, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : -errno;
    close(pfd);
    return rc;
}

void wk_files_stage_free(struct wk_files_stage *st)
{
    if (!st)
        return;
    wk_files_seen_release(&st->seen);
    for (size_t i = 0; i < st->nin; i++)
        free(st->in[i].name);
    free(st->in);
    free(st);
}
