/*
 * ing_ptc.c - programmatic tool calling over HTTP (docs/ptc.md):
 * POST /exec/programmatic (first call and continuations) and
 * POST /exec/programmatic/cancel.
 *
 * First call: the body of /exec plus `tools` (lang defaults to py; py and
 * bash only).  The tools are validated here (1..128 objects with a name,
 * distinct once normalised as the client normalises them), the job is
 * queued with them (sch_job.tools) and the request waits like /exec, until
 * the job ends or pauses at a round of tool calls: the worker records the
 * round in ci:ptc:job:<job> and publishes the job id on ci:done.
 *
 * A pause is answered tool_call_required with a fresh continuation token:
 * 32 bytes of RAND_bytes, hex; only its SHA-256 is stored, in
 * ci:ptc:tok:<hash> with the job, the holding worker, the caller (owner,
 * user), the round and its calls; it expires with the pause TTL.
 *
 * Continuation: the token's record must exist (else 404), belong to the
 * caller (else 404, audited) and be claimed first (HSETNX claimed: a
 * replayed or concurrent continuation answers 409).  The results must name
 * the round's calls only, once each, each at most PTC_MAX_RESULT_BYTES as
 * JSON.  They go to the holding worker's list ci:ptc:in:<worker>; a worker
 * that does not take the continuation within WORKER_GONE_MS (3 s; a live
 * worker always has a BLPOP waiting on its list) ends the call with status
 * error.
 */
#include "ing_http.h"

#include "ci_env.h"
#include "ci_log.h"
#include "ci_util.h"
#include "ing_config.h"
#include "ing_ptc.h"
#include "ing_redis.h"
#include "ing_sec.h"
#include "ing_wait.h"
#include "q_job.h"
#include "q_keys.h"
#include "sch_json.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TOOLS 128
#define MAX_TOOL_NAME 256
#define MAX_CALLS 64
#define TOKEN_BYTES 32
#define WORKER_GONE_MS 3000
#define SLICE_MS 1000

struct ptc_cfg {
    int64_t pause_s;
    int64_t max_result;
};

static struct ptc_cfg cfg(void)
{
    struct ptc_cfg c = {
        .pause_s = ci_env_int("PTC_PAUSE_TTL_SECONDS", 300, 1, 86400),
        .max_result = ci_env_int("PTC_MAX_RESULT_BYTES", 2 << 20, 1, 64 << 20),
    };
    return c;
}

static int64_t mono_ms(void)
{
    return ci_mono_us() / 1000;
}

static enum MHD_Result bad(struct ing_request *req, unsigned status, const char *type,
                           const char *field, const char *msg)
{
    struct sch_errors e;
    sch_errors_init(&e);
    if (field)
        sch_errors_add(&e, field, "%s", msg);
    return ing_reply_error(req->conn, status, type, msg, field ? &e : NULL, req->request_id, 0);
}

static enum MHD_Result redis_down(struct ing_request *req)
{
    ing_redis_reset();
    return ing_reply_error(req->conn, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
                           "the queue is unreachable; try again shortly", NULL, req->request_id, 5);
}

/* ---- tool names: LibreChat's normalisation -------------------------- */

static const char *const py_kw[] = {
    "False", "None",     "True",  "and",    "as",   "assert", "async",  "await",    "break",
    "class", "continue", "def",   "del",    "elif", "else",   "except", "finally",  "for",
    "from",  "global",   "if",    "import", "in",   "is",     "lambda", "nonlocal", "not",
    "or",    "pass",     "raise", "return", "try",  "while",  "with",   "yield",    NULL};
static const char *const sh_kw[] = {
    "if",     "then",    "else",    "elif",  "fi",       "case",     "esac",   "for",
    "while",  "until",   "do",      "done",  "in",       "function", "select", "time",
    "coproc", "declare", "typeset", "local", "readonly", "export",   "unset",  NULL};

