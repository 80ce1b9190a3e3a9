/*
 * ing_audit.h - the security audit log.
 *
 * One JSON object per line, with the fields of SECURITY.md's example:
 *   {"event_type","success","api_key_prefix","client_ip","endpoint","timestamp"}
 * plus "request_id" and event-specific fields.  Lines go to AUDIT_LOG_FILE
 * (opened for append once; each line is one write(2), so lines from several
 * threads or processes never interleave) or, when unset, to stderr.  Keys
 * appear only as their first 6 characters followed by "...".
 *
 * Every event is also kept in Redis for the monitoring routes: per-outcome
 * counters in the hash ci:audit:stats ("<event_type>.success" /
 * "<event_type>.failure"), and every event except routine successful
 * authentications in the capped list ci:audit:recent (newest first, LTRIM
 * to ING_AUDIT_RECENT_MAX).  A Redis outage never
 * blocks or fails the request: the line is still written.
 *
 * Event types: authentication, rate_limit, code_execution, code_scan,
 * access_denied (another caller's job/session/file), admin_key,
 * file_upload (also refused uploads: success false, with the reason),
 * file_download, file_delete.
 *
 * Thread-safe; call from MHD threads.  ing_audit_init() runs once before.
 */
#ifndef ING_AUDIT_H
#define ING_AUDIT_H

#include <jansson.h>

struct ing_request;

#define ING_AUDIT_RECENT_KEY "ci:audit:recent"
#define ING_AUDIT_STATS_KEY "ci:audit:stats"
#define ING_AUDIT_RECENT_MAX 1000

/* Opens AUDIT_LOG_FILE when set.  Returns 0 or -errno (then stderr is used). */
int ing_audit_init(void);

/* Records one event for `req` (its key prefix, client IP and endpoint).
 * `extra` (reference stolen, may be NULL) is merged into the line. */
void ing_audit_event(const struct ing_request *req, const char *event_type, int success,
                     json_t *extra);

/* Writes the line only: no Redis (the caller counted the event itself, as
 * the gate does for successful authentications). */
void ing_audit_line(const struct ing_request *req, const char *event_type, int success,
                    json_t *extra);

/* The same without a request (ops tool, startup): prefix/ip/endpoint given. */
void ing_audit_raw(const char *event_type, int success, const char *key_prefix,
                   const char *client_ip, const char *endpoint, const char *request_id,
                   json_t *extra);

#endif
