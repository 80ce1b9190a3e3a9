/*
 * ing_pipe.h - deferred Redis replies: several writes in one round trip.
 *
 * The intake of /exec and /jobs writes the session record, the audit
 * counters/list and the job itself.  Between ing_pipe_begin() and
 * ing_pipe_end() cooperating writers (ing_audit.c's Redis copy, the session
 * writes of ing_session_choose_piped()) only append their commands to the
 * thread's redisContext (ing_redis.h) and count the replies they leave
 * unread with ing_pipe_add(); the caller then sends its last command (the
 * enqueue script) and reads the pending replies first (q_enqueue_after()),
 * so all of it costs one round trip.
 *
 * Invariant: while deferring, nothing else may read a reply on that
 * context, so the window holds only appends (no redisCommand()).  State is
 * per thread (MHD threads each own one context); not reentrant.
 */
#ifndef ING_PIPE_H
#define ING_PIPE_H

/* Starts deferring on this thread (pending count 0). */
void ing_pipe_begin(void);

/* 1 while deferring on this thread. */
int ing_pipe_active(void);

/* Records n appended commands whose replies are left unread. */
void ing_pipe_add(int n);

/* Stops deferring; returns the number of replies still to be read. */
int ing_pipe_end(void);

#endif
