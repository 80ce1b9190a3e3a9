/*
 * ing_sec.h - the security gate every request passes before its route runs.
 *
 * ing_sec_gate(), called once per request from ing_server.c's begin():
 *   1. endpoint text and client IP (ing_clientip.h: X-Forwarded-For only from
 *      TRUSTED_PROXIES);
 *   2. URL and header size bounds: 414 above MAX_URL_BYTES (8192), 431 above
 *      MAX_HEADER_BYTES (16384) of header names and values;
 *   3. public routes pass; everything else:
 *   4. the key is identified (ing_auth.h): /admin/... routes need
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
 */
#ifndef ING_SEC_H
#define ING_SEC_H

#include "ing_http.h"

#include <microhttpd.h>
#include <stddef.h>

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

/* Scans job->code (ing_scan.h), stores the findings in job->warnings and
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

#endif
