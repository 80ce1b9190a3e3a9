/*
 * ing_jobs.c - POST /exec, POST /jobs, GET /jobs/{id}.
 *
 * /exec and /jobs share the intake: parse, validate (schema/sch_validate.h),
 * choose the session, enqueue (queue/q_job.h).  /exec then holds the request
 * (ing_wait.h) until the job's completion notice and answers with the result;
 * /jobs answers 202 at once.  GET /jobs/{id}?wait=N holds the same way for at
 * most N seconds (capped by JOBS_MAX_WAIT_SECONDS).
 */
#include "ing_http.h"

#include "ci_log.h"
#include "ci_util.h"
#include "ing_admission.h"
#include "ing_config.h"
#include "ing_fileref.h"
#include "ing_files.h"
#include "ing_profile.h"
#include "ing_ptc.h"
#include "ing_redis.h"
#include "ing_sec.h"
#include "ing_wait.h"
#include "q_job.h"
#include "sch_json.h"
#include "sch_validate.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t mono_ms(void)
{
    return ci_mono_us() / 1000;
}

static enum MHD_Result redis_down(struct ing_request *req)
{
    ing_redis_reset();
    return ing_reply_error(req->conn, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
                           "the queue is unreachable; try again shortly", NULL, req->request_id,
                           5);
}

/* Parses and validates the body into `job`; on failure queues the error
 * response and returns -1 with *ret set. */
static int intake(struct ing_request *req, struct sch_job *job, enum MHD_Result *ret)
{
    struct sch_errors errs;
    json_error_t jerr;
    int status = 0;

    memset(&errs, 0, sizeof errs);
    json_t *body = json_loadb(req->body ? req->body : "", req->body_len, JSON_REJECT_DUPLICATES,
                              &jerr);
    if (!body) {
        char msg[256];
        snprintf(msg, sizeof msg, "malformed JSON: %s (line %d, column %d)", jerr.text,
                 jerr.line, jerr.column);
        *ret = ing_reply_error(req->conn, MHD_HTTP_BAD_REQUEST, "validation_error", msg, NULL,
                               req->request_id, 0);
        return -1;
    }
    if (ing_profile_intake(req, body, ret) != 0) { /* X-CodeAPI-Expected-Profile, hint */
        json_decref(body);
        return -1;
    }
    int rc = sch_job_from_json(body, &ing_cfg.limits, job, &errs, &status);
    json_decref(body);
    if (rc == 0 && req->ptc_tools) /* POST /exec/programmatic: ing_ptc.c */
        job->tools = ci_xstrdup(req->ptc_tools);
    if (rc != 0) {
        *ret = ing_reply_error(req->conn, (unsigned)status, "validation_error",
                               "the request body is invalid", &errs, req->request_id, 0);
        return -1;
    }
    return 0;
}

/* Idempotency-Key handling for POST /jobs.  Returns 0 to go on, 1 when the
 * key replays an earlier job (req->job_id set), -1 after queueing an error. */
static int read_job(struct ing_request *req, struct q_job_info *info);

static int idempotency(struct ing_request *req, redisContext *c, enum MHD_Result *ret)
{
    const char *key = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Idempotency-Key");
    char existing[65];
    if (!key || strcmp(req->route->pattern, "/jobs") != 0)
        return 0;
    switch (ing_idem_claim(c, req->owner, key, req->body, req->body_len, req->job_id, existing)) {
    case ING_IDEM_NEW:
        req->idem_key = key;
        return 0;
    case ING_IDEM_REPLAY:
        snprintf(req->job_id, sizeof req->job_id, "%s", existing);
        return 1;
    case ING_IDEM_CONFLICT:
        *ret = ing_reply_error(req->conn, MHD_HTTP_CONFLICT, "conflict",
                               "this Idempotency-Key was used with a different body", NULL,
                               req->request_id, 0);
        return -1;
    case ING_IDEM_INVALID: {
        struct sch_errors e;
        sch_errors_init(&e);
        sch_errors_add(&e, "Idempotency-Key", "must be 1..128 printable ASCII characters");
        *ret = ing_reply_error(req->conn, MHD_HTTP_BAD_REQUEST, "validation_error",
                               "invalid header", &e, req->request_id, 0);
        return -1;
    }
    default:
        *ret = redis_down(req);
        return -1;
    }
}

/* Validates, picks the session, enqueues.  Returns 0, 1 when an
 * Idempotency-Key replayed an earlier job (req->job_id holds it), or -1
 * after queueing an error response into *ret. */
