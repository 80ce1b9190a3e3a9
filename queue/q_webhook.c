/*
 * q_webhook.c - Lua texts of the webhook claim / finish and the secret
 * store (q_webhook.h).
 */
#include "q_webhook.h"

#include <errno.h>

static const char s_claim[] =
    "local now, lease = tonumber(ARGV[1]), tonumber(ARGV[2])\n"
    "local jf = {}\n"
    "for i = 5, #ARGV do jf[#jf + 1] = ARGV[i] end\n"
    "local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, ARGV[3])\n"
    "local out = {}\n"
    "for _, wid in ipairs(ids) do\n"
    "  local w = 'ci:webhook:' .. wid\n"
    "  local f = redis.call('HMGET', w, 'type', 'subject', 'owner', 'url', 'created_at',\n"
    "    'status')\n"
    "  if not f[1] or f[6] ~= 'pending' then\n"
    "    redis.call('ZREM', KEYS[1], wid)\n"
    "  else\n"
    "    redis.call('ZADD', KEYS[1], now + lease, wid)\n"
    "    local a = redis.call('HINCRBY', w, 'attempts', 1)\n"
    "    redis.call('HSET', w, 'claim', ARGV[4])\n"
    "    local secret = redis.call('GET', 'ci:webhook_secret:' .. f[3]) or ''\n"
    "    local fields, jobs = {}, {}\n"
    "    if f[1] == 'batch.completed' then\n"
    "      local b = 'ci:batch:' .. f[2]\n"
    "      fields = redis.call('HMGET', b, 'total', 'done', 'created_at', 'completed_at',\n"
    "        'n_completed', 'n_failed', 'n_timeout', 'n_oom', 'n_cancelled', 'n_dead')\n"
    "      jobs = redis.call('LRANGE', b .. ':jobs', 0, -1)\n"
    "    else\n"
    "      fields = redis.call('HMGET', 'ci:job:' .. f[2], unpack(jf))\n"
    "    end\n"
    "    out[#out + 1] = {wid, f[1], f[2], f[4], f[5], a, secret, fields, jobs}\n"
    "  end\n"
    "end\n"
    "return out\n";

static const char s_finish[] =
    "local w = KEYS[2]\n"
    "if redis.call('HGET', w, 'claim') ~= ARGV[2] then return 0 end\n"
    "local a = redis.call('HGET', w, 'attempts') or '0'\n"
    "redis.call('HSET', w, 'last_error', ARGV[5], 'last_status', ARGV[6],\n"
    "  'last_attempt_at', ARGV[7])\n"
    "local mirror = redis.call('EXISTS', KEYS[3]) == 1\n"
    "if ARGV[3] == 'retry' then\n"
    "  redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1])\n"
    "  if mirror then\n"
    "    redis.call('HSET', KEYS[3], 'webhook_attempts', a, 'webhook_error', ARGV[5])\n"
    "  end\n"
    "  return 1\n"
    "end\n"
    "redis.call('ZREM', KEYS[1], ARGV[1])\n"
    "redis.call('HSET', w, 'status', ARGV[3], 'finished_at', ARGV[7])\n"
    "redis.call('HDEL', w, 'claim')\n"
    "redis.call('EXPIRE', w, ARGV[8])\n"
    "if mirror then\n"
    "  redis.call('HSET', KEYS[3], 'webhook_status', ARGV[3], 'webhook_attempts', a,\n"
    "    'webhook_error', ARGV[5])\n"
    "end\n"
    "return 2\n";

const char *q_webhook_claim_script(void)
{
    return s_claim;
}

const char *q_webhook_finish_script(void)
{
    return s_finish;
}

int q_webhook_secret_set(redisContext *c, const char *owner, const char *secret)
{
    redisReply *r = redisCommand(c, "SET %s%s %s", Q_WEBHOOK_SECRET_PREFIX, owner, secret);
    int rc = r && r->type == REDIS_REPLY_STATUS ? 0 : -EIO;
    freeReplyObject(r);
    return rc;
}
