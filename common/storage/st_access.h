/*
 * st_access.h - who may read or change the files of a storage session:
 * the one ownership rule shared by the ingress (before it enqueues a job or
 * serves a file route) and the worker (before it stages a file).
 *
 * A session's record (Redis ci:sess:<sid>, ingress/files/ing_files.h) names its
 * owner - the tenant: an API key's identity or a JWT tenant - its user
 * ("" = the tenant's anonymous user) and its kind:
 *   "" or "user"  private to (owner, user_id): execution sessions and
 *                 LibreChat's user-kind storage sessions;
 *   "agent"       shared by every user of the owner (one agent's files);
 *   "skill"       shared by every user of the owner, read-only (one skill
 *                 version's files).
 * A caller (tenant, user) may read a session when the owners match and,
 * for a private one, the users match exactly: an absent user is the
 * anonymous user "", never a wildcard.  Writes (delete, upload into it)
 * follow the same rule, except that skill sessions are never written
 * after they are made (ST_ACCESS_READONLY).
 *
 * Pure functions of their arguments; any thread.  NULL strings count as "".
 */
#ifndef ST_ACCESS_H
#define ST_ACCESS_H

enum st_access {
    ST_ACCESS_DENIED = 0, /* not the caller's: answer as if it did not exist */
    ST_ACCESS_OK = 1,
    ST_ACCESS_READONLY = 2 /* visible to the caller but may not be changed */
};

/* 1 when the recorded kind is a shared one ("agent" or "skill"). */
int st_access_shared_kind(const char *rec_kind);

/* ST_ACCESS_OK or ST_ACCESS_DENIED for reading files of a session whose
 * record says (rec_owner, rec_user, rec_kind), by caller (tenant, user).
 * An empty rec_owner (no record) is always DENIED. */
enum st_access st_access_read(const char *rec_owner, const char *rec_user, const char *rec_kind,
                              const char *tenant, const char *user);

/* As st_access_read(), for changing them: READONLY for a skill session
 * the caller may read. */
enum st_access st_access_write(const char *rec_owner, const char *rec_user, const char *rec_kind,
                               const char *tenant, const char *user);

#endif
