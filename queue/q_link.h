/*
 * q_link.h - one robust async Redis connection on a libuv loop.  Every
 * component that talks to Redis asynchronously uses it: the queue
 * consumer's three connections, the worker's heartbeat, webhook loop and
 * state module, and the ingress's notifier (SUBSCRIBE ci:done).
 *
 * A link keeps itself connected:
 *   down -> resolving -> connecting -> handshaking -> up -> (lost) -> down
 * - Resolving: REDIS_HOST may be a name; it is resolved with
 *   uv_getaddrinfo() in libuv's thread pool, never on the loop (hiredis
 *   itself then only sees a numeric address).  A literal skips this step.
 * - Connecting: non-blocking; abandoned after connect_timeout_ms.  The
 *   socket gets TCP keepalive (idle 10 s, 3 probes 5 s apart) and
 *   TCP_USER_TIMEOUT (unacknowledged data for longer than the command
 *   timeout drops it).
 * - Handshaking: AUTH when a password is set, CLIENT SETNAME ci-<name>
 *   (spaces as '-': CLIENT LIST shows who is who), then PING until PONG (a Redis
 *   replaying its AOF answers LOADING; PING again 200 ms later).  Both are
 *   queued with the connect, so commands issued meanwhile follow them.
 * - Up: cb->up runs; the caller issues commands (q_link_command*, or
 *   redisAsync* on q_link_ac()).
 * - Command timeout: whenever replies are pending and not one byte arrived
 *   for command_timeout_ms (+ the slack of q_link_set_slack(), for blocking
 *   commands such as XREADGROUP BLOCK), the link drops the connection:
 *   hiredis calls every pending callback with a NULL reply (the caller's
 *   "Redis unavailable"), cb->down runs, and the link reconnects.  A
 *   subscribed connection with no command pending is never timed (waiting
 *   for messages is its normal state); keepalive covers a dead peer there.
 * - Down: reconnect after a delay that doubles from 100 ms to 5 s, with
 *   +-25 % jitter (many workers do not reconnect in lock step), reset once
 *   a connection is up.
 *
 * Callbacks run on the loop's thread.  A NULL reply in a command callback
 * always means "no answer" (lost, timed out, or the link closing).
 *
 * Ownership: the link owns its redisAsyncContext; q_link_ac() lends it for
 * issuing commands only (never free or disconnect it).  q_link_close()
 * releases everything; `closed` runs once the last handle is closed, after
 * which the link pointer is invalid.
 */
#ifndef Q_LINK_H
#define Q_LINK_H

#include <hiredis/async.h>
#include <stdint.h>
#include <uv.h>

#define Q_LINK_COMMAND_TIMEOUT_MS 5000
#define Q_LINK_CONNECT_TIMEOUT_MS 2000

struct q_link;

struct q_link_config {
    const char *host;           /* address or name; NULL/"": 127.0.0.1 */
    int port;                   /* <= 0: 6379 */
    const char *password;       /* NULL/"": no AUTH */
    const char *name;           /* for log lines and CLIENT SETNAME, e.g. "heartbeat" */
    int64_t command_timeout_ms; /* <= 0: Q_LINK_COMMAND_TIMEOUT_MS */
    int64_t connect_timeout_ms; /* <= 0: Q_LINK_CONNECT_TIMEOUT_MS */
};

struct q_link_cb {
    /* The link is up (AUTH and PING done).  May be NULL. */
    void (*up)(struct q_link *l, void *arg);
    /* An up link was lost; pending callbacks have had their NULL replies.
     * May be NULL. */
    void (*down)(struct q_link *l, void *arg);
};

/* Creates the link and starts connecting.  Strings are copied.  Returns
 * 0 and *out, or -ENOMEM / -EINVAL. */
int q_link_open(uv_loop_t *loop, const struct q_link_config *cfg, const struct q_link_cb *cb,
                void *arg, struct q_link **out);

/* 1 when up. */
int q_link_is_up(const struct q_link *l);

/* The connection while up, else NULL.  Lent: issue commands only. */
redisAsyncContext *q_link_ac(const struct q_link *l);

/* A command (fn may be NULL) on the link when it is up, or connecting or
 * handshaking (hiredis buffers it behind AUTH and PING; a failed connect
 * calls fn with NULL).  0, or -EIO when the link is down (waiting out its
 * backoff) or hiredis refused; fn is then not called. */
int q_link_command(struct q_link *l, redisCallbackFn *fn, void *priv, const char *fmt, ...);
int q_link_command_argv(struct q_link *l, redisCallbackFn *fn, void *priv, int argc,
                        const char **argv, const size_t *argvlen);

/* Extra allowance before a pending reply times out, for a link that sends
 * blocking commands (XREADGROUP BLOCK n: slack n). */
void q_link_set_slack(struct q_link *l, int64_t slack_ms);

/* Drops the connection now (pending callbacks get NULL) and reconnects. */
void q_link_drop(struct q_link *l, const char *why);

/* Stops the link.  grace_ms > 0: the connection is disconnected politely
 * (commands already sent get their replies) for at most grace_ms, then
 * freed; 0: freed at once (pending callbacks get NULL).  `closed` (may be
 * NULL) runs on the loop when every handle is closed. */
void q_link_close(struct q_link *l, int64_t grace_ms, void (*closed)(void *arg), void *arg);

#endif
