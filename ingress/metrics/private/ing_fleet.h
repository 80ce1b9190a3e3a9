/*
 * ing_fleet.h - reading what the workers publish in Redis (ci_stats.h):
 * the live workers' heartbeat records and the fleet-wide counter hashes.
 * Used by GET /metrics and GET /health/detailed.
 *
 * A worker is live while its ci:workers:<id> hash exists (the worker sets a
 * TTL of 3 heartbeat intervals on each beat); members of the ci:workers set
 * whose hash is gone are skipped.
 *
 * Threads: blocking calls on the caller's redisContext (one per thread, see
 * ing_redis.h).  Ownership: the caller frees what it gets with the matching
 * _free function.  Errors: 0 or -EIO (Redis unreachable or an error reply;
 * the caller resets its connection).
 */
#ifndef ING_FLEET_H
#define ING_FLEET_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

/* At most this many workers are read (the set is pruned by the workers). */
#define ING_FLEET_MAX_WORKERS 1000

struct ing_kv {
    char *name;
    int64_t value; /* strtoll of the stored string; 0 when not a number */
    char *text;    /* the stored string */
};

struct ing_worker_info {
    struct ing_kv *fields; /* every field of ci:workers:<id> */
    size_t nfields;
};

/* The value of field `name` of w as a number (def when absent) or text
 * (NULL when absent). */
int64_t ing_worker_num(const struct ing_worker_info *w, const char *name, int64_t def);
const char *ing_worker_str(const struct ing_worker_info *w, const char *name);

/* The live workers, in id order. */
int ing_fleet_workers(redisContext *c, struct ing_worker_info **out, size_t *n);
void ing_fleet_workers_free(struct ing_worker_info *w, size_t n);

/* Every field of hash `key` (HGETALL), in Redis' order. */
int ing_fleet_hash(redisContext *c, const char *key, struct ing_kv **out, size_t *n);
void ing_kv_free(struct ing_kv *kv, size_t n);

#endif
