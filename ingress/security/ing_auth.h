/*
 * ing_auth.h - API key authentication.
 *
 * A caller presents its key in `x-api-key: KEY` or `Authorization: Bearer KEY`.
 * Keys are never stored or compared in the clear after start-up: each
 * configured key (API_KEY, API_KEYS, ADMIN_API_KEY) is reduced to its SHA-256
 * digest, and the presented key's digest is compared against every
 * configured digest in constant time (no early exit).  A key that matches no
 * static key is looked up as a managed key (ing_keys_cache.h: Redis, by
 * hash, cached 5 minutes, revocation immediate).
 *
 * The caller's identity inside the system ("owner") is the first 16 hex
 * digits of the key's digest: it scopes sessions, files, state and jobs, and
 * appears in logs instead of the key.  Only the first 6 characters of a key
 * are ever logged.
 *
 * JWT mode (ing_jwt.h, when CODEAPI_JWT_PUBLIC_KEY_FILE is set): a Bearer
 * value that is not a static key and has the shape of a JWT is verified as
 * LibreChat's signed token; the owner is then its tenant's identity and the
 * user its `sub`, fixed for the request (body and header user ids are
 * ignored).  Static and managed keys keep working next to it: the key
 * holder asserts the user (User-Id header, user_id field or query, or
 * kind=user&id=), and a request that names none is the key's own anonymous
 * user "".  A JWT that fails verification is a failed authentication.
 *
 * The admin key (ADMIN_API_KEY) opens the /admin routes only; it is not a
 * caller key.  Static keys get the per-key rates of RATE_LIMIT_PER_SECOND /
 * _MINUTE / _HOUR / _DAY (default none); managed keys carry their own.
 *
 * ing_auth_init() runs once before threads start; the rest is thread-safe.
 */
#ifndef ING_AUTH_H
#define ING_AUTH_H

#include "ing_jwt.h"
#include "ing_keys.h"

#include <microhttpd.h>

#define ING_OWNER_LEN 16

enum ing_auth_kind {
    ING_AUTH_NONE = 0,    /* no key presented */
    ING_AUTH_BAD,         /* unknown, disabled or revoked key */
    ING_AUTH_STATIC,      /* API_KEY / API_KEYS */
    ING_AUTH_MANAGED,     /* an active managed key */
    ING_AUTH_ADMIN,       /* ADMIN_API_KEY */
    ING_AUTH_UNAVAILABLE, /* not a static key, and Redis cannot say */
    ING_AUTH_JWT,         /* a verified LibreChat JWT (ing_jwt.h) */
};

/* 1 for the kinds that identify a caller (static, managed, JWT). */
#define ING_AUTH_IS_CALLER(k)                                                                      \
    ((k) == ING_AUTH_STATIC || (k) == ING_AUTH_MANAGED || (k) == ING_AUTH_JWT)

struct ing_auth {
    enum ing_auth_kind kind;
    char owner[ING_OWNER_LEN + 1]; /* STATIC/MANAGED */
    char prefix[9];                /* first 6 characters of the presented key, "" */
    struct ing_key_info key;       /* id and rates (static keys: "static-<owner>",
                                      JWT tenants: "jwt-<owner>") */
    struct ing_jwt_claims jwt;     /* JWT: sub (the user) and tenant */
    const char *why;               /* BAD: static reason for the audit, or NULL */
};

/* Hashes the configured keys of ing_cfg and ADMIN_API_KEY, loads the JWT
 * key (ing_jwt_init).  Returns 0, or -1 when no caller can authenticate
 * (neither a key nor JWT mode) or the JWT key is unusable. */
int ing_auth_init(void);

/* 1 when an admin key is configured. */
int ing_auth_admin_enabled(void);

/* Identifies the caller of `conn`; fills *out and returns out->kind. */
enum ing_auth_kind ing_auth_identify(struct MHD_Connection *conn, struct ing_auth *out);

/* 1 when the request carries a valid caller key or JWT (owner filled), else 0.
 * `prefix` receives the first characters of the presented key. */
int ing_auth_check(struct MHD_Connection *conn, char owner[ING_OWNER_LEN + 1], char prefix[9]);

#endif
