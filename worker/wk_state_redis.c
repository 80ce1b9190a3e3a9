/*
 * wk_state_redis.c - the state module's own async Redis connection on the
 * worker's loop (REDIS_HOST / REDIS_PORT / REDIS_PASSWORD).
 *
 * Connected lazily by the first command and again by the first command
 * after a loss (commands issued while connecting are buffered by hiredis
 * and sent once connected).  A failed connect or a lost connection makes
 * hiredis call every pending callback with a NULL reply, which callers
 * treat as "Redis unavailable".  No timers: a dead Redis refuses or resets
 * the connection, and the queue consumer has its own watchdogs.
 */
#include "wk_state_int.h"

#include "ci_log.h"
#include "wk_config.h"

#include <errno.h>
#include <hiredis/hiredis.h>

/* queue/q_uv_adapter.c: hiredis <-> libuv glue that also reports POLLERR
 * (hiredis 0.14's stock libuv adapter hangs on a refused connect). */
int q_uv_attach(redisAsyncContext *ac, uv_loop_t *loop);

static redisAsyncContext *wk_state_ac;

static void on_auth(redisAsyncContext *ac, void *reply, void *priv)
{
    redisReply *r = reply;
    if (r && r->type == REDIS_REPLY_ERROR)
        log_error("state: redis AUTH: %s", r->str);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    if (status != REDIS_OK) {
        log_warn("state: redis connection to %s:%d failed: %s", wk_cfg.redis_host,
                 wk_cfg.redis_port, ac->errstr);
        if (wk_state_ac == ac)
            wk_state_ac = NULL; /* hiredis frees it after this callback */
    }
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    if (status != REDIS_OK)
        log_warn("state: redis connection lost (%s); the next command reconnects", ac->errstr);
    if (wk_state_ac == ac)
        wk_state_ac = NULL;
}

static int connect_now(void)
{
    redisAsyncContext *ac = redisAsyncConnect(wk_cfg.redis_host, wk_cfg.redis_port);
    if (!ac || ac->err) {
        log_warn("state: redis connection to %s:%d: %s", wk_cfg.redis_host, wk_cfg.redis_port,
                 ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        return -EIO;
    }
    if (q_uv_attach(ac, wk_state_g.loop) != REDIS_OK) {
        redisAsyncFree(ac);
        return -EIO;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    wk_state_ac = ac;
    if (wk_cfg.redis_password[0])
        redisAsyncCommand(ac, on_auth, NULL, "AUTH %s", wk_cfg.redis_password);
    return 0;
}

int wk_state_redis_argv(redisCallbackFn *fn, void *priv, int argc, const char **argv,
                        const size_t *argvlen)
{
    if (wk_state_g.closing)
        return -EIO;
    if (!wk_state_ac && connect_now() < 0)
        return -EIO;
    if (redisAsyncCommandArgv(wk_state_ac, fn, priv, argc, argv, argvlen) != REDIS_OK)
        return -EIO;
    return 0;
}

void wk_state_redis_close(void)
{
    redisAsyncContext *ac = wk_state_ac;
    if (ac)
        redisAsyncDisconnect(ac); /* pending replies first; then on_disconnect */
}
