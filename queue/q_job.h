/*
 * q_job.h - synchronous queue API (the ingress side): set up the groups,
 * enqueue, read a job record, cancel, queue statistics.
 *
 * The Redis layout and the job lifecycle are described in q_keys.h and
 * docs/queue.md.
 *
 * Threads: every function takes a blocking redisContext that the caller owns
 * and uses from one thread at a time (one context per thread).  Nothing here
 * keeps global state beyond the script SHA1 table (computed once,
 * thread-safe).  A function that fails with -EIO leaves c->err set when the
 * connection broke; the caller reconnects.
 *
 * Errors: 0 on success or a negative errno: -EINVAL (bad argument), -ENOENT
 * (no such job), -EEXIST (job id taken), -EIO (Redis unreachable or replied
 * with an error), -ENOMEM.
 */
#ifndef Q_JOB_H
#define Q_JOB_H

#include "q_keys.h"
#include "sch_types.h"

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <stdint.h>

/* Creates the consumer group on both streams (MKSTREAM, start id 0);
 * BUSYGROUP is not an error.  Idempotent. */
int q_setup(redisContext *c);

/* Atomically creates ci:job:<id> (status queued, owner, session_id,
 * created_at = job->created_ms, attempts 0, TTL ttl_s; ttl_s <= 0 means
 * JOB_TTL_SECONDS) and XADDs the msgpack job to the stream of
 * job->priority.  A job with a session_id also takes the next ticket of
 * its session's line in the same script call (lua/turn.lua): it will not
 * start before the session's earlier calls have ended, and waits at most
 * job->timeout_ms (Q_TURN_WAIT_DEFAULT_MS when 0) from created_ms for
 * that.  -EEXIST when the id is already taken. */
int q_enqueue(redisContext *c, const struct sch_job *job, int64_t ttl_s);

/* The same for n jobs in one pipeline (one round trip).  rcs (may be NULL)
 * receives each job's result code.  Returns 0 when every job was enqueued,
 * else the first negative code. */
int q_enqueue_batch(redisContext *c, const struct sch_job *const *jobs, size_t n, int64_t ttl_s,
                    int *rcs);

/* q_enqueue() sharing its round trip with `npre` commands the caller has
 * already appended to c and not read: their replies are read (and freed)
 * first, then the job's.  *pre_errors gets how many of them were Redis
 * error replies.  A connection failure fails the enqueue (-EIO). */
int q_enqueue_after(redisContext *c, const struct sch_job *job, int64_t ttl_s, int npre,
                    int *pre_errors);

#define Q_OWNER_MAX 128
#define Q_SESSION_MAX 128
#define Q_USER_TAG_MAX 17
#define Q_WORKER_MAX 128

/* A job record as read back.  Owned by the caller; release with
 * q_job_info_release() (frees result and error, zeroes the struct). */
struct q_job_info {
    enum sch_status status;
    char owner[Q_OWNER_MAX];
    char session_id[Q_SESSION_MAX];
    char worker[Q_WORKER_MAX];
    int64_t created_at, started_at, finished_at; /* ms since epoch; 0 = not yet */
    int attempts;
    int cancel_requested;
    int has_result;
    struct sch_result result; /* valid when has_result */
    char *error;              /* infrastructure error text or NULL; heap */
    /* webhook delivery of job.completed (docs/webhooks.md); "" = no callback */
    char webhook_id[80];
    char webhook_status[16]; /* pending delivered failed gone refused */
    int webhook_attempts;
    char webhook_error[256];
    char user[Q_USER_TAG_MAX]; /* tag of the job's user, "" = anonymous (sch_job.user_tag) */
};

/* The hash fields q_job_get() reads, in the order q_job_info_parse() wants
 * them (the webhook delivery loop fetches the same list in its claim). */
#define Q_JOB_FIELDS                                                                               \
    "status owner session_id worker created_at started_at finished_at attempts "                  \
    "cancel_requested result error webhook_id webhook_status webhook_attempts webhook_error user"
#define Q_JOB_NFIELDS 16

/* Fills *out from the Q_JOB_NFIELDS replies of an HMGET of Q_JOB_FIELDS.
 * -ENOENT when there is no status (no such job), -EIO when the status or
 * result cannot be read; on error *out is released. */
int q_job_info_parse(redisReply *const *e, size_t n, struct q_job_info *out);

/* Reads ci:job:<job_id> into *out.  -ENOENT when absent (expired or never
 * existed), -EIO when the stored status or result cannot be read. */
int q_job_get(redisContext *c, const char *job_id, struct q_job_info *out);
void q_job_info_release(struct q_job_info *info);

/* The job as callers read it: the one mapping behind both GET /jobs/{id}
 * and the "data" of a job.* webhook body (docs/webhooks.md), so the two
 * cannot drift:
 *   {"job_id","status","session_id","created_at","started_at","finished_at"
 *    (ISO 8601 or null),"attempts","result"? (the /exec shape, when there is
 *    one),"error"? (infrastructure error),
 *    "webhook"? {"id","status","attempts","error"?} (only with
 *    with_delivery and a callback: the delivery record is GET's business,
 *    not the body that is being delivered)}
 * New reference (json_decref), NULL only on out-of-memory.  Any thread. */
json_t *q_job_info_json(const char *job_id, const struct q_job_info *info, int with_delivery);

/* DELETE /jobs/{id}: queued -> cancelled (finished_at, ci:done published; it
 * will never run); running -> cancel_requested=1 and PUBLISH ci:cancel (the
 * worker kills it and posts the result); terminal -> unchanged.
 * *status_after (may be NULL) receives the status after the call. */
int q_cancel(redisContext *c, const char *job_id, enum sch_status *status_after);

struct q_stats {
    int64_t depth;                 /* entries not yet delivered, both streams */
    int64_t depth_high;            /* of which in ci:jobs:high */
    int64_t pending;               /* delivered, not yet acknowledged */
    int64_t oldest_pending_age_ms; /* age of the oldest pending entry, 0 if none */
    int64_t dead;                  /* entries in ci:dead */
};

/* Fills *out in one round trip (pipelined). */
int q_stats(redisContext *c, struct q_stats *out);

/* JOB_TTL_SECONDS from the environment, default Q_JOB_TTL_DEFAULT. */
int64_t q_job_ttl_default(void);

/* DEAD_LETTER_MAX from the environment, default Q_DEAD_MAX_DEFAULT: about
 * how many entries ci:dead keeps (XADD MAXLEN ~; the oldest go first). */
int64_t q_dead_max_default(void);

#endif
