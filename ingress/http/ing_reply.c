#include "ing_http.h"

#include "ci_log.h"
#include "ing_sec.h"
#include "sch_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const security_headers[][2] = {
    {"X-Content-Type-Options", "nosniff"},
    {"X-Frame-Options", "DENY"},
    {"X-XSS-Protection", "1; mode=block"},
    {"Strict-Transport-Security", "max-age=31536000; includeSubDomains"},
    {"Content-Security-Policy", "default-src 'self'"},
    {"Referrer-Policy", "strict-origin-when-cross-origin"},
};

static _Thread_local struct ing_held *holding;

void ing_reply_hold(struct ing_held *h)
{
    holding = h;
}

void ing_reply_add_security_headers(struct MHD_Response *r, const char *request_id)
{
    for (size_t i = 0; i < sizeof security_headers / sizeof security_headers[0]; i++)
        MHD_add_response_header(r, security_headers[i][0], security_headers[i][1]);
    if (request_id)
        MHD_add_response_header(r, "X-Request-ID", request_id);
    ing_sec_add_headers(r); /* X-RateLimit-* of the request being served */
}

enum MHD_Result ing_reply_buf(struct MHD_Connection *c, unsigned status, char *body, size_t len,
                              const char *content_type, const char *request_id, int retry_after)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    ing_reply_add_security_headers(r, request_id);
    if (retry_after > 0) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", retry_after);
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, ra);
    }
    if (holding && holding->conn == c && !holding->resp) {
        holding->resp = r;
        holding->status = status;
        return MHD_YES;
    }
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

enum MHD_Result ing_reply_json(struct MHD_Connection *c, unsigned status, json_t *obj,
                               const char *request_id)
{
    char *body = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    if (!body) {
        log_error("cannot serialize a response");
        static const char fallback[] = "{\"error\":\"internal error\"}";
        body = strdup(fallback);
        if (!body)
            return MHD_NO;
        status = MHD_HTTP_INTERNAL_SERVER_ERROR;
    }
    return ing_reply_buf(c, status, body, strlen(body), "application/json", request_id, 0);
}

enum MHD_Result ing_reply_error(struct MHD_Connection *c, unsigned status, const char *error_type,
                                const char *message, const struct sch_errors *errs,
                                const char *request_id, int retry_after)
{
    json_t *o;
    if (status == MHD_HTTP_TOO_MANY_REQUESTS) {
        /* LibreChat reads `error` (and `retry_after_seconds`) of a 429's body:
         * "rate_limited" there, the human text in `message` */
        o = sch_error_json("rate_limited", error_type, errs, request_id);
        if (o) {
            json_object_set_new(o, "message", json_string(message ? message : "rate limited"));
            json_object_set_new(o, "retry_after_seconds",
                                json_integer(retry_after > 0 ? retry_after : 1));
        }
    } else {
        o = sch_error_json(message, error_type, errs, request_id);
    }
    char *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!body)
        return MHD_NO;
    return ing_reply_buf(c, status, body, strlen(body), "application/json", request_id,
                         retry_after);
}
