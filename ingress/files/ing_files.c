/*
 * ing_files.c - GET /files/{sid}, GET /download/{sid}/{fid},
 * DELETE /files/{sid}/{fid}, the shared store and the expiry sweeper
 * (see ing_files.h).
 */
#include "ing_files.h"

#include "ci_env.h"
#include "ci_log.h"
#include "ci_util.h"
#include "ing_config.h"
#include "ing_http.h"
#include "ing_redis.h"
#include "ing_sec.h"
#include "q_keys.h"
#include "st_access.h"
#include "st_files.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct st_store *s_store;
static pthread_once_t s_store_once = PTHREAD_ONCE_INIT;

static void store_open(void)
{
    if (st_store_open_from_env(&s_store) == 0)
        log_info("file storage: %s", st_store_backend(s_store));
}

struct st_store *ing_storage(void)
{
    pthread_once(&s_store_once, store_open);
    return s_store;
}

/* -- expiry sweeper ---------------------------------------------------- */

static redisContext *s_sweep_redis; /* the sweeper thread's own connection */

/* Purges files of sessions whose Redis record is gone.  Returns the number
 * of sessions purged. */
static int sweep_once(struct st_store *st)
{
    char **keys = NULL, last[80] = "";
    size_t n = 0;
    int purged = 0;
    if (!s_sweep_redis && !(s_sweep_redis = ing_redis_connect()))
        return 0;
    if (st_list(st, "files/", &keys, &n) != 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        const char *sid = keys[i] + 6, *slash = strchr(sid, '/');
        size_t len = slash ? (size_t)(slash - sid) : 0;
        if (len == 0 || len >= sizeof last || (strncmp(last, sid, len) == 0 && !last[len]))
            continue;
        memcpy(last, sid, len);
        last[len] = '\0';
        redisReply *r = redisCommand(s_sweep_redis, "EXISTS " Q_SESS_PREFIX "%s", last);
        if (!r || r->type != REDIS_REPLY_INTEGER) { /* unsure: keep the files */
            if (!r) {
                redisFree(s_sweep_redis);
                s_sweep_redis = NULL;
            }
            freeReplyObject(r);
            break;
        }
        long long exists = r->integer;
        freeReplyObject(r);
        if (exists == 0 && st_session_purge(st, last) >= 0) {
            log_info("session %s expired: its files were removed", last);
            purged++;
        }
    }
    st_list_free(keys, n);
    return purged;
}

static void *sweeper(void *arg)
{
    struct st_store *st = arg;
    int64_t every = ci_env_int("SESSION_SWEEP_SECONDS", 300, 1, 86400);
    for (;;) {
        sweep_once(st);
        sleep((unsigned)every);
    }
    return NULL;
}

int ing_files_start(void)
{
    struct st_store *st = ing_storage();
    if (!st)
        return -1;
    pthread_t t;
    if (pthread_create(&t, NULL, sweeper, st) != 0) {
        log_error("cannot start the session file sweeper");
        return -1;
    }
    pthread_detach(t);
    return 0;
}

/* -- shared checks ------------------------------------------------------ */

static enum MHD_Result not_found(struct ing_request *req, const char *what)
{
    return ing_reply_error(req->conn, MHD_HTTP_NOT_FOUND, "not_found", what, NULL, req->request_id,
                           0);
}

static enum MHD_Result unavailable(struct ing_request *req, const char *what)
{
    return ing_reply_error(req->conn, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable", what, NULL,
                           req->request_id, 5);
}