void ing_ptc_normalise(const char *name, int bash, char *out, size_t outsz)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)name; *p && n + 6 < outsz; p++) {
        if (*p == '-' || isspace(*p) || (bash && *p == '.'))
            out[n++] = '_';
        else if (*p < 0x80 && (isalnum(*p) || *p == '_'))
            out[n++] = (char)*p;
    }
    out[n] = '\0';
    if (n && isdigit((unsigned char)out[0]) && n + 1 < outsz) {
        memmove(out + 1, out, n + 1);
        out[0] = '_';
    }
    for (const char *const *k = bash ? sh_kw : py_kw; *k; k++)
        if (strcmp(out, *k) == 0) {
            size_t l = strlen(out);
            snprintf(out + l, outsz - l, "_tool");
            break;
        }
}

/* Validates `tools`; returns the list to send to the sandbox (names only,
 * new reference) or NULL with *why. */
static json_t *check_tools(json_t *tools, int bash, const char **why)
{
    size_t n = json_array_size(tools);
    if (!json_is_array(tools) || n == 0 || n > MAX_TOOLS) {
        *why = "must be an array of 1..128 tools";
        return NULL;
    }
    json_t *out = json_array();
    char(*seen)[MAX_TOOL_NAME + 8] = ci_xcalloc(n, sizeof *seen);
    for (size_t i = 0; i < n; i++) {
        json_t *t = json_array_get(tools, i);
        const char *name = json_string_value(json_object_get(t, "name"));
        if (!json_is_object(t) || !name || !*name || strlen(name) > MAX_TOOL_NAME) {
            *why = "each tool must be an object with a name of 1..256 characters";
            goto fail;
        }
        ing_ptc_normalise(name, bash, seen[i], sizeof seen[i]);
        if (!seen[i][0]) {
            *why = "a tool name has no usable character once normalised";
            goto fail;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(seen[i], seen[j]) == 0) {
                *why = "two tool names are the same once normalised";
                goto fail;
            }
        json_array_append_new(out, json_pack("{s:s}", "name", name));
    }
    free(seen);
    return out;
fail:
    free(seen);
    json_decref(out);
    return NULL;
}

/* ---- tokens ------------------------------------------------------------ */

static void token_hash(const char *token, char hex[65])
{
    ci_sha256_hex(token, strlen(token), 32, hex);
}

/* Mints the token of the round `info` is paused at; 0 or -1. */
static int mint(struct ing_request *req, redisContext *c, const char *worker, const char *round,
                json_t *calls, char token[2 * TOKEN_BYTES + 1])
{
    unsigned char raw[TOKEN_BYTES];
    if (RAND_bytes(raw, sizeof raw) != 1)
        return -1;
    ci_hex_encode(raw, sizeof raw, token);
    char h[65], key[sizeof Q_PTC_TOKEN_PREFIX + 64];
    token_hash(token, h);
    snprintf(key, sizeof key, "%s%s", Q_PTC_TOKEN_PREFIX, h);
    json_t *ids = json_object();
    size_t i;
    json_t *call;
    json_array_foreach(calls, i, call)
    {
        const char *id = json_string_value(json_object_get(call, "id"));
        json_t *name = json_object_get(call, "name");
        if (id && json_is_string(name))
            json_object_set(ids, id, name);
    }
    char *idtext = json_dumps(ids, JSON_COMPACT);
    json_decref(ids);
    char to[24];
    snprintf(to, sizeof to, "%lld", (long long)req->ptc_timeout_ms);
    redisReply *r = redisCommand(
        c, "HSET %s job %s worker %s owner %s user %s round %s calls %s to %s", key, req->job_id,
        worker, req->owner, req->user_tag, round, idtext ? idtext : "{}", to);
    free(idtext);
    int ok = r && r->type == REDIS_REPLY_INTEGER;
    freeReplyObject(r);
    r = ok ? redisCommand(c, "EXPIRE %s %lld", key, (long long)cfg().pause_s) : NULL;
    ok = ok && r;
    freeReplyObject(r);
    return ok ? 0 : -1;
}

