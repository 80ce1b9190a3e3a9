/*
 * ing_sec.h - the security gate every request passes before its route runs.
 *
 * ing_sec_gate(), called once per request from ing_server.c's begin():
 *   1. endpoint text and client IP (ing_clientip.h: X-Forwarded-For only from
 *      TRUSTED_PROXIES);
 *   2. URL and header size bounds: 414 above MAX_URL_BYTES (8192), 431 above
 *      MAX_HEADER_BYTES (16384) of header names and values;
 *   3. public routes pass; everything else:
 *   4. the key is identified (ing_auth_identify(), below): /admin/... routes need
 *      ADMIN_API_KEY, other routes a caller key;
 *   5. brute-force lock-out: an IP with AUTH_FAIL_LIMIT (10) failed attempts
 *      in its AUTH_FAIL_WINDOW_SECONDS (3600) window gets 429 + Retry-After,
 *      whatever key it presents (one Redis round trip, which also counts a
 *      successful authentication in ci:audit:stats); then a caller key on an
 *      admin route answers 403, and a missing or wrong key goes to
 *      ing_sec_auth_failed(): counted against the IP first, atomically
 *      (ing_ratelimit.h), then 429 when the IP was already at the limit,
 *      else audited and 401.  However many wrong keys arrive in parallel, at
 *      most AUTH_FAIL_LIMIT of them are answered 401;
 *   6. per-key rates (ing_ratelimit.h): X-RateLimit-Limit/-Remaining/-Reset
 *      on the response, 429 + Retry-After when exceeded.
 * Every authentication outcome and every refusal is audited (ing_audit.h).
 *
 * The X-RateLimit-* headers reach the response through
 * ing_sec_add_headers(), called by ing_reply for every response; it reads
 * the request the calling MHD thread is serving (ing_sec_set_current(),
 * set by ing_server.c on entry to its request callback).
 *
 * ing_sec_init() runs once before threads start; the rest on MHD threads.
 *
 * Below the gate, in order: JWT mode (ing_jwt.c), managed keys in Redis
 * (ing_keys.c), authentication (ing_auth.c), the managed-key cache
 * (ing_keys_cache.c), content scans (ing_scan.c) and the admin routes
 * (ing_admin.c).  The request types are ing_http.h's.
 */
#ifndef ING_SEC_H
#define ING_SEC_H

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <microhttpd.h>
#include <stddef.h>
#include <stdint.h>

struct ing_request;
struct ing_route;

struct ing_sec_config {
    long auth_fail_limit;    /* AUTH_FAIL_LIMIT, 0 = no lock-out */
    long auth_fail_window_s; /* AUTH_FAIL_WINDOW_SECONDS */
    long auth_fail_ips_max;  /* AUTH_FAIL_IPS_MAX: bound of ci:authfail:ips */
    size_t max_url_bytes;    /* MAX_URL_BYTES */
    size_t max_header_bytes; /* MAX_HEADER_BYTES */
};

extern struct ing_sec_config ing_sec_cfg;

/* Reads the settings, trusted proxies and the audit file.  Returns 0. */
int ing_sec_init(void);

/* Returns 0 when the request may go on (owner/key_prefix filled for
 * authenticated routes), or 1 after queueing a refusal into *ret. */
int ing_sec_gate(struct ing_request *req, const struct ing_route *route, const char *method,
                 const char *url, enum MHD_Result *ret);

/* A failed authentication of any kind (bad or missing key; "lcapi": a bad
 * JWT): counts it against the client IP atomically BEFORE deciding, then
 * queues 429 + Retry-After when the IP was already locked out (audited as
 * rate_limit), else audits an authentication failure with `reason` and
 * queues 401 authentication_error with `message` (NULL: the API-key text).
 * Always returns 1 (refused; *ret holds the queueing result). */
int ing_sec_auth_failed(struct ing_request *req, const char *reason, const char *message,
                        enum MHD_Result *ret);

/* The request being served by the calling thread (NULL: none). */
void ing_sec_set_current(struct ing_request *req);
/* Clears the calling thread's current request if it is `req`. */
void ing_sec_forget(struct ing_request *req);

/* Adds X-RateLimit-* of the current request to `r` (no-op without one). */
void ing_sec_add_headers(struct MHD_Response *r);