static int submit(struct ing_request *req, enum MHD_Result *ret);
int ing_jobs_submit(struct ing_request *req, enum MHD_Result *ret)
{
    return submit(req, ret);
}

static int submit(struct ing_request *req, enum MHD_Result *ret)
{
    struct sch_job job;
    memset(&job, 0, sizeof job);
    int rc = -1;

    if (intake(req, &job, ret) != 0)
        goto out;
    const char *user;
    if (ing_user_of(req, job.user_id, &user, ret) != 0)
        goto out;
    char *u = *user ? ci_xstrdup(user) : NULL; /* the job's user: ing_http.h */
    free(job.user_id);
    job.user_id = u;
    ci_user_tag(job.user_id, req->user_tag);
    redisContext *c = ing_redis();
    if (!c) {
        *ret = redis_down(req);
        goto out;
    }
    if (ing_queue_full(c)) {
        *ret = ing_reply_error(req->conn, MHD_HTTP_SERVICE_UNAVAILABLE, "queue_full",
                               "the queue is full; retry later", NULL, req->request_id, 5);
        goto out;
    }
    job.owner = ci_xstrdup(req->owner);
    if (ing_fileref_authorise(req, c, &job, "", ret) != 0)
        goto out; /* a file the caller may not read: 404, nothing enqueued */
    ci_random_hex(req->job_id, 16);
    rc = idempotency(req, c, ret);
    if (rc != 0)
        goto out;
    rc = -1;
    /* stateful profile: the hint's session, when it is still the caller's */
    char hinted[65];
    if (ing_profile_hint_session(c, req, hinted) != 0) {
        *ret = redis_down(req);
        goto fail_idem;
    }
    if (hinted[0]) {
        free(job.session_id);
        job.session_id = ci_xstrdup(hinted);
    }
    /* the session's and the audit's writes ride with the enqueue: ing_redis.h */
    int npend = 0, pre_bad = 0;
    if (ing_session_choose_piped(c, req->owner, job.user_id, job.entity_id, job.session_id,
                                 req->session_id, &npend) != 0) {
        *ret = redis_down(req);
        goto fail_idem;
    }
    if (req->hint_hex[0]) {
        /* the choice's writes are still unread on c: record the hint after them */
        for (int i = 0; i < npend; i++) {
            redisReply *r = NULL;
            if (redisGetReply(c, (void **)&r) != REDIS_OK)
                npend = -1;
            freeReplyObject(r);
            if (npend < 0)
                break;
        }
        if (npend < 0 || ing_profile_remember(c, req, hinted) != 0) {
            *ret = redis_down(req);
            goto fail_idem;
        }
        npend = 0;
    }
    ing_pipe_begin();
    ing_sec_session_chosen(req, job.session_id); /* audits another caller's session */
    free(job.session_id);
    job.session_id = ci_xstrdup(req->session_id);
    job.id = ci_xstrdup(req->job_id);
    job.request_id = ci_xstrdup(req->request_id);
    job.created_ms = ci_now_ms();
    ing_sec_scan_job(req, &job); /* code-scan warnings onto the job, audited: ing_sec.h */
    npend += ing_pipe_end();
    if (q_enqueue_after(c, &job, ing_cfg.job_ttl_s, npend, &pre_bad) != 0) {
        *ret = redis_down(req);
        goto fail_idem;
    }
    if (pre_bad) /* the job is queued: answer for it, but say what was lost */
        rlog_warn(req->request_id, "job %s: %d session/audit writes failed", req->job_id,
                  pre_bad);
    req->enqueued = 1;
    req->deadline_ms = mono_ms() + job.timeout_ms + ing_cfg.exec_queue_wait_ms;
    rlog_info(req->request_id, "job %s queued (lang %s, session %s, owner %s)", req->job_id,
              sch_lang_name(job.lang), req->session_id, req->owner);
    rc = 0;
    goto out;
fail_idem:
    if (req->idem_key && (c = ing_redis()) != NULL)
        ing_idem_forget(c, req->owner, req->idem_key);
out:
    sch_job_release(&job);
    return rc;
}

