#include "ing_sec.h"

#include "ci_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const ing_rl_period_names[ING_RL_COUNT] = {"second", "minute", "hour", "day"};
const long ing_rl_period_seconds[ING_RL_COUNT] = {1, 60, 3600, 86400};
static const char *const status_names[] = {"active", "disabled", "revoked"};

const char *ing_key_status_name(enum ing_key_status st)
{
    return st < ING_KEY_UNKNOWN ? status_names[st] : "unknown";
}

enum ing_key_status ing_key_status_from_name(const char *s)
{
    for (int i = 0; i < ING_KEY_UNKNOWN; i++)
        if (s && strcmp(s, status_names[i]) == 0)
            return (enum ing_key_status)i;
    return ING_KEY_UNKNOWN;
}

void ing_key_hash_hex(const char *key, size_t len, char out[ING_KEY_HEX_LEN + 1])
{
    ci_sha256_hex(key, len, ING_KEY_HEX_LEN / 2, out);
}

static int valid_hash(const char *h)
{
    if (!h || strlen(h) != ING_KEY_HEX_LEN)
        return 0;
    for (const char *p = h; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return 0;
    return 1;
}

int ing_keys_create(redisContext *c, const char *name, const long *rate, char *key_out,
                    size_t keysz, struct ing_key_info *info)
{
    char secret[41], idhex[13];
    if (keysz < 48 || !name || strlen(name) >= sizeof info->name)
        return -EINVAL;
    for (int i = 0; rate && i < ING_RL_COUNT; i++)
        if (rate[i] < 0)
            return -EINVAL;
    if (ci_random_hex(secret, 20) != 0 || ci_random_hex(idhex, 6) != 0)
        return -EIO;
    memset(info, 0, sizeof *info);
    snprintf(key_out, keysz, "cik_%s", secret);
    snprintf(info->id, sizeof info->id, "k_%s", idhex);
    snprintf(info->name, sizeof info->name, "%s", name);
    ing_key_hash_hex(key_out, strlen(key_out), info->hash);
    info->created_at = ci_now_ms();
    info->status = ING_KEY_ACTIVE;
    for (int i = 0; rate && i < ING_RL_COUNT; i++)
        info->rate[i] = rate[i];

    redisReply *r = redisCommand(
        c, "HSET " ING_KEY_HASH_PREFIX "%s id %s name %s created_at %lld status active "
           "rate_second %ld rate_minute %ld rate_hour %ld rate_day %ld",
        info->hash, info->id, info->name, (long long)info->created_at, info->rate[0],
        info->rate[1], info->rate[2], info->rate[3]);
    int ok = r && r->type == REDIS_REPLY_INTEGER;
    freeReplyObject(r);
    if (!ok)
        return -EIO;
    r = redisCommand(c, "HSET " ING_KEYS_INDEX " %s %s", info->id, info->hash);
    ok = r && r->type == REDIS_REPLY_INTEGER;
    freeReplyObject(r);
    return ok ? 0 : -EIO;
}

static void fill_field(struct ing_key_info *info, const char *k, const char *v)
{
    if (strcmp(k, "id") == 0)
        snprintf(info->id, sizeof info->id, "%s", v);
    else if (strcmp(k, "name") == 0)
        snprintf(info->name, sizeof info->name, "%s", v);
    else if (strcmp(k, "created_at") == 0)
        info->created_at = strtoll(v, NULL, 10);
    else if (strcmp(k, "status") == 0)
        info->status = ing_key_status_from_name(v);
    for (int i = 0; i < ING_RL_COUNT; i++) {
        char f[32];
        snprintf(f, sizeof f, "rate_%s", ing_rl_period_names[i]);
        if (strcmp(k, f) == 0)
            info->rate[i] = strtol(v, NULL, 10);
    }
}

int ing_keys_get_by_hash(redisContext *c, const char *hash, struct ing_key_info *info)
{
    memset(info, 0, sizeof *info);
    if (!valid_hash(hash))
        return -EINVAL;
    redisReply *r = redisCommand(c, "HGETALL " ING_KEY_HASH_PREFIX "%s", hash);
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        return -EIO;
    }
    int rc = r->elements ? 0 : -ENOENT;
    info->status = ING_KEY_UNKNOWN;
    for (size_t i = 0; i + 1 < r->elements; i += 2)
        if (r->element[i]->type == REDIS_REPLY_STRING &&
            r->element[i + 1]->type == REDIS_REPLY_STRING)
            fill_field(info, r->element[i]->str, r->element[i + 1]->str);
    freeReplyObject(r);
    snprintf(info->hash, sizeof info->hash, "%s", hash);
    return rc;
}

