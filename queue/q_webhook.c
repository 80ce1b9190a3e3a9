/*
 * q_webhook.c - the webhook scripts (queue/lua/webhook_*.lua) and the secret
 * store (q_webhook.h).
 */
#include "q_webhook.h"

#include <errno.h>

extern const char q_lua_webhook_claim[], q_lua_webhook_finish[], q_lua_webhook_round[];

struct q_lua q_webhook_claim_lua = Q_LUA_INIT(q_lua_webhook_claim);
struct q_lua q_webhook_finish_lua = Q_LUA_INIT(q_lua_webhook_finish);
struct q_lua q_webhook_round_lua = Q_LUA_INIT(q_lua_webhook_round);

int q_webhook_secret_set(redisContext *c, const char *owner, const char *secret)
{
    redisReply *r = redisCommand(c, "SET %s%s %s", Q_WEBHOOK_SECRET_PREFIX, owner, secret);
    int rc = r && r->type == REDIS_REPLY_STATUS ? 0 : -EIO;
    freeReplyObject(r);
    return rc;
}
