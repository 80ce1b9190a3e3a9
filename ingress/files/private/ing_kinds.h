/*
 * ing_kinds.h - LibreChat's storage sessions by kind (docs/files.md).
 *
 * An upload with form field `kind` stores into a long-lived storage session
 * whose id is derived, not drawn: the first 21 characters of the base64url
 * SHA-256 of ("ci-storage-v1", owner, kind, key) with
 *   user   key = the uploading user (ing_http.h; "" = anonymous): private,
 *   agent  key = the agent id (form `id`): shared by the tenant's users,
 *   skill  key = the skill id and version (`id`, `version`): shared by the
 *          tenant's users, read-only,
 * which is LibreChat's own session key `<tenant>:<kind>:<id>[:v:<version>]`
 * (for user files the id is the authenticated user, whatever `id` says).
 * The same (tenant, kind, key) always lands in the same 21-character id
 * (the length of LibreChat's nanoids), so no index is needed and several
 * ingress hosts agree.  The session's record (ing_files.h: owner,
 * user_id, kind, rid, ver, ro) is written on first use and its TTL
 * (SESSION_TTL_HOURS) refreshed on each upload; files and sweeping work as
 * for any session.  Who may then read or change them is st_access.h's rule;
 * `read_only=true` (or kind skill) makes the session's files undeletable.
 *
 * MHD threads, the thread's own redisContext.
 */
#ifndef ING_KINDS_H
#define ING_KINDS_H

#include "sch_types.h"

#include <hiredis/hiredis.h>

#define ING_KIND_ID_MAX 128

/* Derives the storage session id of (owner, kind, key...) into sid (>= 22
 * bytes).  `user` is used for SCH_FILE_KIND_USER, `rid`/`version` for the
 * others (NULL = ""). */
void ing_kind_session_id(const char *owner, enum sch_file_kind kind, const char *user,
                         const char *rid, const char *version, char sid[22]);

/* Finds or records the storage session for an upload and refreshes its
 * TTL.  Returns 0 with sid filled, -EEXIST when the derived id is held by a
 * record that is not this one (a hash collision: refused), -EIO on Redis
 * failure. */
int ing_kind_session(redisContext *c, const char *owner, enum sch_file_kind kind, const char *user,
                     const char *rid, const char *version, int read_only, char sid[65]);

#endif
