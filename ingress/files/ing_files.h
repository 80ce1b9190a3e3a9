/*
 * ing_files.h - the file routes of DESIGN.md §4.1 and their storage.
 *
 *   POST   /upload                          ing_upload.c (multipart, streamed)
 *   GET    /files/{session_id}?detail=      summary (default) | simple | full
 *   GET    /download/{session_id}/{file_id}
 *   DELETE /files/{session_id}/{file_id}
 *   POST   /upload/batch                    ing_upload.c
 *   GET    /sessions/{sid}/objects/{fid}    LibreChat's freshness probe: the file's
 *                                           {id, fileId, storage_session_id, session_id,
 *                                            originalFilename, size, lastModified, etag,
 *                                            contentType}
 *   DELETE /sessions/{sid}/objects/{fid}    as DELETE /files/{sid}/{fid}
 *
 * Every route answers 404 unless the session exists in Redis and the caller
 * may use it (ing_files_access(): st_access.h's rule for the caller's
 * tenant and user, ing_http.h): another caller cannot tell a foreign session
 * from a missing one.  The query may add LibreChat's `kind` (user, agent,
 * skill), `id` and `version`: `kind=user&id=<user>` asserts the user in key
 * mode; a shared (agent/skill) session is reached only under its own kind
 * and, when given, version.  Deleting from a skill or read_only session
 * answers 403 read_only.  File bytes and metadata live in storage
 * (st_files.h).
 *
 * Expiry: sessions expire in Redis (SESSION_TTL_HOURS, sessions below).  A
 * sweeper thread started by ing_files_start() lists files/ in storage every
 * SESSION_SWEEP_SECONDS (default 300) and purges the files of every session
 * whose ci:sess:<id> record is gone.  Until the sweep runs, such files are
 * already unreachable (the routes answer 404 and the worker refuses them).
 *
 * Threads: handlers run on MHD threads; the store is opened once (first
 * use or ing_files_start()) and shared.
 */
#ifndef ING_FILES_H
#define ING_FILES_H

#include "ing_http.h"
#include "st_store.h"

#include <hiredis/hiredis.h>

/* The shared store, opened from the environment on first use; NULL when
 * the configuration is unusable (logged). */
struct st_store *ing_storage(void);

/* Opens the store and starts the expiry sweeper.  0 or -1 (bad storage
 * configuration, logged). */
int ing_files_start(void);

/* Multipart intake hooks called by ing_server.c for ING_BODY_MULTIPART
 * routes.  begin: checks Content-Type (415) and Content-Length (413) and
 * sets up the post processor in req->scratch; returns 0, or -1 with an
 * error queued (*ret).  feed: passes body bytes to the post processor. */
int ing_upload_begin(struct ing_request *req, enum MHD_Result *ret);
void ing_upload_feed(struct ing_request *req, const char *data, size_t len);

enum MHD_Result ing_h_upload(struct ing_request *req);
enum MHD_Result ing_h_files_list(struct ing_request *req);
enum MHD_Result ing_h_files_download(struct ing_request *req);
enum MHD_Result ing_h_files_delete(struct ing_request *req);

enum MHD_Result ing_h_objects_get(struct ing_request *req);

/* Shared by the handlers: 1 when the caller may read (write 0) or change
 * (write 1) the files of the session in req->params[0]; 0 after queueing
 * 404 (or 403 read_only, 422 bad query, 503) into *ret. */
int ing_files_access(struct ing_request *req, int write, enum MHD_Result *ret);

/*
 * ---- Sessions (ing_session.c) ----
 *
 * Choosing the session a request runs in (DESIGN.md §4.1),
 * and reading the record that says whose a session is.
 *
 * Redis keys (TTL SESSION_TTL_HOURS, refreshed on use):
 *   ci:sess:<session_id>             hash {owner, user_id, entity_id, created_at, last_used
 *                                    [, kind, rid, ver, ro]}
 *   ci:ent:<owner>:<user>:<entity_id> string: the entity's current session id for that user
 *                                    (<user> is the user id's hex SHA-256 prefix, "-" for
 *                                    the anonymous user)
 *
 * owner is the tenant (API key identity or JWT tenant, ing_sec.h), user_id
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
 * replies the caller must read (q_enqueue_after() does, ing_redis.h).  Any
 * lookups it needs are still separate round trips.  0 or -EIO (then
 * nothing is pending). */
int ing_session_choose_piped(redisContext *c, const char *owner, const char *user_id,
                             const char *entity_id, const char *wanted, char *out, int *pending);

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