/* ---- answering --------------------------------------------------------- */

static json_t *paused_round(redisContext *c, const char *job, char *worker, size_t wsz, int *round)
{
    redisReply *r = redisCommand(c, "HMGET %s%s state round worker calls", Q_PTC_JOB_PREFIX, job);
    json_t *calls = NULL;
    *round = 0;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 4 && r->element[0]->str &&
        strcmp(r->element[0]->str, "paused") == 0 && r->element[1]->str && r->element[2]->str &&
        r->element[3]->str) {
        *round = (int)strtol(r->element[1]->str, NULL, 10);
        snprintf(worker, wsz, "%s", r->element[2]->str);
        calls = json_loads(r->element[3]->str, 0, NULL);
        if (!json_is_array(calls)) {
            json_decref(calls);
            calls = NULL;
        }
    }
    freeReplyObject(r);
    return calls;
}

static enum MHD_Result gone(struct ing_request *req, const char *why);

static enum MHD_Result answer_terminal(struct ing_request *req, struct q_job_info *info)
{
    if (info->status == SCH_STATUS_DEAD || info->status == SCH_STATUS_CANCELLED ||
        !info->has_result) {
        const char *why = info->status == SCH_STATUS_CANCELLED ? "the program was cancelled"
                          : info->error                        ? info->error
                                        : "the sandbox could not run the program";
        return gone(req, why);
    }
    json_t *o = sch_result_to_json(&info->result, info->session_id);
    /* the runner ended the program for a tool-calling reason: an error */
    const char *err = info->result.stderr_buf;
    const char *note = err ? strstr(err, "ptc: ") : NULL;
    if (note && (note == err || note[-1] == '\n')) {
        char msg[400];
        snprintf(msg, sizeof msg, "%.*s", (int)strcspn(note + 5, "\n"), note + 5);
        json_t *e = json_pack("{s:s,s:s,s:O}", "status", "error", "error", msg, "stderr",
                              json_object_get(o, "stderr"));
        json_decref(o);
        return ing_reply_json(req->conn, MHD_HTTP_OK, e, req->request_id);
    }
    json_object_set(o, "run_status", json_object_get(o, "status"));
    json_object_set_new(o, "status", json_string("completed"));
    return ing_reply_json(req->conn, MHD_HTTP_OK, o, req->request_id);
}

static enum MHD_Result gone(struct ing_request *req, const char *why)
{
    rlog_warn(req->request_id, "ptc job %s: %s", req->job_id, why);
    /* LibreChat's client shows the model `stderr` (and only a fixed list of
     * `error` texts): the reason goes in both */
    char err[512];
    snprintf(err, sizeof err, "%s\n", why);
    return ing_reply_json(
        req->conn, MHD_HTTP_OK,
        json_pack("{s:s,s:s,s:s}", "status", "error", "error", why, "stderr", err),
        req->request_id);
}

/* 1: the continuation still waits in the worker's list past WORKER_GONE_MS
 * (the worker does not read it: gone). */
static int worker_stuck(redisContext *c, struct ing_request *req)
{
    if (!req->ptc_pushed_ms || mono_ms() - req->ptc_pushed_ms < WORKER_GONE_MS)
        return 0;
    redisReply *r =
        redisCommand(c, "LREM %s%s 0 %s", Q_PTC_IN_PREFIX, req->ptc_worker, req->ptc_pushed);
    int stuck = r && r->type == REDIS_REPLY_INTEGER && r->integer > 0;
    freeReplyObject(r);
    free(req->ptc_pushed);
    req->ptc_pushed = NULL;
    req->ptc_pushed_ms = 0;
    return stuck;
}

