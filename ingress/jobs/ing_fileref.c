/*
 * ing_fileref.c - may this caller read the files its job names?  (See
 * ing_fileref.h.)
 */
#include "ing_fileref.h"

#include "ing_http.h"
#include "ing_redis.h"
#include "ing_sec.h"
#include "q_keys.h"
#include "sch_validate.h"
#include "st_access.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* 1 when the recorded session may serve reference f of the job. */
static int ref_allowed(const struct sch_job *job, const struct sch_file *f, const redisReply *r)
{
    char owner[65] = "", user[4 * 128 + 1] = "", kind[8] = "";
    const redisReply *e[3];
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3)
        return 0;
    for (int i = 0; i < 3; i++)
        e[i] = r->element[i];
    if (e[0]->type == REDIS_REPLY_STRING && e[0]->len < sizeof owner)
        memcpy(owner, e[0]->str, e[0]->len + 1);
    if (e[1]->type == REDIS_REPLY_STRING && e[1]->len < sizeof user)
        memcpy(user, e[1]->str, e[1]->len + 1);
    if (e[2]->type == REDIS_REPLY_STRING && e[2]->len < sizeof kind)
        memcpy(kind, e[2]->str, e[2]->len + 1);
    if (st_access_read(owner, user, kind, job->owner, job->user_id) != ST_ACCESS_OK)
        return 0;
    /* a shared bucket is reached only under its own kind */
    if (st_access_shared_kind(kind) && strcmp(kind, sch_file_kind_name(f->kind)) != 0)
        return 0;
    return 1;
}

int ing_fileref_authorise(struct ing_request *req, redisContext *c, const struct sch_job *job,
                          const char *prefix, enum MHD_Result *ret)
{
    size_t n = job->nfiles, sent = 0, bad = n;
    int io = 0;

    for (; sent < n; sent++)
        if (redisAppendCommand(c, "HMGET " Q_SESS_PREFIX "%s owner user_id kind",
                               job->files[sent].session_id) != REDIS_OK)
            break;
    for (size_t i = 0; i < sent; i++) {
        redisReply *r = NULL;
        if (redisGetReply(c, (void **)&r) != REDIS_OK || !r || r->type == REDIS_REPLY_ERROR) {
            freeReplyObject(r);
            io = 1;
            break; /* the context is unusable now: it is reset below */
        }
        if (bad == n && !ref_allowed(job, &job->files[i], r))
            bad = i;
        freeReplyObject(r);
    }
    if (io || sent < n) {
        ing_redis_reset();
        *ret = ing_reply_error(req->conn, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
                               "the session store is unreachable; try again shortly", NULL,
                               req->request_id, 5);
        return -1;
    }
    if (bad == n)
        return 0;
    const struct sch_file *f = &job->files[bad];
    char field[64], id[160];
    struct sch_errors e;
    sch_errors_init(&e);
    snprintf(field, sizeof field, "%s%sfiles[%zu]", prefix, *prefix ? "." : "", bad);
    sch_errors_add(&e, field, "file not found: %s", f->name ? f->name : "");
    snprintf(id, sizeof id, "%s/%s", f->session_id, f->id);
    ing_sec_denied(req, "file", id, "file reference to a session the caller may not read");
    *ret = ing_reply_error(req->conn, MHD_HTTP_NOT_FOUND, "not_found", "file not found", &e,
                           req->request_id, 0);
    return -1;
}
