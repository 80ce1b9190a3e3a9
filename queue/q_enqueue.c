/*
 * q_enqueue.c - q_enqueue() and q_enqueue_batch(): jobs go to Redis in
 * script calls of up to Q_ENQ_CHUNK jobs each (one EVALSHA per chunk, all
 * chunks pipelined in one round trip); see queue/lua/enqueue.lua.
 * q_enqueue_batch_ex() puts a batch record (q_batch.h) first in the same
 * pipeline, so it exists before any of its jobs can finish, and wraps it
 * all in MULTI/EXEC: a batch is queued whole or not at all.
 * q_enqueue_after() reads replies of commands the caller appended first
 * (the ingress's session and audit writes), so those share the round trip.
 */
#include "q_job.h"

#include "q_batch.h"

#include "ci_log.h"
#include "ci_util.h"
#include "q_script.h"
#include "sch_codec.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define Q_ENQ_CHUNK 128
#define Q_ENQ_PENDING 1 /* rc while the job's chunk has no reply yet */

struct q_enq_job {
    const struct sch_job *src;
    char key[Q_JOB_KEY_MAX];
    char created[24];
    char deadline[24]; /* created + timeout: the longest wait for its session's turn */
    char user_tag[CI_USER_TAG_LEN + 1]; /* the job's user (ci_user_tag), "" = anonymous */
    char *bytes;
    size_t len;
};

static int q_enq_prepare(struct q_enq_job *e, const struct sch_job *job)
{
    memset(e, 0, sizeof *e);
    e->src = job;
    if (!job || !job->id || !*job->id || strlen(job->id) > Q_JOB_ID_MAX)
        return -EINVAL;
    snprintf(e->key, sizeof e->key, "%s%s", Q_JOB_KEY_PREFIX, job->id);
    snprintf(e->created, sizeof e->created, "%" PRId64, job->created_ms);
    int64_t wait_ms = job->timeout_ms ? (int64_t)job->timeout_ms : Q_TURN_WAIT_DEFAULT_MS;
    snprintf(e->deadline, sizeof e->deadline, "%" PRId64, job->created_ms + wait_ms);
    ci_user_tag(job->user_id, e->user_tag);
    return sch_job_encode(job, &e->bytes, &e->len);
}

/* One chunk's command: jobs idx[0..m) of e. */
struct q_enq_cmd {
    size_t *idx, m;
    const char **av;
    size_t *al, n;
    char num[16], ttl[24];
    const char *batch_id; /* "" = none */
    int redo; /* NOSCRIPT: send again as EVAL */
};

static void q_enq_cmd_build(struct q_enq_cmd *k, const struct q_enq_job *e, int eval)
{
    size_t m = k->m, n = 0;
    k->n = 6 + 11 * m;
    k->av = ci_xcalloc(k->n, sizeof *k->av);
    k->al = ci_xcalloc(k->n, sizeof *k->al);
    q_script_head(Q_SCRIPT_ENQUEUE, eval, (int)m + 2, k->num, k->av, k->al);
    n = 3;
#define Q_ARG(s, l) (k->av[n] = (s), k->al[n] = (l), n++)
    Q_ARG(Q_STREAM_HIGH, strlen(Q_STREAM_HIGH));
    Q_ARG(Q_STREAM_NORMAL, strlen(Q_STREAM_NORMAL));
    for (size_t i = 0; i < m; i++)
        Q_ARG(e[k->idx[i]].key, strlen(e[k->idx[i]].key));
    Q_ARG(k->ttl, strlen(k->ttl));
    for (size_t i = 0; i < m; i++) {
        const struct q_enq_job *j = &e[k->idx[i]];
        const char *owner = j->src->owner ? j->src->owner : "";
        const char *sess = j->src->session_id ? j->src->session_id : "";
        Q_ARG(j->src->id, strlen(j->src->id));
        Q_ARG(owner, strlen(owner));
        Q_ARG(sess, strlen(sess));
        Q_ARG(j->created, strlen(j->created));
        Q_ARG(j->src->priority >= 1 ? "1" : "2", 1);
        Q_ARG(j->bytes, j->len);
        Q_ARG(j->src->callback_url ? j->src->callback_url : "",
              j->src->callback_url ? strlen(j->src->callback_url) : 0);
        Q_ARG(k->batch_id, strlen(k->batch_id));
        /* batch items are independent jobs: no session line (docs/queue.md) */
        Q_ARG(j->deadline, *k->batch_id ? 0 : strlen(j->deadline));
        Q_ARG(j->user_tag, strlen(j->user_tag));
    }
#undef Q_ARG
}

static void q_enq_cmd_clear(struct q_enq_cmd *k)
{
    free(k->av);
    free(k->al);
    k->av = NULL;
    k->al = NULL;
}