/* ---- audit hooks for the handlers (ing_sec_audit.c) ---- */
struct sch_job;
struct q_job_info;

/* Scans job->code (ing_scan_code(), below), stores the findings in job->warnings and
 * audits a code_execution event (phase "submitted", language, warnings). */
void ing_sec_scan_job(struct ing_request *req, struct sch_job *job);

/* Audits the outcome of a finished /exec (status, exit code, warnings). */
void ing_sec_exec_outcome(struct ing_request *req, const struct q_job_info *info);

/* Audits an attempt on another caller's resource (answered 404). */
void ing_sec_denied(struct ing_request *req, const char *resource, const char *id,
                    const char *reason);

/* Audits a file operation that succeeded: event_type file_upload (nfiles
 * stored), file_download or file_delete (file_id). */
void ing_sec_file_event(struct ing_request *req, const char *event_type, const char *session_id,
                        const char *file_id, size_t nfiles);

/* Audits an upload that was refused (bad file name, type, size, count or
 * form): event_type file_upload, success false, with the error type, the
 * offending field when known and the message sent to the caller. */
void ing_sec_upload_refused(struct ing_request *req, const char *error_type, const char *field,
                            const char *message);

/* Audits when the request named a session it cannot use (another caller's
 * or gone) and got a fresh one instead. */
void ing_sec_session_chosen(struct ing_request *req, const char *given);

/*
 * ---- JWT mode (ing_jwt.c) ----
 *
 * LibreChat's signed caller tokens (JWT mode, DESIGN.md §4).
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
 * The caller's owner (authentication, below) is then the first 16 hex digits of
 * SHA-256("jwt-tenant:" + tenant_id): tenants never meet API keys' owners.
 *
 * ing_jwt_init() runs once before threads start; ing_jwt_verify() is
 * thread-safe (the key is read-only after init).
 */

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

/*
 * ---- Managed keys (ing_keys.c) ----
 *
 * Managed API keys kept in Redis (only a hash of each key).
 *
 * Layout:
 *   ci:key:<sha256 hex of the key>  hash {id, name, created_at (unix ms),
 *                                   status active|disabled|revoked,
 *                                   rate_second, rate_minute, rate_hour,
 *                                   rate_day (0 = no limit)}
 *   ci:keys                         hash id -> sha256 hex (for listing and
 *                                   lookup by id)
 *   ci:keys:revoked                 pub/sub channel: the sha256 hex of a key
 *                                   whose status changed; every ingress drops
 *                                   it from its validation cache at once.
 *
 * The key itself ("cik_" + 40 hex digits of randomness) is shown once, at
 * creation, and never stored.  "revoked" is final; "disabled" may be
 * re-enabled.
 *
 * These store functions take any redisContext (the admin routes pass their
 * thread's, the ci-keys tool its own) and are thread-safe in that sense.
 * They return 0, -ENOENT (no such key id), -EINVAL, or -EIO (Redis).
 */

#define ING_KEY_HASH_PREFIX "ci:key:"
#define ING_KEYS_INDEX "ci:keys"
#define ING_KEYS_CHANNEL "ci:keys:revoked"
/* Bumped (INCR) by every status change before it is published: an ingress
 * compares it on each cache hit, so a change is effective on the very next
 * request everywhere, even before the pub/sub message arrives. */
#define ING_KEYS_EPOCH "ci:keys:epoch"
#define ING_KEY_HEX_LEN 64

enum ing_key_status { ING_KEY_ACTIVE = 0, ING_KEY_DISABLED, ING_KEY_REVOKED, ING_KEY_UNKNOWN };
enum ing_rl_period { ING_RL_SECOND = 0, ING_RL_MINUTE, ING_RL_HOUR, ING_RL_DAY, ING_RL_COUNT };

struct ing_key_info {
    char id[32];
    char name[128];
    char hash[ING_KEY_HEX_LEN + 1];
    int64_t created_at;
    enum ing_key_status status;
    long rate[ING_RL_COUNT]; /* requests per period, 0 = unlimited */
};

extern const char *const ing_rl_period_names[ING_RL_COUNT]; /* "second", ... */
extern const long ing_rl_period_seconds[ING_RL_COUNT];      /* 1, 60, ... */

