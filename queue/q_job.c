/*
 * q_job.c - synchronous queue API: setup, enqueue, read, cancel.
 */
#include "q_job.h"

#include "ci_env.h"
#include "ci_log.h"
#include "ci_util.h"
#include "q_script.h"
#include "sch_codec.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int64_t q_job_ttl_default(void)
{
    return ci_env_int("JOB_TTL_SECONDS", Q_JOB_TTL_DEFAULT, 1, INT32_MAX);
}

int64_t q_dead_max_default(void)
{
    return ci_env_int("DEAD_LETTER_MAX", Q_DEAD_MAX_DEFAULT, 1, INT32_MAX);
}

static int q_job_key(char *out, size_t outsz, const char *job_id)
{
    if (!job_id || !*job_id || strlen(job_id) > Q_JOB_ID_MAX)
        return -EINVAL;
    snprintf(out, outsz, "%s%s", Q_JOB_KEY_PREFIX, job_id);
    return 0;
}

int q_setup(redisContext *c)
{
    static const char *const streams[] = {Q_STREAM_HIGH, Q_STREAM_NORMAL};
    for (size_t i = 0; i < 2; i++) {
        redisReply *r = redisCommand(c, "XGROUP CREATE %s %s 0 MKSTREAM", streams[i], Q_GROUP);
        if (!r)
            return -EIO;
        int bad = r->type == REDIS_REPLY_ERROR && strncmp(r->str, "BUSYGROUP", 9) != 0;
        if (bad)
            log_error("queue: XGROUP CREATE %s: %s", streams[i], r->str);
        freeReplyObject(r);
        if (bad)
            return -EIO;
    }
    return 0;
}

static int64_t q_int_field(const redisReply *r)
{
    if (!r || r->type != REDIS_REPLY_STRING)
        return 0;
    return strtoll(r->str, NULL, 10);
}

static void q_str_field(char *dst, size_t dstsz, const redisReply *r)
{
    dst[0] = '\0';
    if (r && r->type == REDIS_REPLY_STRING)
        snprintf(dst, dstsz, "%s", r->str);
}

int q_job_info_parse(redisReply *const *e, size_t n, struct q_job_info *out)
{
    int rc = -EIO;
    memset(out, 0, sizeof *out);
    if (n != Q_JOB_NFIELDS)
        goto out;
    if (e[0]->type != REDIS_REPLY_STRING) {
        rc = -ENOENT;
        goto out;
    }
    out->status = sch_status_from_name(e[0]->str);
    if (out->status == SCH_STATUS_COUNT)
        goto out;
    q_str_field(out->owner, sizeof out->owner, e[1]);
    q_str_field(out->session_id, sizeof out->session_id, e[2]);
    q_str_field(out->worker, sizeof out->worker, e[3]);
    out->created_at = q_int_field(e[4]);
    out->started_at = q_int_field(e[5]);
    out->finished_at = q_int_field(e[6]);
    out->attempts = (int)q_int_field(e[7]);
    out->cancel_requested = q_int_field(e[8]) == 1;
    if (e[9]->type == REDIS_REPLY_STRING) {
        if (sch_result_decode(e[9]->str, e[9]->len, &out->result) < 0)
            goto out;
        out->has_result = 1;
    }
    if (e[10]->type == REDIS_REPLY_STRING)
        out->error = ci_xstrndup(e[10]->str, e[10]->len);
    q_str_field(out->webhook_id, sizeof out->webhook_id, e[11]);
    q_str_field(out->webhook_status, sizeof out->webhook_status, e[12]);
    out->webhook_attempts = (int)q_int_field(e[13]);
    q_str_field(out->webhook_error, sizeof out->webhook_error, e[14]);
    q_str_field(out->user, sizeof out->user, e[15]);
    rc = 0;
out:
    if (rc < 0)
        q_job_info_release(out);
    return rc;
}

int q_job_get(redisContext *c, const char *job_id, struct q_job_info *out)
{
    char key[Q_JOB_KEY_MAX];
    int rc;
    redisReply *r = NULL;
    memset(out, 0, sizeof *out);
    if ((rc = q_job_key(key, sizeof key, job_id)) < 0)
        return rc;
    r = redisCommand(c, "HMGET %s " Q_JOB_FIELDS, key);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != Q_JOB_NFIELDS)
        rc = -EIO;
    else
        rc = q_job_info_parse(r->element, r->elements, out);
    freeReplyObject(r);
    return rc;
}

void q_job_info_release(struct q_job_info *info)
{
    if (!info)
        return;
    if (info->has_result)
        sch_result_release(&info->result);
    free(info->error);
    memset(info, 0, sizeof *info);
}

int q_cancel(redisContext *c, const char *job_id, enum sch_status *status_after)
{
    char key[Q_JOB_KEY_MAX], now[24], ttl[24];
    int rc;
    if ((rc = q_job_key(key, sizeof key, job_id)) < 0)
        return rc;
    snprintf(now, sizeof now, "%" PRId64, ci_now_ms());
    snprintf(ttl, sizeof ttl, "%" PRId64, q_job_ttl_default());
    const char *argv[4] = {key, job_id, now, ttl};
    size_t lens[4];
    for (int i = 0; i < 4; i++)
        lens[i] = strlen(argv[i]);
    redisReply *r = q_script_call(c, Q_SCRIPT_CANCEL, 1, 4, argv, lens);
    if (!r || r->type != REDIS_REPLY_STRING) {
        if (r && r->type == REDIS_REPLY_ERROR)
            log_error("queue: cancel %s: %s", job_id, r->str);
        rc = -EIO;
        goto out;
    }
    if (r->len == 0) {
        rc = -ENOENT;
        goto out;
    }
    enum sch_status st = sch_status_from_name(r->str);
    if (st == SCH_STATUS_COUNT) {
        rc = -EIO;
        goto out;
    }
    if (status_after)
        *status_after = st;
    rc = 0;
out:
    freeReplyObject(r);
    return rc;
}
