/*
 * q_conn.c - one self-healing async Redis connection of a consumer.
 *
 * States: down (ac NULL, reconnect timer armed) -> connecting (ac set) ->
 * handshaking (AUTH if configured, then PING until it answers PONG; a
 * restarted Redis answers LOADING while it replays its AOF) -> up.  Any loss
 * goes back to down with a delay that doubles from 100 ms up to 5 s and
 * resets once a connection is up.  A connect that neither succeeds nor
 * fails within Q_CONN_CONNECT_TIMEOUT_MS is abandoned and retried.
 */
#include "q_consumer_int.h"

#include "ci_log.h"

#include <string.h>

#define Q_CONN_BACKOFF_MIN 100
#define Q_CONN_BACKOFF_MAX 5000
#define Q_CONN_REPING_MS 200
#define Q_CONN_CONNECT_TIMEOUT_MS 2000

static const char *const q_conn_names[Q_CONN_COUNT] = {"read", "cmd", "sub"};

static void q_conn_timer_cb(uv_timer_t *t);

void q_conn_init(struct q_consumer *c, struct q_conn *conn, enum q_conn_kind kind)
{
    memset(conn, 0, sizeof *conn);
    conn->c = c;
    conn->kind = kind;
    conn->backoff_ms = Q_CONN_BACKOFF_MIN;
    uv_timer_init(c->loop, &conn->timer);
    conn->timer.data = conn;
    c->open_handles++;
}

static void q_conn_retry_later(struct q_conn *conn)
{
    if (conn->c->stopping)
        return;
    uv_timer_start(&conn->timer, q_conn_timer_cb, (uint64_t)conn->backoff_ms, 0);
    conn->backoff_ms *= 2;
    if (conn->backoff_ms > Q_CONN_BACKOFF_MAX)
        conn->backoff_ms = Q_CONN_BACKOFF_MAX;
}

static void q_conn_ping(struct q_conn *conn);

static void q_conn_ping_cb(redisAsyncContext *ac, void *reply, void *priv)
{
    struct q_conn *conn = priv;
    redisReply *r = reply;
    (void)ac;
    if (!r || conn->c->stopping)
        return; /* disconnected: the disconnect callback takes over */
    if (r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0) {
        if (conn->backoff_ms > Q_CONN_BACKOFF_MIN)
            log_info("queue: %s connection to %s:%d is up", q_conn_names[conn->kind], conn->c->host,
                     conn->c->cfg.port);
        conn->up = 1;
        conn->backoff_ms = Q_CONN_BACKOFF_MIN;
        q_consumer_conn_up(conn);
        return;
    }
    log_debug("queue: %s connection: PING: %s", q_conn_names[conn->kind],
              r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
    uv_timer_start(&conn->timer, q_conn_timer_cb, Q_CONN_REPING_MS, 0);
}

static void q_conn_auth_cb(redisAsyncContext *ac, void *reply, void *priv)
{
    struct q_conn *conn = priv;
    redisReply *r = reply;
    (void)ac;
    if (r && r->type == REDIS_REPLY_ERROR && !conn->c->stopping)
        log_error("queue: %s connection: AUTH: %s", q_conn_names[conn->kind], r->str);
}

static void q_conn_ping(struct q_conn *conn)
{
    if (conn->c->password)
        redisAsyncCommand(conn->ac, q_conn_auth_cb, conn, "AUTH %s", conn->c->password);
    redisAsyncCommand(conn->ac, q_conn_ping_cb, conn, "PING");
}

static void q_conn_connected(const redisAsyncContext *ac, int status)
{
    struct q_conn *conn = ac->data;
    if (status != REDIS_OK) {
        /* hiredis frees the context after this callback */
        if (conn->backoff_ms <= Q_CONN_BACKOFF_MIN * 2)
            log_warn("queue: %s connection to %s:%d failed: %s", q_conn_names[conn->kind],
                     conn->c->host, conn->c->cfg.port, ac->errstr);
        conn->ac = NULL;
        q_conn_retry_later(conn);
        return;
    }
    conn->connected = 1;
    uv_timer_stop(&conn->timer); /* connect watchdog */
    q_conn_ping(conn);
}

static void q_conn_disconnected(const redisAsyncContext *ac, int status)
{
    struct q_conn *conn = ac->data;
    int was_up = conn->up;
    conn->ac = NULL;
    conn->up = 0;
    conn->connected = 0;
    if (conn->c->stopping)
        return;
    log_warn("queue: %s connection to %s:%d lost (%s), reconnecting", q_conn_names[conn->kind],
             conn->c->host, conn->c->cfg.port, status == REDIS_OK ? "closed" : ac->errstr);
    if (was_up)
        q_consumer_conn_down(conn);
    q_conn_retry_later(conn);
}

void q_conn_connect(struct q_conn *conn)
{
    struct q_consumer *c = conn->c;
    redisAsyncContext *ac = redisAsyncConnect(c->host, c->cfg.port);
    if (!ac || ac->err) {
        if (ac) {
            log_warn("queue: %s connection to %s:%d: %s", q_conn_names[conn->kind], c->host,
                     c->cfg.port, ac->errstr);
            redisAsyncFree(ac);
        }
        q_conn_retry_later(conn);
        return;
    }
    ac->data = conn;
    if (q_uv_attach(ac, c->loop) != REDIS_OK) {
        redisAsyncFree(ac);
        q_conn_retry_later(conn);
        return;
    }
    redisAsyncSetConnectCallback(ac, q_conn_connected);
    redisAsyncSetDisconnectCallback(ac, q_conn_disconnected);
    conn->ac = ac;
    conn->connected = 0;
    uv_timer_start(&conn->timer, q_conn_timer_cb, Q_CONN_CONNECT_TIMEOUT_MS, 0);
}

static void q_conn_timer_cb(uv_timer_t *t)
{
    struct q_conn *conn = t->data;
    if (conn->c->stopping)
        return;
    if (!conn->ac) {
        q_conn_connect(conn);
    } else if (!conn->connected) {
        redisAsyncContext *ac = conn->ac; /* connect timed out */
        log_warn("queue: %s connection to %s:%d: connect timed out", q_conn_names[conn->kind],
                 conn->c->host, conn->c->cfg.port);
        conn->ac = NULL;
        redisAsyncFree(ac); /* not connected: no callback runs */
        q_conn_retry_later(conn);
    } else if (!conn->up) {
        q_conn_ping(conn);
    }
}

void q_conn_close(struct q_conn *conn)
{
    redisAsyncContext *ac = conn->ac;
    uv_timer_stop(&conn->timer);
    uv_close((uv_handle_t *)&conn->timer, q_consumer_handle_closed);
    conn->up = 0;
    conn->connected = 0;
    if (ac) {
        conn->ac = NULL;
        redisAsyncFree(ac); /* pending callbacks run with NULL replies */
    }
}
