/*
 * ing_keys.h - managed API keys kept in Redis (only a hash of each key).
 *
 * Layout:
 *   ci:key:<sha256 hex of the key>  hash {id, name, created_at (unix ms),
 *                                   status active|disabled|revoked,
 *                                   rate_second, rate_minute, rate_hour,
 *                                   rate_day (0 = no limit)}
 *   ci:keys                         hash id -> sha256 hex (for listing and
 *                                   lookup by id)
 *   ci:keys:revoked                 pub/sub channel: the sha256 hex of a key
 *                                   whose status changed; every ingress drops
 *                                   it from its validation cache at once.
 *
 * The key itself ("cik_" + 40 hex digits of randomness) is shown once, at
 * creation, and never stored.  "revoked" is final; "disabled" may be
 * re-enabled.
 *
 * These store functions take any redisContext (the admin routes pass their
 * thread's, the ci-keys tool its own) and are thread-safe in that sense.
 * They return 0, -ENOENT (no such key id), -EINVAL, or -EIO (Redis).
 */
#ifndef ING_KEYS_H
#define ING_KEYS_H

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <stdint.h>

#define ING_KEY_HASH_PREFIX "ci:key:"
#define ING_KEYS_INDEX "ci:keys"
#define ING_KEYS_CHANNEL "ci:keys:revoked"
/* Bumped (INCR) by every status change before it is published: an ingress
 * compares it on each cache hit, so a change is effective on the very next
 * request everywhere, even before the pub/sub message arrives. */
#define ING_KEYS_EPOCH "ci:keys:epoch"
#define ING_KEY_HEX_LEN 64

enum ing_key_status { ING_KEY_ACTIVE = 0, ING_KEY_DISABLED, ING_KEY_REVOKED, ING_KEY_UNKNOWN };
enum ing_rl_period { ING_RL_SECOND = 0, ING_RL_MINUTE, ING_RL_HOUR, ING_RL_DAY, ING_RL_COUNT };

struct ing_key_info {
    char id[32];
    char name[128];
    char hash[ING_KEY_HEX_LEN + 1];
    int64_t created_at;
    enum ing_key_status status;
    long rate[ING_RL_COUNT]; /* requests per period, 0 = unlimited */
};

extern const char *const ing_rl_period_names[ING_RL_COUNT];   /* "second", ... */
extern const long ing_rl_period_seconds[ING_RL_COUNT];         /* 1, 60, ... */

const char *ing_key_status_name(enum ing_key_status st);
enum ing_key_status ing_key_status_from_name(const char *s);

/* SHA-256 of `key` as 64 lowercase hex digits. */
void ing_key_hash_hex(const char *key, size_t len, char out[ING_KEY_HEX_LEN + 1]);

/* Creates an active key named `name` with `rate` (may be NULL).  The new
 * key is written to key_out (at least 48 bytes); info filled. */
int ing_keys_create(redisContext *c, const char *name, const long *rate, char *key_out,
                    size_t keysz, struct ing_key_info *info);

/* By id, or by the key's hash hex. */
int ing_keys_get(redisContext *c, const char *id, struct ing_key_info *info);
int ing_keys_get_by_hash(redisContext *c, const char *hash, struct ing_key_info *info);

/* All keys (malloc'd array, caller frees). */
int ing_keys_list(redisContext *c, struct ing_key_info **out, size_t *n);

/* Sets the status (revoked is final: -EPERM to leave it) and publishes the
 * key's hash on ING_KEYS_CHANNEL.  *receivers gets PUBLISH's count when not
 * NULL. */
int ing_keys_set_status(redisContext *c, const char *id, enum ing_key_status st,
                        long long *receivers);

/* JSON view (never the key): {id,name,status,created_at,rate_limits:{...}}. */
json_t *ing_key_info_json(const struct ing_key_info *info);

#endif
