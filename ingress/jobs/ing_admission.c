#include "ing_admission.h"

#include "ci_util.h"
#include "ing_config.h"
#include "q_job.h"

#include <stdio.h>
#include <string.h>

static _Thread_local int64_t depth_checked_us;
static _Thread_local int depth_full;

int ing_queue_full(redisContext *c)
{
    int64_t now = ci_mono_us();
    if (now - depth_checked_us < 250000)
        return depth_full;
    struct q_stats st;
    if (q_stats(c, &st) != 0)
        return 0; /* the enqueue that follows reports the outage */
    depth_checked_us = now;
    depth_full = st.depth > ing_cfg.max_queue_depth;
    return depth_full;
}

static int key_ok(const char *key)
{
    size_t n = strlen(key);
    if (n == 0 || n > 128)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (key[i] < 0x21 || key[i] > 0x7e)
            return 0;
    return 1;
}

enum ing_idem ing_idem_claim(redisContext *c, const char *owner, const char *key,
                             const char *body, size_t body_len, const char *job_id,
                             char *existing)
{
    char khash[65], bhash[65], value[140];
    if (!key_ok(key))
        return ING_IDEM_INVALID;
    ci_sha256_hex(key, strlen(key), 32, khash);
    ci_sha256_hex(body ? body : "", body_len, 32, bhash);
    snprintf(value, sizeof value, "%s %s", job_id, bhash);
    redisReply *r = redisCommand(c, "SET " ING_IDEM_PREFIX "%s:%s %s NX EX %lld GET", owner, khash,
                                 value, (long long)ing_cfg.job_ttl_s);
    enum ing_idem out = ING_IDEM_ERROR;
    if (!r || r->type == REDIS_REPLY_ERROR)
        goto done;
    if (r->type == REDIS_REPLY_NIL) {
        out = ING_IDEM_NEW;
        goto done;
    }
    if (r->type != REDIS_REPLY_STRING)
        goto done;
    const char *sp = memchr(r->str, ' ', r->len);
    if (!sp || (size_t)(sp - r->str) >= 65)
        goto done;
    memcpy(existing, r->str, (size_t)(sp - r->str));
    existing[sp - r->str] = '\0';
    out = strcmp(sp + 1, bhash) == 0 ? ING_IDEM_REPLAY : ING_IDEM_CONFLICT;
done:
    freeReplyObject(r);
    return out;
}

void ing_idem_forget(redisContext *c, const char *owner, const char *key)
{
    char khash[65];
    ci_sha256_hex(key, strlen(key), 32, khash);
    redisReply *r = redisCommand(c, "DEL " ING_IDEM_PREFIX "%s:%s", owner, khash);
    freeReplyObject(r);
}
