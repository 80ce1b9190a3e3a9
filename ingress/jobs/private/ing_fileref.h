/*
 * ing_fileref.h - authorising the file references of a job before it is
 * enqueued (POST /exec, POST /jobs, POST /jobs/batch).
 *
 * Each reference names its storage session (sch_file.session_id: LibreChat's
 * storage_session_id or the older session_id) and a kind.  The session's
 * record (ing_files.h) must exist and be readable by the job's caller
 * (job->owner = tenant, job->user_id = user; st_access.h): a user-kind or
 * execution session only by its own (tenant, user), an agent or skill
 * session by every user of its tenant.  The reference's kind must agree
 * with a shared session's recorded kind (a LibreChat "agent" reference to
 * a skill bucket is refused, like an unknown one).  A reference that fails
 * is answered 404 "file not found" naming the field ("files[2]"), audited
 * as access_denied, and nothing is enqueued; a Redis failure is a 503.
 * Whether the file itself exists is the worker's check at staging time.
 *
 * MHD threads, the thread's own redisContext; no deferred replies may be
 * pending on it (call before ing_pipe_begin()).
 */
#ifndef ING_FILEREF_H
#define ING_FILEREF_H

#include "ing_http.h"
#include "sch_types.h"

#include <hiredis/hiredis.h>

/* 0 when every file of `job` may be read by (job->owner, job->user_id);
 * otherwise -1 after queueing the 404 (or 503) into *ret.  `prefix` ("" or
 * "jobs[3]") goes before the field name of the error detail. */
int ing_fileref_authorise(struct ing_request *req, redisContext *c, const struct sch_job *job,
                          const char *prefix, enum MHD_Result *ret);

#endif