/* Reads the job; 1 when terminal, 0 when not, -ENOENT, -EIO. */
static int read_job(struct ing_request *req, struct q_job_info *info)
{
    redisContext *c = ing_redis();
    if (!c)
        return -EIO;
    int rc = q_job_get(c, req->job_id, info);
    if (rc == -ENOENT)
        return rc;
    if (rc != 0)
        return -EIO;
    if (strcmp(info->owner, req->owner) != 0 || strcmp(info->user, req->user_tag) != 0) {
        ing_sec_denied(req, "job", req->job_id, "belongs to another caller or user");
        return -ENOENT; /* another caller's job does not exist for this one */
    }
    return sch_status_is_terminal(info->status) ? 1 : 0;
}

typedef enum MHD_Result (*finish_fn)(struct ing_request *req, int rc, struct q_job_info *info);
static enum MHD_Result get_finish(struct ing_request *req, int rc, struct q_job_info *info);

/* The wait loop shared by /exec and GET /jobs?wait: check, else suspend
 * until a notice or the deadline.  `finish` answers. */
static enum MHD_Result wait_or_finish(struct ing_request *req, finish_fn finish)
{
    struct q_job_info info;
    memset(&info, 0, sizeof info);
    if (req->waiter) {
        enum ing_wake why = ing_wait_finish(req->waiter);
        req->waiter = NULL;
        if (why == ING_WAKE_SHUTDOWN)
            return ing_reply_error(req->conn, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
                                   "the server is shutting down; poll GET /jobs/{id}", NULL,
                                   req->request_id, 1);
    }
    struct ing_waiter *w = ing_wait_register(req->job_id, req->conn, req->deadline_ms);
    int rc = read_job(req, &info);
    /* GET ?wait: a program paused at tool calls is answered like an ended job
     * (the worker publishes the same notice at each pause) */
    if (rc == 0 && finish == get_finish && info.status == SCH_STATUS_RUNNING &&
        ing_ptc_job_paused(req->job_id))
        rc = 1;
    if (rc == 0 && mono_ms() < req->deadline_ms) {
        q_job_info_release(&info);
        req->waiter = w;
        ing_wait_suspend(w);
        return MHD_YES;
    }
    ing_wait_finish(w);
    enum MHD_Result ret = finish(req, rc, &info);
    q_job_info_release(&info);
    return ret;
}

static enum MHD_Result exec_finish(struct ing_request *req, int rc, struct q_job_info *info)
{
    if (rc == -EIO)
        return redis_down(req);
    if (rc == -ENOENT)
        return ing_reply_error(req->conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal_error",
                               "the job record vanished", NULL, req->request_id, 0);
    if (rc == 0) {
        struct sch_errors e;
        sch_errors_init(&e);
        sch_errors_add(&e, "job_id", "%s (still %s; poll GET /jobs/%s)", req->job_id,
                       sch_status_name(info->status), req->job_id);
        return ing_reply_error(req->conn, MHD_HTTP_GATEWAY_TIMEOUT, "queue_timeout",
                               "the job did not finish in time", &e, req->request_id, 0);
    }
    if (info->status == SCH_STATUS_DEAD)
        return ing_reply_error(req->conn, MHD_HTTP_SERVICE_UNAVAILABLE, "execution_unavailable",
                               info->error ? info->error : "the sandbox could not run the code",
                               NULL, req->request_id, 5);
    if (info->status == SCH_STATUS_CANCELLED || !info->has_result)
        return ing_reply_error(req->conn, MHD_HTTP_CONFLICT, "cancelled", "the job was cancelled",
                               NULL, req->request_id, 0);
    ing_sec_exec_outcome(req, info);
    json_t *o = sch_result_to_json(&info->result, info->session_id);
    ing_profile_annotate(req, o); /* runtime_session_id / runtime_status */
    return ing_reply_json(req->conn, MHD_HTTP_OK, o, req->request_id);
}

enum MHD_Result ing_h_exec(struct ing_request *req)
{
    enum MHD_Result ret;
    if (!req->enqueued && submit(req, &ret) < 0)
        return ret;
    return wait_or_finish(req, exec_finish);
}

