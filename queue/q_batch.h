/*
 * q_batch.h - batches of jobs (POST /jobs/batch): one record per batch and
 * the enqueue of all its jobs in one pipelined round trip.
 *
 * Layout (also in q_keys.h):
 *   ci:batch:<id>       hash  owner, total, created_at, callback_url?, done,
 *                             n_<status> (terminal jobs per status),
 *                             completed_at (when done reached total),
 *                             webhook_id / webhook_status / webhook_attempts /
 *                             webhook_error (when a callback_url is set)
 *   ci:batch:<id>:jobs  list  the job ids in submission order
 *   ci:batch:<id>:done  set   job ids already counted (makes counting
 *                             idempotent: a redelivered job counts once)
 * All three expire with the jobs (JOB_TTL_SECONDS).  Counting happens inside
 * the terminal transition of each job (lua/on_terminal.lua), so done and n_* never
 * lag behind the job records and batch.completed is created exactly once.
 *
 * Threads/ownership as q_job.h: a blocking redisContext per thread, owned by
 * the caller.  Errors: 0 or -EINVAL, -ENOENT, -EEXIST, -EIO.
 */
#ifndef Q_BATCH_H
#define Q_BATCH_H

#include "q_job.h"

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

#define Q_BATCH_KEY_PREFIX "ci:batch:"
#define Q_BATCH_ID_MAX 64

struct q_batch_spec {
    const char *id;           /* 1..64 chars of [0-9a-f] */
    const char *owner;        /* key owner of every job */
    const char *callback_url; /* NULL or "": no batch.completed webhook */
    int64_t created_ms;
    const char *user_tag;     /* ci_user_tag() of the submitter's user; NULL/"" = anonymous */
};

/* q_enqueue_batch() whose pipeline starts with the creation of the batch
 * record `batch` (may be NULL: then exactly q_enqueue_batch()).  Each job's
 * hash records the batch id.  With a batch it is one MULTI/EXEC
 * transaction: all of it is applied or none (a connection or Redis failure
 * midway leaves nothing queued).  Returns 0, -EIO (nothing queued), or
 * -EEXIST when the batch id or a job id was taken.  Batch ids are 128-bit
 * random values; should one ever be taken, its jobs were still queued
 * (a script cannot undo its transaction's earlier commands). */
int q_enqueue_batch_ex(redisContext *c, const struct sch_job *const *jobs, size_t n, int64_t ttl_s,
                       const struct q_batch_spec *batch, int *rcs);

/* A batch as read back (GET /jobs/batch/{id}).  Release with
 * q_batch_info_release(). */
struct q_batch_info {
    char owner[Q_OWNER_MAX];
    int64_t total, done;
    int64_t created_at, completed_at; /* ms; completed_at 0 = not yet */
    int64_t counts[SCH_STATUS_COUNT]; /* current status of each job */
    char **job_ids;                   /* heap, njobs entries */
    size_t njobs;
    char webhook_status[16]; /* "" when the batch has no callback */
    int webhook_attempts;
    char webhook_error[256];
    char user[Q_USER_TAG_MAX]; /* the submitter's user tag, "" = anonymous */
};

/* Reads the record, the job list and every job's status (one pipelined
 * round trip for the statuses; an expired job counts as dead). */
int q_batch_get(redisContext *c, const char *batch_id, struct q_batch_info *out);
void q_batch_info_release(struct q_batch_info *info);

/* Internal to ci_queue (q_enqueue.c): 0 when the spec and job count are
 * acceptable (else -EINVAL); append the create command (an EVAL, so it can
 * sit in MULTI/EXEC) to c's output buffer. */
int q_batch_check(const struct q_batch_spec *b, size_t n);
int q_batch_append_create(redisContext *c, const struct q_batch_spec *b,
                          const struct sch_job *const *jobs, size_t n, int64_t ttl_s);

#endif
