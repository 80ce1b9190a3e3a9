/*
 * q_consumer_read.c - held entries, the read loop and the start path.
 *
 * Read loop: at most one XREADGROUP is outstanding on the read connection,
 * asking for need = want - starting - prefetched entries.  A cycle first
 * reads ci:jobs:high alone without blocking; only if that comes up short
 * does it block on both streams (COUNT applies per stream, so reading both
 * at once while both are busy would take up to twice `need`; the surplus is
 * kept prefetched).  Entries land in per-stream FIFOs (prefetched, heart-beaten like
 * any held entry); q_pump() moves up to want - starting of them, high
 * before normal, through one start script call per stream, and hands the
 * ones that may run to on_job.
 */
#include "q_consumer_int.h"

#include "ci_log.h"
#include "ci_util.h"
#include "q_job.h"
#include "sch_codec.h"

#include <errno.h>
#include <string.h>

#define Q_START_BATCH_MAX 256
#define Q_READ_RETRY_MS 200

const char *const q_streams[2] = {Q_STREAM_HIGH, Q_STREAM_NORMAL};

/* ---- helds ---------------------------------------------------------- */

static void q_held_closed(uv_handle_t *hd)
{
    struct q_held *h = hd->data;
    struct q_consumer *c = h->c;
    free(h);
    q_consumer_unref(c);
}

void q_held_free(struct q_held *h)
{
    struct q_consumer *c = h->c;
    if (h->prev)
        h->prev->next = h->next;
    else
        c->held = h->next;
    if (h->next)
        h->next->prev = h->prev;
    c->nheld--;
    sch_job_release(&h->d.job);
    free(h->fail_error);
    h->fail_error = NULL;
    if (h->timer_init) {
        uv_timer_stop(&h->timer);
        h->timer.data = h;
        uv_close((uv_handle_t *)&h->timer, q_held_closed);
    } else {
        free(h);
    }
}

struct q_held *q_held_find(struct q_consumer *c, int sidx, const char *entry_id)
{
    for (struct q_held *h = c->held; h; h = h->next)
        if (h->sidx == sidx && strcmp(h->d.entry_id, entry_id) == 0)
            return h;
    return NULL;
}

static void q_prefetch_push(struct q_consumer *c, struct q_held *h, int front)
{
    int s = h->sidx;
    h->state = Q_HELD_PREFETCHED;
    h->pnext = NULL;
    if (front) {
        h->pnext = c->prefetched[s];
        c->prefetched[s] = h;
        if (!c->prefetched_tail[s])
            c->prefetched_tail[s] = h;
    } else {
        if (c->prefetched_tail[s])
            c->prefetched_tail[s]->pnext = h;
        else
            c->prefetched[s] = h;
        c->prefetched_tail[s] = h;
    }
    c->nprefetched++;
}

static struct q_held *q_prefetch_pop(struct q_consumer *c, int s)
{
    struct q_held *h = c->prefetched[s];
    if (!h)
        return NULL;
    c->prefetched[s] = h->pnext;
    if (!c->prefetched[s])
        c->prefetched_tail[s] = NULL;
    h->pnext = NULL;
    c->nprefetched--;
    return h;
}

static const redisReply *q_field(const redisReply *fields, const char *name)
{
    for (size_t i = 0; i + 1 < fields->elements; i += 2) {
        const redisReply *k = fields->element[i];
        if (k->type == REDIS_REPLY_STRING && strcmp(k->str, name) == 0 &&
            fields->element[i + 1]->type == REDIS_REPLY_STRING)
            return fields->element[i + 1];
    }
    return NULL;
}

