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
 * The admin key (ADMIN_API_KEY) opens the /admin routes only; it is not a
 * caller key.  Static keys get the per-key rates of RATE_LIMIT_PER_SECOND /
 * _MINUTE / _HOUR / _DAY (default none); managed keys carry their own.
 *
 * ing_auth_init() runs once before threads start; the rest is thread-safe.
 */
#ifndef ING_AUTH_H
#define ING_AUTH_H

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
};

struct ing_auth {
    enum ing_auth_kind kind;
    char owner[ING_OWNER_LEN + 1]; /* STATIC/MANAGED */
    char prefix[9];                /* first 6 characters of the presented key, "" */
    struct ing_key_info key;       /* id and rates (static keys: "static-<owner>") */
};

/* Hashes the configured keys of ing_cfg and ADMIN_API_KEY.  Returns 0 or -1. */
int ing_auth_init(void);

/* 1 when an admin key is configured. */
int ing_auth_admin_enabled(void);

/* Identifies the caller of `conn`; fills *out and returns out->kind. */
enum ing_auth_kind ing_auth_identify(struct MHD_Connection *conn, struct ing_auth *out);

/* 1 when the request carries a valid caller key (owner filled), else 0.
 * `prefix` receives the first characters of the presented key. */
int ing_auth_check(struct MHD_Connection *conn, char owner[ING_OWNER_LEN + 1], char prefix[9]);

#endif
