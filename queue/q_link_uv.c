/*
 * q_link_uv.c - hiredis <-> libuv glue of q_link, used instead of hiredis
 * 0.14's <hiredis/adapters/libuv.h>.
 *
 * Why not the stock adapter: on POLLERR (a refused connect, a reset
 * connection) libuv stops the poll handle and calls back with a negative
 * status, which the 0.14 adapter ignores - hiredis then never learns that
 * the connection failed and the context hangs forever (a consumer would
 * never reconnect after Redis restarts).  Here an error status is handed to
 * hiredis as a write event while connecting (it then reads SO_ERROR and
 * fails the connect) and as a read event afterwards (read() reports the
 * error), so the normal disconnect path runs.
 *
 * Every readable event stamps the link's last_read_ms: the reply watchdog
 * (q_link.c) measures silence from it.
 *
 * Ownership: the events struct is allocated at attach and freed in the
 * poll handle's close callback, which hiredis triggers through cleanup; the
 * link counts the handle in l->open until then.
 */
#include "q_link_int.h"

#include <stdlib.h>

struct q_uv_events {
    redisAsyncContext *ac;
    struct q_link *link;
    uv_poll_t handle;
    int events;
};

static void q_uv_poll_cb(uv_poll_t *handle, int status, int events)
{
    struct q_uv_events *p = handle->data;
    if (!p->ac)
        return;
    if (status < 0) {
        p->events = 0; /* libuv stopped the handle */
        if (p->ac->c.flags & REDIS_CONNECTED)
            redisAsyncHandleRead(p->ac);
        else
            redisAsyncHandleWrite(p->ac);
        return;
    }
    if (events & UV_READABLE) {
        p->link->last_read_ms = (int64_t)uv_now(p->link->loop);
        redisAsyncHandleRead(p->ac);
    }
    if (p->ac && (events & UV_WRITABLE))
        redisAsyncHandleWrite(p->ac);
}

static void q_uv_update(struct q_uv_events *p, int add, int del)
{
    p->events = (p->events | add) & ~del;
    if (p->events)
        uv_poll_start(&p->handle, p->events, q_uv_poll_cb);
    else
        uv_poll_stop(&p->handle);
}

static void q_uv_add_read(void *priv)
{
    q_uv_update(priv, UV_READABLE, 0);
}

static void q_uv_del_read(void *priv)
{
    q_uv_update(priv, 0, UV_READABLE);
}

static void q_uv_add_write(void *priv)
{
    q_uv_update(priv, UV_WRITABLE, 0);
}

static void q_uv_del_write(void *priv)
{
    q_uv_update(priv, 0, UV_WRITABLE);
}

static void q_uv_closed(uv_handle_t *handle)
{
    struct q_uv_events *p = handle->data;
    struct q_link *l = p->link;
    free(p);
    q_link_handle_done(l);
}

static void q_uv_cleanup(void *priv)
{
    struct q_uv_events *p = priv;
    p->ac = NULL; /* the context is going away */
    uv_close((uv_handle_t *)&p->handle, q_uv_closed);
}

int q_link_uv_attach(struct q_link *l, redisAsyncContext *ac)
{
    if (ac->ev.data)
        return REDIS_ERR;
    struct q_uv_events *p = calloc(1, sizeof *p);
    if (!p)
        return REDIS_ERR;
    if (uv_poll_init(l->loop, &p->handle, ac->c.fd) != 0) {
        free(p);
        return REDIS_ERR;
    }
    l->open++;
    p->link = l;
    p->ac = ac;
    p->handle.data = p;
    ac->ev.data = p;
    ac->ev.addRead = q_uv_add_read;
    ac->ev.delRead = q_uv_del_read;
    ac->ev.addWrite = q_uv_add_write;
    ac->ev.delWrite = q_uv_del_write;
    ac->ev.cleanup = q_uv_cleanup;
    return REDIS_OK;
}
