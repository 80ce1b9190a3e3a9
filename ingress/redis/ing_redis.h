/*
 * ing_redis.h - one synchronous hiredis connection per ingress thread.
 *
 * MHD serves requests on a pool of threads; each thread lazily opens its own
 * redisContext (connect timeout 2 s, command timeout 5 s, AUTH when
 * REDIS_PASSWORD is set) and keeps it for its life.  A command that fails at
 * the connection level makes the caller call ing_redis_reset(), and the next
 * ing_redis() reconnects.  The context belongs to the thread; never pass it
 * to another.
 *
 * Below: pipelines, deferring the replies of several writes so they cost one
 * round trip (ing_pipe.c).
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

/*
 * ---- Pipelines (ing_pipe.c) ----
 *
 * Deferred Redis replies: several writes in one round trip.
 *
 * The intake of /exec and /jobs writes the session record, the audit
 * counters/list and the job itself.  Between ing_pipe_begin() and
 * ing_pipe_end() cooperating writers (ing_audit.c's Redis copy, the session
 * writes of ing_session_choose_piped()) only append their commands to the
 * thread's redisContext (ing_redis() above) and count the replies they leave
 * unread with ing_pipe_add(); the caller then sends its last command (the
 * enqueue script) and reads the pending replies first (q_enqueue_after()),
 * so all of it costs one round trip.
 *
 * Invariant: while deferring, nothing else may read a reply on that
 * context, so the window holds only appends (no redisCommand()).  State is
 * per thread (MHD threads each own one context); not reentrant.
 */

/* Starts deferring on this thread (pending count 0). */
void ing_pipe_begin(void);

/* 1 while deferring on this thread. */
int ing_pipe_active(void);

/* Records n appended commands whose replies are left unread. */
void ing_pipe_add(int n);

/* Stops deferring; returns the number of replies still to be read. */
int ing_pipe_end(void);

#endif
