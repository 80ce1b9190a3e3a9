/*
 * q_consumer_ops.c - the ends of a delivery (complete, fail) and the lease
 * keeping (heartbeat, XAUTOCLAIM).
 *
 * Completions are batched: q_consumer_complete() queues the encoded result
 * and an idle handle flushes everything queued in this loop turn as one
 * complete-script call (at most Q_COMPLETE_BATCH_MAX jobs each).  Complete
 * and fail calls are "replay" calls: a connection lost before their reply
 * parks them until the cmd connection is back.
 */
#include "q_consumer_int.h"

#include "ci_log.h"
#include "ci_util.h"
#include "sch_codec.h"

#include <errno.h>
#include <string.h>

#define Q_COMPLETE_BATCH_MAX 256
#define Q_HEARTBEAT_BATCH_MAX 1000
#define Q_RETRY_DELAY_MAX_MS 60000

static void q_job_key(char *out, size_t outsz, const struct q_held *h)
{
    snprintf(out, outsz, "%s%s", Q_JOB_KEY_PREFIX, h->job_id);
}

/* ---- complete ------------------------------------------------------- */

static void q_complete_reply(struct q_call *call, redisReply *r)
{
    struct q_consumer *c = call->c;
    struct q_complete_item *items = call->priv;
    int ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == call->npriv;
    if (r && !ok)
        log_error("queue: complete script: %s",
                  r->type == REDIS_REPLY_ERROR ? r->str : "bad reply");
    for (size_t i = 0; i < call->npriv; i++) {
        int rc = -ECANCELED;
        if (ok) {
            const redisReply *e = r->element[i];
            long long v = e->type == REDIS_REPLY_INTEGER ? e->integer : -1;
            rc = v == 0 ? 0 : v == 1 ? -EALREADY : v == 2 ? -ENOENT : -EIO;
        } else if (r) {
            rc = -EIO; /* not acknowledged: the lease returns the job */
        }
        if (!c->stopping)
            q_held_free(items[i].h);
        if (items[i].done)
            items[i].done(items[i].arg, rc);
    }
    free(items);
}

void q_complete_flush(struct q_consumer *c)
{
    size_t n = c->nbatch;
    if (n == 0)
        return;
    uv_idle_stop(&c->flush);
    struct q_complete_item *items = ci_xmalloc(n * sizeof *items);
    memcpy(items, c->batch, n * sizeof *items);
    c->nbatch = 0;
    struct q_call *call = q_call_new(c, Q_SCRIPT_COMPLETE, (int)n + 2, q_complete_reply);
    call->replay = 1;
    q_call_addstr(call, Q_STREAM_HIGH);
    q_call_addstr(call, Q_STREAM_NORMAL);
    for (size_t i = 0; i < n; i++) {
        char key[Q_JOB_KEY_MAX];
        q_job_key(key, sizeof key, items[i].h);
        q_call_addstr(call, key);
    }
    q_call_addstr(call, Q_GROUP);
    q_call_addint(call, ci_now_ms());
    q_call_addint(call, c->cfg.job_ttl_s);
    for (size_t i = 0; i < n; i++) {
        struct q_complete_item *it = &items[i];
        q_call_addint(call, it->h->sidx + 1);
        q_call_addstr(call, it->h->d.entry_id);
        q_call_addstr(call, it->h->job_id);
        q_call_addstr(call, it->status);
        q_call_take(call, it->result, it->result_len);
        q_call_addstr(call, it->error ? it->error : "");
        free(it->error);
        it->result = it->error = NULL;
    }
    call->priv = items;
    call->npriv = n;
    q_call_send(call);
}

static void q_flush_idle_cb(uv_idle_t *idle)
{
    q_complete_flush(idle->data);
}

int q_consumer_complete(struct q_consumer *c, struct q_delivery *d, const struct sch_result *res,
                        void (*done)(void *arg, int rc), void *arg)
{
    struct q_held *h = (struct q_held *)d;
    char *buf = NULL;
    size_t len = 0;
    if (!res || res->status < SCH_STATUS_COMPLETED || res->status > SCH_STATUS_CANCELLED)
        return -EINVAL;
    int rc = sch_result_encode(res, &buf, &len);
    if (rc < 0)
        return rc;
    if (c->nbatch == c->batch_cap) {
        c->batch_cap = c->batch_cap ? 2 * c->batch_cap : 64;
        c->batch = ci_xrealloc(c->batch, c->batch_cap * sizeof *c->batch);
    }
    struct q_complete_item *it = &c->batch[c->nbatch++];
    it->h = h;
    it->result = buf;
    it->result_len = len;
    it->status = sch_status_name(res->status);
    it->error = res->error ? ci_xstrdup(res->error) : NULL;
    it->done = done;
    it->arg = arg;
    h->state = Q_HELD_FINISHING;
    if (c->nbatch >= Q_COMPLETE_BATCH_MAX)
        q_complete_flush(c);
    else if (c->nbatch == 1)
        uv_idle_start(&c->flush, q_flush_idle_cb);
    return 0;
}

