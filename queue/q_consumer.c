/*
 * q_consumer.c - consumer lifecycle: start, want, release, connection
 * up/down hooks, the ci:cancel subscription, stop and teardown.
 *
 * Teardown: q_consumer_stop() sets `stopping`, drops the connections (their
 * pending callbacks see NULL replies and only report -ECANCELED), frees the
 * held deliveries and closes every handle; the last close callback frees
 * the consumer and then calls `closed`.
 */
#include "q_consumer_int.h"

#include "ci_log.h"
#include "ci_util.h"
#include "q_job.h"

#include <errno.h>
#include <string.h>

static void q_consumer_free(struct q_consumer *c)
{
    void (*closed)(void *) = c->closed;
    void *arg = c->closed_arg;
    free(c->host);
    free(c->password);
    free(c->name);
    free(c->batch);
    free(c);
    if (closed)
        closed(arg);
}

void q_consumer_unref(struct q_consumer *c)
{
    if (--c->open_handles == 0 && c->stopping)
        q_consumer_free(c);
}

void q_consumer_handle_closed(uv_handle_t *hd)
{
    q_consumer_unref(hd->data);
}

static void q_sub_cb(redisAsyncContext *ac, void *reply, void *priv)
{
    struct q_consumer *c = priv;
    redisReply *r = reply;
    (void)ac;
    if (!r || c->stopping || r->type != REDIS_REPLY_ARRAY || r->elements != 3)
        return;
    const redisReply *kind = r->element[0], *msg = r->element[2];
    if (kind->type == REDIS_REPLY_STRING && strcmp(kind->str, "message") == 0 &&
        msg->type == REDIS_REPLY_STRING && c->cb.on_cancel)
        c->cb.on_cancel(c->arg, msg->str);
}

static void q_ignore_reply(redisAsyncContext *ac, void *r, void *priv)
{
    (void)ac, (void)r, (void)priv;
}

void q_consumer_conn_up(struct q_conn *conn)
{
    struct q_consumer *c = conn->c;
    switch (conn->kind) {
    case Q_CONN_READ:
        q_create_groups(conn);
        q_read_maybe(c);
        break;
    case Q_CONN_CMD:
        for (int i = 0; i < Q_SCRIPT_COUNT; i++)
            redisAsyncCommand(conn->ac, q_ignore_reply, NULL, "SCRIPT LOAD %s",
                              q_script_text((enum q_script_id)i));
        q_call_flush_replay(c);
        q_heartbeat_cb(&c->heartbeat); /* leases at once: they aged while the link was down */
        q_pump(c);
        break;
    case Q_CONN_SUB:
        redisAsyncCommand(conn->ac, q_sub_cb, c, "SUBSCRIBE %s", Q_CHAN_CANCEL);
        break;
    default:
        break;
    }
}

void q_consumer_conn_down(struct q_conn *conn)
{
    if (conn->kind == Q_CONN_READ) {
        conn->c->reading = 0;
        conn->c->read_phase = 0;
    }
}

static void q_timer_init(struct q_consumer *c, uv_timer_t *t)
{
    uv_timer_init(c->loop, t);
    t->data = c;
    c->open_handles++;
}

