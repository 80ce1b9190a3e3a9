/*
 * q_consumer.h - asynchronous queue consumer (the worker side), driven by a
 * libuv loop through hiredis' libuv adapter.
 *
 * A consumer holds three Redis connections: "read" (one XREADGROUP ... BLOCK
 * outstanding at a time, ci:jobs:high before ci:jobs), "cmd" (the Lua
 * transitions, heartbeats, XAUTOCLAIM) and "sub" (SUBSCRIBE ci:cancel).
 * Each reconnects by itself with a growing delay (100 ms .. 5 s) when Redis
 * goes away; deliveries in hand stay valid, and completions / failures posted
 * while disconnected are sent when the connection is back (the scripts are
 * idempotent, so a replay is harmless).
 *
 * Flow: q_consumer_want(n) says how many jobs the worker can take now.  Each
 * entry read goes through the start script (skipped if cancelled or already
 * terminal, parked if an earlier call of its session still runs - woken in
 * Redis when that one ends -, dead-lettered past max_attempts, else RUNNING
 * with attempts+1) and then reaches cb->on_job.  Once a second the consumer
 * also wakes parked jobs whose deadline passed (they reach on_job with
 * turn_expired set).  The worker ends every delivery with exactly
 * one of q_consumer_complete(), q_consumer_fail(), q_consumer_defer() or
 * q_consumer_release().
 * Completions posted in the same loop turn are sent as one script call.
 * Leases and their heartbeats are described in q_keys.h.
 *
 * Threads: every function must be called on the loop's thread; callbacks run
 * there.  Ownership: the consumer allocates each struct q_delivery and frees
 * it; the worker may read it from on_job until it hands it back with
 * complete/fail/release (after which the pointer is invalid).  Deliveries
 * still in hand at q_consumer_stop() are freed by it.
 */
#ifndef Q_CONSUMER_H
#define Q_CONSUMER_H

#include "sch_types.h"

#include <stdint.h>
#include <uv.h>

struct q_consumer;

struct q_consumer_config {
    const char *host;      /* default 127.0.0.1 */
    int port;              /* default 6379 */
    const char *password;  /* NULL: no AUTH */
    const char *name;      /* consumer name, unique per worker (required) */
    int64_t lease_ms;      /* default 30000 */
    int max_attempts;      /* default 3 */
    int64_t block_ms;      /* XREADGROUP BLOCK, default 2000 */
    int64_t retry_base_ms; /* fail() backoff: base * 2^(attempts-1), default 500 */
    int64_t job_ttl_s;     /* default JOB_TTL_SECONDS */
    int64_t dead_max;      /* ci:dead keeps about this many; default DEAD_LETTER_MAX */
};

struct q_delivery {
    struct sch_job job; /* decoded job, owned by the delivery */
    char stream[32];    /* Q_STREAM_HIGH or Q_STREAM_NORMAL */
    char entry_id[32];  /* stream entry id */
    int attempts;       /* 1 on first delivery; 0 when turn_expired */
    /* 1: the job waited for an earlier call of its session (lua/turn.lua)
     * until its own timeout passed.  It must not run: the worker answers it
     * with q_consumer_complete() (status timeout and a clear stderr). */
    int turn_expired;
};

struct q_consumer_cb {
    /* A job to run.  `d` stays valid until handed back. */
    void (*on_job)(void *arg, struct q_delivery *d);
    /* A DELETE hit a running job (any job id; the worker checks whether it
     * runs it).  May be NULL. */
    void (*on_cancel)(void *arg, const char *job_id);
};

/* Starts connecting.  cfg strings are copied.  Returns 0 and *out, or
 * -EINVAL (no name / on_job).  Connection failures are not errors: the
 * consumer keeps retrying. */
int q_consumer_start(uv_loop_t *loop, const struct q_consumer_config *cfg,
                     const struct q_consumer_cb *cb, void *arg, struct q_consumer **out);

/* The worker has n free slots now (sets, not adds).  The consumer lowers its
 * copy by one for each on_job; the worker calls this again when it frees a
 * slot. */
void q_consumer_want(struct q_consumer *c, int n);

/* Stores `res` (status from res->status) unless the job is already terminal
 * (first write wins; then only the entry is acknowledged), XACKs and
 * publishes ci:done.  Takes `d` (freed when done).  done (may be NULL) gets
 * 0 stored, -EALREADY duplicate (benign), -ENOENT job record expired,
 * -ECANCELED consumer stopped first, -EIO error reply (not acknowledged:
 * the lease returns the job).  Returns 0, or -EINVAL when res->status is
 * not one of completed/failed/timeout/oom/cancelled or the result cannot be
 * encoded (then nothing happened and d is still the worker's). */
int q_consumer_complete(struct q_consumer *c, struct q_delivery *d, const struct sch_result *res,
                        void (*done)(void *arg, int rc), void *arg);

/* Infrastructure failure (not the user's code failing): after a backoff the
 * job goes back to QUEUED with a fresh entry if attempts < max_attempts,
 * else to DEAD (error stored, entry in ci:dead, ci:done published).  Takes
 * `d`.  done (may be NULL) gets 1 requeued, 2 dead, 0 nothing to do (job
 * already terminal), -EAGAIN lease lost to another worker, or a negative
 * error as for complete. */
int q_consumer_fail(struct q_consumer *c, struct q_delivery *d, const char *error,
                    void (*done)(void *arg, int rc), void *arg);

/* The job could not run for a reason that is not its own (the worker's
 * Docker engine does not answer): it goes back to QUEUED at once with a
 * fresh entry and its attempt given back, never to DEAD.  The caller must
 * stop asking for jobs while the cause lasts (q_consumer_want(c, 0)), or
 * it would take the job straight back.  Takes `d`; done as for fail (1
 * requeued). */
int q_consumer_defer(struct q_consumer *c, struct q_delivery *d, const char *reason,
                     void (*done)(void *arg, int rc), void *arg);

/* Gives `d` back untouched: the consumer stops heart-beating it and the
 * lease expiry returns it to the queue (counts as an attempt). */
void q_consumer_release(struct q_consumer *c, struct q_delivery *d);

/* Number of deliveries held (in hand, being started, prefetched, finishing). */
int q_consumer_held(const struct q_consumer *c);

/* Stops reading, drops the connections (pending done callbacks get
 * -ECANCELED), frees the deliveries still held, closes the uv handles and
 * frees c; `closed` (may be NULL) runs once all that is over. */
void q_consumer_stop(struct q_consumer *c, void (*closed)(void *arg), void *arg);

#endif