enum MHD_Result ing_h_jobs_submit(struct ing_request *req)
{
    enum MHD_Result ret;
    if (ing_ptc_jobs_intake(req, &ret) != 0) /* `tools`: programmatic (ing_ptc.h) */
        return ret;
    int rc = submit(req, &ret);
    if (rc < 0)
        return ret;
    if (rc == 1) { /* replay: the same job, as it stands now */
        struct q_job_info info;
        memset(&info, 0, sizeof info);
        if (read_job(req, &info) < 0) {
            q_job_info_release(&info);
            return ing_reply_error(req->conn, MHD_HTTP_CONFLICT, "conflict",
                                   "this Idempotency-Key names a job that no longer exists",
                                   NULL, req->request_id, 0);
        }
        json_t *o = json_pack("{s:s,s:s,s:s}", "job_id", req->job_id, "status",
                              sch_status_name(info.status), "session_id", info.session_id);
        q_job_info_release(&info);
        return ing_reply_json(req->conn, MHD_HTTP_ACCEPTED, o, req->request_id);
    }
    json_t *o = json_pack("{s:s,s:s,s:s}", "job_id", req->job_id, "status", "queued",
                          "session_id", req->session_id);
    ing_profile_annotate(req, o);
    return ing_reply_json(req->conn, MHD_HTTP_ACCEPTED, o, req->request_id);
}

/* Copies the {id} path parameter into req->job_id; 0, or -1 when it cannot
 * be a job id (then no such job exists). */
static int take_job_id(struct ing_request *req)
{
    const char *id = req->params[0];
    size_t len = strlen(id);
    int ok = len > 0 && len <= 64;
    for (size_t i = 0; ok && i < len; i++)
        ok = (id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f');
    if (!ok)
        return -1;
    memcpy(req->job_id, id, len + 1);
    return 0;
}

static enum MHD_Result no_such_job(struct ing_request *req)
{
    return ing_reply_error(req->conn, MHD_HTTP_NOT_FOUND, "not_found", "no such job", NULL,
                           req->request_id, 0);
}

static enum MHD_Result get_finish(struct ing_request *req, int rc, struct q_job_info *info)
{
    if (rc == -EIO)
        return redis_down(req);
    if (rc == -ENOENT)
        return no_such_job(req);
    json_t *o = q_job_info_json(req->job_id, info, 1);
    if (!sch_status_is_terminal(info->status))
        ing_ptc_annotate_job(req, o); /* paused at tool calls: ing_ptc.h */
    return ing_reply_json(req->conn, MHD_HTTP_OK, o, req->request_id);
}

/* The caller's user tag into req->user_tag (GET/DELETE /jobs/{id}); 0, or
 * -1 after queueing a 422 for an invalid user id. */
static int caller_user(struct ing_request *req, enum MHD_Result *ret)
{
    const char *user;
    if (ing_user_of(req, NULL, &user, ret) != 0)
        return -1;
    ci_user_tag(user, req->user_tag);
    return 0;
}

enum MHD_Result ing_h_jobs_cancel(struct ing_request *req)
{
    struct q_job_info info;
    enum MHD_Result ret;
    memset(&info, 0, sizeof info);
    if (caller_user(req, &ret) != 0)
        return ret;
    if (take_job_id(req) != 0)
        return no_such_job(req);
    int rc = read_job(req, &info);
    q_job_info_release(&info);
    if (rc == -ENOENT)
        return no_such_job(req);
    redisContext *c = rc == -EIO ? NULL : ing_redis();
    enum sch_status after = SCH_STATUS_QUEUED;
    if (!c || q_cancel(c, req->job_id, &after) != 0)
        return redis_down(req);
    rlog_info(req->request_id, "job %s: cancel requested, now %s", req->job_id,
              sch_status_name(after));
    json_t *o = json_pack("{s:s,s:s}", "job_id", req->job_id, "status", sch_status_name(after));
    return ing_reply_json(req->conn, MHD_HTTP_OK, o, req->request_id);
}

enum MHD_Result ing_h_jobs_get(struct ing_request *req)
{
    if (!req->job_id[0]) {
        enum MHD_Result ret;
        if (caller_user(req, &ret) != 0)
            return ret;
        if (take_job_id(req) != 0)
            return no_such_job(req);
        int64_t wait_s = 0;
        const char *w = ing_query(req, "wait");
        if (w) {
            char *end;
            double v = strtod(w, &end);
            if (*w == '\0' || *end != '\0' || !(v >= 0)) {
                struct sch_errors e;
                sch_errors_init(&e);
                sch_errors_add(&e, "wait", "must be a number of seconds >= 0");
                return ing_reply_error(req->conn, MHD_HTTP_BAD_REQUEST, "validation_error",
                                       "invalid query parameter", &e, req->request_id, 0);
            }
            wait_s = v > (double)ing_cfg.max_wait_s ? ing_cfg.max_wait_s : (int64_t)v;
        }
        req->deadline_ms = mono_ms() + wait_s * 1000;
    }
    return wait_or_finish(req, get_finish);
}
