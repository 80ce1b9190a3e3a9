#include "ing_sec.h"

#include "ci_env.h"
#include "ci_log.h"
#include "ing_audit.h"
#include "ing_clientip.h"
#include "ing_http.h"
#include "ing_ratelimit.h"
#include "ing_redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ing_sec_config ing_sec_cfg;
static _Thread_local struct ing_request *current;

int ing_sec_init(void)
{
    ing_sec_cfg.auth_fail_limit = (long)ci_env_int("AUTH_FAIL_LIMIT", 10, 0, 1000000);
    ing_sec_cfg.auth_fail_window_s =
        (long)ci_env_int("AUTH_FAIL_WINDOW_SECONDS", 3600, 1, 30 * 86400);
    ing_sec_cfg.auth_fail_ips_max = (long)ci_env_int("AUTH_FAIL_IPS_MAX", 10000, 1, 10000000);
    ing_sec_cfg.max_url_bytes = (size_t)ci_env_int("MAX_URL_BYTES", 8192, 256, 32768);
    ing_sec_cfg.max_header_bytes = (size_t)ci_env_int("MAX_HEADER_BYTES", 16384, 1024, 49152);
    ing_clientip_init(ci_env_str("TRUSTED_PROXIES", NULL));
    ing_audit_init();
    return 0;
}

void ing_sec_set_current(struct ing_request *req)
{
    current = req;
}

void ing_sec_forget(struct ing_request *req)
{
    if (current == req)
        current = NULL;
}

void ing_sec_add_headers(struct MHD_Response *r)
{
    char v[32];
    if (!current || current->rl_limit <= 0)
        return;
    snprintf(v, sizeof v, "%ld", current->rl_limit);
    MHD_add_response_header(r, "X-RateLimit-Limit", v);
    snprintf(v, sizeof v, "%ld", current->rl_remaining);
    MHD_add_response_header(r, "X-RateLimit-Remaining", v);
    snprintf(v, sizeof v, "%ld", current->rl_reset);
    MHD_add_response_header(r, "X-RateLimit-Reset", v);
}

static enum MHD_Result header_size(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    size_t *sum = cls;
    *sum += (key ? strlen(key) : 0) + (value ? strlen(value) : 0) + 4;
    return MHD_YES;
}

static int bounds(struct ing_request *req, const char *url, enum MHD_Result *ret)
{
    size_t hdr = 0;
    if (strlen(url) > ing_sec_cfg.max_url_bytes) {
        *ret = ing_reply_error(req->conn, MHD_HTTP_URI_TOO_LONG, "uri_too_long",
                               "the request URL is too long", NULL, req->request_id, 0);
        return 1;
    }
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, header_size, &hdr);
    if (hdr > ing_sec_cfg.max_header_bytes) {
        *ret = ing_reply_error(req->conn, MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE,
                               "headers_too_large", "the request headers are too large", NULL,
                               req->request_id, 0);
        return 1;
    }
    return 0;
}

/* Audits and queues the lock-out's 429. */
static int reply_locked(struct ing_request *req, int retry_after, enum MHD_Result *ret)
{
    ing_audit_event(req, "rate_limit", 0,
                    json_pack("{s:s,s:i}", "limit", "auth_failures", "retry_after",
                              retry_after));
    *ret = ing_reply_error(req->conn, MHD_HTTP_TOO_MANY_REQUESTS, "rate_limited",
                           "too many failed authentication attempts from this address", NULL,
                           req->request_id, retry_after);
    return 1;
}

/* The lock-out check of an authenticated request (or a caller key on an
 * admin route), which also counts a successful authentication (`authed`)
 * in the same Redis round trip.  1 after queueing the 429.  Failures never
 * come here: ing_sec_auth_failed() counts them before deciding. */
static int refuse_locked(struct ing_request *req, int authed, enum MHD_Result *ret)
{
    int retry_after = 0;
    const char *field = authed ? "authentication.success" : NULL;
    if (ing_sec_cfg.auth_fail_limit <= 0 && !field)
        return 0;
    if (ing_authfail_locked(req->client_ip, ing_sec_cfg.auth_fail_limit, field, &retry_after) !=
        1)
        return 0;
    if (authed) { /* refused after all: undo the success count (rare path) */
        redisContext *c = ing_redis();
        redisReply *r = c ? redisCommand(c, "HINCRBY %s authentication.success -1",
                                         ING_AUDIT_STATS_KEY)
                          : NULL;
        freeReplyObject(r);
    }
    return reply_locked(req, retry_after, ret);
}

