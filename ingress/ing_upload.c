/*
 * ing_upload.c - POST /upload: multipart/form-data through MHD's post
 * processor, each file part streamed to a temp file (UPLOAD_TMP_DIR,
 * default TMPDIR or /tmp), then stored (st_files.h) under the chosen
 * session.
 *
 * Parts: `file` (one) or `files` (repeated), each with a filename; form
 * field `entity_id` (optional, <= 40 of [A-Za-z0-9_-]) picks the caller's
 * entity session (ing_session.h); other fields are ignored.
 * Refusals (JSON error shape):
 *   415  Content-Type not multipart/form-data; a file name whose extension
 *        is not on the whitelist (st_extension_allowed())
 *   413  a file over MAX_FILE_SIZE_MB; more than MAX_FILES_PER_SESSION
 *        files in the session after this upload; Content-Length over
 *        MAX_FILES_PER_SESSION * MAX_FILE_SIZE_MB (+1 MiB of framing)
 *   400  a bad file name (sch_valid_filename()), no file part
 *   422  a bad entity_id
 * After the first refusal the rest of the body is read and discarded, and
 * the error is answered once the body is complete.
 */
#include "ing_files.h"

#include "ci_env.h"
#include "ci_log.h"
#include "ci_util.h"
#include "ing_config.h"
#include "ing_redis.h"
#include "ing_reply.h"
#include "ing_scan.h"
#include "ing_sec.h"
#include "ing_session.h"
#include "st_files.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define PP_BUFFER 16384

struct up_file {
    char name[SCH_FILENAME_MAX + 1];
    char tmp[PATH_MAX];
    int fd;
    int64_t size;
};

struct upload {
    struct MHD_PostProcessor *pp;
    struct up_file *files;
    size_t nfiles, maxfiles;
    int64_t max_size;
    char entity_id[SCH_ENTITY_ID_MAX + 2];
    size_t entity_len;
    int entity_too_long;
    /* the first refusal */
    unsigned status;
    const char *error_type;
    char message[160];
    struct sch_errors errs;
};

static void upload_free(void *arg)
{
    struct upload *u = arg;
    if (!u)
        return;
    if (u->pp)
        MHD_destroy_post_processor(u->pp);
    for (size_t i = 0; i < u->nfiles; i++) {
        if (u->files[i].fd >= 0)
            close(u->files[i].fd);
        unlink(u->files[i].tmp);
    }
    free(u->files);
    free(u);
}

static void refuse(struct upload *u, unsigned status, const char *type, const char *field,
                   const char *msg)
{
    if (u->status)
        return;
    u->status = status;
    u->error_type = type;
    snprintf(u->message, sizeof u->message, "%s", msg);
    if (field)
        sch_errors_add(&u->errs, field, "%s", msg);
}

static void close_current(struct upload *u)
{
    if (u->nfiles && u->files[u->nfiles - 1].fd >= 0) {
        close(u->files[u->nfiles - 1].fd);
        u->files[u->nfiles - 1].fd = -1;
    }
}

/* A new file part begins. */
static void file_start(struct upload *u, const char *filename)
{
    const char *why = NULL;
    char field[32];
    close_current(u);
    snprintf(field, sizeof field, "files[%zu].filename", u->nfiles);
    if (!ing_fname_safe(filename, &why)) { /* sch_valid_filename + dangerous chars */
        refuse(u, MHD_HTTP_BAD_REQUEST, "validation_error", field, why);
        return;
    }
    if (!st_extension_allowed(filename)) {
        refuse(u, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported_file_type", field,
               "this file extension is not allowed");
        return;
    }
    if (u->nfiles >= u->maxfiles) {
        refuse(u, MHD_HTTP_CONTENT_TOO_LARGE, "too_many_files", "files",
               "too many files for one session (MAX_FILES_PER_SESSION)");
        return;
    }
    struct up_file *f = &u->files[u->nfiles];
    memset(f, 0, sizeof *f);
    snprintf(f->name, sizeof f->name, "%s", filename);
    snprintf(f->tmp, sizeof f->tmp, "%s/ci-upload-XXXXXX",
             ci_env_str("UPLOAD_TMP_DIR", ci_env_str("TMPDIR", "/tmp")));
    f->fd = mkstemp(f->tmp);
    if (f->fd < 0) {
        log_error("upload: cannot create a temp file in %s: %s", f->tmp, strerror(errno));
        refuse(u, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable", NULL,
               "cannot buffer the upload; try again shortly");
        return;
    }
    u->nfiles++;
}

