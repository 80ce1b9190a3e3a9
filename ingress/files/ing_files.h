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
 * tenant and user, ing_user.h): another caller cannot tell a foreign session
 * from a missing one.  The query may add LibreChat's `kind` (user, agent,
 * skill), `id` and `version`: `kind=user&id=<user>` asserts the user in key
 * mode; a shared (agent/skill) session is reached only under its own kind
 * and, when given, version.  Deleting from a skill or read_only session
 * answers 403 read_only.  File bytes and metadata live in storage
 * (st_files.h).
 *
 * Expiry: sessions expire in Redis (SESSION_TTL_HOURS, ing_session.h).  A
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

#endif
