#include "ing_sec.h"

#include "ing_audit.h"
#include "ing_http.h"
#include "ing_ratelimit.h"
#include "ing_redis.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static enum MHD_Result redis_down(struct ing_request *req)
{
    ing_redis_reset();
    return ing_reply_error(req->conn, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
                           "Redis is unreachable", NULL, req->request_id, 2);
}

static enum MHD_Result invalid(struct ing_request *req, const char *field, const char *msg)
{
    struct sch_errors e;
    sch_errors_init(&e);
    sch_errors_add(&e, field, "%s", msg);
    return ing_reply_error(req->conn, 422, "validation_error", "the request body is invalid", &e,
                           req->request_id, 0);
}

static enum MHD_Result no_key(struct ing_request *req)
{
    return ing_reply_error(req->conn, MHD_HTTP_NOT_FOUND, "not_found", "no such key", NULL,
                           req->request_id, 0);
}

/* rate_limits object -> rate[]; 0 or -1 after queueing an error. */
static int parse_rates(struct ing_request *req, json_t *rl, long *rate, enum MHD_Result *ret)
{
    if (!rl)
        return 0;
    if (!json_is_object(rl)) {
        *ret = invalid(req, "rate_limits", "must be an object");
        return -1;
    }
    for (int p = 0; p < ING_RL_COUNT; p++) {
        json_t *v = json_object_get(rl, ing_rl_period_names[p]);
        if (!v)
            continue;
        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            json_integer_value(v) > 1000000000) {
            *ret = invalid(req, "rate_limits", "each limit is an integer 0..1000000000");
            return -1;
        }
        rate[p] = (long)json_integer_value(v);
    }
    return 0;
}

enum MHD_Result ing_h_admin_key_create(struct ing_request *req)
{
    long rate[ING_RL_COUNT] = {0};
    enum MHD_Result ret;
    char key[64];
    struct ing_key_info info;
    json_t *body = json_loads(req->body ? req->body : "", 0, NULL);
    json_t *name = json_object_get(body, "name");
    if (!json_is_object(body)) {
        ret = ing_reply_error(req->conn, MHD_HTTP_BAD_REQUEST, "invalid_json",
                              "the body must be a JSON object", NULL, req->request_id, 0);
        goto out;
    }
    if (!json_is_string(name) || json_string_length(name) == 0 ||
        json_string_length(name) > 100) {
        ret = invalid(req, "name", "required, a string of 1..100 characters");
        goto out;
    }
    if (parse_rates(req, json_object_get(body, "rate_limits"), rate, &ret) != 0)
        goto out;
    redisContext *c = ing_redis();
    if (!c || ing_keys_create(c, json_string_value(name), rate, key, sizeof key, &info) != 0) {
        ret = redis_down(req);
        goto out;
    }
    ing_audit_event(req, "admin_key", 1, json_pack("{s:s,s:s}", "action", "create", "key_id",
                                                   info.id));
    json_t *o = ing_key_info_json(&info);
    json_object_set_new(o, "key", json_string(key));
    ret = ing_reply_json(req->conn, MHD_HTTP_CREATED, o, req->request_id);
out:
    json_decref(body);
    return ret;
}

enum MHD_Result ing_h_admin_key_list(struct ing_request *req)
{
    struct ing_key_info *v;
    size_t n;
    redisContext *c = ing_redis();
    if (!c || ing_keys_list(c, &v, &n) != 0)
        return redis_down(req);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, ing_key_info_json(&v[i]));
    free(v);
    return ing_reply_json(req->conn, MHD_HTTP_OK, json_pack("{s:o}", "keys", arr),
                          req->request_id);
}

enum MHD_Result ing_h_admin_key_get(struct ing_request *req)
{
    struct ing_key_info info;
    redisContext *c = ing_redis();
    if (!c)
        return redis_down(req);
    int rc = ing_keys_get(c, req->params[0], &info);
    if (rc == -ENOENT || rc == -EINVAL)
        return no_key(req);
    if (rc != 0)
        return redis_down(req);
    return ing_reply_json(req->conn, MHD_HTTP_OK, ing_key_info_json(&info), req->request_id);
}

