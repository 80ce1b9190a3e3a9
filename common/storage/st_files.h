/*
 * st_files.h - session files on top of st_store.h: keys, metadata records,
 * content types, the upload extension whitelist.
 *
 * A session file is two objects:
 *   files/<session_id>/<file_id>        the bytes
 *   files/<session_id>/<file_id>.meta   JSON {"id","session_id","name",
 *                                       "content_type","size","created_ms",
 *                                       "etag","source"}   (source: "upload"|"output")
 * Listing a session is st_list("files/<sid>/") keeping the ".meta" keys;
 * no other index exists, so storage is the single source of truth (also
 * with several ingress hosts).  Ids are 1..64 of [A-Za-z0-9_-].
 *
 * Blocking like st_store.h (ingress threads or the uv threadpool).
 */
#ifndef ST_FILES_H
#define ST_FILES_H

#include "st_store.h"

#include <stddef.h>
#include <stdint.h>

#define ST_FILE_ID_LEN 21
#define ST_META_MAX 8192

struct st_file_meta {
    char id[65];
    char session_id[65];
    char name[256];
    char content_type[96];
    int64_t size;
    int64_t created_ms;
    char etag[80];
    char source[16];
};

/* "files/<sid>/<fid>" or, with meta, "files/<sid>/<fid>.meta" into out.
 * -EINVAL when an id is not 1..64 of [A-Za-z0-9_-]. */
int st_file_key(char *out, size_t outsz, const char *sid, const char *fid, int meta);

/* Content type for a file name by its extension (case-insensitive);
 * "application/octet-stream" for unknown ones. */
const char *st_content_type(const char *name);
/* 1 when the extension of the name's last component is on the upload
 * allow-list: SECURITY.md's list plus what LibreChat keeps (.zip .tar .sh
 * .sql .parquet .pptx .tsv .log .ipynb .odt ... see the table in
 * st_files.c), case-insensitive.  UPLOAD_EXTENSIONS ("csv,txt,...")
 * replaces the list, UPLOAD_EXTENSIONS_EXTRA adds to it (both read once). */
int st_extension_allowed(const char *name);

/* Stores the file at path as session file meta->id of meta->session_id and
 * writes its metadata (size and etag filled from the stored object).
 * Returns 0 or a negative errno; nothing is left behind on failure. */
int st_file_store(struct st_store *st, struct st_file_meta *meta, const char *path);

/* Reads a file's metadata.  -ENOENT when there is none. */
int st_meta_get(struct st_store *st, const char *sid, const char *fid, struct st_file_meta *m);

/* All files of a session (metadata), oldest first; malloc'd array the
 * caller frees.  Entries whose metadata cannot be read are skipped. */
int st_session_files(struct st_store *st, const char *sid, struct st_file_meta **out, size_t *n);

/* Deletes a file and its metadata.  -ENOENT when it did not exist. */
int st_file_delete(struct st_store *st, const char *sid, const char *fid);

/* Deletes every object under files/<sid>/.  Returns the count or < 0. */
int st_session_purge(struct st_store *st, const char *sid);

#endif
