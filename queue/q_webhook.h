/*
 * q_webhook.h - webhook deliveries kept in Redis (DESIGN.md §4.2,
 * docs/webhooks.md).
 *
 * A delivery is created inside the terminal transition of a job (or of the
 * last job of a batch), see lua/on_terminal.lua.  Layout:
 *
 *   ci:webhooks:due           zset  webhook id -> ms of its next attempt
 *   ci:webhook:<wid>          hash  type (job.completed|batch.completed),
 *                                   subject (job or batch id), owner, url,
 *                                   created_at, attempts, status (pending
 *                                   delivered failed gone refused), claim,
 *                                   last_status, last_error, last_attempt_at,
 *                                   finished_at
 *   ci:webhook_secret:<owner> string the caller's signing secret ("whsec_"
 *                                   + base64); absent: WEBHOOK_SECRET
 *
 * wid is "job_<job id>" or "batch_<batch id>": stable across every attempt
 * (it is the webhook-id header), and unique, so creating it twice is a no-op.
 *
 * Claim (any number of workers): one script takes the due members (score <=
 * now), moves each to now + lease (so a crashed claimer's delivery comes due
 * again), counts the attempt, stores a claim token, and returns what the
 * sender needs.  Finish: one script, a no-op unless the claim token still
 * matches (a stale claimer cannot overwrite a newer attempt); it reschedules
 * (retry) or ends the delivery and mirrors the outcome into the job / batch
 * hash (webhook_status, webhook_attempts, webhook_error).
 *
 * The worker calls the scripts on its async connection with q_lua_link_call
 * (EVALSHA, EVAL after NOSCRIPT; q_lua.h).  Threads: the scripts may be
 * called from any thread (q_lua.h); the sync functions take a caller-owned
 * blocking context.
 */
#ifndef Q_WEBHOOK_H
#define Q_WEBHOOK_H

#include "q_lua.h"

#include <hiredis/hiredis.h>
#include <stddef.h>

#define Q_WEBHOOK_DUE "ci:webhooks:due"
#define Q_WEBHOOK_KEY_PREFIX "ci:webhook:"
#define Q_WEBHOOK_SECRET_PREFIX "ci:webhook_secret:"

/* Claim.  KEYS: ci:webhooks:due.  ARGV: now_ms, lease_ms, max, token, then
 * the job fields to return (Q_JOB_FIELDS split into words).  Returns an
 * array, one entry per claimed delivery:
 *   {wid, type, subject, url, created_at, attempts, secret,
 *    fields, job_ids}
 * fields: job.completed -> the HMGET of the job fields (nil status when the
 * job record expired); batch.completed -> HMGET of the batch hash
 * Q_WEBHOOK_BATCH_FIELDS; job_ids: the batch's job ids ({} for jobs). */
extern struct q_lua q_webhook_claim_lua; /* queue/lua/webhook_claim.lua */

#define Q_WEBHOOK_BATCH_FIELDS                                                                     \
    "total done created_at completed_at n_completed n_failed n_timeout n_oom n_cancelled n_dead"
#define Q_WEBHOOK_BATCH_NFIELDS 10

/* Finish.  KEYS: ci:webhooks:due, ci:webhook:<wid>, subject hash (ci:job:<id>
 * or ci:batch:<id>).  ARGV: wid, token, outcome (retry delivered failed gone
 * refused), next_at_ms (retry), error ('' none), http status ('' none), now,
 * ttl.  Returns 0 stale claim (nothing written), 1 rescheduled, 2 ended. */
extern struct q_lua q_webhook_finish_lua; /* queue/lua/webhook_finish.lua */

/* The delivery of a programmatic job's pause (job.tool_call_required,
 * docs/ptc.md).  KEYS: ci:webhook:<wid>, ci:webhooks:due.  ARGV: wid,
 * subject, owner, url, now.  As on_terminal.lua's wh_create, without the
 * job-hash mirror (that is job.completed's).  Returns 1 created, 0 exists. */
extern struct q_lua q_webhook_round_lua; /* queue/lua/webhook_round.lua */

/* Stores `secret` as the signing secret of `owner` (overwrites).  0 / -EIO. */
int q_webhook_secret_set(redisContext *c, const char *owner, const char *secret);

#endif
