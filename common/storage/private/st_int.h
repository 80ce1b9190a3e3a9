/*
 * st_int.h - the storage backends' private interface (st_store.c dispatches
 * to it after checking keys).  Not for use outside common/storage/.
 *
 * Each backend embeds struct st_store as its first member and fills `ops`.
 * The functions get already-validated keys and follow st_store.h's return
 * conventions.  They must be safe to call from several threads at once.
 */
#ifndef ST_INT_H
#define ST_INT_H

#include "st_store.h"

#include <stdint.h>

struct st_ops {
    const char *name;
    int (*put)(struct st_store *st, const char *key, const void *data, size_t len,
               const char *content_type);
    int (*put_file)(struct st_store *st, const char *key, const char *path,
                    const char *content_type);
    int (*get)(struct st_store *st, const char *key, size_t max, char **data, size_t *len);
    /* Writes the object to the open fd; -EFBIG past max. */
    int (*get_to_fd)(struct st_store *st, const char *key, int fd, int64_t max);
    /* Optional: a read-only fd on the object itself (st_open_read); NULL
     * makes st_open_read spool through get_to_fd. */
    int (*open_read)(struct st_store *st, const char *key, int64_t max, int *fd, int64_t *size);
    int (*head)(struct st_store *st, const char *key, struct st_object_info *info);
    int (*del)(struct st_store *st, const char *key);
    /* Appends keys under prefix to the growing array (st__list_add). */
    int (*list)(struct st_store *st, const char *prefix, char ***keys, size_t *n, size_t *cap);
    void (*close)(struct st_store *st);
};

struct st_store {
    const struct st_ops *ops;
};

/* Backend constructors: read their settings from the environment. */
int st__local_open(struct st_store **out);
int st__s3_open(struct st_store **out);

/* Appends a copy of key to the array (grows it). */
void st__list_add(char ***keys, size_t *n, size_t *cap, const char *key, size_t keylen);

#endif
