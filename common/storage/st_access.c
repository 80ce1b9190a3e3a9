/*
 * st_access.c - the ownership rule of storage sessions (see st_access.h).
 */
#include "st_access.h"

#include <string.h>

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

int st_access_shared_kind(const char *rec_kind)
{
    const char *k = or_empty(rec_kind);
    return strcmp(k, "agent") == 0 || strcmp(k, "skill") == 0;
}

enum st_access st_access_read(const char *rec_owner, const char *rec_user, const char *rec_kind,
                              const char *tenant, const char *user)
{
    const char *k = or_empty(rec_kind);
    if (!*or_empty(rec_owner) || strcmp(rec_owner, or_empty(tenant)) != 0)
        return ST_ACCESS_DENIED;
    if (st_access_shared_kind(k))
        return ST_ACCESS_OK;
    if (*k && strcmp(k, "user") != 0)
        return ST_ACCESS_DENIED; /* a kind this build does not know: nobody's */
    return strcmp(or_empty(rec_user), or_empty(user)) == 0 ? ST_ACCESS_OK : ST_ACCESS_DENIED;
}

enum st_access st_access_write(const char *rec_owner, const char *rec_user, const char *rec_kind,
                               const char *tenant, const char *user)
{
    enum st_access a = st_access_read(rec_owner, rec_user, rec_kind, tenant, user);
    if (a == ST_ACCESS_OK && strcmp(or_empty(rec_kind), "skill") == 0)
        return ST_ACCESS_READONLY;
    return a;
}