/* Check: the job ended, or paused past req->ptc_round: answer; else wait. */
static enum MHD_Result check_or_wait(struct ing_request *req)
{
    if (req->waiter) {
        enum ing_wake why = ing_wait_finish(req->waiter);
        req->waiter = NULL;
        if (why == ING_WAKE_SHUTDOWN)
            return ing_reply_error(req->conn, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
                                   "the server is shutting down", NULL, req->request_id, 1);
    }
    int64_t slice = mono_ms() + SLICE_MS;
    struct ing_waiter *w = ing_wait_register(req->job_id, req->conn,
                                             slice < req->deadline_ms ? slice : req->deadline_ms);
    redisContext *c = ing_redis();
    struct q_job_info info;
    memset(&info, 0, sizeof info);
    int rc = c ? q_job_get(c, req->job_id, &info) : -EIO;
    enum MHD_Result ret;
    if (rc != 0) {
        ing_wait_finish(w);
        q_job_info_release(&info);
        return rc == -ENOENT ? gone(req, "the program's job record is gone") : redis_down(req);
    }
    if (sch_status_is_terminal(info.status)) {
        ing_wait_finish(w);
        ret = answer_terminal(req, &info);
        q_job_info_release(&info);
        return ret;
    }
    q_job_info_release(&info);
    char worker[128] = "";
    int round = 0;
    json_t *calls = paused_round(c, req->job_id, worker, sizeof worker, &round);
    if (calls && round > req->ptc_round) {
        ing_wait_finish(w);
        char token[2 * TOKEN_BYTES + 1], rbuf[16];
        snprintf(rbuf, sizeof rbuf, "%d", round);
        freeReplyObject(redisCommand(c, "HSETNX %s%s minted:%s 1", Q_PTC_JOB_PREFIX, req->job_id,
                                     rbuf)); /* GET /jobs/{id} then mints none */
        if (mint(req, c, worker, rbuf, calls, token) != 0) {
            json_decref(calls);
            return redis_down(req);
        }
        return ing_reply_json(req->conn, MHD_HTTP_OK,
                              json_pack("{s:s,s:s,s:o,s:s}", "status", "tool_call_required",
                                        "continuation_token", token, "tool_calls", calls,
                                        "session_id", req->session_id),
                              req->request_id);
    }
    json_decref(calls);
    if (worker_stuck(c, req)) {
        ing_wait_finish(w);
        return gone(req, "the worker holding this program is gone; the program is lost");
    }
    if (mono_ms() >= req->deadline_ms) {
        ing_wait_finish(w);
        return gone(req, "the program neither finished nor asked for tools in time");
    }
    req->waiter = w;
    ing_wait_suspend(w);
    return MHD_YES;
}

/* The client sends a fresh X-LibreChat-Code-Request-ID with every request
 * of a run (first call and continuations); cancel names the latest. */
static void remember_request(struct ing_request *req)
{
    const char *rid =
        MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "X-LibreChat-Code-Request-ID");
    redisContext *c = ing_redis();
    if (!rid || !*rid || strlen(rid) > 128 || !c)
        return;
    redisReply *r =
        redisCommand(c, "SET %s%s:%s:%s %s EX %lld", Q_PTC_REQ_PREFIX, req->owner, req->user_tag,
                     rid, req->job_id, (long long)(cfg().pause_s * 2 + 3600));
    freeReplyObject(r);
}

/* ---- first call -------------------------------------------------------- */

/* The tools of a first call or a POST /jobs body: validated into
 * req->ptc_tools, removed from the body (req->body rewritten), lang
 * defaulting to py.  0, or -1 with *ret queued. */
