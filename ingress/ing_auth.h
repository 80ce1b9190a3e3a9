/*
 * ing_auth.h - API key authentication.
 *
 * A caller presents its key in `x-api-key: KEY` or `Authorization: Bearer KEY`.
 * Keys are never stored or compared in the clear after start-up: each
 * configured key is reduced to its SHA-256 digest, and the presented key's
 * digest is compared against every configured digest in constant time.
 *
 * The caller's identity inside the system ("owner") is the first 16 hex
 * digits of the key's digest: it scopes sessions, files, state and jobs, and
 * appears in logs instead of the key.
 *
 * ing_auth_init() runs once before threads start; ing_auth_check() is
 * thread-safe.
 */
#ifndef ING_AUTH_H
#define ING_AUTH_H

#include <microhttpd.h>

#define ING_OWNER_LEN 16

/* Hashes the configured keys of ing_cfg.  Returns 0 or -1. */
int ing_auth_init(void);

/* 1 when the request carries a valid key (owner filled, NUL-terminated),
 * 0 when it carries none or a wrong one.  `prefix` receives the first
 * characters of the presented key (for audit logs), "" when absent. */
int ing_auth_check(struct MHD_Connection *conn, char owner[ING_OWNER_LEN + 1], char prefix[9]);

#endif
