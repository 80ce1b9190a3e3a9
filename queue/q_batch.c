/*
 * q_batch.c - batch records: creation (pipelined before the batch's jobs by
 * q_enqueue_batch_ex) and read-back with per-status counts (q_batch.h).
 */
#include "q_batch.h"

#include "ci_util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* queue/lua/batch_create.lua.  Sent with EVAL, not EVALSHA: it sits in
 * MULTI/EXEC, where a NOSCRIPT would fail this one command while the jobs
 * queued with it ran (q_lua.h). */
extern const char q_lua_batch_create[];

static int q_batch_id_ok(const char *id)
{
    size_t len = id ? strlen(id) : 0;
    if (len == 0 || len > Q_BATCH_ID_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
            return 0;
    return 1;
}

int q_batch_check(const struct q_batch_spec *b, size_t n)
{
    return b && q_batch_id_ok(b->id) && n > 0 ? 0 : -EINVAL;
}

int q_batch_append_create(redisContext *c, const struct q_batch_spec *b,
                          const struct sch_job *const *jobs, size_t n, int64_t ttl_s)
{
    if (q_batch_check(b, n) != 0)
        return -EINVAL;
    char hkey[sizeof Q_BATCH_KEY_PREFIX + Q_BATCH_ID_MAX], lkey[sizeof hkey + 8],
        dkey[sizeof hkey + 8], ttl[24], created[24], total[24];
    snprintf(hkey, sizeof hkey, "%s%s", Q_BATCH_KEY_PREFIX, b->id);
    snprintf(lkey, sizeof lkey, "%s:jobs", hkey);
    snprintf(dkey, sizeof dkey, "%s:done", hkey);
    snprintf(ttl, sizeof ttl, "%" PRId64, ttl_s);
    snprintf(created, sizeof created, "%" PRId64, b->created_ms);
    snprintf(total, sizeof total, "%zu", n);
    size_t argc = 3 + 3 + 6 + n, k = 0;
    const char **av = ci_xcalloc(argc, sizeof *av);
    size_t *al = ci_xcalloc(argc, sizeof *al);
#define Q_ARG(s) (av[k] = (s), al[k] = strlen(av[k]), k++)
    Q_ARG("EVAL");
    Q_ARG(q_lua_batch_create);
    Q_ARG("3");
    Q_ARG(hkey);
    Q_ARG(lkey);
    Q_ARG(dkey);
    Q_ARG(ttl);
    Q_ARG(b->owner ? b->owner : "");
    Q_ARG(b->callback_url ? b->callback_url : "");
    Q_ARG(created);
    Q_ARG(total);
    Q_ARG(b->user_tag ? b->user_tag : "");
    for (size_t i = 0; i < n; i++)
        Q_ARG(jobs[i] && jobs[i]->id ? jobs[i]->id : "");
#undef Q_ARG
    int rc = redisAppendCommandArgv(c, (int)argc, av, al) == REDIS_OK ? 0 : -EIO;
    free(av);
    free(al);
    return rc;
}

static int64_t q_int(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : 0;
}

/* Statuses of every job, pipelined; adds them to info->counts. */
static int q_batch_count(redisContext *c, struct q_batch_info *info)
{
    int rc = 0;
    for (size_t i = 0; i < info->njobs; i++)
        if (redisAppendCommand(c, "HGET %s%s status", Q_JOB_KEY_PREFIX, info->job_ids[i]) !=
            REDIS_OK)
            return -EIO;
    for (size_t i = 0; i < info->njobs; i++) {
        redisReply *r = NULL;
        if (redisGetReply(c, (void **)&r) != REDIS_OK)
            return -EIO;
        enum sch_status st = SCH_STATUS_DEAD; /* expired record */
        if (r && r->type == REDIS_REPLY_STRING)
            st = sch_status_from_name(r->str);
        else if (!r || r->type != REDIS_REPLY_NIL)
            rc = -EIO;
        if (st < SCH_STATUS_COUNT)
            info->counts[st]++;
        freeReplyObject(r);
    }
    return rc;
}

int q_batch_get(redisContext *c, const char *batch_id, struct q_batch_info *out)
{
    redisReply *h = NULL, *l = NULL;
    int rc = -EIO;
    memset(out, 0, sizeof *out);
    if (!q_batch_id_ok(batch_id))
        return -ENOENT;
    h = redisCommand(c,
                     "HMGET %s%s owner total done created_at completed_at webhook_status "
                     "webhook_attempts webhook_error user",
                     Q_BATCH_KEY_PREFIX, batch_id);
    if (!h || h->type != REDIS_REPLY_ARRAY || h->elements != 9)
        goto out;
    if (h->element[0]->type != REDIS_REPLY_STRING) {
        rc = -ENOENT;
        goto out;
    }
    snprintf(out->owner, sizeof out->owner, "%s", h->element[0]->str);
    out->total = q_int(h->element[1]);
    out->done = q_int(h->element[2]);
    out->created_at = q_int(h->element[3]);
    out->completed_at = q_int(h->element[4]);
    if (h->element[5]->type == REDIS_REPLY_STRING)
        snprintf(out->webhook_status, sizeof out->webhook_status, "%s", h->element[5]->str);
    out->webhook_attempts = (int)q_int(h->element[6]);
    if (h->element[7]->type == REDIS_REPLY_STRING)
        snprintf(out->webhook_error, sizeof out->webhook_error, "%s", h->element[7]->str);
    if (h->element[8]->type == REDIS_REPLY_STRING)
        snprintf(out->user, sizeof out->user, "%s", h->element[8]->str);
    l = redisCommand(c, "LRANGE %s%s:jobs 0 -1", Q_BATCH_KEY_PREFIX, batch_id);
    if (!l || l->type != REDIS_REPLY_ARRAY)
        goto out;
    out->job_ids = ci_xcalloc(l->elements ? l->elements : 1, sizeof *out->job_ids);
    for (size_t i = 0; i < l->elements; i++)
        if (l->element[i]->type == REDIS_REPLY_STRING)
            out->job_ids[out->njobs++] = ci_xstrndup(l->element[i]->str, l->element[i]->len);
    rc = q_batch_count(c, out);
out:
    freeReplyObject(h);
    freeReplyObject(l);
    if (rc < 0)
        q_batch_info_release(out);
    return rc;
}

void q_batch_info_release(struct q_batch_info *info)
{
    if (!info)
        return;
    for (size_t i = 0; i < info->njobs; i++)
        free(info->job_ids[i]);
    free(info->job_ids);
    memset(info, 0, sizeof *info);
}