static int take_tools(struct ing_request *req, json_t *body, enum MHD_Result *ret)
{
    json_t *lang = json_object_get(body, "lang");
    if (!lang) {
        json_object_set_new(body, "lang", json_string("py"));
        lang = json_object_get(body, "lang");
    }
    const char *l = json_string_value(lang);
    if (!l || (strcmp(l, "py") != 0 && strcmp(l, "bash") != 0 && strcmp(l, "python") != 0)) {
        *ret = bad(req, MHD_HTTP_BAD_REQUEST, "validation_error", "lang",
                   "programmatic tool calling runs py or bash");
        return -1;
    }
    const char *why = NULL;
    json_t *tools = check_tools(json_object_get(body, "tools"), strcmp(l, "bash") == 0, &why);
    if (!tools) {
        *ret = bad(req, MHD_HTTP_BAD_REQUEST, "validation_error", "tools", why);
        return -1;
    }
    free(req->ptc_tools);
    req->ptc_tools = json_dumps(tools, JSON_COMPACT);
    json_decref(tools);
    json_object_del(body, "tools");
    char *text = json_dumps(body, JSON_COMPACT);
    if (!req->ptc_tools || !text) {
        free(text);
        *ret = redis_down(req);
        return -1;
    }
    free(req->body);
    req->body = text;
    req->body_len = strlen(text);
    req->body_cap = req->body_len + 1;
    return 0;
}

int ing_ptc_jobs_intake(struct ing_request *req, enum MHD_Result *ret)
{
    json_t *body = json_loadb(req->body ? req->body : "", req->body_len, 0, NULL);
    int rc = 0;
    if (json_is_object(body) && json_object_get(body, "tools"))
        rc = take_tools(req, body, ret);
    json_decref(body);
    return rc;
}

static enum MHD_Result first_call(struct ing_request *req, json_t *body)
{
    enum MHD_Result ret;
    if (take_tools(req, body, &ret) != 0)
        return ret;
    /* the rest is /exec's body: submitted as /exec does, with the tools */
    if (ing_jobs_submit(req, &ret) < 0)
        return ret;
    req->ptc_round = 0;
    req->ptc_timeout_ms = req->deadline_ms - mono_ms();
    remember_request(req);
    return check_or_wait(req);
}

/* ---- continuation ------------------------------------------------------ */