int ing_files_access(struct ing_request *req, int write, enum MHD_Result *ret)
{
    const char *sid = req->params[0], *user = "", *qkind = ing_query(req, "kind"),
               *qver = ing_query(req, "version");
    struct ing_sess_rec rec;
    if (ing_user_of(req, NULL, &user, ret) != 0)
        return 0;
    if (qkind && sch_file_kind_from_name(qkind) == SCH_FILE_KIND_COUNT) {
        struct sch_errors e;
        sch_errors_init(&e);
        sch_errors_add(&e, "kind", "must be user, agent or skill");
        *ret = ing_reply_error(req->conn, MHD_HTTP_UNPROCESSABLE_CONTENT, "validation_error",
                               "invalid query", &e, req->request_id, 0);
        return 0;
    }
    redisContext *c = ing_redis();
    int rc = c ? ing_session_record(c, sid, &rec) : -EIO;
    if (rc < 0) {
        ing_redis_reset();
        *ret = unavailable(req, "the session store is unreachable; try again shortly");
        return 0;
    }
    enum st_access a = rc == 0 ? ST_ACCESS_DENIED
                       : write ? st_access_write(rec.owner, rec.user_id, rec.kind, req->owner, user)
                               : st_access_read(rec.owner, rec.user_id, rec.kind, req->owner, user);
    /* a shared bucket is reached only under its own kind (and version) */
    if (a != ST_ACCESS_DENIED && st_access_shared_kind(rec.kind) &&
        ((qkind && strcmp(qkind, rec.kind) != 0) || (qver && rec.ver[0] && strcmp(qver, rec.ver))))
        a = ST_ACCESS_DENIED;
    if (a == ST_ACCESS_OK && write && rec.ro)
        a = ST_ACCESS_READONLY;
    if (a == ST_ACCESS_READONLY) {
        ing_sec_denied(req, "session", sid, "read-only (skill or read_only) session");
        *ret = ing_reply_error(req->conn, MHD_HTTP_FORBIDDEN, "read_only",
                               "the files of this session are read-only", NULL, req->request_id, 0);
        return 0;
    }
    if (a == ST_ACCESS_DENIED) {
        ing_sec_denied(req, "session", sid, "not the caller's (another caller's or unknown)");
        *ret = not_found(req, "session not found");
        return 0;
    }
    return 1;
}

static struct st_store *store_or_reply(struct ing_request *req, enum MHD_Result *ret)
{
    struct st_store *st = ing_storage();
    if (!st)
        *ret = unavailable(req, "file storage is not configured");
    return st;
}

/* -- GET /files/{sid} ------------------------------------------------- */

static json_t *file_json(const struct st_file_meta *m, const char *detail)
{
    char when[32], name[160];
    ci_format_iso8601(m->created_ms, when, sizeof when);
    snprintf(name, sizeof name, "%s/%s", m->session_id, m->id);
    if (strcmp(detail, "summary") == 0)
        return json_pack("{s:s, s:s}", "name", name, "lastModified", when);
    char path[300];
    snprintf(path, sizeof path, "/mnt/data/%s", m->name);
    if (strcmp(detail, "simple") == 0)
        return json_pack("{s:s, s:s, s:s}", "id", m->id, "name", m->name, "path", path);
    return json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:{s:s, s:s}}", "name", name, "id",
                     m->id, "session_id", m->session_id, "storage_session_id", m->session_id,
                     "size", (json_int_t)m->size, "lastModified", when, "etag", m->etag,
                     "contentType", m->content_type, "metadata", "content-type", m->content_type,
                     "original-filename", m->name);
}

enum MHD_Result ing_h_files_list(struct ing_request *req)
{
    enum MHD_Result ret;
    const char *detail = ing_query(req, "detail");
    if (!detail || !*detail)
        detail = "summary";
    if (strcmp(detail, "summary") != 0 && strcmp(detail, "simple") != 0 &&
        strcmp(detail, "full") != 0) {
        struct sch_errors e;
        sch_errors_init(&e);
        sch_errors_add(&e, "detail", "must be summary, simple or full");
        return ing_reply_error(req->conn, MHD_HTTP_UNPROCESSABLE_CONTENT, "validation_error",
                               "invalid query", &e, req->request_id, 0);
    }
    struct st_store *st = store_or_reply(req, &ret);
    if (!st || !ing_files_access(req, 0, &ret))
        return ret;
    struct st_file_meta *files = NULL;
    size_t n = 0;
    if (st_session_files(st, req->params[0], &files, &n) != 0)
        return unavailable(req, "file storage failed; try again shortly");
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, file_json(&files[i], detail));
    free(files);
    return ing_reply_json(req->conn, MHD_HTTP_OK, arr, req->request_id);
}

/* -- GET /download/{sid}/{fid} ---------------------------------------- */