/* ---- fail ----------------------------------------------------------- */

struct q_fail_ctx {
    struct q_held *h;
    void (*done)(void *arg, int rc);
    void *arg;
};

static void q_fail_reply(struct q_call *call, redisReply *r)
{
    struct q_fail_ctx *fx = call->priv;
    int rc = -ECANCELED;
    if (r && r->type == REDIS_REPLY_INTEGER)
        rc = r->integer == -2 ? -EAGAIN : (int)r->integer;
    else if (r) {
        log_error("queue: fail script: %s", r->type == REDIS_REPLY_ERROR ? r->str : "bad reply");
        rc = -EIO;
    }
    if (rc == 2)
        log_warn("queue: job %s is dead: %s", fx->h->job_id, fx->h->fail_error);
    if (!call->c->stopping)
        q_held_free(fx->h);
    if (fx->done)
        fx->done(fx->arg, rc);
    free(fx);
}

void q_fail_send(struct q_held *h, enum q_fail_mode mode)
{
    struct q_consumer *c = h->c;
    struct q_fail_ctx *fx = ci_xcalloc(1, sizeof *fx);
    char key[Q_JOB_KEY_MAX];
    const char *err =
        h->fail_error ? h->fail_error : (h->bad_job ? "undecodable job" : "infrastructure failure");
    if (!h->fail_error)
        h->fail_error = ci_xstrdup(err);
    fx->h = h;
    fx->done = h->done;
    fx->arg = h->done_arg;
    h->state = Q_HELD_FINISHING;
    struct q_call *call = q_call_new(c, Q_SCRIPT_FAIL, 3, q_fail_reply);
    call->replay = 1;
    q_job_key(key, sizeof key, h);
    q_call_addstr(call, q_streams[h->sidx]);
    q_call_addstr(call, Q_DEAD_STREAM);
    q_call_addstr(call, key);
    q_call_addstr(call, Q_GROUP);
    q_call_addstr(call, c->name);
    q_call_addstr(call, h->d.entry_id);
    q_call_addstr(call, h->job_id);
    q_call_addstr(call, h->fail_error);
    q_call_addint(call, c->cfg.max_attempts);
    q_call_addint(call, ci_now_ms());
    q_call_addint(call, c->cfg.job_ttl_s);
    q_call_addint(call, (int64_t)mode);
    q_call_addint(call, c->cfg.dead_max);
    call->priv = fx;
    q_call_send(call);
}

static void q_fail_timer_cb(uv_timer_t *t)
{
    q_fail_send(t->data, Q_FAIL_RETRY);
}

int q_consumer_fail(struct q_consumer *c, struct q_delivery *d, const char *error,
                    void (*done)(void *arg, int rc), void *arg)
{
    struct q_held *h = (struct q_held *)d;
    free(h->fail_error);
    h->fail_error = ci_xstrdup(error && *error ? error : "infrastructure failure");
    h->done = done;
    h->done_arg = arg;
    h->state = Q_HELD_BACKOFF;
    if (d->attempts >= c->cfg.max_attempts) {
        q_fail_send(h, Q_FAIL_RETRY); /* going dead: no reason to wait */
        return 0;
    }
    int64_t delay = c->cfg.retry_base_ms;
    for (int i = 1; i < d->attempts && delay < Q_RETRY_DELAY_MAX_MS; i++)
        delay *= 2;
    if (delay > Q_RETRY_DELAY_MAX_MS)
        delay = Q_RETRY_DELAY_MAX_MS;
    if (!h->timer_init) {
        uv_timer_init(c->loop, &h->timer);
        h->timer.data = h;
        h->timer_init = 1;
        c->open_handles++;
    }
    uv_timer_start(&h->timer, q_fail_timer_cb, (uint64_t)delay, 0);
    return 0;
}