int ing_sec_auth_failed(struct ing_request *req, const char *reason, const char *message,
                        enum MHD_Result *ret)
{
    long count = 0;
    int retry_after = 0;
    if (ing_sec_cfg.auth_fail_limit > 0 &&
        ing_authfail_count(req->client_ip, ing_sec_cfg.auth_fail_limit,
                           ing_sec_cfg.auth_fail_window_s, ing_sec_cfg.auth_fail_ips_max, &count,
                           &retry_after) == 1)
        return reply_locked(req, retry_after, ret);
    ing_audit_event(req, "authentication", 0,
                    json_pack("{s:s,s:i}", "reason", reason ? reason : "invalid credentials",
                              "failures", (json_int_t)count));
    *ret = ing_reply_error(req->conn, MHD_HTTP_UNAUTHORIZED, "authentication_error",
                           message ? message
                                   : "a valid API key is required (x-api-key or Authorization: "
                                     "Bearer)",
                           NULL, req->request_id, 0);
    return 1;
}

static int refuse_auth(struct ing_request *req, const struct ing_auth *a, enum MHD_Result *ret)
{
    if (a->why) /* a JWT that failed verification: the reason is audited only */
        return ing_sec_auth_failed(req, a->why, "invalid or expired token", ret);
    const char *why = a->kind == ING_AUTH_NONE ? "missing key"
                      : a->kind == ING_AUTH_ADMIN ? "admin key on a caller route"
                                                  : "invalid key";
    return ing_sec_auth_failed(req, why, NULL, ret);
}

static int rate(struct ing_request *req, const struct ing_auth *a, enum MHD_Result *ret)
{
    struct ing_rl_state st;
    if (ing_rate_count(a->key.id, a->key.rate, &st) != 0 || st.limit == 0)
        return 0; /* fail open: Redis trouble shows elsewhere */
    req->rl_limit = st.limit;
    req->rl_remaining = st.remaining;
    req->rl_reset = st.reset;
    if (!st.exceeded)
        return 0;
    ing_audit_event(req, "rate_limit", 0,
                    json_pack("{s:s,s:s,s:i}", "limit", "requests", "period", st.period,
                              "retry_after", (json_int_t)st.reset));
    *ret = ing_reply_error(req->conn, MHD_HTTP_TOO_MANY_REQUESTS, "rate_limited",
                           "request rate limit of this key exceeded", NULL, req->request_id,
                           (int)st.reset);
    return 1;
}

int ing_sec_gate(struct ing_request *req, const struct ing_route *route, const char *method,
                 const char *url, enum MHD_Result *ret)
{
    struct ing_auth a;
    char peer[sizeof req->client_ip];
    char *xff = ing_clientip_forwarded(req->conn); /* every X-Forwarded-For line */

    snprintf(req->endpoint, sizeof req->endpoint, "%s %.100s", method, url);
    snprintf(peer, sizeof peer, "%s", req->client_ip);
    ing_clientip_resolve(peer, xff, req->client_ip, sizeof req->client_ip);
    free(xff);
    if (bounds(req, url, ret))
        return 1;
    if (route && route->public_route)
        return 0;
    int admin_route = route && strncmp(route->pattern, "/admin/", 7) == 0;
    enum ing_auth_kind k = ing_auth_identify(req->conn, &a);
    memcpy(req->key_prefix, a.prefix, sizeof req->key_prefix);
    if (k == ING_AUTH_UNAVAILABLE) {
        *ret = ing_reply_error(req->conn, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
                               "cannot validate the key now (Redis unreachable)", NULL,
                               req->request_id, 2);
        return 1;
    }
    int caller = ING_AUTH_IS_CALLER(k);
    int authed = admin_route ? k == ING_AUTH_ADMIN : caller;
    /* locked out whatever the key: otherwise a right guess would still show
     * (a failure is counted and judged in one step by refuse_auth) */
    if ((authed || caller) && refuse_locked(req, authed, ret))
        return 1;
    if (admin_route && !authed && caller) {
        ing_audit_event(req, "authorization", 0, json_pack("{s:s}", "reason", "not admin"));
        *ret = ing_reply_error(req->conn, MHD_HTTP_FORBIDDEN, "forbidden",
                               "this route needs the admin key", NULL, req->request_id, 0);
        return 1;
    }
    if (!authed)
        return refuse_auth(req, &a, ret);
    req->admin = k == ING_AUTH_ADMIN;
    memcpy(req->owner, a.owner, sizeof req->owner);
    if (k == ING_AUTH_JWT) { /* the user is the token's, not the request's */
        memcpy(req->jwt_user, a.jwt.sub, sizeof req->jwt_user);
        req->user_fixed = 1;
    }
    /* counted above with the lock-out check; the line only here */
    ing_audit_line(req, "authentication", 1,
                   json_pack("{s:s,s:s}", "key_id", a.key.id, "key_kind",
                             k == ING_AUTH_ADMIN     ? "admin"
                             : k == ING_AUTH_MANAGED ? "managed"
                             : k == ING_AUTH_JWT     ? "jwt"
                                                     : "static"));
    return req->admin ? 0 : rate(req, &a, ret);
}
