/*
 * st_store.h - object storage for session files and archived state.
 *
 * One small interface, two backends chosen by configuration only:
 *   STORAGE_BACKEND=local (default)  files under STORAGE_DIR
 *                                    (default /var/lib/code-interpreter/storage)
 *   STORAGE_BACKEND=s3               an S3-compatible server: S3_ENDPOINT
 *                                    (e.g. http://127.0.0.1:4569), S3_BUCKET,
 *                                    S3_REGION (default us-east-1),
 *                                    S3_ACCESS_KEY, S3_SECRET_KEY; requests are
 *                                    signed with AWS SigV4 by libcurl
 *                                    (CURLOPT_AWS_SIGV4), path-style URLs.
 *
 * Keys are '/'-separated paths of [A-Za-z0-9._-] segments (no "." or ".."
 * segment, no leading '/'), at most 512 bytes: st_key_valid() checks them and
 * every function refuses others with -EINVAL.  Layout used by the product:
 *   files/<session_id>/<file_id>          a session file's bytes
 *   files/<session_id>/<file_id>.meta     its metadata (JSON)
 *   state/<session_id>                    archived Python state (lz4 blob)
 *
 * Threads: the functions are blocking; call them from ingress threads or the
 * worker's uv threadpool (uv_queue_work), never on a uv loop thread.  A
 * struct st_store is safe to share between threads.
 *
 * Errors: 0 or a negative errno: -ENOENT (no such object), -EINVAL (bad
 * key), -EFBIG (object larger than the caller's max), -EIO (backend
 * failure; logged with the reason).
 */
#ifndef ST_STORE_H
#define ST_STORE_H

#include <stddef.h>
#include <stdint.h>

struct st_store;

struct st_object_info {
    int64_t size;
    int64_t mtime_ms;  /* last modified, ms since epoch */
    char etag[80];     /* quoted or bare; backend's own */
};

/* Opens the backend the environment names.  Returns 0 or -EINVAL (bad
 * configuration, logged). */
int st_store_open_from_env(struct st_store **out);
void st_store_close(struct st_store *st);
/* "local" or "s3". */
const char *st_store_backend(const struct st_store *st);

int st_key_valid(const char *key);

/* Stores len bytes under key (replacing). */
int st_put(struct st_store *st, const char *key, const void *data, size_t len,
           const char *content_type);
/* Stores the file at path (streamed, not loaded whole). */
int st_put_file(struct st_store *st, const char *key, const char *path, const char *content_type);

/* Reads the object into a malloc'd buffer (caller frees); -EFBIG past max. */
int st_get(struct st_store *st, const char *key, size_t max, char **data, size_t *len);
/* Streams the object into a new file at path (mode 0644, O_EXCL); -EFBIG
 * past max (the partial file is removed). */
int st_get_to_file(struct st_store *st, const char *key, const char *path, int64_t max);
/* A read-only fd positioned at the start of the object's bytes, and their
 * size, for streaming (e.g. to an HTTP response) without holding them in
 * memory: local opens the object file itself (objects are replaced by
 * rename, so the fd keeps the version it opened); s3 downloads into an
 * unlinked temporary file under TMPDIR first.  The caller closes *fd.
 * -EFBIG past max. */
int st_open_read(struct st_store *st, const char *key, int64_t max, int *fd, int64_t *size);

int st_head(struct st_store *st, const char *key, struct st_object_info *info);
/* Deleting a missing object is not an error. */
int st_delete(struct st_store *st, const char *key);

/* Keys under prefix (e.g. "files/<sid>/"), malloc'd array of malloc'd
 * strings; free with st_list_free(). */
int st_list(struct st_store *st, const char *prefix, char ***keys, size_t *n);
void st_list_free(char **keys, size_t n);

#endif
