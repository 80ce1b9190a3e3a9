/*
 * ing_keys_cache.h - validation of managed keys with a per-process cache.
 *
 * A presented key that is not one of the static keys is looked up in Redis
 * by its SHA-256 (ing_keys.h); an active key's record is cached for
 * ING_KEYS_CACHE_MS (5 minutes).  Only active keys are cached, so a key
 * created elsewhere works at once.
 *
 * Revocation is immediate everywhere: every status change bumps
 * ci:keys:epoch (ING_KEYS_EPOCH), which each cache hit compares with one
 * GET (a changed epoch empties the cache), and is published on
 * ci:keys:revoked; the ingress notifier thread (ing_wait.c) calls
 * ing_keys_cache_drop() for each message.  A generation counter makes a
 * lookup that raced with a drop not re-insert the stale record.  While the
 * subscription is down (ing_keys_cache_set_live(0)), nothing is cached and
 * every lookup goes to Redis; on (re)subscription the cache starts empty.
 *
 * Thread-safe (one mutex); call from any thread.
 */
#ifndef ING_KEYS_CACHE_H
#define ING_KEYS_CACHE_H

#include "ing_keys.h"

#include <stddef.h>

#define ING_KEYS_CACHE_MS (5 * 60 * 1000)

/* 1 when `hash` names an active managed key (info filled), 0 when not,
 * -EIO when Redis cannot say. */
int ing_keys_validate(const char *hash, struct ing_key_info *info);

/* Drops the cached record of `hash` (len bytes, not NUL-terminated). */
void ing_keys_cache_drop(const char *hash, size_t len);

/* The notifier's subscription state: 0 empties and disables the cache, 1
 * enables it (empty). */
void ing_keys_cache_set_live(int live);

/* Number of cached records (for tests and stats). */
size_t ing_keys_cache_size(void);

#endif
