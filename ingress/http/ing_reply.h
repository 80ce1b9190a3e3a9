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

/* The error shape; `errs` may be NULL; `retry_after` > 0 adds Retry-After.
 * A 429 carries "error":"rate_limited" (what LibreChat reads), the text in
 * "message" and "retry_after_seconds" besides the shape's other fields. */
enum MHD_Result ing_reply_error(struct MHD_Connection *c, unsigned status, const char *error_type,
                                const char *message, const struct sch_errors *errs,
                                const char *request_id, int retry_after);

/* A response held back instead of queued (ing_server.c: a refusal decided
 * before an Expect-less client's body was read is answered only once that
 * body has been drained, so the client can read it). */
struct ing_held {
    struct MHD_Connection *conn;
    struct MHD_Response *resp; /* owned; NULL until a reply is held */
    unsigned status;
};

/* While `h` is set on the calling thread, the first response for h->conn
 * is stored in h instead of queued (the reply functions return MHD_YES);
 * NULL stops holding.  The caller queues or destroys h->resp. */
void ing_reply_hold(struct ing_held *h);

/* Adds the security headers to a response built elsewhere (downloads). */
void ing_reply_add_security_headers(struct MHD_Response *r, const char *request_id);

#endif