struct q_held *q_held_from_entry(struct q_consumer *c, int sidx, const redisReply *e, int front)
{
    if (!e || e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
        e->element[0]->type != REDIS_REPLY_STRING || e->element[0]->len >= 32 ||
        e->element[1]->type != REDIS_REPLY_ARRAY)
        return NULL;
    const char *entry = e->element[0]->str;
    if (q_held_find(c, sidx, entry))
        return NULL;
    struct q_held *h = ci_xcalloc(1, sizeof *h);
    h->c = c;
    h->sidx = sidx;
    snprintf(h->d.stream, sizeof h->d.stream, "%s", q_streams[sidx]);
    snprintf(h->d.entry_id, sizeof h->d.entry_id, "%s", entry);
    const redisReply *id = q_field(e->element[1], "id");
    const redisReply *job = q_field(e->element[1], "job");
    if (id && id->len <= Q_JOB_ID_MAX)
        snprintf(h->job_id, sizeof h->job_id, "%s", id->str);
    if (!id || id->len > Q_JOB_ID_MAX || !job ||
        sch_job_decode(job->str, job->len, &h->d.job) < 0) {
        log_error("queue: entry %s of %s holds no valid job; dead-lettering it", entry,
                  q_streams[sidx]);
        h->bad_job = 1;
    }
    h->next = c->held;
    if (c->held)
        c->held->prev = h;
    c->held = h;
    c->nheld++;
    q_prefetch_push(c, h, front);
    return h;
}

/* ---- start ---------------------------------------------------------- */

static void q_start_reply(struct q_call *call, redisReply *r)
{
    struct q_consumer *c = call->c;
    struct q_held **hs = call->priv;
    size_t n = call->npriv;
    int ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == n;
    if (c->stopping)
        goto out; /* the helds are freed by q_consumer_stop */
    if (r && !ok)
        log_error("queue: start script: %s", r->type == REDIS_REPLY_ERROR ? r->str : "bad reply");
    for (size_t i = 0; i < n; i++) {
        struct q_held *h = hs[i];
        c->starting--;
        if (!r) {
            q_prefetch_push(c, h, 1); /* connection lost: start again later */
            hs[i] = NULL;
            continue;
        }
        long long v = ok && r->element[i]->type == REDIS_REPLY_INTEGER ? r->element[i]->integer : 0;
        if (v > 0 || v == -2) { /* run it, or answer its expired wait */
            h->d.attempts = v > 0 ? (int)v : 0;
            h->d.turn_expired = v == -2;
            h->state = Q_HELD_IN_HAND;
            if (c->want > 0)
                c->want--;
        } else {
            if (v == -1)
                log_warn("queue: job %s dead-lettered: lease expired too often", h->job_id);
            else if (v == -3)
                log_debug("queue: job %s waits for its session's earlier call", h->job_id);
            q_held_free(h); /* skipped (cancelled / terminal), parked or dead */
            hs[i] = NULL;
        }
    }
    for (size_t i = 0; i < n && !c->stopping; i++)
        if (hs[i])
            c->cb.on_job(c->arg, &hs[i]->d);
    if (!c->stopping && r) { /* lost connection: the reconnect pumps again */
        q_pump(c);
        q_read_maybe(c);
    }
out:
    free(hs);
}

static void q_start_batch(struct q_consumer *c, int sidx, struct q_held **hs, size_t n)
{
    struct q_call *call = q_call_new(c, Q_SCRIPT_START, (int)n + 2, q_start_reply);
    q_call_addstr(call, q_streams[sidx]);
    q_call_addstr(call, Q_DEAD_STREAM);
    for (size_t i = 0; i < n; i++) {
        char key[Q_JOB_KEY_MAX];
        snprintf(key, sizeof key, "%s%s", Q_JOB_KEY_PREFIX, hs[i]->job_id);
        q_call_addstr(call, key);
    }
    q_call_addstr(call, Q_GROUP);
    q_call_addstr(call, c->name);
    q_call_addint(call, ci_now_ms());
    q_call_addint(call, c->cfg.max_attempts);
    q_call_addint(call, c->cfg.job_ttl_s);
    q_call_addint(call, c->cfg.dead_max);
    for (size_t i = 0; i < n; i++) {
        q_call_addstr(call, hs[i]->d.entry_id);
        q_call_addstr(call, hs[i]->job_id);
        hs[i]->state = Q_HELD_STARTING;
    }
    c->starting += (int)n;
    call->priv = hs;
    call->npriv = n;
    q_call_send(call);
}

