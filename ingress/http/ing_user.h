/*
 * ing_user.h - the user a request acts for, inside its tenant (DESIGN.md §4).
 *
 * JWT mode: the token's `sub`, always (req->user_fixed; whatever the request
 * asserts is ignored).  Key mode: the key holder asserts it, first found of
 *   1. the body's `user_id` (POST /exec, /jobs, each /jobs/batch item),
 *   2. the `User-Id` header (LibreChat's uploads),
 *   3. the query `id` when the query says `kind=user` (LibreChat's file routes),
 *   4. the query `user_id` (older clients' file routes);
 * none of them: the key's own anonymous user "" - never a wildcard.
 * A user id is 1..128 UTF-8 characters without control characters; an
 * invalid one is a 422 naming where it came from.
 *
 * MHD threads; the strings returned point into the request (MHD-owned
 * header/query values or req->jwt_user) and live as long as it.
 */
#ifndef ING_USER_H
#define ING_USER_H

#include "ing_http.h"

#define ING_USER_MAX (4 * 128)

/* The request's user: "" for the anonymous user.  `body_user` is the
 * body's user_id (NULL when absent or not applicable).  Returns 0 with
 * *user set, or -1 after queueing a 422 into *ret. */
int ing_user_of(struct ing_request *req, const char *body_user, const char **user,
                enum MHD_Result *ret);

/* 1 when s[0..n) is 1..max_chars UTF-8 characters with no NUL and no
 * control character (the rule of user ids and of JWT sub/tenant claims). */
int ing_text_valid(const char *s, size_t n, size_t max_chars);

/* 1 when s is a valid user id (rules above). */
int ing_user_valid(const char *s);

#endif
