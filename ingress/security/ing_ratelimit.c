#include "ing_ratelimit.h"

#include "ci_util.h"
#include "ing_audit.h"
#include "ing_redis.h"
#include "q_lua.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Runs the `n` appended commands; replies stored in r[] (caller frees).
 * Returns 0, or -EIO after resetting the connection. */
static int collect(redisContext *c, redisReply **r, int n)
{
    int rc = 0;
    for (int i = 0; i < n; i++) {
        r[i] = NULL;
        if (rc == 0 && redisGetReply(c, (void **)&r[i]) != REDIS_OK)
            rc = -EIO;
    }
    if (rc != 0)
        ing_redis_reset();
    return rc;
}

static void free_all(redisReply **r, int n)
{
    for (int i = 0; i < n; i++)
        freeReplyObject(r[i]);
}

int ing_authfail_locked(const char *ip, long limit, const char *count_field, int *retry_after)
{
    redisContext *c = ing_redis();
    redisReply *r[3];
    int n = 2;
    *retry_after = 0;
    if (!c)
        return -EIO;
    redisAppendCommand(c, "GET " ING_AUTHFAIL_PREFIX "%s", ip);
    redisAppendCommand(c, "TTL " ING_AUTHFAIL_PREFIX "%s", ip);
    if (count_field) { /* rides along: no extra round trip for the statistics */
        redisAppendCommand(c, "HINCRBY %s %s 1", ING_AUDIT_STATS_KEY, count_field);
        n = 3;
    }
    if (collect(c, r, n) != 0)
        return -EIO;
    long count = r[0] && r[0]->type == REDIS_REPLY_STRING ? strtol(r[0]->str, NULL, 10) : 0;
    long ttl = r[1] && r[1]->type == REDIS_REPLY_INTEGER ? (long)r[1]->integer : -1;
    free_all(r, n);
    if (limit <= 0 || count < limit)
        return 0;
    *retry_after = ttl > 0 ? (int)ttl : 1;
    return 1;
}

/* One atomic step: ing_authfail.lua (KEYS, ARGV and what it returns are
 * documented there). */
extern const char ing_lua_authfail[];
static struct q_lua authfail_lua = Q_LUA_INIT(ing_lua_authfail);

int ing_authfail_count(const char *ip, long limit, long window_s, long ips_max, long *count,
                       int *retry_after)
{
    redisContext *c = ing_redis();
    *count = 0;
    *retry_after = 0;
    if (!c)
        return -EIO;
    long long now = (long long)ci_now_ms();
    long long end_ms = now + (long long)window_s * 1000;
    size_t klen = sizeof ING_AUTHFAIL_PREFIX + strlen(ip);
    char *key = ci_xmalloc(klen), lim[24], win[24], end[24], nows[24], cap[24];
    snprintf(key, klen, "%s%s", ING_AUTHFAIL_PREFIX, ip);
    snprintf(lim, sizeof lim, "%ld", limit);
    snprintf(win, sizeof win, "%ld", window_s);
    snprintf(end, sizeof end, "%lld", end_ms);
    snprintf(nows, sizeof nows, "%lld", now);
    snprintf(cap, sizeof cap, "%ld", ips_max);
    const char *argv[] = {key, ING_AUTHFAIL_IPS, lim, win, end, nows, cap, ip};
    redisReply *r = q_lua_call(c, &authfail_lua, 2, 8, argv, NULL);
    free(key);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 3) {
        if (!r)
            ing_redis_reset();
        freeReplyObject(r);
        return -EIO;
    }
    *count = (long)r->element[0]->integer;
    long ttl = (long)r->element[1]->integer;
    int locked = r->element[2]->integer != 0;
    freeReplyObject(r);
    if (locked)
        *retry_after = ttl > 0 ? (int)ttl : 1;
    return locked;
}

int ing_rate_count(const char *id, const long *rate, struct ing_rl_state *st)
{
    redisContext *c = ing_redis();
    redisReply *r[2 * ING_RL_COUNT];
    int map[ING_RL_COUNT], n = 0;
    int64_t now_s = ci_now_ms() / 1000;
    memset(st, 0, sizeof *st);
    if (!c)
        return -EIO;
    for (int p = 0; p < ING_RL_COUNT; p++) {
        if (rate[p] <= 0)
            continue;
        long len = ing_rl_period_seconds[p];
        redisAppendCommand(c, "INCR " ING_RATE_PREFIX "%s:%s:%lld", id, ing_rl_period_names[p],
                           (long long)(now_s / len));
        redisAppendCommand(c, "EXPIRE " ING_RATE_PREFIX "%s:%s:%lld %ld", id,
                           ing_rl_period_names[p], (long long)(now_s / len), len + 1);
        map[n++] = p;
    }
    if (n == 0)
        return 0;
    if (collect(c, r, 2 * n) != 0)
        return -EIO;
    for (int i = 0; i < n; i++) {
        int p = map[i];
        long len = ing_rl_period_seconds[p];
        long used = r[2 * i] && r[2 * i]->type == REDIS_REPLY_INTEGER ? (long)r[2 * i]->integer
                                                                      : 0;
        long remaining = rate[p] - used;
        int exceeded = remaining < 0;
        if (remaining < 0)
            remaining = 0;
        long reset = len - (long)(now_s % len);
        /* the binding window: an exceeded one (longest wait), else the fewest left */
        int better = st->limit == 0 || (exceeded && !st->exceeded) ||
                     (exceeded && st->exceeded && reset > st->reset) ||
                     (!exceeded && !st->exceeded && remaining < st->remaining);
        if (better) {
            st->limit = rate[p];
            st->remaining = remaining;
            st->reset = reset;
            st->period = ing_rl_period_names[p];
            st->exceeded = exceeded;
        }
    }
    free_all(r, 2 * n);
    return 0;
}

json_t *ing_authfail_status_json(long limit)
{
    redisContext *c = ing_redis();
    if (!c)
        return NULL;
    long long now = (long long)ci_now_ms();
    redisReply *r = redisCommand(c, "ZREMRANGEBYSCORE " ING_AUTHFAIL_IPS " -inf %lld", now);
    freeReplyObject(r);
    r = redisCommand(c, "ZRANGE " ING_AUTHFAIL_IPS " 0 999");
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        ing_redis_reset();
        return NULL;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < r->elements; i++) {
        const char *ip = r->element[i]->str;
        redisReply *v = redisCommand(c, "GET " ING_AUTHFAIL_PREFIX "%s", ip);
        redisReply *t = redisCommand(c, "TTL " ING_AUTHFAIL_PREFIX "%s", ip);
        long n = v && v->type == REDIS_REPLY_STRING ? strtol(v->str, NULL, 10) : 0;
        long ttl = t && t->type == REDIS_REPLY_INTEGER ? (long)t->integer : 0;
        if (n > 0)
            json_array_append_new(arr, json_pack("{s:s,s:i,s:b,s:i}", "client_ip", ip,
                                                 "failures", (json_int_t)n, "locked",
                                                 limit > 0 && n >= limit, "window_remaining",
                                                 (json_int_t)(ttl > 0 ? ttl : 0)));
        freeReplyObject(v);
        freeReplyObject(t);
    }
    freeReplyObject(r);
    return arr;
}
