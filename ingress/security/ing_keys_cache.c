#include "ing_sec.h"

#include "ci_util.h"
#include "ing_redis.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define NBUCKETS 1024
#define MAX_ENTRIES 65536

struct entry {
    struct entry *next;
    int64_t expires_ms;
    struct ing_key_info info;
};

static struct {
    pthread_mutex_t lock;
    struct entry *bucket[NBUCKETS];
    size_t n;
    uint64_t generation; /* bumped by every drop and live change */
    long long epoch;     /* ci:keys:epoch the cached records were read under */
    int live;
} K = {.lock = PTHREAD_MUTEX_INITIALIZER};

static unsigned bucket_of(const char *hash, size_t len)
{
    return ci_fnv1a(hash, len) % NBUCKETS;
}

/* Caller holds K.lock. */
static void clear_locked(void)
{
    for (int b = 0; b < NBUCKETS; b++) {
        struct entry *e = K.bucket[b];
        while (e) {
            struct entry *next = e->next;
            free(e);
            e = next;
        }
        K.bucket[b] = NULL;
    }
    K.n = 0;
}

/* Caller holds K.lock; unlinks and frees the entry of hash when present. */
static void drop_locked(const char *hash, size_t len)
{
    struct entry **pp = &K.bucket[bucket_of(hash, len)];
    while (*pp) {
        struct entry *e = *pp;
        if (strlen(e->info.hash) == len && memcmp(e->info.hash, hash, len) == 0) {
            *pp = e->next;
            free(e);
            K.n--;
            return;
        }
        pp = &e->next;
    }
}

/* The current status-change epoch, or -1 when Redis cannot say. */
static long long read_epoch(redisContext *c)
{
    redisReply *r = redisCommand(c, "GET " ING_KEYS_EPOCH);
    long long e = -1;
    if (r && r->type == REDIS_REPLY_NIL)
        e = 0;
    else if (r && r->type == REDIS_REPLY_STRING)
        e = strtoll(r->str, NULL, 10);
    freeReplyObject(r);
    return e;
}

static int cached(const char *hash, long long epoch, struct ing_key_info *info, uint64_t *gen)
{
    int64_t now = ci_mono_us() / 1000;
    size_t len = strlen(hash);
    int found = 0;
    pthread_mutex_lock(&K.lock);
    if (K.epoch != epoch) { /* a status changed somewhere: start over */
        clear_locked();
        K.generation++;
        K.epoch = epoch;
    }
    *gen = K.generation;
    for (struct entry *e = K.bucket[bucket_of(hash, len)]; e; e = e->next) {
        if (strcmp(e->info.hash, hash) != 0)
            continue;
        if (e->expires_ms > now) {
            *info = e->info;
            found = 1;
        } else {
            drop_locked(hash, len);
        }
        break;
    }
    pthread_mutex_unlock(&K.lock);
    return found;
}

static void insert(const struct ing_key_info *info, uint64_t gen)
{
    pthread_mutex_lock(&K.lock);
    if (K.live && K.generation == gen) { /* no drop happened meanwhile */
        size_t len = strlen(info->hash);
        drop_locked(info->hash, len);
        if (K.n >= MAX_ENTRIES)
            clear_locked();
        struct entry *e = ci_xcalloc(1, sizeof *e);
        e->info = *info;
        e->expires_ms = ci_mono_us() / 1000 + ING_KEYS_CACHE_MS;
        unsigned b = bucket_of(info->hash, len);
        e->next = K.bucket[b];
        K.bucket[b] = e;
        K.n++;
    }
    pthread_mutex_unlock(&K.lock);
}

int ing_keys_validate(const char *hash, struct ing_key_info *info)
{
    uint64_t gen;
    redisContext *c = ing_redis();
    if (!c)
        return -EIO;
    long long epoch = read_epoch(c);
    if (epoch < 0) {
        ing_redis_reset();
        return -EIO;
    }
    if (cached(hash, epoch, info, &gen))
        return 1;
    int rc = ing_keys_get_by_hash(c, hash, info);
    if (rc == -EIO) {
        ing_redis_reset();
        return -EIO;
    }
    if (rc != 0 || info->status != ING_KEY_ACTIVE)
        return 0;
    insert(info, gen);
    return 1;
}

void ing_keys_cache_drop(const char *hash, size_t len)
{
    pthread_mutex_lock(&K.lock);
    K.generation++;
    drop_locked(hash, len);
    pthread_mutex_unlock(&K.lock);
}

void ing_keys_cache_set_live(int live)
{
    pthread_mutex_lock(&K.lock);
    K.generation++;
    K.live = live;
    clear_locked();
    pthread_mutex_unlock(&K.lock);
}

size_t ing_keys_cache_size(void)
{
    pthread_mutex_lock(&K.lock);
    size_t n = K.n;
    pthread_mutex_unlock(&K.lock);
    return n;
}
