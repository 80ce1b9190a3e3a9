/*
 * ing_profile.c - execution profiles and runtime session hints (see
 * ing_profile.h).
 */
#include "ing_profile.h"

#include "ci_util.h"
#include "ing_config.h"
#include "ing_http.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define HINT_MAX 256

static enum MHD_Result bad(struct ing_request *req, unsigned status, const char *type,
                           const char *field, const char *msg)
{
    struct sch_errors e;
    sch_errors_init(&e);
    sch_errors_add(&e, field, "%s", msg);
    return ing_reply_error(req->conn, status, type, msg, &e, req->request_id, 0);
}

int ing_profile_intake(struct ing_request *req, const json_t *body, enum MHD_Result *ret)
{
    const char *p =
        MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "X-CodeAPI-Expected-Profile");
    int stateful = 1; /* absent: a hint, when given, is honoured */
    req->hint_hex[0] = '\0';
    req->runtime_status[0] = '\0';
    if (p && strcmp(p, "default") == 0) {
        stateful = 0;
    } else if (p && strcmp(p, "stateful") != 0) {
        *ret = bad(req, MHD_HTTP_BAD_REQUEST, "execution_profile_mismatch",
                   "X-CodeAPI-Expected-Profile",
                   "this server provides the profiles \"default\" and \"stateful\"");
        return -1;
    }
    json_t *h = body ? json_object_get(body, "runtime_session_hint") : NULL;
    if (!h || json_is_null(h))
        return 0;
    const char *s = json_is_string(h) ? json_string_value(h) : NULL;
    size_t n = s ? json_string_length(h) : 0, chars = 0;
    int ok = s && n > 0 && strlen(s) == n;
    for (size_t i = 0; ok && i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        ok = c >= 0x20 && c != 0x7f;
        chars += (c & 0xc0) != 0x80;
    }
    if (!ok || chars > HINT_MAX) {
        *ret = bad(req, MHD_HTTP_UNPROCESSABLE_CONTENT, "validation_error", "runtime_session_hint",
                   "must be 1 to 256 characters without control characters");
        return -1;
    }
    if (!stateful)
        return 0; /* the default profile keeps no warm workspace: ignored */
    ci_sha256_hex(s, n, 16, req->hint_hex);
    return 0;
}

/* ci:hint:<owner>:<user tag or ->:<digest> into out; 0 when no hint applies. */
static int hint_key(const struct ing_request *req, char *out, size_t outsz)
{
    if (!req->hint_hex[0])
        return 0;
    snprintf(out, outsz, ING_HINT_PREFIX "%s:%s:%s", req->owner,
             req->user_tag[0] ? req->user_tag : "-", req->hint_hex);
    return 1;
}

int ing_profile_hint_session(redisContext *c, struct ing_request *req, char *wanted)
{
    char key[128];
    wanted[0] = '\0';
    if (!hint_key(req, key, sizeof key))
        return 0;
    redisReply *r = redisCommand(c, "GET %s", key);
    if (!r || r->type == REDIS_REPLY_ERROR) {
        freeReplyObject(r);
        return -EIO;
    }
    if (r->type == REDIS_REPLY_STRING && r->len < 65)
        memcpy(wanted, r->str, r->len + 1);
    freeReplyObject(r);
    return 0;
}

int ing_profile_remember(redisContext *c, struct ing_request *req, const char *wanted)
{
    char key[128];
    if (!hint_key(req, key, sizeof key))
        return 0;
    int reused = wanted && *wanted && strcmp(wanted, req->session_id) == 0;
    snprintf(req->runtime_status, sizeof req->runtime_status, "%s", reused ? "reused" : "new");
    redisReply *r = redisCommand(c, "SET %s %s EX %lld", key, req->session_id,
                                 (long long)ing_cfg.session_ttl_s);
    int rc = r && r->type != REDIS_REPLY_ERROR ? 0 : -EIO;
    freeReplyObject(r);
    return rc;
}

void ing_profile_annotate(const struct ing_request *req, json_t *o)
{
    if (!req->runtime_status[0] || !json_is_object(o))
        return;
    json_object_set_new(o, "runtime_session_id", json_string(req->session_id));
    json_object_set_new(o, "runtime_status", json_string(req->runtime_status));
}
