/*
 * ing_batch.c - POST /jobs/batch and GET /jobs/batch/{batch_id}
 * (DESIGN.md §4.2, docs/webhooks.md).
 *
 * POST body: {"jobs": [<POST /jobs body>, ...], "callback_url"?}.  Every
 * item is validated like POST /jobs; errors are reported together with
 * field paths "jobs[3].code" (sch_errors_merge), and nothing is enqueued
 * unless every item is valid.  1..MAX_BATCH_JOBS items (default 1000).
 * Sessions: an item naming a session_id or entity_id gets
 * ing_session_choose() (once per distinct (session_id, entity_id, user_id)
 * in the batch); the others each get a fresh session, all created in one
 * pipeline.  The batch record and every job go to Redis in one pipelined
 * round trip (q_enqueue_batch_ex).  202 {"batch_id","job_ids","status"}.
 *
 * A batch belongs to the key that submitted it; for any other key it does
 * not exist (404), like a job.
 */
#include "ing_http.h"

#include "ci_env.h"
#include "ci_log.h"
#include "ci_util.h"
#include "ing_admission.h"
#include "ing_config.h"
#include "ing_fileref.h"
#include "ing_files.h"
#include "ing_redis.h"
#include "ing_sec.h"
#include "q_batch.h"
#include "sch_json.h"
#include "sch_validate.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ING_BATCH_MAX_DEFAULT 1000

struct ing_batch {
    struct sch_job *jobs;
    size_t n;
    char *callback_url;
};

static void batch_release(struct ing_batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        sch_job_release(&b->jobs[i]);
    free(b->jobs);
    free(b->callback_url);
    memset(b, 0, sizeof *b);
}

static int64_t batch_max(void)
{
    static int64_t max = 0;
    if (max == 0) /* racy but idempotent: every thread computes the same value */
        max = ci_env_int("MAX_BATCH_JOBS", ING_BATCH_MAX_DEFAULT, 1, 100000);
    return max;
}

static int worse_status(int a, int b)
{
    if (a == 400 || b == 400)
        return 400;
    if (a == 413 || b == 413)
        return 413;
    return a > b ? a : b;
}

/* Top-level shape and every item; fills b or errs / *status. */
static int parse_items(const json_t *body, struct ing_batch *b, struct sch_errors *errs,
                       int *status)
{
    const json_t *jobs = json_is_object(body) ? json_object_get(body, "jobs") : NULL;
    const json_t *cb = json_is_object(body) ? json_object_get(body, "callback_url") : NULL;
    if (!json_is_object(body) || !jobs || json_is_null(jobs)) {
        sch_errors_add(errs, json_is_object(body) ? "jobs" : "", "%s",
                       json_is_object(body) ? "required" : "the body must be a JSON object");
        *status = 400;
        return -1;
    }
    if (!json_is_array(jobs) || json_array_size(jobs) == 0 ||
        (int64_t)json_array_size(jobs) > batch_max()) {
        sch_errors_add(errs, "jobs", "must be an array of 1..%lld jobs", (long long)batch_max());
        *status = 422;
        return -1;
    }
    if (cb && !json_is_null(cb)) {
        const char *u = json_string_value(cb);
        if (!u || strlen(u) > SCH_CALLBACK_URL_MAX ||
            (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0)) {
            sch_errors_add(errs, "callback_url",
                           "must be an http:// or https:// URL of <= %d bytes",
                           SCH_CALLBACK_URL_MAX);
            *status = 422;
        } else {
            b->callback_url = ci_xstrdup(u);
        }
    }
    b->n = json_array_size(jobs);
    b->jobs = ci_xcalloc(b->n, sizeof *b->jobs);
    for (size_t i = 0; i < b->n; i++) {
        struct sch_errors one;
        int st = 0;
        sch_errors_init(&one);
        if (sch_job_from_json(json_array_get(jobs, i), &ing_cfg.limits, &b->jobs[i], &one, &st) ==
            0)
            continue;
        char prefix[32];
        snprintf(prefix, sizeof prefix, "jobs[%zu]", i);
        sch_errors_merge(errs, &one, prefix);
        *status = worse_status(*status, st);
    }
    return errs->n > 0 || errs->truncated ? -1 : 0;
}

/* Fresh sessions for items with neither session_id nor entity_id, in one
 * pipeline (layout of ing_files.h). */
