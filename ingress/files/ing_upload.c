/*
 * ing_upload.c - POST /upload and POST /upload/batch: multipart/form-data
 * through MHD's post processor, each file part streamed to a temp file
 * (UPLOAD_TMP_DIR, default TMPDIR or /tmp), then stored (st_files.h) under
 * the chosen session.
 *
 * Parts: `file` (one) or `files` (repeated), each with a filename that may
 * be a nested relative path ("dir/data.csv": sch_valid_relpath(), each
 * component ing_fname_safe()).  Form fields: `kind` (user|agent|skill),
 * `id` (agent or skill id), `version` (skill), `read_only` (true/false),
 * legacy `entity_id` (<= 40 of [A-Za-z0-9_-]); header `User-Id` (the user,
 * ing_http.h).  With `kind` the files go to the kind's storage session
 * (ing_kinds.h); without, to the caller's entity session or a fresh one
 * (ing_files.h), as before.  Other fields are ignored.
 * Answer: {"message":"success","storage_session_id","session_id" (same),
 * "files":[{"filename","fileId"}]}.
 *
 * Refusals of /upload (JSON error shape), the first one wins:
 *   415  Content-Type not multipart/form-data; a file name whose extension
 *        is not on the allow-list (st_extension_allowed())
 *   413  a file over MAX_FILE_SIZE_MB; more than MAX_FILES_PER_SESSION
 *        files in the request or (legacy sessions) in the session after it;
 *        Content-Length over MAX_FILES_PER_SESSION * MAX_FILE_SIZE_MB
 *        (+1 MiB of framing)
 *   400  a bad file name, no file part, kind agent/skill without id
 *   422  a bad entity_id, kind, id, version or User-Id
 * After the first refusal the rest of the body is read and discarded, and
 * the error is answered once the body is complete.
 *
 * /upload/batch takes up to ING_UPLOAD_BATCH_MAX (200) files and judges
 * each file on its own (name, type, size): the answer lists every file
 * with "status":"success" (and fileId) or "error" (and error), "failed"
 * counts the refused ones and "message" is "success", "partial_success" or
 * (all refused, answered 400) "error".  Form and request-level problems are
 * refused as for /upload.  Content-Length cap: 200 * MAX_FILE_SIZE_MB.
 */
#include "ing_files.h"

#include "ci_env.h"
#include "ci_log.h"
#include "ci_util.h"
#include "ing_config.h"
#include "ing_http.h"
#include "ing_kinds.h"
#include "ing_redis.h"
#include "ing_sec.h"
#include "st_files.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define PP_BUFFER 16384
#define ING_UPLOAD_BATCH_MAX 200

struct up_file {
    char name[SCH_FILENAME_MAX + 1];
    char tmp[PATH_MAX];
    int fd;
    int64_t size;
    const char *error; /* batch: why this file was refused (static), or NULL */
};

/* A small text form field. */
struct up_field {
    const char *key;
    char val[ING_KIND_ID_MAX * 4 + 1];
    size_t len;
    int too_long;
};

enum { F_ENTITY, F_KIND, F_ID, F_VERSION, F_READ_ONLY, F_COUNT };

