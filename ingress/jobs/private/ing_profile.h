/*
 * ing_profile.h - LibreChat's execution profiles and warm workspaces
 * (X-CodeAPI-Expected-Profile, runtime_session_hint; LIBRECHAT.md).
 *
 * The header asserts which profile the caller expects; this server provides
 * both, truthfully:
 *   default   every call is a fresh process in its (execution) session: files
 *             of the session are staged, Python state persists per session;
 *             a runtime_session_hint is ignored;
 *   stateful  the same, and a call's `runtime_session_hint` (the
 *             conversation) maps, per (tenant, user), to one session: every
 *             call with the same hint runs in it - its files and Python state,
 *             on its kept warm container - and the answer says
 *             "runtime_session_id" (that session) and "runtime_status"
 *             ("new" for the first call, "reused" after);
 *   absent    as stateful when a hint is given, else as default.
 * Any other value is a 400 (error_type execution_profile_mismatch), before
 * anything is queued.  The hint is 1..256 characters without control
 * characters (else 422).
 *
 * Redis: ci:hint:<owner>:<user tag or ->:<hint digest> -> session id, with
 * the session's TTL (SESSION_TTL_HOURS).  The mapped session is used only
 * when it is still the caller's own (ing_session_owned()).
 *
 * MHD threads, the thread's own redisContext.
 */
#ifndef ING_PROFILE_H
#define ING_PROFILE_H

#include "ing_http.h"

#include <hiredis/hiredis.h>
#include <jansson.h>

/* ci:hint:<owner>:<user tag or ->:<hint digest> (above). */
#define ING_HINT_PREFIX "ci:hint:"

/* Reads the header and the body's runtime_session_hint (body may be NULL).
 * 0 (req->hint_hex set when a hint applies), or -1 after queueing the 400
 * or 422 into *ret. */
int ing_profile_intake(struct ing_request *req, const json_t *body, enum MHD_Result *ret);

/* The session the hint maps to, into wanted (>= 65 bytes; "" when none).
 * 0, or -EIO. */
int ing_profile_hint_session(redisContext *c, struct ing_request *req, char *wanted);

/* After the session is chosen (req->session_id): records the mapping and
 * req->runtime_status ("new" unless `wanted` was kept).  0 or -EIO. */
int ing_profile_remember(redisContext *c, struct ing_request *req, const char *wanted);

/* Adds runtime_session_id / runtime_status to a response object when a
 * hint applied. */
void ing_profile_annotate(const struct ing_request *req, json_t *o);

#endif