void q_pump(struct q_consumer *c)
{
    if (c->stopping || !c->conn[Q_CONN_CMD].up)
        return;
    for (int s = 0; s < 2; s++) {
        while (c->prefetched[s] && c->want - c->starting > 0) {
            size_t room = (size_t)(c->want - c->starting), n = 0;
            if (room > Q_START_BATCH_MAX)
                room = Q_START_BATCH_MAX;
            struct q_held **hs = ci_xcalloc(room, sizeof *hs);
            while (n < room && c->prefetched[s]) {
                struct q_held *h = q_prefetch_pop(c, s);
                if (h->bad_job)
                    q_fail_send(h, Q_FAIL_DEAD);
                else
                    hs[n++] = h;
            }
            if (n == 0) {
                free(hs);
                continue;
            }
            q_start_batch(c, s, hs, n);
        }
    }
}

/* ---- read loop ------------------------------------------------------ */

static void q_ignore_cb(redisAsyncContext *ac, void *r, void *priv)
{
    (void)ac, (void)r, (void)priv;
}

void q_create_groups(struct q_conn *conn)
{
    for (int s = 0; s < 2; s++)
        redisAsyncCommand(conn->ac, q_ignore_cb, NULL, "XGROUP CREATE %s %s 0 MKSTREAM",
                          q_streams[s], Q_GROUP);
}

static int q_stream_index(const redisReply *name)
{
    for (int s = 0; s < 2; s++)
        if (name->type == REDIS_REPLY_STRING && strcmp(name->str, q_streams[s]) == 0)
            return s;
    return -1;
}

static void q_read_retry_cb(uv_timer_t *t)
{
    q_read_maybe(t->data);
}

static void q_read_cb(redisAsyncContext *ac, void *reply, void *priv)
{
    struct q_consumer *c = priv;
    redisReply *r = reply;
    (void)ac;
    c->reading = 0;
    if (!r || c->stopping)
        return; /* connection lost: reading resumes when it is back */
    if (r->type == REDIS_REPLY_ERROR) {
        log_warn("queue: XREADGROUP: %s", r->str);
        if (strncmp(r->str, "NOGROUP", 7) == 0)
            q_create_groups(&c->conn[Q_CONN_READ]);
        uv_timer_start(&c->read_retry, q_read_retry_cb, Q_READ_RETRY_MS, 0);
        return;
    }
    int got = 0;
    if (r->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i < r->elements; i++) {
            const redisReply *st = r->element[i];
            int s;
            if (st->type != REDIS_REPLY_ARRAY || st->elements != 2 ||
                (s = q_stream_index(st->element[0])) < 0)
                continue;
            for (size_t j = 0; j < st->element[1]->elements; j++)
                if (q_held_from_entry(c, s, st->element[1]->element[j], 0))
                    got++;
        }
    }
    /* after a high-only read that came up short, block on both streams */
    c->read_phase = c->read_phase == 0 && got < c->read_asked;
    q_pump(c);
    q_read_maybe(c);
}

void q_read_maybe(struct q_consumer *c)
{
    struct q_conn *conn = &c->conn[Q_CONN_READ];
    if (c->stopping || c->reading || !conn->up)
        return;
    int need = c->want - c->starting - c->nprefetched;
    if (need <= 0)
        return;
    char count[16], block[24];
    snprintf(count, sizeof count, "%d", need);
    snprintf(block, sizeof block, "%lld", (long long)c->cfg.block_ms);
    const char *high[] = {"XREADGROUP", "GROUP",   Q_GROUP,       c->name, "COUNT",
                          count,        "STREAMS", Q_STREAM_HIGH, ">"};
    const char *both[] = {"XREADGROUP",    "GROUP", Q_GROUP, c->name,   "COUNT",
                          count,           "BLOCK", block,   "STREAMS", Q_STREAM_HIGH,
                          Q_STREAM_NORMAL, ">",     ">"};
    int phase = c->read_phase;
    int rc = phase == 0 ? redisAsyncCommandArgv(conn->ac, q_read_cb, c, 9, high, NULL)
                        : redisAsyncCommandArgv(conn->ac, q_read_cb, c, 13, both, NULL);
    if (rc == REDIS_OK) {
        c->reading = 1;
        c->read_asked = need;
    }
}