static enum MHD_Result continuation(struct ing_request *req, json_t *body, const char *token)
{
    enum MHD_Result ret;
    const char *user;
    if (ing_user_of(req, NULL, &user, &ret) != 0)
        return ret;
    ci_user_tag(user, req->user_tag);
    json_t *results = json_object_get(body, "tool_results");
    size_t n = json_array_size(results);
    if (!json_is_array(results) || n > MAX_CALLS)
        return bad(req, MHD_HTTP_BAD_REQUEST, "validation_error", "tool_results",
                   "must be an array of at most 64 results");
    if (strlen(token) != 2 * TOKEN_BYTES)
        return bad(req, MHD_HTTP_NOT_FOUND, "not_found", "continuation_token",
                   "unknown or expired continuation token");
    redisContext *c = ing_redis();
    if (!c)
        return redis_down(req);
    char h[65], key[sizeof Q_PTC_TOKEN_PREFIX + 64];
    token_hash(token, h);
    snprintf(key, sizeof key, "%s%s", Q_PTC_TOKEN_PREFIX, h);
    redisReply *r = redisCommand(c, "HMGET %s job worker owner user round calls to", key);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 7) {
        freeReplyObject(r);
        return redis_down(req);
    }
    for (size_t i = 0; i < 7; i++)
        if (!r->element[i]->str) {
            freeReplyObject(r);
            return bad(req, MHD_HTTP_NOT_FOUND, "not_found", "continuation_token",
                       "unknown or expired continuation token");
        }
    if (strcmp(r->element[2]->str, req->owner) != 0 ||
        strcmp(r->element[3]->str, req->user_tag) != 0) {
        ing_sec_denied(req, "continuation_token", h, "belongs to another caller or user");
        freeReplyObject(r);
        return bad(req, MHD_HTTP_NOT_FOUND, "not_found", "continuation_token",
                   "unknown or expired continuation token");
    }
    snprintf(req->job_id, sizeof req->job_id, "%s", r->element[0]->str);
    snprintf(req->ptc_worker, sizeof req->ptc_worker, "%s", r->element[1]->str);
    req->ptc_round = (int)strtol(r->element[4]->str, NULL, 10);
    req->ptc_timeout_ms = strtoll(r->element[6]->str, NULL, 10);
    json_t *calls = json_loads(r->element[5]->str, 0, NULL);
    freeReplyObject(r);
    /* every result names a call of the round, once; bounded */
    const char *why = NULL;
    const char *field = "tool_results";
    json_t *seen = json_object();
    int64_t max = cfg().max_result;
    for (size_t i = 0; i < n && !why; i++) {
        json_t *x = json_array_get(results, i);
        const char *cid = json_string_value(json_object_get(x, "call_id"));
        json_t *ie = json_object_get(x, "is_error");
        json_t *em = json_object_get(x, "error_message");
        if (!json_is_object(x) || !cid)
            why = "each result needs a call_id";
        else if (!json_object_get(calls, cid))
            why = "a result names a call this round never made";
        else if (json_object_get(seen, cid))
            why = "two results name the same call";
        else if (json_object_get(x, "name") &&
                 !json_equal(json_object_get(x, "name"), json_object_get(calls, cid)))
            why = "a result names a tool its call was not for"; /* optional field */
        else if (ie && !json_is_boolean(ie))
            why = "is_error must be a boolean";
        else if (em && !json_is_null(em) && !json_is_string(em))
            why = "error_message must be a string";
        else if (json_dumpb(json_object_get(x, "result"), NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY) >
                 (size_t)max) {
            why = "a tool result is larger than PTC_MAX_RESULT_BYTES";
            field = "tool_results[].result";
        } else
            json_object_set_new(seen, cid, json_true());
    }
    json_decref(seen);
    json_decref(calls);
    if (why)
        return bad(req,
                   strcmp(field, "tool_results") == 0 ? MHD_HTTP_BAD_REQUEST
                                                      : MHD_HTTP_CONTENT_TOO_LARGE,
                   strcmp(field, "tool_results") == 0 ? "validation_error" : "payload_too_large",
                   field, why);
    /* single use: the first claim wins */
    r = redisCommand(c, "HSETNX %s claimed 1", key);
    int won = r && r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    int err = !r || r->type == REDIS_REPLY_ERROR;
    freeReplyObject(r);
    if (err)
        return redis_down(req);
    if (won) { /* one continuation per round, whichever token carries it */
        r = redisCommand(c, "HSETNX %s%s continued:%d 1", Q_PTC_JOB_PREFIX, req->job_id,
                         req->ptc_round);
        won = !r || r->type != REDIS_REPLY_INTEGER || r->integer == 1;
        freeReplyObject(r);
    }
    if (!won)
        return bad(req, MHD_HTTP_CONFLICT, "conflict", "continuation_token",
                   "this continuation token was already used");
    /* liveness: a live worker BLPOPs its list at all times, so a
     * continuation still there after WORKER_GONE_MS has no reader
     * (worker_stuck); heartbeats are too slow for this (15 s TTL) */
    json_t *msg =
        json_pack("{s:s,s:i,s:O}", "job", req->job_id, "round", req->ptc_round, "results", results);
    req->ptc_pushed = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    r = req->ptc_pushed
            ? redisCommand(c, "RPUSH %s%s %s", Q_PTC_IN_PREFIX, req->ptc_worker, req->ptc_pushed)
            : NULL;
    err = !r || r->type != REDIS_REPLY_INTEGER;
    freeReplyObject(r);
    if (err)
        return redis_down(req);
    req->ptc_pushed_ms = mono_ms();
    req->enqueued = 1;
    remember_request(req);
    req->deadline_ms = mono_ms() + req->ptc_timeout_ms + ing_cfg.exec_queue_wait_ms;
    return check_or_wait(req);
}

enum MHD_Result ing_h_ptc(struct ing_request *req)
{
    if (req->enqueued)
        return check_or_wait(req);
    json_error_t jerr;
    json_t *body =
        json_loadb(req->body ? req->body : "", req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(body)) {
        json_decref(body);
        return bad(req, MHD_HTTP_BAD_REQUEST, "validation_error", NULL,
                   "the body must be a JSON object");
    }
    json_t *tok = json_object_get(body, "continuation_token");
    enum MHD_Result ret;
    if (tok && !json_is_string(tok))
        ret = bad(req, MHD_HTTP_BAD_REQUEST, "validation_error", "continuation_token",
                  "must be a string");
    else if (tok)
        ret = continuation(req, body, json_string_value(tok));
    else
        ret = first_call(req, body);
    json_decref(body);
    return ret;
}

