/*
 * ing_session.h - choosing the session a request runs in (DESIGN.md §4.1),
 * and reading the record that says whose a session is.
 *
 * Redis keys (TTL SESSION_TTL_HOURS, refreshed on use):
 *   ci:sess:<session_id>             hash {owner, user_id, entity_id, created_at, last_used
 *                                    [, kind, rid, ver, ro]}
 *   ci:ent:<owner>:<user>:<entity_id> string: the entity's current session id for that user
 *                                    (<user> is the user id's hex SHA-256 prefix, "-" for
 *                                    the anonymous user)
 *
 * owner is the tenant (API key identity or JWT tenant, ing_auth.h), user_id
 * the user inside it ("" = the tenant's anonymous user).  kind is absent for
 * execution sessions and "user" / "agent" / "skill" for storage sessions
 * made by an upload with `kind` (docs/files.md); who may use which is
 * common/storage/st_access.h's rule: an execution session belongs to
 * exactly one (owner, user_id) - a request without a user never enters a
 * session made with one, nor the reverse.  A request naming a session that
 * is not its own silently gets a fresh one, so existence is not revealed.
 *
 * Called on MHD threads with the thread's own redisContext.
 */
#ifndef ING_SESSION_H
#define ING_SESSION_H

#include <hiredis/hiredis.h>

#define ING_SESSION_ID_LEN 21

/* ci:ent:<owner>:<user or ->:<entity_id> (above).  ci:sess:<id> is
 * Q_SESS_PREFIX (queue/q_keys.h): the workers read it too. */
#define ING_ENTITY_PREFIX "ci:ent:"

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

/* A session's ownership record; strings "" when absent. */
struct ing_sess_rec {
    char owner[65];
    char user_id[4 * 128 + 1];
    char kind[8];
    char rid[4 * 128 + 1];
    char ver[24];
    int ro; /* "ro" is "1": the files may not be deleted */
};

/* Reads ci:sess:<session_id>.  1 with *rec filled when it exists, 0 when
 * not (or session_id is not a valid id), -EIO on Redis failure. */
int ing_session_record(redisContext *c, const char *session_id, struct ing_sess_rec *rec);

/* 1 when `session_id` exists and the caller (owner, user_id; NULL = the
 * anonymous user) may run in it: its own private session (st_access.h),
 * never a shared agent/skill storage session.  0 when not, -EIO on Redis
 * failure. */
int ing_session_owned(redisContext *c, const char *session_id, const char *owner,
                      const char *user_id);

#endif
