/*
 * wk_files_int.h - shared between wk_files.c (stage-in, the uv glue),
 * wk_files_scan.c (walking /mnt/data) and wk_files_out.c (stage-out).
 * Private to the worker.
 *
 * The data dir (the host side of /mnt/data) is written by user code, so
 * every path under it is resolved component by component from the data
 * dir's fd with openat(O_NOFOLLOW) / fstatat(AT_SYMLINK_NOFOLLOW): a symlink
 * anywhere is never followed, a path of any length is reached without
 * PATH_MAX, a renamed directory cannot redirect a read.
 *
 * Unchanged-ness is decided without reading a byte: a file is unchanged
 * when (st_dev, st_ino, st_size, mtime ns, ctime ns) equal what stage-in
 * recorded.  ctime cannot be set by the program (utime() sets mtime but
 * moves ctime to now), so a rewrite with the old mtime is still seen.
 * Nothing is hashed: a 20 GB sparse file costs one fstatat.
 *
 * Scan bounds (wk_config.h): at most MAX_SCAN_ENTRIES directory entries
 * visited per scan (the rest are not looked at: a warning says so), and
 * directories at most MAX_OUTPUT_DEPTH components deep are entered (deeper
 * ones are named in a warning).  Cost is O(n log n) in the entries seen:
 * one sort, then binary searches.
 *
 * ctx->files_priv is a struct wk_files_stage (stage-in's record).
 */
#ifndef WK_FILES_INT_H
#define WK_FILES_INT_H

#include "st_store.h"
#include "wk_stage.h"

#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#define WK_FILES_UID 1000 /* the sandbox user (wk_sandbox_spec_init) */
#define WK_FILES_GID 1000
#define WK_FILES_DEEP_NAMES 3 /* deep directories named in the warning */

/* One regular file found under the data dir. */
struct wk_files_entry {
    char *name; /* relative path ("a/b.csv"), malloc'd; NULL = not recorded */
    dev_t dev;
    ino_t ino;
    int64_t size;
    struct timespec mtime, ctime;
};

/* A scan of the data dir: regular files sorted by name. */
struct wk_files_seen {
    struct wk_files_entry *e;
    size_t n;
    int truncated;                   /* MAX_SCAN_ENTRIES reached: entries past it unseen */
    size_t ndeep;                    /* directories not entered (MAX_OUTPUT_DEPTH) */
    char *deep[WK_FILES_DEEP_NAMES]; /* the first of them, malloc'd */
};

/* Stage-in's record, kept in ctx->files_priv until stage-out. */
struct wk_files_stage {
    struct wk_files_seen seen; /* the data dir right after stage-in */
    struct wk_files_entry *in; /* job->nfiles: the staged input per ref
                                  (name NULL: not recorded, e.g. a later
                                  ref of the same name replaced it) */
    size_t nin;
};

/* The worker's store, opened on first use (loop thread); NULL on a bad
 * configuration (logged). */
struct st_store *wk_files_store(void);

/* Walks the directory open at dfd (not closed) within the bounds above
 * into *out (zeroed first).  0, or a negative errno when dfd itself
 * cannot be read.  Threadpool. */
int wk_files_scan(int dfd, struct wk_files_seen *out);
void wk_files_seen_release(struct wk_files_seen *s);
/* The entry of that name, or NULL (binary search). */
const struct wk_files_entry *wk_files_find(const struct wk_files_seen *s, const char *name);
/* 1 when sb is the file e recorded, unchanged. */
int wk_files_same(const struct wk_files_entry *e, const struct stat *sb);
/* Fills e from sb (name not touched). */
void wk_files_record(struct wk_files_entry *e, const struct stat *sb);

/* Opens the directory that holds relative path rel under dfd, one
 * component at a time with O_NOFOLLOW; with `create`, missing directories
 * are made (mode 0755, chowned to the sandbox user).  On success *dirfd is
 * the parent's fd (the caller closes it) and *base points into rel at the
 * last component.  -ELOOP/-ENOTDIR when a component is a symlink or not a
 * directory, -ENOENT when missing, -EINVAL for an empty, absolute, "." or
 * ".." component. */
int wk_files_open_parent(int dfd, const char *rel, int create, int *dirfd, const char **base);

/* fstatat of rel under dfd without following any symlink.  0 or -errno. */
int wk_files_stat_rel(int dfd, const char *rel, struct stat *sb);

void wk_files_stage_free(struct wk_files_stage *st);

#endif
