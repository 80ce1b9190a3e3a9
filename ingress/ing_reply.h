/*
 * ing_reply.h - building and queueing HTTP responses.
 *
 * Every response carries the security headers of the spec
 * (X-Content-Type-Options, X-Frame-Options, X-XSS-Protection,
 * Strict-Transport-Security, Content-Security-Policy, Referrer-Policy) and
 * X-Request-ID.  Errors use the one JSON shape of DESIGN.md §4.3:
 *   {"error","error_type","details":[{"field","message"}],"request_id","timestamp"}
 *
 * Called from MHD handler threads only, on the connection being served.
 * Functions return MHD_YES when the response was queued, MHD_NO otherwise
 * (MHD then closes the connection).
 */
#ifndef ING_REPLY_H
#define ING_REPLY_H

#include "sch_validate.h"

#include <jansson.h>
#include <microhttpd.h>

/* Queues `len` bytes of `body` (malloc'd; ownership passes to MHD, also on
 * failure) with `content_type`.  `retry_after` > 0 adds Retry-After. */
enum MHD_Result ing_reply_buf(struct MHD_Connection *c, unsigned status, char *body, size_t len,
                              const char *content_type, const char *request_id, int retry_after);

/* Serializes `obj` (reference stolen) as the JSON body. */
enum MHD_Result ing_reply_json(struct MHD_Connection *c, unsigned status, json_t *obj,
                               const char *request_id);

/* The error shape; `errs` may be NULL; `retry_after` > 0 adds Retry-After. */
enum MHD_Result ing_reply_error(struct MHD_Connection *c, unsigned status, const char *error_type,
                                const char *message, const struct sch_errors *errs,
                                const char *request_id, int retry_after);

/* Adds the security headers to a response built elsewhere (downloads). */
void ing_reply_add_security_headers(struct MHD_Response *r, const char *request_id);

#endif
