/*
 * q_link.c - one self-healing async Redis connection (q_link.h).
 */
#include "q_link_int.h"

#include "ci_log.h"
#include "ci_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#define Q_LINK_BACKOFF_MIN 100
#define Q_LINK_BACKOFF_MAX 5000
#define Q_LINK_REPING_MS 200
#define Q_LINK_KEEPIDLE_S 10
#define Q_LINK_KEEPINTVL_S 5
#define Q_LINK_KEEPCNT 3

static void q_link_timer_cb(uv_timer_t *t);
static void q_link_connect(struct q_link *l);

static void q_link_handle_closed(uv_handle_t *h)
{
    q_link_handle_done(h->data);
}

static int64_t now_ms(const struct q_link *l)
{
    return (int64_t)uv_now(l->loop);
}

/* Closes the timers once nothing else needs them (closing, no context, no
 * resolution in flight); the last finished handle frees the link. */
static void q_link_maybe_finish(struct q_link *l)
{
    if (!l->closing || l->ac || l->resolving || l->handles_closed)
        return;
    l->handles_closed = 1;
    uv_close((uv_handle_t *)&l->timer, q_link_handle_closed);
    uv_close((uv_handle_t *)&l->watch, q_link_handle_closed);
}

void q_link_handle_done(struct q_link *l)
{
    if (--l->open > 0 || !l->closing)
        return;
    void (*closed)(void *) = l->closed;
    void *arg = l->closed_arg;
    free(l->host);
    free(l->password);
    free(l->name);
    free(l);
    if (closed)
        closed(arg);
}

static void q_link_retry_later(struct q_link *l)
{
    if (l->closing)
        return;
    unsigned short j = 0;
    RAND_bytes((unsigned char *)&j, sizeof j);
    int64_t delay = l->backoff_ms * 3 / 4 + (int64_t)((double)j / 65535.0 * (double)l->backoff_ms / 2);
    uv_timer_start(&l->timer, q_link_timer_cb, (uint64_t)(delay > 0 ? delay : 1), 0);
    l->backoff_ms *= 2;
    if (l->backoff_ms > Q_LINK_BACKOFF_MAX)
        l->backoff_ms = Q_LINK_BACKOFF_MAX;
}

/* ---- handshake ---------------------------------------------------------- */