struct upload {
    struct MHD_PostProcessor *pp;
    struct up_file *files;
    size_t nfiles, maxfiles;
    int64_t max_size;
    int batch; /* /upload/batch: per-file refusals */
    struct up_field field[F_COUNT];
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
        if (u->files[i].tmp[0])
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

/* 1 when `name` is an acceptable upload name: a safe relative path whose
 * every component passes ing_fname_safe(). */
static int name_safe(const char *name, const char **why)
{
    char comp[SCH_FILENAME_MAX + 1];
    if (!sch_valid_relpath(name, why))
        return 0;
    for (const char *p = name;;) {
        size_t len = strcspn(p, "/");
        memcpy(comp, p, len);
        comp[len] = '\0';
        if (!ing_fname_safe(comp, why))
            return 0;
        if (!p[len])
            return 1;
        p += len + 1;
    }
}

/* Refuses the current file: the whole upload, or (batch) this file only. */
static void refuse_file(struct upload *u, struct up_file *f, unsigned status, const char *type,
                        const char *field, const char *msg)
{
    if (u->batch && f) {
        if (!f->error)
            f->error = msg;
        return;
    }
    refuse(u, status, type, field, msg);
}

/* A new file part begins. */
static void file_start(struct upload *u, const char *filename)
{
    const char *why = NULL;
    char field[32];
    close_current(u);
    snprintf(field, sizeof field, "files[%zu].filename", u->nfiles);
    if (u->nfiles >= u->maxfiles) {
        refuse(u, MHD_HTTP_CONTENT_TOO_LARGE, "too_many_files", "files",
               u->batch ? "too many files for one batch (200)"
                        : "too many files for one session (MAX_FILES_PER_SESSION)");
        return;
    }
    struct up_file *f = &u->files[u->nfiles++];
    memset(f, 0, sizeof *f);
    f->fd = -1;
    snprintf(f->name, sizeof f->name, "%s", filename);
    if (!name_safe(filename, &why)) { /* sch_valid_relpath + dangerous chars */
        refuse_file(u, f, MHD_HTTP_BAD_REQUEST, "validation_error", field, why);
        return;
    }
    const char *base = strrchr(filename, '/');
    if (!st_extension_allowed(base ? base + 1 : filename)) {
        refuse_file(u, f, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported_file_type", field,
                    "this file extension is not allowed");
        return;
    }
    snprintf(f->tmp, sizeof f->tmp, "%s/ci-upload-XXXXXX",
             ci_env_str("UPLOAD_TMP_DIR", ci_env_str("TMPDIR", "/tmp")));
    f->fd = mkstemp(f->tmp);
    if (f->fd < 0) {
        log_error("upload: cannot create a temp file in %s: %s", f->tmp, strerror(errno));
        f->tmp[0] = '\0';
        refuse(u, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable", NULL,
               "cannot buffer the upload; try again shortly");
    }
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
        refuse_file(u, f, MHD_HTTP_CONTENT_TOO_LARGE, "payload_too_large", field,
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
        return MHD_YES;
    }
    for (int i = 0; i < F_COUNT && !filename; i++) {
        struct up_field *f = &u->field[i];
        if (strcmp(key, f->key) != 0)
            continue;
        if (f->len + size >= sizeof f->val) {
            f->too_long = 1;
        } else {
            memcpy(f->val + f->len, data, size);
            f->len += size;
            f->val[f->len] = '\0';
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
    int batch = req->matched && strcmp(req->matched->pattern, "/upload/batch") == 0;
    size_t maxfiles = batch ? ING_UPLOAD_BATCH_MAX : lim->max_files_per_session;
    uint64_t cap = (uint64_t)maxfiles * ((uint64_t)lim->max_file_size_mb << 20) + (1u << 20);
    const char *cl =
        MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoull(cl, NULL, 10) > cap) {
        *ret = ing_reply_error(req->conn, MHD_HTTP_CONTENT_TOO_LARGE, "payload_too_large",
                               "request body too large", NULL, req->request_id, 0);
        return -1;
    }
    struct upload *u = ci_xcalloc(1, sizeof *u);
    sch_errors_init(&u->errs);
    static const char *const keys[F_COUNT] = {"entity_id", "kind", "id", "version", "read_only"};
    for (int i = 0; i < F_COUNT; i++)
        u->field[i].key = keys[i];
    u->batch = batch;
    u->maxfiles = maxfiles;
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

/* The form fields, checked (refusals through refuse()). */
struct up_form {
    int has_kind;
    enum sch_file_kind kind;
    const char *id, *version, *entity;
    int read_only;
};

static const char *field_val(const struct upload *u, int i)
{
    return u->field[i].len ? u->field[i].val : NULL;
}

static void check_form(struct upload *u, struct up_form *fm)
{
    const char *kind = field_val(u, F_KIND), *ro = field_val(u, F_READ_ONLY);
    memset(fm, 0, sizeof *fm);
    fm->entity = field_val(u, F_ENTITY);
    fm->id = field_val(u, F_ID);
    fm->version = field_val(u, F_VERSION);
    for (int i = 0; i < F_COUNT; i++)
        if (u->field[i].too_long)
            refuse(u, MHD_HTTP_UNPROCESSABLE_CONTENT, "validation_error", u->field[i].key,
                   "too long");
    if (fm->entity && !sch_valid_id(fm->entity, SCH_ENTITY_ID_MAX))
        refuse(u, MHD_HTTP_UNPROCESSABLE_CONTENT, "validation_error", "entity_id",
               "must be at most 40 of [A-Za-z0-9_-]");
    if (kind) {
        fm->has_kind = 1;
        fm->kind = sch_file_kind_from_name(kind);
        if (fm->kind == SCH_FILE_KIND_COUNT)
            refuse(u, MHD_HTTP_UNPROCESSABLE_CONTENT, "validation_error", "kind",
                   "must be user, agent or skill");
    }
    if (fm->id && !ing_user_valid(fm->id)) /* same rules as a user id: 1..128 printable */
        refuse(u, MHD_HTTP_UNPROCESSABLE_CONTENT, "validation_error", "id",
               "must be 1 to 128 characters without control characters");
    if (fm->has_kind && fm->kind != SCH_FILE_KIND_USER && !fm->id)
        refuse(u, MHD_HTTP_BAD_REQUEST, "validation_error", "id",
               "is required for kind agent and skill");
    if (fm->version &&
        (strlen(fm->version) > 20 || strspn(fm->version, "0123456789") != strlen(fm->version)))
        refuse(u, MHD_HTTP_UNPROCESSABLE_CONTENT, "validation_error", "version",
               "must be a non-negative integer");
    if (ro && strcasecmp(ro, "true") != 0 && strcasecmp(ro, "false") != 0 && strcmp(ro, "1") != 0 &&
        strcmp(ro, "0") != 0)
        refuse(u, MHD_HTTP_UNPROCESSABLE_CONTENT, "validation_error", "read_only",
               "must be true or false");
    fm->read_only = ro && (strcasecmp(ro, "true") == 0 || strcmp(ro, "1") == 0);
}

/* Stores every accepted file under sid; fills the response array (batch:
 * one entry per file, refused ones with their error). */
static int store_all(struct upload *u, struct st_store *st, const char *sid, json_t *arr)
{
    for (size_t i = 0; i < u->nfiles; i++) {
        struct up_file *f = &u->files[i];
        if (f->error) {
            json_array_append_new(arr, json_pack("{s:s, s:s, s:s}", "status", "error", "filename",
                                                 f->name, "error", f->error));
            continue;
        }
        struct st_file_meta m;
        memset(&m, 0, sizeof m);
        if (ci_random_id(m.id, ST_FILE_ID_LEN) != 0)
            return -EIO;
        snprintf(m.session_id, sizeof m.session_id, "%s", sid);
        snprintf(m.name, sizeof m.name, "%s", f->name);
        snprintf(m.source, sizeof m.source, "upload");
        int rc = st_file_store(st, &m, f->tmp);
        if (rc != 0)
            return rc;
        json_t *o = json_pack("{s:s, s:s}", "filename", m.name, "fileId", m.id);
        if (u->batch)
            json_object_set_new(o, "status", json_string("success"));
        json_array_append_new(arr, o);
    }
    return 0;
}

static enum MHD_Result unavailable(struct ing_request *req, const char *what)
{
    return ing_reply_error(req->conn, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable", what, NULL,
                           req->request_id, 5);
}

/* The session the files go to; 0, -EIO, or -EEXIST (derived id taken). */
static int choose_session(struct ing_request *req, redisContext *c, const struct up_form *fm,
                          const char *user, char sid[65])
{
    if (fm->has_kind)
        return ing_kind_session(c, req->owner, fm->kind, user, fm->id, fm->version, fm->read_only,
                                sid);
    return ing_session_choose(c, req->owner, user, fm->entity, NULL, sid);
}

static size_t count_failed(const struct upload *u)
{
    size_t n = 0;
    for (size_t i = 0; i < u->nfiles; i++)
        n += u->files[i].error != NULL;
    return n;
}

enum MHD_Result ing_h_upload(struct ing_request *req)
{
    struct upload *u = req->scratch;
    struct up_form fm;
    enum MHD_Result ret;
    const char *user = "";
    char sid[65];
    if (!u)
        return MHD_NO;
    MHD_destroy_post_processor(u->pp); /* flushes the last part */
    u->pp = NULL;
    close_current(u);
    if (!u->status && u->nfiles == 0)
        refuse(u, MHD_HTTP_BAD_REQUEST, "validation_error", "file",
               "no file part (use form field \"file\" or \"files\" with a filename)");
    check_form(u, &fm);
    if (u->status) {
        ing_sec_upload_refused(req, u->error_type, u->errs.n ? u->errs.item[0].field : NULL,
                               u->message); /* audit */
        return ing_reply_error(req->conn, u->status, u->error_type, u->message,
                               u->errs.n ? &u->errs : NULL, req->request_id, 0);
    }
    if (ing_user_of(req, NULL, &user, &ret) != 0)
        return ret;
    size_t failed = count_failed(u);
    if (u->batch && failed == u->nfiles) { /* nothing to store: no session is made */
        json_t *arr = json_array();
        store_all(u, NULL, "", arr);
        ing_sec_upload_refused(req, "validation_error", "files", "every file was refused");
        json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:I}", "error", "every file was refused",
                              "error_type", "validation_error", "message", "error", "files", arr,
                              "failed", (json_int_t)failed);
        char when[40];
        ci_format_iso8601(ci_now_ms(), when, sizeof when);
        json_object_set_new(o, "details", json_array());
        json_object_set_new(o, "request_id", json_string(req->request_id));
        json_object_set_new(o, "timestamp", json_string(when));
        return ing_reply_json(req->conn, MHD_HTTP_BAD_REQUEST, o, req->request_id);
    }
    struct st_store *st = ing_storage();
    redisContext *c = ing_redis();
    int rc = st && c ? choose_session(req, c, &fm, user, sid) : -EIO;
    if (rc == -EEXIST)
        return unavailable(req, "storage session id collision; try again");
    if (rc != 0) {
        if (c)
            ing_redis_reset();
        return unavailable(req, "storage or session store unavailable; try again shortly");
    }
    size_t cap = fm.has_kind ? (size_t)ci_env_int("MAX_FILES_PER_STORAGE_SESSION", 1000, 1, 100000)
                             : u->maxfiles;
    if (u->batch && !fm.has_kind)
        cap = ing_cfg.limits.max_files_per_session;
    struct st_file_meta *have = NULL;
    size_t nhave = 0;
    if (st_session_files(st, sid, &have, &nhave) == 0 && nhave + u->nfiles - failed > cap) {
        free(have);
        return ing_reply_error(req->conn, MHD_HTTP_CONTENT_TOO_LARGE, "too_many_files",
                               fm.has_kind ? "the storage session would hold more than "
                                             "MAX_FILES_PER_STORAGE_SESSION files"
                                           : "the session would hold more than "
                                             "MAX_FILES_PER_SESSION files",
                               NULL, req->request_id, 0);
    }
    free(have);
    json_t *arr = json_array();
    rc = store_all(u, st, sid, arr);
    if (rc != 0) {
        json_decref(arr);
        log_error("upload: storing into session %s failed: %s", sid, strerror(-rc));
        return unavailable(req, "file storage failed; try again shortly");
    }
    rlog_info(req->request_id, "upload: %zu file(s) into session %s", u->nfiles - failed, sid);
    ing_sec_file_event(req, "file_upload", sid, NULL, u->nfiles - failed); /* audit */
    json_t *o = json_pack("{s:s, s:s, s:s, s:o}", "message", failed ? "partial_success" : "success",
                          "storage_session_id", sid, "session_id", sid, "files", arr);
    if (u->batch)
        json_object_set_new(o, "failed", json_integer((json_int_t)failed));
    return ing_reply_json(req->conn, MHD_HTTP_OK, o, req->request_id);
}