static enum MHD_Result set_status(struct ing_request *req, enum ing_key_status st,
                                  const char *action)
{
    long long receivers = 0;
    redisContext *c = ing_redis();
    if (!c)
        return redis_down(req);
    int rc = ing_keys_set_status(c, req->params[0], st, &receivers);
    ing_audit_event(req, "admin_key", rc == 0,
                    json_pack("{s:s,s:s}", "action", action, "key_id", req->params[0]));
    if (rc == -ENOENT || rc == -EINVAL)
        return no_key(req);
    if (rc == -EPERM)
        return ing_reply_error(req->conn, MHD_HTTP_CONFLICT, "conflict",
                               "a revoked key stays revoked", NULL, req->request_id, 0);
    if (rc != 0)
        return redis_down(req);
    json_t *o = json_pack("{s:s,s:s,s:I}", "id", req->params[0], "status",
                          ing_key_status_name(st), "ingress_notified", (json_int_t)receivers);
    return ing_reply_json(req->conn, MHD_HTTP_OK, o, req->request_id);
}

enum MHD_Result ing_h_admin_key_revoke(struct ing_request *req)
{
    return set_status(req, ING_KEY_REVOKED, "revoke");
}

enum MHD_Result ing_h_admin_key_disable(struct ing_request *req)
{
    return set_status(req, ING_KEY_DISABLED, "disable");
}

enum MHD_Result ing_h_admin_key_enable(struct ing_request *req)
{
    return set_status(req, ING_KEY_ACTIVE, "enable");
}

enum MHD_Result ing_h_admin_stats_auth(struct ing_request *req)
{
    redisContext *c = ing_redis();
    redisReply *r = c ? redisCommand(c, "HGETALL %s", ING_AUDIT_STATS_KEY) : NULL;
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        return redis_down(req);
    }
    json_t *counts = json_object();
    for (size_t i = 0; i + 1 < r->elements; i += 2)
        json_object_set_new(counts, r->element[i]->str,
                            json_integer(strtoll(r->element[i + 1]->str, NULL, 10)));
    freeReplyObject(r);
    json_t *ok = json_object_get(counts, "authentication.success");
    json_t *bad = json_object_get(counts, "authentication.failure");
    json_t *ips = ing_authfail_status_json(ing_sec_cfg.auth_fail_limit);
    size_t locked = 0, i;
    json_t *it;
    json_array_foreach(ips, i, it) locked += json_is_true(json_object_get(it, "locked"));
    json_t *o = json_pack(
        "{s:I,s:I,s:I,s:I,s:o,s:o*}", "authentication_success",
        ok ? json_integer_value(ok) : 0, "authentication_failure",
        bad ? json_integer_value(bad) : 0, "failing_ips", (json_int_t)json_array_size(ips),
        "locked_ips", (json_int_t)locked, "events", counts, "ips", ips);
    return ing_reply_json(req->conn, MHD_HTTP_OK, o, req->request_id);
}

enum MHD_Result ing_h_admin_ratelimits(struct ing_request *req)
{
    json_t *ips = ing_authfail_status_json(ing_sec_cfg.auth_fail_limit);
    if (!ips)
        return redis_down(req);
    json_t *o = json_pack("{s:{s:I,s:I},s:o}", "auth_failures", "limit",
                          (json_int_t)ing_sec_cfg.auth_fail_limit, "window_seconds",
                          (json_int_t)ing_sec_cfg.auth_fail_window_s, "clients", ips);
    return ing_reply_json(req->conn, MHD_HTTP_OK, o, req->request_id);
}

enum MHD_Result ing_h_admin_events(struct ing_request *req)
{
    const char *ls = ing_query(req, "limit");
    const char *type = ing_query(req, "type");
    long limit = ls ? strtol(ls, NULL, 10) : 100;
    if (limit <= 0 || limit > ING_AUDIT_RECENT_MAX)
        limit = ING_AUDIT_RECENT_MAX;
    redisContext *c = ing_redis();
    redisReply *r =
        c ? redisCommand(c, "LRANGE %s 0 %d", ING_AUDIT_RECENT_KEY, ING_AUDIT_RECENT_MAX - 1)
          : NULL;
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        return redis_down(req);
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < r->elements && (long)json_array_size(arr) < limit; i++) {
        json_t *ev = json_loads(r->element[i]->str, 0, NULL);
        const char *t = json_string_value(json_object_get(ev, "event_type"));
        if (ev && (!type || (t && strcmp(t, type) == 0)))
            json_array_append(arr, ev);
        json_decref(ev);
    }
    freeReplyObject(r);
    return ing_reply_json(req->conn, MHD_HTTP_OK, json_pack("{s:o}", "events", arr),
                          req->request_id);
}