/* Spreads a chunk's reply over rc[]; 1 when it was NOSCRIPT. */
static int q_enq_reply(const struct q_enq_cmd *k, const redisReply *r, int *rc)
{
    if (q_script_is_noscript(r))
        return 1;
    int ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == k->m;
    if (r && !ok)
        log_error("queue: enqueue: %s", r->type == REDIS_REPLY_ERROR ? r->str : "bad reply");
    for (size_t i = 0; i < k->m; i++) {
        const redisReply *e = ok ? r->element[i] : NULL;
        rc[k->idx[i]] = !e || e->type != REDIS_REPLY_INTEGER ? -EIO : e->integer == 1 ? 0 : -EEXIST;
    }
    return 0;
}

/* Reads the npre replies of commands appended before ours; errors counted
 * into *bad.  -EIO on a connection failure. */
static int q_enq_read_pre(redisContext *c, int npre, int *bad)
{
    int rc = 0;
    for (int i = 0; i < npre; i++) {
        redisReply *r = NULL;
        if (rc == 0 && redisGetReply(c, (void **)&r) != REDIS_OK)
            rc = -EIO;
        if (r && r->type == REDIS_REPLY_ERROR)
            (*bad)++;
        freeReplyObject(r);
    }
    return rc;
}

/* Reads the replies of a plain pipeline, one per chunk; chunks that met
 * NOSCRIPT are sent again as EVAL. */
static void q_enq_read_plain(redisContext *c, struct q_enq_cmd *cmds, size_t nchunks,
                             const struct q_enq_job *e, int *rc)
{
    for (size_t ci = 0; ci < nchunks; ci++) {
        struct q_enq_cmd *k = &cmds[ci];
        redisReply *r = NULL;
        if (k->m == 0)
            continue;
        if (redisGetReply(c, (void **)&r) != REDIS_OK)
            r = NULL;
        k->redo = q_enq_reply(k, r, rc);
        freeReplyObject(r);
    }
    for (size_t ci = 0; ci < nchunks; ci++) { /* script was not loaded: EVAL */
        struct q_enq_cmd *k = &cmds[ci];
        if (!k->redo)
            continue;
        q_enq_cmd_build(k, e, 1);
        redisReply *r = redisCommandArgv(c, (int)k->n, k->av, k->al);
        q_enq_cmd_clear(k);
        q_enq_reply(k, r, rc);
        freeReplyObject(r);
    }
}

/* Reads the replies of a MULTI/EXEC pipeline: +OK, one +QUEUED per queued
 * command (the batch record and each sent chunk), then EXEC's array.  When
 * anything was refused, the connection broke or DISCARD was sent instead,
 * nothing ran (or never arrived): every job stays -EIO and so does the
 * batch.  The chunks were
 * sent as EVAL, so NOSCRIPT cannot split the transaction. */
static void q_enq_read_tx(redisContext *c, struct q_enq_cmd *cmds, size_t nchunks, size_t queued,
                          int *rc, int *batch_rc)
{
    redisReply *r = NULL;
    *batch_rc = -EIO;
    for (size_t i = 0; i < 1 + queued; i++) { /* MULTI's +OK, then a +QUEUED each */
        if (redisGetReply(c, (void **)&r) != REDIS_OK)
            return;
        if (r && r->type == REDIS_REPLY_ERROR)
            log_error("queue: batch enqueue refused: %s", r->str);
        freeReplyObject(r);
        r = NULL;
    }
    if (redisGetReply(c, (void **)&r) != REDIS_OK)
        return;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != queued) { /* DISCARD: +OK */
        if (r && r->type == REDIS_REPLY_ERROR)
            log_error("queue: batch enqueue: %s", r->str);
        goto out;
    }
    const redisReply *b = r->element[0];
    *batch_rc = b->type != REDIS_REPLY_INTEGER ? -EIO : b->integer == 1 ? 0 : -EEXIST;
    for (size_t ci = 0, at = 1; ci < nchunks; ci++)
        if (cmds[ci].m > 0)
            q_enq_reply(&cmds[ci], r->element[at++], rc);
out:
    freeReplyObject(r);
}

/*
 * The one enqueue path.  Without a batch, a plain pipeline: jobs are
 * independent, so one taken id or failed chunk does not stop the others
 * (rcs tells).  With a batch, MULTI ... EXEC around the batch record and
 * every chunk: Redis applies all of it or none, also when the connection
 * or Redis dies midway (an unfinished transaction is discarded, also from
 * the AOF), so a refused batch never leaves some of its jobs queued.
 */
