/*
 * wk_webhook_body.c - webhook bodies and signatures (wk_webhook_body.h).
 */
#include "wk_webhook_body.h"

#include "ci_util.h"
#include "q_job.h"
#include "q_webhook.h"
#include "sch_json.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *str_of(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_STRING ? r->str : "";
}

static int64_t int_of(const redisReply *r)
{
    return r && (r->type == REDIS_REPLY_STRING)  ? strtoll(r->str, NULL, 10)
           : r && r->type == REDIS_REPLY_INTEGER ? r->integer
                                                 : 0;
}

static json_t *job_data(const char *job_id, const redisReply *fields, int64_t *event_ms, char *why,
                        size_t whysz)
{
    struct q_job_info info;
    if (fields->type != REDIS_REPLY_ARRAY ||
        q_job_info_parse(fields->element, fields->elements, &info) != 0) {
        snprintf(why, whysz, "the job record expired or cannot be read");
        return NULL;
    }
    json_t *o = q_job_info_json(job_id, &info, 0);
    *event_ms = info.finished_at;
    q_job_info_release(&info);
    return o;
}

static json_t *batch_data(const char *batch_id, const redisReply *f, const redisReply *ids,
                          int64_t *event_ms, char *why, size_t whysz)
{
    static const char *const names[] = {"completed", "failed",    "timeout",
                                        "oom",       "cancelled", "dead"};
    if (f->type != REDIS_REPLY_ARRAY || f->elements != Q_WEBHOOK_BATCH_NFIELDS ||
        f->element[0]->type != REDIS_REPLY_STRING || ids->type != REDIS_REPLY_ARRAY) {
        snprintf(why, whysz, "the batch record expired or cannot be read");
        return NULL;
    }
    json_t *counts = json_object(), *list = json_array();
    for (size_t i = 0; i < 6; i++)
        json_object_set_new(counts, names[i], json_integer(int_of(f->element[4 + i])));
    for (size_t i = 0; i < ids->elements; i++)
        json_array_append_new(list, json_string(str_of(ids->element[i])));
    *event_ms = int_of(f->element[3]);
    return json_pack("{s:s,s:I,s:I,s:o,s:o,s:o,s:o}", "batch_id", batch_id, "total",
                     (json_int_t)int_of(f->element[0]), "done", (json_int_t)int_of(f->element[1]),
                     "counts", counts, "job_ids", list, "created_at",
                     sch_json_time(int_of(f->element[2])), "completed_at",
                     sch_json_time(*event_ms));
}

char *wk_webhook_body(const redisReply *e, size_t *len, char *why, size_t whysz)
{
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 9) {
        snprintf(why, whysz, "malformed claim reply");
        return NULL;
    }
    const char *type = str_of(e->element[1]), *subject = str_of(e->element[2]);
    int64_t event_ms = 0;
    json_t *data = strcmp(type, "batch.completed") == 0
                       ? batch_data(subject, e->element[7], e->element[8], &event_ms, why, whysz)
                       : job_data(subject, e->element[7], &event_ms, why, whysz);
    if (!data)
        return NULL;
    const char *r =
        strcmp(type, "job.tool_call_required") == 0 ? strrchr(str_of(e->element[0]), 'r') : NULL;
    if (r) { /* programmatic tool calling (docs/ptc.md): the round, from the id */
        json_object_set_new(data, "status", json_string("tool_call_required"));
        json_object_set_new(data, "round", json_integer(strtol(r + 1, NULL, 10)));
        event_ms = 0;
    }
    if (event_ms <= 0)
        event_ms = int_of(e->element[4]);
    json_t *o = json_pack("{s:s,s:o,s:o}", "type", type, "timestamp", sch_json_time(event_ms),
                          "data", data);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!text) {
        snprintf(why, whysz, "cannot serialize the body");
        return NULL;
    }
    *len = strlen(text);
    return text;
}

int wk_webhook_sign(const char *secret, const char *id, int64_t ts, const char *body, size_t len,
                    char *out, size_t outsz)
{
    unsigned char key[256], mac[EVP_MAX_MD_SIZE];
    size_t keylen;
    unsigned int maclen = 0;
    int rc = -EINVAL;
    if (!secret || !*secret)
        return -EINVAL;
    if (strncmp(secret, "whsec_", 6) == 0) {
        const char *b64 = secret + 6;
        size_t blen = strlen(b64);
        if (blen == 0 || blen % 4 != 0 || blen / 4 * 3 > sizeof key)
            return -EINVAL;
        int n = EVP_DecodeBlock(key, (const unsigned char *)b64, (int)blen);
        if (n < 0)
            return -EINVAL;
        keylen = (size_t)n;
        for (size_t i = blen; i > 0 && b64[i - 1] == '='; i--)
            keylen--; /* EVP_DecodeBlock counts padding as zero bytes */
    } else {
        keylen = strlen(secret);
        if (keylen > sizeof key)
            return -EINVAL;
        memcpy(key, secret, keylen);
    }
    char prefix[160];
    int plen = snprintf(prefix, sizeof prefix, "%s.%" PRId64 ".", id, ts);
    if (plen < 0 || (size_t)plen >= sizeof prefix)
        goto out;
    size_t msglen = (size_t)plen + len;
    unsigned char *msg = ci_xmalloc(msglen ? msglen : 1);
    memcpy(msg, prefix, (size_t)plen);
    memcpy(msg + plen, body, len);
    int ok = HMAC(EVP_sha256(), key, (int)keylen, msg, msglen, mac, &maclen) != NULL;
    free(msg);
    if (!ok || outsz < 3 + 4 * ((maclen + 2) / 3) + 1)
        goto out;
    memcpy(out, "v1,", 3);
    EVP_EncodeBlock((unsigned char *)out + 3, mac, (int)maclen);
    rc = 0;
out:
    OPENSSL_cleanse(key, sizeof key);
    return rc;
}
