#include "ing_redis.h"

#include "ci_log.h"
#include "ing_config.h"

#include <pthread.h>
#include <stddef.h>
#include <sys/time.h>

static pthread_key_t ctx_key;
static pthread_once_t ctx_once = PTHREAD_ONCE_INIT;

static void ctx_free(void *p)
{
    redisFree(p);
}

static void make_key(void)
{
    pthread_key_create(&ctx_key, ctx_free);
}

redisContext *ing_redis_connect(void)
{
    struct timeval ct = {2, 0}, cmd = {5, 0};
    redisContext *c = redisConnectWithTimeout(ing_cfg.redis_host, ing_cfg.redis_port, ct);
    if (!c || c->err) {
        log_error("redis %s:%d: %s", ing_cfg.redis_host, ing_cfg.redis_port,
                  c ? c->errstr : "out of memory");
        redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, cmd);
    if (ing_cfg.redis_password[0]) {
        redisReply *r = redisCommand(c, "AUTH %s", ing_cfg.redis_password);
        int ok = r && r->type != REDIS_REPLY_ERROR;
        freeReplyObject(r);
        if (!ok) {
            log_error("redis AUTH failed");
            redisFree(c);
            return NULL;
        }
    }
    return c;
}

redisContext *ing_redis(void)
{
    pthread_once(&ctx_once, make_key);
    redisContext *c = pthread_getspecific(ctx_key);
    if (c && !c->err)
        return c;
    if (c) {
        redisFree(c);
        pthread_setspecific(ctx_key, NULL);
    }
    c = ing_redis_connect();
    if (c)
        pthread_setspecific(ctx_key, c);
    return c;
}

void ing_redis_reset(void)
{
    pthread_once(&ctx_once, make_key);
    redisContext *c = pthread_getspecific(ctx_key);
    if (c) {
        redisFree(c);
        pthread_setspecific(ctx_key, NULL);
    }
}