int ing_keys_get(redisContext *c, const char *id, struct ing_key_info *info)
{
    memset(info, 0, sizeof *info);
    redisReply *r = redisCommand(c, "HGET " ING_KEYS_INDEX " %s", id);
    if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_NIL)) {
        freeReplyObject(r);
        return -EIO;
    }
    char hash[ING_KEY_HEX_LEN + 1] = "";
    if (r->type == REDIS_REPLY_STRING)
        snprintf(hash, sizeof hash, "%s", r->str);
    freeReplyObject(r);
    if (!hash[0])
        return -ENOENT;
    return ing_keys_get_by_hash(c, hash, info);
}

int ing_keys_list(redisContext *c, struct ing_key_info **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    redisReply *r = redisCommand(c, "HGETALL " ING_KEYS_INDEX);
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        return -EIO;
    }
    struct ing_key_info *v = ci_xcalloc(r->elements / 2 + 1, sizeof *v);
    size_t k = 0;
    int rc = 0;
    for (size_t i = 0; i + 1 < r->elements && rc == 0; i += 2) {
        int g = ing_keys_get_by_hash(c, r->element[i + 1]->str, &v[k]);
        if (g == 0)
            k++;
        else if (g == -EIO)
            rc = -EIO;
    }
    freeReplyObject(r);
    if (rc != 0) {
        free(v);
        return rc;
    }
    *out = v;
    *n = k;
    return 0;
}

int ing_keys_set_status(redisContext *c, const char *id, enum ing_key_status st,
                        long long *receivers)
{
    struct ing_key_info info;
    if (st >= ING_KEY_UNKNOWN)
        return -EINVAL;
    int rc = ing_keys_get(c, id, &info);
    if (rc != 0)
        return rc;
    if (info.status == ING_KEY_REVOKED && st != ING_KEY_REVOKED)
        return -EPERM;
    redisReply *r = redisCommand(c, "HSET " ING_KEY_HASH_PREFIX "%s status %s changed_at %lld",
                                 info.hash, ing_key_status_name(st), (long long)ci_now_ms());
    int ok = r && r->type == REDIS_REPLY_INTEGER;
    freeReplyObject(r);
    if (!ok)
        return -EIO;
    r = redisCommand(c, "INCR " ING_KEYS_EPOCH);
    ok = r && r->type == REDIS_REPLY_INTEGER;
    freeReplyObject(r);
    if (!ok)
        return -EIO;
    r = redisCommand(c, "PUBLISH " ING_KEYS_CHANNEL " %s", info.hash);
    ok = r && r->type == REDIS_REPLY_INTEGER;
    if (ok && receivers)
        *receivers = r->integer;
    freeReplyObject(r);
    return ok ? 0 : -EIO;
}

json_t *ing_key_info_json(const struct ing_key_info *info)
{
    char ts[40];
    ci_format_iso8601(info->created_at, ts, sizeof ts);
    json_t *rl = json_object();
    for (int i = 0; i < ING_RL_COUNT; i++)
        if (info->rate[i] > 0)
            json_object_set_new(rl, ing_rl_period_names[i], json_integer(info->rate[i]));
    return json_pack("{s:s,s:s,s:s,s:s,s:o}", "id", info->id, "name", info->name, "status",
                     ing_key_status_name(info->status), "created_at", ts, "rate_limits", rl);
}
