/*
 * ing_session.h - choosing the session a request runs in (DESIGN.md §4.1).
 *
 * Redis keys (TTL SESSION_TTL_HOURS, refreshed on use):
 *   ci:sess:<session_id>             hash {owner, user_id, entity_id, created_at, last_used}
 *   ci:ent:<owner>:<entity_id>        string: the entity's current session id
 *
 * A session belongs to the owner (API key identity) that created it, and to
 * its user_id when one was given: another owner, or the same owner with a
 * different user_id, never gets it (the request silently gets a fresh
 * session, so existence is not revealed).
 *
 * Called on MHD threads with the thread's own redisContext.
 */
#ifndef ING_SESSION_H
#define ING_SESSION_H

#include <hiredis/hiredis.h>

#define ING_SESSION_ID_LEN 21

/* Picks: `wanted` if it exists and belongs to the caller; else the session
 * the caller's `entity_id` already has; else a new one (recorded).  NULL
 * arguments mean absent.  Writes the id to out (>= 65 bytes).  Returns 0,
 * or -EIO when Redis failed. */
int ing_session_choose(redisContext *c, const char *owner, const char *user_id,
                       const char *entity_id, const char *wanted, char *out);

/* The same, but the session's writes (last_used, TTL, entity pointer; the
 * record of a new one) are only appended to c: *pending gets the number of
 * replies the caller must read (q_enqueue_after() does, ing_pipe.h).  Any
 * lookups it needs are still separate round trips.  0 or -EIO (then
 * nothing is pending). */
int ing_session_choose_piped(redisContext *c, const char *owner, const char *user_id,
                             const char *entity_id, const char *wanted, char *out,
                             int *pending);

/* 1 when `session_id` exists and belongs to owner (and user_id when the
 * session has one and user_id is given), 0 when not, -EIO on Redis failure. */
int ing_session_owned(redisContext *c, const char *session_id, const char *owner,
                      const char *user_id);

#endif