static int q_enq_run(redisContext *c, const struct sch_job *const *jobs, size_t n, int64_t ttl_s,
                     const struct q_batch_spec *batch, int *rcs, int npre, int *pre_bad)
{
    size_t nchunks = (n + Q_ENQ_CHUNK - 1) / Q_ENQ_CHUNK, used = 0;
    struct q_enq_job *e = ci_xcalloc(n ? n : 1, sizeof *e);
    int *rc = ci_xcalloc(n ? n : 1, sizeof *rc);
    size_t *idx = ci_xcalloc(n ? n : 1, sizeof *idx);
    struct q_enq_cmd *cmds = ci_xcalloc(nchunks ? nchunks : 1, sizeof *cmds);
    int first = 0, tx = batch != NULL;
    int64_t ttl = ttl_s > 0 ? ttl_s : q_job_ttl_default();

    for (size_t i = 0; i < n; i++) {
        rc[i] = q_enq_prepare(&e[i], jobs[i]);
        if (rc[i] == 0)
            idx[used++] = i;
    }
    int batch_rc = 0, batch_sent = 0, torn = 0;
    size_t queued = 0; /* commands appended between MULTI and EXEC */
    if (tx) {
        batch_rc = q_batch_check(batch, n);
        if (batch_rc == 0)
            batch_rc = redisAppendCommand(c, "MULTI") == REDIS_OK ? 0 : -EIO;
        if (batch_rc == 0) {
            torn = q_batch_append_create(c, batch, jobs, n, ttl) != 0;
            queued += !torn;
        }
        batch_sent = batch_rc == 0;
        if (!batch_sent) { /* no record: enqueue none of its jobs */
            for (size_t i = 0; i < used; i++)
                rc[idx[i]] = batch_rc;
            used = 0;
        }
    }
    nchunks = 0;
    for (size_t at = 0; at < used; at += Q_ENQ_CHUNK) { /* send every chunk */
        struct q_enq_cmd *k = &cmds[nchunks++];
        k->idx = idx + at;
        k->m = used - at < Q_ENQ_CHUNK ? used - at : Q_ENQ_CHUNK;
        snprintf(k->ttl, sizeof k->ttl, "%" PRId64, ttl);
        k->batch_id = batch && batch->id ? batch->id : "";
        q_enq_cmd_build(k, e, tx);
        for (size_t i = 0; i < k->m; i++)
            rc[k->idx[i]] = Q_ENQ_PENDING;
        if (redisAppendCommandArgv(c, (int)k->n, k->av, k->al) != REDIS_OK) {
            k->m = 0; /* nothing sent: its jobs keep rc 1 and become -EIO */
            torn = 1;
        } else {
            queued++;
        }
        q_enq_cmd_clear(k);
    }
    /* a part of the transaction could not be appended: DISCARD it whole */
    if (batch_sent && redisAppendCommand(c, torn ? "DISCARD" : "EXEC") != REDIS_OK)
        batch_sent = 0; /* never read: the caller's reconnect discards the MULTI */
    int pre_rc = q_enq_read_pre(c, npre, pre_bad); /* sent first, so read first */
    if (pre_rc == 0 && tx && batch_sent)
        q_enq_read_tx(c, cmds, nchunks, queued, rc, &batch_rc);
    else if (pre_rc == 0 && !tx)
        q_enq_read_plain(c, cmds, nchunks, e, rc);
    else if (tx && batch_rc == 0)
        batch_rc = -EIO;
    for (size_t i = 0; i < n; i++) {
        if (rc[i] == Q_ENQ_PENDING)
            rc[i] = -EIO;
        if (tx && batch_rc < 0 && rc[i] == 0)
            rc[i] = batch_rc; /* the transaction did not run */
        if (rc[i] < 0 && first == 0)
            first = rc[i];
        if (rcs)
            rcs[i] = rc[i];
        free(e[i].bytes);
    }
    free(cmds);
    free(idx);
    free(rc);
    free(e);
    return batch_rc < 0 ? batch_rc : first;
}

int q_enqueue_batch_ex(redisContext *c, const struct sch_job *const *jobs, size_t n,
                       int64_t ttl_s, const struct q_batch_spec *batch, int *rcs)
{
    int bad = 0;
    return q_enq_run(c, jobs, n, ttl_s, batch, rcs, 0, &bad);
}

int q_enqueue_after(redisContext *c, const struct sch_job *job, int64_t ttl_s, int npre,
                    int *pre_errors)
{
    int rc = 0;
    *pre_errors = 0;
    q_enq_run(c, &job, 1, ttl_s, NULL, &rc, npre, pre_errors);
    return rc;
}

int q_enqueue_batch(redisContext *c, const struct sch_job *const *jobs, size_t n, int64_t ttl_s,
                    int *rcs)
{
    return q_enqueue_batch_ex(c, jobs, n, ttl_s, NULL, rcs);
}

int q_enqueue(redisContext *c, const struct sch_job *job, int64_t ttl_s)
{
    int rc = 0;
    q_enqueue_batch(c, &job, 1, ttl_s, &rc);
    return rc;
}