/* Content-Disposition: attachment; filename="<ascii>"; filename*=UTF-8''<pct> */
static void disposition(const char *name, char *out, size_t outsz)
{
    static const char hex[] = "0123456789ABCDEF";
    char ascii[256], pct[3 * 255 + 1];
    size_t a = 0, p = 0;
    for (const unsigned char *s = (const unsigned char *)name; *s && a + 1 < sizeof ascii; s++) {
        int plain = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
                    (*s >= '0' && *s <= '9') || *s == '.' || *s == '-' || *s == '_';
        if ((*s & 0xC0) != 0x80) /* one '_' per UTF-8 character */
            ascii[a++] = plain || *s == ' ' ? (char)*s : '_';
        if (plain) {
            pct[p++] = (char)*s;
        } else {
            pct[p++] = '%';
            pct[p++] = hex[*s >> 4];
            pct[p++] = hex[*s & 15];
        }
    }
    ascii[a] = '\0';
    pct[p] = '\0';
    snprintf(out, outsz, "attachment; filename=\"%s\"; filename*=UTF-8''%s", ascii, pct);
}

enum MHD_Result ing_h_files_download(struct ing_request *req)
{
    enum MHD_Result ret;
    struct st_store *st = store_or_reply(req, &ret);
    if (!st || !ing_files_access(req, 0, &ret))
        return ret;
    struct st_file_meta m;
    char key[160];
    int fd = -1;
    int64_t size = 0;
    if (st_meta_get(st, req->params[0], req->params[1], &m) != 0 ||
        st_file_key(key, sizeof key, req->params[0], req->params[1], 0) != 0)
        return not_found(req, "file not found");
    int64_t max = ((int64_t)ing_cfg.limits.max_file_size_mb << 20) + 1;
    /* streamed from an fd (sendfile where MHD can): memory stays flat
     * however large the file and however many downloads run at once */
    int rc = st_open_read(st, key, max, &fd, &size);
    if (rc == -ENOENT)
        return not_found(req, "file not found");
    if (rc != 0)
        return unavailable(req, "file storage failed; try again shortly");
    struct MHD_Response *r = MHD_create_response_from_fd((uint64_t)size, fd); /* owns fd */
    if (!r) {
        close(fd);
        return MHD_NO;
    }
    char cd[1200];
    disposition(m.name, cd, sizeof cd);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            m.content_type[0] ? m.content_type : "application/octet-stream");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_DISPOSITION, cd);
    if (m.etag[0])
        MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, m.etag);
    ing_reply_add_security_headers(r, req->request_id);
    ing_sec_file_event(req, "file_download", req->params[0], req->params[1], 1); /* audit */
    ret = MHD_queue_response(req->conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

/* -- DELETE /files/{sid}/{fid} ---------------------------------------- */

enum MHD_Result ing_h_files_delete(struct ing_request *req)
{
    enum MHD_Result ret;
    struct st_store *st = store_or_reply(req, &ret);
    if (!st || !ing_files_access(req, 1, &ret))
        return ret;
    int rc = st_file_delete(st, req->params[0], req->params[1]);
    if (rc == -ENOENT || rc == -EINVAL)
        return not_found(req, "file not found");
    if (rc != 0)
        return unavailable(req, "file storage failed; try again shortly");
    ing_sec_file_event(req, "file_delete", req->params[0], req->params[1], 1); /* audit */
    return ing_reply_json(req->conn, MHD_HTTP_OK,
                          json_pack("{s:s, s:s, s:s}", "message", "File deleted successfully",
                                    "session_id", req->params[0], "file_id", req->params[1]),
                          req->request_id);
}

/* -- GET|DELETE /sessions/{sid}/objects/{fid} (LibreChat's probe) -------- */

enum MHD_Result ing_h_objects_get(struct ing_request *req)
{
    enum MHD_Result ret;
    struct st_store *st = store_or_reply(req, &ret);
    if (!st || !ing_files_access(req, 0, &ret))
        return ret;
    struct st_file_meta m;
    int rc = st_meta_get(st, req->params[0], req->params[1], &m);
    if (rc == -ENOENT || rc == -EINVAL)
        return not_found(req, "file not found");
    if (rc != 0)
        return unavailable(req, "file storage failed; try again shortly");
    char when[32];
    ci_format_iso8601(m.created_ms, when, sizeof when);
    return ing_reply_json(req->conn, MHD_HTTP_OK,
                          json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:s}", "id", m.id,
                                    "fileId", m.id, "storage_session_id", m.session_id,
                                    "session_id", m.session_id, "originalFilename", m.name, "size",
                                    (json_int_t)m.size, "lastModified", when, "etag", m.etag,
                                    "contentType", m.content_type),
                          req->request_id);
}
