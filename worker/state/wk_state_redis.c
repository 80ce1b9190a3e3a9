/*
 * wk_state_redis.c - the state module's own async Redis connection on the
 * worker's loop (REDIS_HOST / REDIS_PORT / REDIS_PASSWORD), a q_link
 * (q_link.h: reconnect with jittered backoff, command timeouts, keepalive,
 * no DNS on the loop).
 *
 * The link is opened by wk_state_init() (persistence on) or by the first
 * command.  A command while the link is down fails at once (-EIO); a
 * command that gets no reply within the link's command timeout, or whose
 * connection is lost, has its callback called with a NULL reply: callers
 * treat both as "Redis unavailable".  Stage-in and stage-out therefore never
 * wait longer than the command timeout on a Redis that stopped answering.
 */
#include "wk_state_int.h"

#include "ci_log.h"
#include "q_link.h"
#include "wk_config.h"

#include <errno.h>
#include <hiredis/hiredis.h>

#define WK_STATE_CLOSE_GRACE_MS 5000

static struct q_link *wk_state_link;

void wk_state_redis_open(void)
{
    if (wk_state_link || wk_state_g.closing || !wk_state_g.loop)
        return;
    struct q_link_config cfg = {.host = wk_cfg.redis_host,
                                .port = wk_cfg.redis_port,
                                .password = wk_cfg.redis_password,
                                .name = "state"};
    if (q_link_open(wk_state_g.loop, &cfg, NULL, NULL, &wk_state_link) != 0)
        log_error("state: cannot create the redis link");
}

int wk_state_redis_argv(redisCallbackFn *fn, void *priv, int argc, const char **argv,
                        const size_t *argvlen)
{
    if (wk_state_g.closing)
        return -EIO;
    wk_state_redis_open();
    return q_link_command_argv(wk_state_link, fn, priv, argc, argv, argvlen);
}

int wk_state_redis_lua(struct q_lua *s, redisCallbackFn *fn, void *priv, int nkeys, int n,
                       const char **argv)
{
    if (wk_state_g.closing)
        return -EIO;
    wk_state_redis_open();
    return q_lua_link_call(wk_state_link, s, fn, priv, nkeys, n, argv, NULL);
}

void wk_state_redis_close(void)
{
    struct q_link *l = wk_state_link;
    wk_state_link = NULL;
    if (l)
        q_link_close(l, WK_STATE_CLOSE_GRACE_MS, NULL, NULL); /* pending replies first */
}