static int fresh_sessions(redisContext *c, const char *owner, struct ing_batch *b)
{
    long long now = ci_now_ms(), ttl = ing_cfg.session_ttl_s;
    size_t sent = 0;
    int rc = 0;
    for (size_t i = 0; i < b->n; i++) {
        struct sch_job *j = &b->jobs[i];
        if (j->session_id || j->entity_id)
            continue;
        char sid[ING_SESSION_ID_LEN + 1];
        if (ci_random_id(sid, ING_SESSION_ID_LEN) != 0)
            return -EIO;
        j->session_id = ci_xstrdup(sid);
        redisAppendCommand(c,
                           "HSET " Q_SESS_PREFIX "%s owner %s user_id %s entity_id %s "
                           "created_at %lld last_used %lld",
                           sid, owner, j->user_id ? j->user_id : "", "", now, now);
        redisAppendCommand(c, "EXPIRE " Q_SESS_PREFIX "%s %lld", sid, ttl);
        sent += 2;
    }
    for (size_t i = 0; i < sent; i++) {
        redisReply *r = NULL;
        if (redisGetReply(c, (void **)&r) != REDIS_OK)
            return -EIO;
        if (!r || r->type == REDIS_REPLY_ERROR)
            rc = -EIO;
        freeReplyObject(r);
    }
    return rc;
}

static int same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Items naming a session or entity: one ing_session_choose per distinct
 * (session_id, entity_id, user_id). */
static int chosen_sessions(redisContext *c, const char *owner, struct ing_batch *b,
                           char (*chosen)[65])
{
    for (size_t i = 0; i < b->n; i++) {
        struct sch_job *j = &b->jobs[i];
        if (chosen[i][0] || (!j->session_id && !j->entity_id))
            continue;
        if (ing_session_choose(c, owner, j->user_id, j->entity_id, j->session_id, chosen[i]) != 0)
            return -EIO;
        for (size_t k = i + 1; k < b->n; k++) {
            const struct sch_job *o = &b->jobs[k];
            if (same_str(o->session_id, j->session_id) && same_str(o->entity_id, j->entity_id) &&
                same_str(o->user_id, j->user_id))
                memcpy(chosen[k], chosen[i], sizeof chosen[i]);
        }
    }
    for (size_t i = 0; i < b->n; i++)
        if (chosen[i][0]) {
            free(b->jobs[i].session_id);
            b->jobs[i].session_id = ci_xstrdup(chosen[i]);
        }
    return 0;
}

static enum MHD_Result unavailable(struct ing_request *req)
{
    ing_redis_reset();
    return ing_reply_error(req->conn, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
                           "the queue is unreachable; try again shortly", NULL, req->request_id, 5);
}

static enum MHD_Result enqueue(struct ing_request *req, redisContext *c, struct ing_batch *b)
{
    char batch_id[33];
    const struct sch_job **ptrs = ci_xcalloc(b->n, sizeof *ptrs);
    json_t *ids = json_array();
    int64_t now = ci_now_ms();
    ci_random_hex(batch_id, 16);
    for (size_t i = 0; i < b->n; i++) {
        char jid[33];
        ci_random_hex(jid, 16);
        struct sch_job *j = &b->jobs[i];
        j->id = ci_xstrdup(jid);
        if (!j->owner)
            j->owner = ci_xstrdup(req->owner);
        j->request_id = ci_xstrdup(req->request_id);
        j->created_ms = now;
        ptrs[i] = j;
        json_array_append_new(ids, json_string(jid));
    }
    struct q_batch_spec spec = {.id = batch_id,
                                .owner = req->owner,
                                .callback_url = b->callback_url,
                                .created_ms = now,
                                .user_tag = req->user_tag};
    int rc = q_enqueue_batch_ex(c, ptrs, b->n, ing_cfg.job_ttl_s, &spec, NULL);
    free(ptrs);
    if (rc != 0) {
        json_decref(ids);
        rlog_error(req->request_id, "batch %s: enqueue failed (%d)", batch_id, rc);
        return unavailable(req);
    }
    rlog_info(req->request_id, "batch %s queued: %zu job(s), owner %s", batch_id, b->n, req->owner);
    json_t *o =
        json_pack("{s:s,s:s,s:o}", "batch_id", batch_id, "status", "queued", "job_ids", ids);
    return ing_reply_json(req->conn, MHD_HTTP_ACCEPTED, o, req->request_id);
}

enum MHD_Result ing_h_jobs_batch_submit(struct ing_request *req)
{
    struct ing_batch b;
    struct sch_errors errs;
    json_error_t jerr;
    int status = 0;
    enum MHD_Result ret;
    char(*chosen)[65] = NULL;

