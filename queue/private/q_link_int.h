/*
 * q_link_int.h - internals shared by q_link.c (the connection's life) and
 * q_link_uv.c (hiredis <-> libuv glue).  Nothing outside these two files
 * includes it.
 */
#ifndef Q_LINK_INT_H
#define Q_LINK_INT_H

#include "q_link.h"

#include <netinet/in.h>

struct q_link {
    uv_loop_t *loop;
    char *host, *password, *name;
    char client_name[48]; /* CLIENT SETNAME: "ci-" + name, spaces as '-' */
    int port;
    int64_t cmd_timeout_ms, connect_timeout_ms, slack_ms;
    struct q_link_cb cb;
    void *arg;

    redisAsyncContext *ac; /* NULL while down */
    int connected;         /* TCP connect finished */
    int up;                /* AUTH and PING done */
    int dropping;          /* q_link_drop() freeing the context */
    int resolving;         /* uv_getaddrinfo in flight */
    uv_getaddrinfo_t gai;
    int64_t backoff_ms;
    int64_t last_read_ms;  /* loop time of the last byte received */
    int64_t pending_since; /* loop time replies were first seen pending; 0: none */

    uv_timer_t timer; /* reconnect, connect watchdog, re-PING, close grace */
    uv_timer_t watch; /* reply watchdog while connected */
    int open;         /* handles and requests still to finish before free */
    int closing, handles_closed;
    void (*closed)(void *arg);
    void *closed_arg;
};

/* q_link_uv.c: attaches ac to l->loop; counts its poll handle in l->open
 * (q_link_handle_done() when it is closed) and stamps l->last_read_ms on
 * every readable event.  REDIS_OK or REDIS_ERR. */
int q_link_uv_attach(struct q_link *l, redisAsyncContext *ac);

/* q_link.c: one of l->open finished; frees l when closing and none is left. */
void q_link_handle_done(struct q_link *l);

#endif