static void q_link_pong(redisAsyncContext *ac, void *reply, void *priv)
{
    struct q_link *l = priv;
    redisReply *r = reply;
    (void)ac;
    if (!r || l->closing || l->up)
        return; /* no answer: the disconnect path takes over */
    if (r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0) {
        if (l->backoff_ms > Q_LINK_BACKOFF_MIN * 2)
            log_info("redis link %s: up again (%s:%d)", l->name, l->host, l->port);
        l->up = 1;
        l->backoff_ms = Q_LINK_BACKOFF_MIN;
        if (l->cb.up)
            l->cb.up(l, l->arg);
        return;
    }
    log_debug("redis link %s: PING: %s", l->name,
              r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
    uv_timer_start(&l->timer, q_link_timer_cb, Q_LINK_REPING_MS, 0);
}

static void q_link_auth(redisAsyncContext *ac, void *reply, void *priv)
{
    struct q_link *l = priv;
    redisReply *r = reply;
    (void)ac;
    if (r && r->type == REDIS_REPLY_ERROR && !l->closing)
        log_error("redis link %s: AUTH: %s", l->name, r->str);
}

static void q_link_handshake(struct q_link *l)
{
    if (l->password)
        redisAsyncCommand(l->ac, q_link_auth, l, "AUTH %s", l->password);
    redisAsyncCommand(l->ac, NULL, NULL, "CLIENT SETNAME %s", l->client_name);
    redisAsyncCommand(l->ac, q_link_pong, l, "PING");
}

/* ---- reply watchdog ----------------------------------------------------- */

static void q_link_watch_cb(uv_timer_t *t)
{
    struct q_link *l = t->data;
    if (!l->ac || !l->connected || l->closing)
        return;
    int64_t now = now_ms(l);
    if (!l->ac->replies.head && !l->ac->sub.invalid.head) {
        l->pending_since = 0;
        return;
    }
    if (!l->pending_since)
        l->pending_since = now;
    int avail = 0; /* bytes already waiting: the loop was late, Redis was not */
    if (ioctl(l->ac->c.fd, FIONREAD, &avail) == 0 && avail > 0)
        l->last_read_ms = now;
    int64_t since = l->pending_since > l->last_read_ms ? l->pending_since : l->last_read_ms;
    if (now - since > l->cmd_timeout_ms + l->slack_ms) {
        char why[96];
        snprintf(why, sizeof why, "no reply for %lld ms", (long long)(now - since));
        q_link_drop(l, why);
    }
}

/* ---- connecting --------------------------------------------------------- */

static void q_link_connected(const redisAsyncContext *ac, int status)
{
    struct q_link *l = ac->data;
    if (status != REDIS_OK) {
        /* hiredis frees the context after this callback */
        if (l->backoff_ms <= Q_LINK_BACKOFF_MIN * 2)
            log_warn("redis link %s: connecting to %s:%d failed: %s", l->name, l->host, l->port,
                     ac->errstr);
        l->ac = NULL;
        q_link_retry_later(l);
        q_link_maybe_finish(l);
        return;
    }
    l->connected = 1;
    l->last_read_ms = now_ms(l);
    l->pending_since = 0;
    uv_timer_stop(&l->timer); /* connect watchdog */
    uint64_t tick = (uint64_t)(l->cmd_timeout_ms / 4);
    tick = tick > 250 ? 250 : tick < 10 ? 10 : tick;
    uv_timer_start(&l->watch, q_link_watch_cb, tick, tick);
}

static void q_link_disconnected(const redisAsyncContext *ac, int status)
{
    struct q_link *l = ac->data;
    int was_up = l->up;
    if (l->ac == ac)
        l->ac = NULL;
    l->up = 0;
    l->dropping = 0;
    l->connected = 0;
    uv_timer_stop(&l->watch);
    if (l->closing) {
        q_link_maybe_finish(l);
        return;
    }
    log_warn("redis link %s: connection to %s:%d lost (%s), reconnecting", l->name, l->host,
             l->port, status == REDIS_OK ? "dropped" : ac->errstr);
    if (was_up && l->cb.down)
        l->cb.down(l, l->arg);
    q_link_retry_later(l);
}

static void q_link_keepalive(int fd, int64_t user_timeout_ms)
{
    int on = 1, idle = Q_LINK_KEEPIDLE_S, intvl = Q_LINK_KEEPINTVL_S, cnt = Q_LINK_KEEPCNT;
    unsigned int ut = (unsigned int)user_timeout_ms;
    (void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
    (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
    (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
    (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
    (void)setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ut, sizeof ut);
}

/* Connects to a numeric address: hiredis resolves nothing then. */
static void q_link_connect_addr(struct q_link *l, const char *ip)
{
    redisAsyncContext *ac = redisAsyncConnect(ip, l->port);
    if (!ac || ac->err) {
        if (ac) {
            log_warn("redis link %s: %s:%d: %s", l->name, ip, l->port, ac->errstr);
            redisAsyncFree(ac);
        }
        q_link_retry_later(l);
        return;
    }
    ac->data = l;
    if (q_link_uv_attach(l, ac) != REDIS_OK) {
        redisAsyncFree(ac);
        q_link_retry_later(l);
        return;
    }
    q_link_keepalive(ac->c.fd, l->cmd_timeout_ms);
    redisAsyncSetConnectCallback(ac, q_link_connected);
    redisAsyncSetDisconnectCallback(ac, q_link_disconnected);
    l->ac = ac;
    l->connected = 0;
    q_link_handshake(l); /* buffered by hiredis: AUTH and PING go first */
    uv_timer_start(&l->timer, q_link_timer_cb, (uint64_t)l->connect_timeout_ms, 0);
}

static void q_link_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct q_link *l = req->data;
    char ip[INET6_ADDRSTRLEN] = "";
    l->resolving = 0;
    if (status == 0 && res) {
        const void *a = res->ai_family == AF_INET6
                            ? (const void *)&((struct sockaddr_in6 *)(void *)res->ai_addr)->sin6_addr
                            : (const void *)&((struct sockaddr_in *)(void *)res->ai_addr)->sin_addr;
        inet_ntop(res->ai_family, a, ip, sizeof ip);
    }
    uv_freeaddrinfo(res);
    if (l->closing) {
        q_link_maybe_finish(l);
        q_link_handle_done(l);
        return;
    }
    if (!ip[0]) {
        if (l->backoff_ms <= Q_LINK_BACKOFF_MIN * 2)
            log_warn("redis link %s: cannot resolve %s: %s", l->name, l->host,
                     status ? uv_strerror(status) : "no address");
        q_link_retry_later(l);
    } else {
        q_link_connect_addr(l, ip);
    }
    q_link_handle_done(l);
}

static void q_link_connect(struct q_link *l)
{
    unsigned char buf[sizeof(struct in6_addr)];
    if (l->closing)
        return;
    if (inet_pton(AF_INET, l->host, buf) == 1 || inet_pton(AF_INET6, l->host, buf) == 1) {
        q_link_connect_addr(l, l->host);
        return;
    }
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    l->gai.data = l;
    if (uv_getaddrinfo(l->loop, &l->gai, q_link_resolved, l->host, NULL, &hints) != 0) {
        q_link_retry_later(l);
        return;
    }
    l->resolving = 1;
    l->open++;
}

static void q_link_timer_cb(uv_timer_t *t)
{
    struct q_link *l = t->data;
    if (l->closing) { /* the grace ran out: let go now */
        if (l->ac) {
            redisAsyncContext *ac = l->ac;
            l->ac = NULL;
            redisAsyncFree(ac);
        }
        q_link_maybe_finish(l);
        return;
    }
    if (!l->ac && !l->resolving) {
        q_link_connect(l);
    } else if (l->ac && !l->connected) {
        redisAsyncContext *ac = l->ac; /* the connect timed out */
        log_warn("redis link %s: connecting to %s:%d timed out", l->name, l->host, l->port);
        l->ac = NULL;
        redisAsyncFree(ac); /* not connected: no callback runs */
        q_link_retry_later(l);
    } else if (l->ac && !l->up) {
        redisAsyncCommand(l->ac, q_link_pong, l, "PING");
    }
}

/* ---- public ------------------------------------------------------------- */

int q_link_open(uv_loop_t *loop, const struct q_link_config *cfg, const struct q_link_cb *cb,
                void *arg, struct q_link **out)
{
    *out = NULL;
    if (!loop || !cfg)
        return -EINVAL;
    struct q_link *l = calloc(1, sizeof *l);
    if (!l)
        return -ENOMEM;
    l->loop = loop;
    l->host = ci_xstrdup(cfg->host && *cfg->host ? cfg->host : "127.0.0.1");
    l->password = cfg->password && *cfg->password ? ci_xstrdup(cfg->password) : NULL;
    l->name = ci_xstrdup(cfg->name && *cfg->name ? cfg->name : "redis");
    snprintf(l->client_name, sizeof l->client_name, "ci-%s", l->name);
    for (char *p = l->client_name; *p; p++) /* CLIENT SETNAME takes no spaces */
        if (*p == ' ' || *p < 0x21 || *p > 0x7e)
            *p = '-';
    l->port = cfg->port > 0 ? cfg->port : 6379;
    l->cmd_timeout_ms =
        cfg->command_timeout_ms > 0 ? cfg->command_timeout_ms : Q_LINK_COMMAND_TIMEOUT_MS;
    l->connect_timeout_ms =
        cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : Q_LINK_CONNECT_TIMEOUT_MS;
    if (cb)
        l->cb = *cb;
    l->arg = arg;
    l->backoff_ms = Q_LINK_BACKOFF_MIN;
    uv_timer_init(loop, &l->timer);
    uv_timer_init(loop, &l->watch);
    l->timer.data = l;
    l->watch.data = l;
    l->open = 2;
    q_link_connect(l);
    *out = l;
    return 0;
}

int q_link_is_up(const struct q_link *l)
{
    return l && l->up && l->ac && !l->dropping;
}

redisAsyncContext *q_link_ac(const struct q_link *l)
{
    return q_link_is_up(l) ? l->ac : NULL;
}

/* 1 when a command may be issued: up, or connecting/handshaking (hiredis
 * buffers it behind AUTH and PING; a failed connect fails it). */
static int q_link_can_send(const struct q_link *l)
{
    return l && l->ac && !l->dropping && !l->closing;
}

int q_link_command(struct q_link *l, redisCallbackFn *fn, void *priv, const char *fmt, ...)
{
    if (!q_link_can_send(l))
        return -EIO;
    va_list ap;
    va_start(ap, fmt);
    int rc = redisvAsyncCommand(l->ac, fn, priv, fmt, ap);
    va_end(ap);
    return rc == REDIS_OK ? 0 : -EIO;
}

int q_link_command_argv(struct q_link *l, redisCallbackFn *fn, void *priv, int argc,
                        const char **argv, const size_t *argvlen)
{
    if (!q_link_can_send(l))
        return -EIO;
    return redisAsyncCommandArgv(l->ac, fn, priv, argc, argv, argvlen) == REDIS_OK ? 0 : -EIO;
}

void q_link_set_slack(struct q_link *l, int64_t slack_ms)
{
    l->slack_ms = slack_ms > 0 ? slack_ms : 0;
}

void q_link_drop(struct q_link *l, const char *why)
{
    if (!l->ac || l->closing)
        return;
    log_warn("redis link %s: %s; dropping the connection", l->name, why ? why : "dropped");
    if (!l->connected) {
        redisAsyncContext *ac = l->ac;
        l->ac = NULL;
        redisAsyncFree(ac);
        q_link_retry_later(l);
        return;
    }
    l->dropping = 1; /* from here on q_link_command refuses */
    redisAsyncFree(l->ac); /* NULL replies, then q_link_disconnected reconnects */
}

void q_link_close(struct q_link *l, int64_t grace_ms, void (*closed)(void *arg), void *arg)
{
    if (!l)
        return;
    l->closing = 1;
    l->closed = closed;
    l->closed_arg = arg;
    uv_timer_stop(&l->timer);
    uv_timer_stop(&l->watch);
    if (l->resolving)
        uv_cancel((uv_req_t *)&l->gai); /* its callback still runs */
    if (l->ac && l->connected && grace_ms > 0) {
        /* the timer first: the disconnect may complete (and close it) at once */
        uv_timer_start(&l->timer, q_link_timer_cb, (uint64_t)grace_ms, 0);
        redisAsyncDisconnect(l->ac); /* replies first, then q_link_disconnected */
    } else if (l->ac) {
        redisAsyncContext *ac = l->ac;
        l->ac = NULL;
        redisAsyncFree(ac); /* pending callbacks get NULL */
    }
    q_link_maybe_finish(l);
}