int q_consumer_start(uv_loop_t *loop, const struct q_consumer_config *cfg,
                     const struct q_consumer_cb *cb, void *arg, struct q_consumer **out)
{
    if (!loop || !cfg || !cfg->name || !*cfg->name || !cb || !cb->on_job || !out)
        return -EINVAL;
    struct q_consumer *c = ci_xcalloc(1, sizeof *c);
    c->loop = loop;
    c->cfg = *cfg;
    c->host = ci_xstrdup(cfg->host && *cfg->host ? cfg->host : "127.0.0.1");
    c->password = cfg->password && *cfg->password ? ci_xstrdup(cfg->password) : NULL;
    c->name = ci_xstrdup(cfg->name);
    c->cfg.host = c->host;
    c->cfg.password = c->password;
    c->cfg.name = c->name;
    if (c->cfg.port <= 0)
        c->cfg.port = 6379;
    if (c->cfg.lease_ms <= 0)
        c->cfg.lease_ms = 30000;
    if (c->cfg.max_attempts <= 0)
        c->cfg.max_attempts = 3;
    if (c->cfg.block_ms <= 0)
        c->cfg.block_ms = 2000;
    if (c->cfg.retry_base_ms <= 0)
        c->cfg.retry_base_ms = 500;
    if (c->cfg.job_ttl_s <= 0)
        c->cfg.job_ttl_s = q_job_ttl_default();
    if (c->cfg.dead_max <= 0)
        c->cfg.dead_max = q_dead_max_default();
    c->cb = *cb;
    c->arg = arg;

    q_timer_init(c, &c->heartbeat);
    q_timer_init(c, &c->autoclaim);
    q_timer_init(c, &c->read_retry);
    q_timer_init(c, &c->turn_sweep);
    uv_idle_init(loop, &c->flush);
    c->flush.data = c;
    c->open_handles++;
    uint64_t hb = (uint64_t)(c->cfg.lease_ms / 3), ac = (uint64_t)(c->cfg.lease_ms / 2);
    uv_timer_start(&c->heartbeat, q_heartbeat_cb, hb ? hb : 1, hb ? hb : 1);
    uv_timer_start(&c->autoclaim, q_autoclaim_cb, ac ? ac : 1, ac ? ac : 1);
    uv_timer_start(&c->turn_sweep, q_turn_sweep_cb, Q_TURN_SWEEP_MS, Q_TURN_SWEEP_MS);
    for (int i = 0; i < Q_CONN_COUNT; i++) {
        q_conn_init(c, &c->conn[i], (enum q_conn_kind)i);
        q_conn_connect(&c->conn[i]);
    }
    *out = c;
    return 0;
}

void q_consumer_want(struct q_consumer *c, int n)
{
    if (c->stopping)
        return;
    c->want = n < 0 ? 0 : n;
    q_pump(c);
    q_read_maybe(c);
}

void q_consumer_release(struct q_consumer *c, struct q_delivery *d)
{
    struct q_held *h = (struct q_held *)d;
    (void)c;
    q_held_free(h);
}

int q_consumer_held(const struct q_consumer *c)
{
    return c->nheld;
}

void q_consumer_stop(struct q_consumer *c, void (*closed)(void *arg), void *arg)
{
    if (c->stopping)
        return;
    c->stopping = 1;
    c->closed = closed;
    c->closed_arg = arg;
    /* +1 so that no close callback can free c before this function ends */
    c->open_handles++;
    uv_timer_t *timers[] = {&c->heartbeat, &c->autoclaim, &c->read_retry, &c->turn_sweep};
    for (size_t i = 0; i < sizeof timers / sizeof *timers; i++) {
        uv_timer_stop(timers[i]);
        uv_close((uv_handle_t *)timers[i], q_consumer_handle_closed);
    }
    uv_idle_stop(&c->flush);
    uv_close((uv_handle_t *)&c->flush, q_consumer_handle_closed);
    for (int i = 0; i < Q_CONN_COUNT; i++)
        q_conn_close(&c->conn[i]);
    for (size_t i = 0; i < c->nbatch; i++) { /* completions never sent */
        struct q_complete_item *it = &c->batch[i];
        if (it->done)
            it->done(it->arg, -ECANCELED);
        free(it->result);
        free(it->error);
    }
    c->nbatch = 0;
    q_call_flush_replay(c); /* stopping: each parked call reports -ECANCELED */
    while (c->held) {
        struct q_held *h = c->held;
        if (h->state == Q_HELD_BACKOFF && h->done) /* fail() still waiting */
            h->done(h->done_arg, -ECANCELED);
        q_held_free(h);
    }
    q_consumer_unref(c);
}