    memset(&b, 0, sizeof b);
    sch_errors_init(&errs);
    json_t *body =
        json_loadb(req->body ? req->body : "", req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!body) {
        char msg[256];
        snprintf(msg, sizeof msg, "malformed JSON: %s (line %d, column %d)", jerr.text, jerr.line,
                 jerr.column);
        return ing_reply_error(req->conn, MHD_HTTP_BAD_REQUEST, "validation_error", msg, NULL,
                               req->request_id, 0);
    }
    int prc = parse_items(body, &b, &errs, &status);
    json_decref(body);
    if (prc != 0) {
        ret = ing_reply_error(req->conn, (unsigned)(status ? status : 422), "validation_error",
                              "the request body is invalid", &errs, req->request_id, 0);
        goto out;
    }
    redisContext *c = ing_redis();
    if (!c) {
        ret = unavailable(req);
        goto out;
    }
    if (ing_queue_full(c)) {
        ret = ing_reply_error(req->conn, MHD_HTTP_SERVICE_UNAVAILABLE, "queue_full",
                              "the queue is full; retry later", NULL, req->request_id, 5);
        goto out;
    }
    const char *submitter;
    if (ing_user_of(req, NULL, &submitter, &ret) != 0)
        goto out;
    ci_user_tag(submitter, req->user_tag); /* the batch record's user */
    for (size_t i = 0; i < b.n; i++) {     /* every item's files: 404 names jobs[i].files[k] */
        char prefix[32];
        const char *user;
        snprintf(prefix, sizeof prefix, "jobs[%zu]", i);
        if (ing_user_of(req, b.jobs[i].user_id, &user, &ret) != 0)
            goto out;
        char *u = *user ? ci_xstrdup(user) : NULL; /* each item's user: ing_http.h */
        free(b.jobs[i].user_id);
        b.jobs[i].user_id = u;
        b.jobs[i].owner = ci_xstrdup(req->owner);
        if (b.jobs[i].nfiles && ing_fileref_authorise(req, c, &b.jobs[i], prefix, &ret) != 0)
            goto out;
    }
    chosen = ci_xcalloc(b.n, sizeof *chosen);
    if (chosen_sessions(c, req->owner, &b, chosen) != 0 || fresh_sessions(c, req->owner, &b) != 0) {
        ret = unavailable(req);
        goto out;
    }
    ret = enqueue(req, c, &b);
out:
    free(chosen);
    batch_release(&b);
    return ret;
}

static json_t *batch_json(const char *id, const struct q_batch_info *bi)
{
    json_t *counts = json_object(), *ids = json_array();
    for (int s = 0; s < SCH_STATUS_COUNT; s++)
        json_object_set_new(counts, sch_status_name((enum sch_status)s),
                            json_integer(bi->counts[s]));
    for (size_t i = 0; i < bi->njobs; i++)
        json_array_append_new(ids, json_string(bi->job_ids[i]));
    json_t *o =
        json_pack("{s:s,s:s,s:I,s:I,s:o,s:o,s:o,s:o}", "batch_id", id, "status",
                  bi->completed_at > 0 ? "completed" : "running", "total", (json_int_t)bi->total,
                  "done", (json_int_t)bi->done, "counts", counts, "job_ids", ids, "created_at",
                  sch_json_time(bi->created_at), "completed_at", sch_json_time(bi->completed_at));
    if (bi->webhook_status[0])
        json_object_set_new(o, "webhook",
                            json_pack("{s:s,s:i,s:s?}", "status", bi->webhook_status, "attempts",
                                      bi->webhook_attempts, "error",
                                      bi->webhook_error[0] ? bi->webhook_error : NULL));
    return o;
}

enum MHD_Result ing_h_jobs_batch_get(struct ing_request *req)
{
    struct q_batch_info bi;
    enum MHD_Result ret;
    const char *user;
    if (ing_user_of(req, NULL, &user, &ret) != 0)
        return ret;
    ci_user_tag(user, req->user_tag);
    redisContext *c = ing_redis();
    if (!c)
        return unavailable(req);
    int rc = q_batch_get(c, req->params[0], &bi);
    if (rc == -EIO)
        return unavailable(req);
    if (rc == -ENOENT || strcmp(bi.owner, req->owner) != 0 || strcmp(bi.user, req->user_tag) != 0) {
        if (rc == 0) /* another caller's or user's batch: as if it did not exist */
            ing_sec_denied(req, "batch", req->params[0], "belongs to another caller or user");
        q_batch_info_release(&bi);
        return ing_reply_error(req->conn, MHD_HTTP_NOT_FOUND, "not_found", "no such batch", NULL,
                               req->request_id, 0);
    }
    json_t *o = batch_json(req->params[0], &bi);
    q_batch_info_release(&bi);
    return ing_reply_json(req->conn, MHD_HTTP_OK, o, req->request_id);
}
