/*
 * wk_files_int.h - shared between wk_files.c (stage-in, the uv glue) and
 * wk_files_out.c (stage-out).  Private to the worker.
 *
 * ctx->files_priv is a struct wk_files_seen: what /mnt/data held right
 * after stage-in (every regular file: name, size, mtime, SHA-256), so that
 * stage-out reports only files the program created or changed.
 */
#ifndef WK_FILES_INT_H
#define WK_FILES_INT_H

#include "st_store.h"
#include "wk_stage.h"

#include <stdint.h>
#include <time.h>

#define WK_FILES_UID 1000 /* the sandbox user (wk_sandbox_spec_init) */
#define WK_FILES_GID 1000

struct wk_files_entry {
    char name[256];
    int64_t size;
    struct timespec mtime;
    unsigned char sha256[32];
};

struct wk_files_seen {
    struct wk_files_entry *e;
    size_t n;
};

/* The worker's store, opened on first use (loop thread); NULL on a bad
 * configuration (logged). */
struct st_store *wk_files_store(void);

/* SHA-256 of an open file from its start; 0 or -EIO. */
int wk_files_hash_fd(int fd, unsigned char out[32]);

/* Lists the regular files directly in dir (no symlinks followed, no
 * recursion) with their hashes.  0 or a negative errno. */
int wk_files_snapshot(const char *dir, struct wk_files_seen *out);
void wk_files_seen_free(struct wk_files_seen *s);

#endif
