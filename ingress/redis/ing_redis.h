/*
 * ing_redis.h - one synchronous hiredis connection per ingress thread.
 *
 * MHD serves requests on a pool of threads; each thread lazily opens its own
 * redisContext (connect timeout 2 s, command timeout 5 s, AUTH when
 * REDIS_PASSWORD is set) and keeps it for its life.  A command that fails at
 * the connection level makes the caller call ing_redis_reset(), and the next
 * ing_redis() reconnects.  The context belongs to the thread; never pass it
 * to another.
 */
#ifndef ING_REDIS_H
#define ING_REDIS_H

#include <hiredis/hiredis.h>

/* The calling thread's connection, or NULL when Redis cannot be reached. */
redisContext *ing_redis(void);

/* Drops the calling thread's connection (after an I/O error). */
void ing_redis_reset(void);

/* Opens a fresh connection from the configuration (the caller frees it with
 * redisFree).  NULL on failure, logged. */
redisContext *ing_redis_connect(void);

#endif
