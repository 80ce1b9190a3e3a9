/*
 * ing_fleet.c - worker records and counter hashes from Redis (ing_fleet.h).
 */
#include "ing_fleet.h"

#include "ci_stats.h"
#include "ci_util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void kv_from_reply(const redisReply *r, struct ing_kv **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 2)
        return;
    size_t cnt = r->elements / 2;
    struct ing_kv *kv = ci_xcalloc(cnt, sizeof *kv);
    size_t k = 0;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *f = r->element[i], *v = r->element[i + 1];
        if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            continue;
        kv[k].name = ci_xstrndup(f->str, f->len);
        kv[k].text = ci_xstrndup(v->str, v->len);
        kv[k].value = strtoll(kv[k].text, NULL, 10);
        k++;
    }
    *out = kv;
    *n = k;
}

void ing_kv_free(struct ing_kv *kv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(kv[i].name);
        free(kv[i].text);
    }
    free(kv);
}

int ing_fleet_hash(redisContext *c, const char *key, struct ing_kv **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    redisReply *r = redisCommand(c, "HGETALL %s", key);
    if (!r || r->type == REDIS_REPLY_ERROR) {
        freeReplyObject(r);
        return -EIO;
    }
    kv_from_reply(r, out, n);
    freeReplyObject(r);
    return 0;
}

static const struct ing_kv *find(const struct ing_worker_info *w, const char *name)
{
    for (size_t i = 0; i < w->nfields; i++)
        if (strcmp(w->fields[i].name, name) == 0)
            return &w->fields[i];
    return NULL;
}

int64_t ing_worker_num(const struct ing_worker_info *w, const char *name, int64_t def)
{
    const struct ing_kv *kv = find(w, name);
    return kv ? kv->value : def;
}

const char *ing_worker_str(const struct ing_worker_info *w, const char *name)
{
    const struct ing_kv *kv = find(w, name);
    return kv ? kv->text : NULL;
}

void ing_fleet_workers_free(struct ing_worker_info *w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ing_kv_free(w[i].fields, w[i].nfields);
    free(w);
}

int ing_fleet_workers(redisContext *c, struct ing_worker_info **out, size_t *n)
{
    int rc = 0;
    size_t k = 0, ids = 0;
    struct ing_worker_info *w = NULL;
    *out = NULL;
    *n = 0;
    redisReply *set = redisCommand(c, "ZRANGE %s 0 %d", CI_WORKERS_SET, ING_FLEET_MAX_WORKERS - 1);
    if (!set || set->type != REDIS_REPLY_ARRAY) {
        rc = -EIO;
        goto out;
    }
    ids = set->elements;
    for (size_t i = 0; i < ids; i++)
        redisAppendCommand(c, "HGETALL %s%b", CI_WORKER_KEY_PREFIX, set->element[i]->str,
                           set->element[i]->len);
    w = ci_xcalloc(ids ? ids : 1, sizeof *w);
    for (size_t i = 0; i < ids; i++) {
        redisReply *r = NULL;
        if (redisGetReply(c, (void **)&r) != REDIS_OK) {
            rc = -EIO;
            goto out;
        }
        kv_from_reply(r, &w[k].fields, &w[k].nfields);
        freeReplyObject(r);
        if (w[k].nfields > 0)
            k++;
    }
    /* ZRANGE orders by score (last beat); present them by id */
    for (size_t i = 1; i < k; i++)
        for (size_t j = i; j > 0; j--) {
            const char *a = ing_worker_str(&w[j - 1], "id"), *b = ing_worker_str(&w[j], "id");
            if (!a || !b || strcmp(a, b) <= 0)
                break;
            struct ing_worker_info t = w[j - 1];
            w[j - 1] = w[j];
            w[j] = t;
        }
out:
    freeReplyObject(set);
    if (rc < 0) {
        ing_fleet_workers_free(w, k);
        return rc;
    }
    *out = w;
    *n = k;
    return 0;
}