const char *ing_key_status_name(enum ing_key_status st);
enum ing_key_status ing_key_status_from_name(const char *s);

/* SHA-256 of `key` as 64 lowercase hex digits. */
void ing_key_hash_hex(const char *key, size_t len, char out[ING_KEY_HEX_LEN + 1]);

/* Creates an active key named `name` with `rate` (may be NULL).  The new
 * key is written to key_out (at least 48 bytes); info filled. */
int ing_keys_create(redisContext *c, const char *name, const long *rate, char *key_out,
                    size_t keysz, struct ing_key_info *info);

/* By id, or by the key's hash hex. */
int ing_keys_get(redisContext *c, const char *id, struct ing_key_info *info);
int ing_keys_get_by_hash(redisContext *c, const char *hash, struct ing_key_info *info);

/* All keys (malloc'd array, caller frees). */
int ing_keys_list(redisContext *c, struct ing_key_info **out, size_t *n);

/* Sets the status (revoked is final: -EPERM to leave it) and publishes the
 * key's hash on ING_KEYS_CHANNEL.  *receivers gets PUBLISH's count when not
 * NULL. */
int ing_keys_set_status(redisContext *c, const char *id, enum ing_key_status st,
                        long long *receivers);

/* JSON view (never the key): {id,name,status,created_at,rate_limits:{...}}. */
json_t *ing_key_info_json(const struct ing_key_info *info);

/*
 * ---- Authentication (ing_auth.c) ----
 *
 * API key authentication.
 *
 * A caller presents its key in `x-api-key: KEY` or `Authorization: Bearer KEY`.
 * Keys are never stored or compared in the clear after start-up: each
 * configured key (API_KEY, API_KEYS, ADMIN_API_KEY) is reduced to its SHA-256
 * digest, and the presented key's digest is compared against every
 * configured digest in constant time (no early exit).  A key that matches no
 * static key is looked up as a managed key (the managed-key cache, below: Redis, by
 * hash, cached 5 minutes, revocation immediate).
 *
 * The caller's identity inside the system ("owner") is the first 16 hex
 * digits of the key's digest: it scopes sessions, files, state and jobs, and
 * appears in logs instead of the key.  Only the first 6 characters of a key
 * are ever logged.
 *
 * JWT mode (ing_jwt.c above, when CODEAPI_JWT_PUBLIC_KEY_FILE is set): a Bearer
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

#define ING_OWNER_LEN 16

enum ing_auth_kind {
    ING_AUTH_NONE = 0,    /* no key presented */
    ING_AUTH_BAD,         /* unknown, disabled or revoked key */
    ING_AUTH_STATIC,      /* API_KEY / API_KEYS */
    ING_AUTH_MANAGED,     /* an active managed key */
    ING_AUTH_ADMIN,       /* ADMIN_API_KEY */
    ING_AUTH_UNAVAILABLE, /* not a static key, and Redis cannot say */
    ING_AUTH_JWT,         /* a verified LibreChat JWT (ing_jwt.c) */
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

/*
 * ---- The managed-key cache (ing_keys_cache.c) ----
 *
 * Validation of managed keys with a per-process cache.
 *
 * A presented key that is not one of the static keys is looked up in Redis
 * by its SHA-256 (managed keys, above); an active key's record is cached for
 * ING_KEYS_CACHE_MS (5 minutes).  Only active keys are cached, so a key
 * created elsewhere works at once.
 *
 * Revocation is immediate everywhere: every status change bumps
 * ci:keys:epoch (ING_KEYS_EPOCH), which each cache hit compares with one
 * GET (a changed epoch empties the cache), and is published on
 * ci:keys:revoked; the ingress notifier thread (ing_wait.c) calls
 * ing_keys_cache_drop() for each message.  A generation counter makes a
 * lookup that raced with a drop not re-insert the stale record.  While the
 * subscription is down (ing_keys_cache_set_live(0)), nothing is cached and
 * every lookup goes to Redis; on (re)subscription the cache starts empty.
 *
 * Thread-safe (one mutex); call from any thread.
 */

#define ING_KEYS_CACHE_MS (5 * 60 * 1000)

/* 1 when `hash` names an active managed key (info filled), 0 when not,
 * -EIO when Redis cannot say. */
int ing_keys_validate(const char *hash, struct ing_key_info *info);