static void file_data(struct upload *u, const char *data, size_t size)
{
    struct up_file *f = u->nfiles ? &u->files[u->nfiles - 1] : NULL;
    if (!f || f->fd < 0 || size == 0)
        return;
    f->size += (int64_t)size;
    if (f->size > u->max_size) {
        char field[32];
        snprintf(field, sizeof field, "files[%zu]", u->nfiles - 1);
        refuse(u, MHD_HTTP_CONTENT_TOO_LARGE, "payload_too_large", field,
               "file larger than MAX_FILE_SIZE_MB");
        close_current(u);
        return;
    }
    while (size) {
        ssize_t w = write(f->fd, data, size);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            refuse(u, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable", NULL,
                   "cannot buffer the upload; try again shortly");
            close_current(u);
            return;
        }
        data += w;
        size -= (size_t)w;
    }
}

static enum MHD_Result on_part(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *filename, const char *content_type,
                               const char *transfer_encoding, const char *data, uint64_t off,
                               size_t size)
{
    struct upload *u = cls;
    if (u->status || !key)
        return MHD_YES; /* refused: discard the rest */
    if ((strcmp(key, "file") == 0 || strcmp(key, "files") == 0) && filename) {
        if (off == 0)
            file_start(u, filename);
        if (!u->status)
            file_data(u, data, size);
    } else if (strcmp(key, "entity_id") == 0 && !filename) {
        if (u->entity_len + size >= sizeof u->entity_id) {
            u->entity_too_long = 1;
        } else {
            memcpy(u->entity_id + u->entity_len, data, size);
            u->entity_len += size;
            u->entity_id[u->entity_len] = '\0';
        }
    }
    return MHD_YES;
}

int ing_upload_begin(struct ing_request *req, enum MHD_Result *ret)
{
    const char *ct =
        MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!ct || strncasecmp(ct, "multipart/form-data", 19) != 0) {
        *ret =
            ing_reply_error(req->conn, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
                            "Content-Type must be multipart/form-data", NULL, req->request_id, 0);
        return -1;
    }
    const struct sch_limits *lim = &ing_cfg.limits;
    uint64_t cap =
        (uint64_t)lim->max_files_per_session * ((uint64_t)lim->max_file_size_mb << 20) + (1u << 20);
    const char *cl =
        MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoull(cl, NULL, 10) > cap) {
        *ret = ing_reply_error(req->conn, MHD_HTTP_CONTENT_TOO_LARGE, "payload_too_large",
                               "request body too large", NULL, req->request_id, 0);
        return -1;
    }
    struct upload *u = ci_xcalloc(1, sizeof *u);
    sch_errors_init(&u->errs);
    u->maxfiles = lim->max_files_per_session;
    u->files = ci_xcalloc(u->maxfiles, sizeof *u->files);
    u->max_size = (int64_t)lim->max_file_size_mb << 20;
    u->pp = MHD_create_post_processor(req->conn, PP_BUFFER, on_part, u);
    if (!u->pp) {
        upload_free(u);
        *ret = ing_reply_error(req->conn, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
                               "malformed multipart/form-data Content-Type (boundary?)", NULL,
                               req->request_id, 0);
        return -1;
    }
    req->scratch = u;
    req->scratch_free = upload_free;
    return 0;
}

