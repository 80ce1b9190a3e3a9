/*
 * q_conn.c - the consumer's three Redis connections ("read", "cmd",
 * "sub"), each a q_link (q_link.h: reconnect with jittered backoff, connect
 * and command timeouts, keepalive, resolution off the loop).  The read
 * connection's XREADGROUP blocks for block_ms, which is its link's slack.
 * Up and down are reported to q_consumer.c (q_consumer_conn_up/down).
 */
#include "q_consumer_int.h"

#include "ci_log.h"

#include <string.h>

static const char *const q_conn_names[Q_CONN_COUNT] = {"queue read", "queue cmd", "queue sub"};

static void q_conn_up(struct q_link *l, void *arg)
{
    struct q_conn *conn = arg;
    conn->ac = q_link_ac(l);
    conn->up = 1;
    q_consumer_conn_up(conn);
}

static void q_conn_down(struct q_link *l, void *arg)
{
    struct q_conn *conn = arg;
    (void)l;
    conn->ac = NULL;
    conn->up = 0;
    q_consumer_conn_down(conn);
}

static void q_conn_link_closed(void *arg)
{
    q_consumer_unref(arg);
}

void q_conn_init(struct q_consumer *c, struct q_conn *conn, enum q_conn_kind kind)
{
    memset(conn, 0, sizeof *conn);
    conn->c = c;
    conn->kind = kind;
}

void q_conn_connect(struct q_conn *conn)
{
    struct q_consumer *c = conn->c;
    static const struct q_link_cb cb = {q_conn_up, q_conn_down};
    struct q_link_config cfg = {
        .host = c->host, .port = c->cfg.port, .password = c->password,
        .name = q_conn_names[conn->kind]};
    if (q_link_open(c->loop, &cfg, &cb, conn, &conn->link) != 0) {
        log_error("queue: cannot create the %s connection", q_conn_names[conn->kind]);
        return;
    }
    if (conn->kind == Q_CONN_READ) /* XREADGROUP ... BLOCK block_ms */
        q_link_set_slack(conn->link, c->cfg.block_ms);
    c->open_handles++; /* until q_conn_link_closed */
}

void q_conn_close(struct q_conn *conn)
{
    conn->up = 0;
    conn->ac = NULL;
    if (conn->link)
        q_link_close(conn->link, 0, q_conn_link_closed, conn->c); /* NULL replies now */
    conn->link = NULL;
}
