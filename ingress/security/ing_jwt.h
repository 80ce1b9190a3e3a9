/*
 * ing_jwt.h - LibreChat's signed caller tokens (JWT mode, DESIGN.md §4).
 *
 * LibreChat (packages/api/src/auth/codeapi.ts) mints a short-lived JWT per
 * user and sends `Authorization: Bearer <JWT>`: header {alg, typ, kid},
 * claims {iss, aud, sub, iat, nbf, exp, jti, tenant_id, role, ...}, signed
 * with Ed25519 ("EdDSA") or RSA ("RS256").  This server verifies it with
 * the public key in CODEAPI_JWT_PUBLIC_KEY_FILE (PEM):
 *   - the key's type fixes the algorithm (Ed25519 key: EdDSA, RSA key:
 *     RS256); a header whose `alg` differs - "none", "HS256" signed with the
 *     public key as a secret, the other asymmetric one - is refused, as is a
 *     header with `crit`;
 *   - the signature is checked by OpenSSL EVP (EVP_DigestVerify); base64url
 *     is decoded by EVP_DecodeBlock after translating the alphabet; the
 *     JSON parts by jansson;
 *   - `iss` must equal CODEAPI_JWT_ISSUER (default "librechat"); `aud` (a
 *     string, or an array holding it) must equal CODEAPI_JWT_AUDIENCE when
 *     that is set; `exp` is required, `nbf` and `iat` are checked when
 *     present, each with CODEAPI_JWT_CLOCK_SKEW_SECONDS (default 30) of
 *     allowance; a token may live at most CODEAPI_JWT_MAX_LIFETIME_SECONDS
 *     (default 3600; LibreChat's are 300) from iat (or nbf) to exp;
 *   - `sub` (1..128 characters) is the user; `tenant_id` the tenant, and
 *     a token without it belongs to CODEAPI_JWT_DEFAULT_TENANT (default
 *     "legacy", LibreChat's own single-tenant id).
 * The caller's owner (ing_auth.h) is then the first 16 hex digits of
 * SHA-256("jwt-tenant:" + tenant_id): tenants never meet API keys' owners.
 *
 * ing_jwt_init() runs once before threads start; ing_jwt_verify() is
 * thread-safe (the key is read-only after init).
 */
#ifndef ING_JWT_H
#define ING_JWT_H

#include <stddef.h>
#include <stdint.h>

#define ING_JWT_MAX_BYTES 8192
#define ING_JWT_SUB_MAX 128

struct ing_jwt_claims {
    char sub[4 * ING_JWT_SUB_MAX + 1];
    char tenant[4 * ING_JWT_SUB_MAX + 1];
    char owner[17]; /* hex tenant identity */
};

/* Reads the JWT settings; loads the key when CODEAPI_JWT_PUBLIC_KEY_FILE is
 * set.  Returns 0, or -1 after logging why the key cannot be used. */
int ing_jwt_init(void);

/* 1 when JWT mode is configured. */
int ing_jwt_enabled(void);

/* 1 when `token` has the shape of a JWT (three base64url parts). */
int ing_jwt_looks_like(const char *token);

/* Verifies `token` at unix time `now_s`.  0 with *out filled, or -1 with
 * *why pointing to a static reason (for the audit, never for the caller). */
int ing_jwt_verify(const char *token, int64_t now_s, struct ing_jwt_claims *out, const char **why);

#endif