void ing_upload_feed(struct ing_request *req, const char *data, size_t len)
{
    struct upload *u = req->scratch;
    if (!u || !u->pp)
        return;
    if (MHD_post_process(u->pp, data, len) != MHD_YES)
        refuse(u, MHD_HTTP_BAD_REQUEST, "validation_error", NULL, "malformed multipart body");
}

/* Stores every buffered file under sid; fills the response array. */
static int store_all(struct upload *u, struct st_store *st, const char *sid, json_t *arr)
{
    for (size_t i = 0; i < u->nfiles; i++) {
        struct st_file_meta m;
        memset(&m, 0, sizeof m);
        if (ci_random_id(m.id, ST_FILE_ID_LEN) != 0)
            return -EIO;
        snprintf(m.session_id, sizeof m.session_id, "%s", sid);
        snprintf(m.name, sizeof m.name, "%s", u->files[i].name);
        snprintf(m.source, sizeof m.source, "upload");
        int rc = st_file_store(st, &m, u->files[i].tmp);
        if (rc != 0)
            return rc;
        json_array_append_new(arr, json_pack("{s:s, s:s}", "filename", m.name, "fileId", m.id));
    }
    return 0;
}

enum MHD_Result ing_h_upload(struct ing_request *req)
{
    struct upload *u = req->scratch;
    char sid[65];
    if (!u)
        return MHD_NO;
    MHD_destroy_post_processor(u->pp); /* flushes the last part */
    u->pp = NULL;
    close_current(u);
    if (!u->status && u->nfiles == 0)
        refuse(u, MHD_HTTP_BAD_REQUEST, "validation_error", "file",
               "no file part (use form field \"file\" or \"files\" with a filename)");
    const char *entity = u->entity_len ? u->entity_id : NULL;
    if (!u->status && (u->entity_too_long || (entity && !sch_valid_id(entity, SCH_ENTITY_ID_MAX))))
        refuse(u, MHD_HTTP_UNPROCESSABLE_CONTENT, "validation_error", "entity_id",
               "must be at most 40 of [A-Za-z0-9_-]");
    if (u->status) {
        ing_sec_upload_refused(req, u->error_type, u->errs.n ? u->errs.item[0].field : NULL,
                               u->message); /* audit */
        return ing_reply_error(req->conn, u->status, u->error_type, u->message,
                               u->errs.n ? &u->errs : NULL, req->request_id, 0);
    }
    struct st_store *st = ing_storage();
    redisContext *c = ing_redis();
    if (!st || !c || ing_session_choose(c, req->owner, NULL, entity, NULL, sid) != 0) {
        if (c)
            ing_redis_reset();
        return ing_reply_error(req->conn, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
                               "storage or session store unavailable; try again shortly", NULL,
                               req->request_id, 5);
    }
    struct st_file_meta *have = NULL;
    size_t nhave = 0;
    if (st_session_files(st, sid, &have, &nhave) == 0 && nhave + u->nfiles > u->maxfiles) {
        free(have);
        return ing_reply_error(req->conn, MHD_HTTP_CONTENT_TOO_LARGE, "too_many_files",
                               "the session would hold more than MAX_FILES_PER_SESSION files", NULL,
                               req->request_id, 0);
    }
    free(have);
    json_t *arr = json_array();
    int rc = store_all(u, st, sid, arr);
    if (rc != 0) {
        json_decref(arr);
        log_error("upload: storing into session %s failed: %s", sid, strerror(-rc));
        return ing_reply_error(req->conn, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
                               "file storage failed; try again shortly", NULL, req->request_id, 5);
    }
    rlog_info(req->request_id, "upload: %zu file(s) into session %s", u->nfiles, sid);
    ing_sec_file_event(req, "file_upload", sid, NULL, u->nfiles); /* audit */
    return ing_reply_json(
        req->conn, MHD_HTTP_OK,
        json_pack("{s:s, s:s, s:o}", "message", "success", "session_id", sid, "files", arr),
        req->request_id);
}