/* ---- cancel ------------------------------------------------------------ */

enum MHD_Result ing_h_ptc_cancel(struct ing_request *req)
{
    enum MHD_Result ret;
    const char *user;
    if (ing_user_of(req, NULL, &user, &ret) != 0)
        return ret;
    ci_user_tag(user, req->user_tag);
    json_t *body = json_loadb(req->body ? req->body : "", req->body_len, 0, NULL);
    const char *rid = json_string_value(json_object_get(body, "request_id"));
    if (!rid || !*rid || strlen(rid) > 128) {
        json_decref(body);
        return bad(req, MHD_HTTP_BAD_REQUEST, "validation_error", "request_id",
                   "must be the X-LibreChat-Code-Request-ID of a first call");
    }
    redisContext *c = ing_redis();
    redisReply *r =
        c ? redisCommand(c, "GET %s%s:%s:%s", Q_PTC_REQ_PREFIX, req->owner, req->user_tag, rid)
          : NULL;
    json_decref(body);
    if (!r || r->type == REDIS_REPLY_ERROR) {
        freeReplyObject(r);
        return redis_down(req);
    }
    if (r->type != REDIS_REPLY_STRING || r->len >= sizeof req->job_id) {
        freeReplyObject(r);
        return bad(req, MHD_HTTP_NOT_FOUND, "not_found", "request_id",
                   "no programmatic run of this caller has this request id");
    }
    snprintf(req->job_id, sizeof req->job_id, "%s", r->str);
    freeReplyObject(r);
    enum sch_status after = SCH_STATUS_QUEUED;
    if (q_cancel(c, req->job_id, &after) != 0)
        return redis_down(req);
    rlog_info(req->request_id, "ptc job %s: cancel requested, now %s", req->job_id,
              sch_status_name(after));
    return ing_reply_json(
        req->conn, MHD_HTTP_OK,
        json_pack("{s:s,s:s}", "request_id", req->request_id, "status", sch_status_name(after)),
        req->request_id);
}

/* ---- GET /jobs/{id} ---------------------------------------------------- */

int ing_ptc_job_paused(const char *job_id)
{
    redisContext *c = ing_redis();
    char worker[128] = "";
    int round = 0;
    json_t *calls = c ? paused_round(c, job_id, worker, sizeof worker, &round) : NULL;
    if (!calls)
        return 0;
    json_decref(calls);
    return 1;
}

void ing_ptc_annotate_job(struct ing_request *req, json_t *o)
{
    redisContext *c = ing_redis();
    char worker[128] = "";
    int round = 0;
    json_t *calls = c ? paused_round(c, req->job_id, worker, sizeof worker, &round) : NULL;
    if (!calls)
        return;
    char rbuf[16], token[2 * TOKEN_BYTES + 1];
    snprintf(rbuf, sizeof rbuf, "%d", round);
    redisReply *r = redisCommand(c, "HSETNX %s%s minted:%s 1", Q_PTC_JOB_PREFIX, req->job_id, rbuf);
    int first = r && r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    freeReplyObject(r);
    req->ptc_timeout_ms = (int64_t)ing_cfg.limits.max_execution_time_s * 1000;
    json_object_set_new(o, "status", json_string("tool_call_required"));
    json_object_set_new(o, "round", json_integer(round));
    json_object_set(o, "tool_calls", calls);
    /* the token is shown once per round: only its hash is kept */
    if (first && mint(req, c, worker, rbuf, calls, token) == 0)
        json_object_set_new(o, "continuation_token", json_string(token));
    else
        json_object_set_new(o, "continuation_token", json_null());
    json_decref(calls);
}