/* Drops the cached record of `hash` (len bytes, not NUL-terminated). */
void ing_keys_cache_drop(const char *hash, size_t len);

/* The notifier's subscription state: 0 empties and disables the cache, 1
 * enables it (empty). */
void ing_keys_cache_set_live(int live);

/* Number of cached records (for tests and stats). */
size_t ing_keys_cache_size(void);

/*
 * ---- Content scans (ing_scan.c) ----
 *
 * Checks of untrusted content that warn or refuse.
 *
 * Code scan (SECURITY.md "Code Validation"): the program text is searched
 * for the spec's dangerous patterns - system imports (import os /
 * subprocess / sys / shutil / socket / ctypes / pty, from X import,
 * require('child_process')), dynamic evaluation (eval( exec( __import__( ),
 * file functions (open( file( ), input functions (input( raw_input( ).  A
 * name matches only as a whole word (reopen( or my_eval( do not), spaces
 * before '(' allowed.  Findings become warnings in the result and the audit
 * log; they never block a job (the code runs in a sandbox anyway).
 *
 * File names (SECURITY.md "Filename Validation"): sch_valid_filename()
 * (length 1..255, no '/', '\\', NUL or control characters, not . or ..,
 * UTF-8) plus no dangerous characters (< > : " | ? * ; & $ `) and an
 * extension from the spec's whitelist (case-insensitive, st_files.h).
 *
 * Pure functions, thread-safe, no I/O.
 */

#define ING_SCAN_MAX_WARNINGS 16

/* Appends one malloc'd warning per distinct finding to (*warnings, *n)
 * (at most ING_SCAN_MAX_WARNINGS in all).  Returns the number added, or
 * -ENOMEM. */
int ing_scan_code(const char *code, size_t len, char ***warnings, size_t *n);

#define ING_FNAME_DANGEROUS "<>:\"|?*;&$`"

/* 1 when `name` is a safe file name whatever its extension:
 * sch_valid_filename() and none of ING_FNAME_DANGEROUS.  Else 0 with *why
 * (when not NULL) pointing to a static reason. */
int ing_fname_safe(const char *name, const char **why);

/* 1 when the extension of `name` is on the upload whitelist
 * (st_extension_allowed(): the one list, shared with the file store). */
int ing_fname_ext_allowed(const char *name);

/* ing_fname_safe() and ing_fname_ext_allowed(): an acceptable upload name. */
int ing_fname_ok(const char *name, const char **why);

/*
 * ---- Admin routes (ing_admin.c) ----
 *
 * The admin routes (ADMIN_API_KEY; ing_sec.c enforces it for
 * every pattern under /admin/).
 *
 *   POST   /admin/keys                {name, rate_limits?:{second,minute,hour,day}}
 *                                     -> 201 {key, id, name, status, created_at, rate_limits}
 *                                     (the key is shown this once)
 *   GET    /admin/keys                -> {keys:[...]} (never the keys themselves)
 *   GET    /admin/keys/{id}           -> one key's record
 *   DELETE /admin/keys/{id}           revoke (final) -> {id, status:"revoked"}
 *   POST   /admin/keys/{id}/disable   -> {id, status:"disabled"}
 *   POST   /admin/keys/{id}/enable    -> {id, status:"active"} (409 when revoked)
 *   GET    /admin/stats/auth          authentication statistics
 *   GET    /admin/ratelimits          failed-auth windows and lock-outs per IP
 *   GET    /admin/events[?limit=N&type=T]  recent security events, newest first
 *
 * Handlers run on MHD threads like the others (ing_http.h).
 */

enum MHD_Result ing_h_admin_key_create(struct ing_request *req);
enum MHD_Result ing_h_admin_key_list(struct ing_request *req);
enum MHD_Result ing_h_admin_key_get(struct ing_request *req);
enum MHD_Result ing_h_admin_key_revoke(struct ing_request *req);
enum MHD_Result ing_h_admin_key_disable(struct ing_request *req);
enum MHD_Result ing_h_admin_key_enable(struct ing_request *req);
enum MHD_Result ing_h_admin_stats_auth(struct ing_request *req);
enum MHD_Result ing_h_admin_ratelimits(struct ing_request *req);
enum MHD_Result ing_h_admin_events(struct ing_request *req);

#endif