int q_consumer_defer(struct q_consumer *c, struct q_delivery *d, const char *reason,
                     void (*done)(void *arg, int rc), void *arg)
{
    struct q_held *h = (struct q_held *)d;
    (void)c;
    free(h->fail_error);
    h->fail_error = ci_xstrdup(reason && *reason ? reason : "deferred");
    h->done = done;
    h->done_arg = arg;
    q_fail_send(h, Q_FAIL_DEFER);
    return 0;
}

/* ---- leases --------------------------------------------------------- */

static void q_heartbeat_reply(struct q_call *call, redisReply *r)
{
    struct q_consumer *c = call->c;
    if (!r || c->stopping)
        return;
    if (r->type != REDIS_REPLY_ARRAY) {
        log_warn("queue: heartbeat: %s", r->type == REDIS_REPLY_ERROR ? r->str : "bad reply");
        return;
    }
    for (size_t i = 0; i < r->elements; i++) {
        struct q_held *h;
        if (r->element[i]->type != REDIS_REPLY_STRING ||
            !(h = q_held_find(c, (int)call->npriv, r->element[i]->str)))
            continue;
        h->lost = 1;
        log_warn("queue: lease of job %s (%s) lost to another consumer", h->job_id, h->d.entry_id);
    }
}

static struct q_call *q_heartbeat_new(struct q_consumer *c, int s)
{
    struct q_call *call = q_call_new(c, Q_SCRIPT_HEARTBEAT, 1, q_heartbeat_reply);
    q_call_addstr(call, q_streams[s]);
    q_call_addstr(call, Q_GROUP);
    q_call_addstr(call, c->name);
    call->npriv = (size_t)s;
    return call;
}

void q_heartbeat_cb(uv_timer_t *t)
{
    struct q_consumer *c = t->data;
    if (c->stopping || !c->conn[Q_CONN_CMD].up)
        return;
    for (int s = 0; s < 2; s++) {
        struct q_call *call = NULL;
        for (struct q_held *h = c->held; h; h = h->next) {
            if (h->sidx != s || h->lost)
                continue;
            if (!call)
                call = q_heartbeat_new(c, s);
            q_call_addstr(call, h->d.entry_id);
            if (call->n - 6 >= Q_HEARTBEAT_BATCH_MAX) {
                q_call_send(call);
                call = NULL;
            }
        }
        if (call)
            q_call_send(call);
    }
}

struct q_autoclaim_ctx {
    struct q_consumer *c;
    int sidx;
};

static void q_autoclaim_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    struct q_autoclaim_ctx *ax = priv;
    struct q_consumer *c = ax->c;
    redisReply *r = reply;
    int s = ax->sidx, got = 0;
    (void)ac;
    free(ax);
    if (!r || c->stopping)
        return;
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
        r->element[1]->type != REDIS_REPLY_ARRAY) {
        log_warn("queue: XAUTOCLAIM: %s", r->type == REDIS_REPLY_ERROR ? r->str : "bad reply");
        return;
    }
    const redisReply *next = r->element[0]; /* the cursor: "0-0" after the end */
    if ((next->type == REDIS_REPLY_STRING || next->type == REDIS_REPLY_STATUS) &&
        next->len < sizeof c->claim_from[s])
        memcpy(c->claim_from[s], next->str, next->len + 1);
    const redisReply *entries = r->element[1];
    for (size_t i = 0; i < entries->elements; i++)
        if (q_held_from_entry(c, s, entries->element[i], 1))
            got++;
    if (got)
        log_info("queue: reclaimed %d job(s) with expired leases from %s", got, q_streams[s]);
    q_pump(c);
}

void q_autoclaim_cb(uv_timer_t *t)
{
    struct q_consumer *c = t->data;
    struct q_conn *conn = &c->conn[Q_CONN_CMD];
    int room = c->want - c->starting - c->nprefetched;
    if (c->stopping || !conn->up || room <= 0)
        return;
    for (int s = 0; s < 2; s++) {
        struct q_autoclaim_ctx *ax = ci_xcalloc(1, sizeof *ax);
        ax->c = c;
        ax->sidx = s;
        if (redisAsyncCommand(conn->ac, q_autoclaim_reply, ax,
                              "XAUTOCLAIM %s %s %s %lld %s COUNT %d", q_streams[s], Q_GROUP,
                              c->name, (long long)c->cfg.lease_ms,
                              c->claim_from[s][0] ? c->claim_from[s] : "0-0",
                              room) != REDIS_OK)
            free(ax);
    }
}
