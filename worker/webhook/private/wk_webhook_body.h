/*
 * wk_webhook_body.h - the JSON body of a webhook and its Standard Webhooks
 * signature (docs/webhooks.md).
 *
 * Body: {"type":"job.completed"|"batch.completed","timestamp":<ISO 8601 of
 * the event: finished_at / completed_at>,"data":{...}}.  job.completed data
 * is what GET /jobs/{id} shows (job_id, status, session_id, created_at,
 * started_at, finished_at, attempts, result?, error?); batch.completed data
 * is {batch_id, total, counts, job_ids, created_at, completed_at}.  The body
 * depends only on the terminal (immutable) records, so every attempt sends
 * the same bytes.
 *
 * Pure functions; any thread.
 */
#ifndef WK_WEBHOOK_BODY_H
#define WK_WEBHOOK_BODY_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

/* Builds the body from one entry of the claim script's reply (q_webhook.h).
 * Returns a heap string (free()) with *len, or NULL with a reason in why
 * (job record expired, unreadable result). */
char *wk_webhook_body(const redisReply *entry, size_t *len, char *why, size_t whysz);

/* "v1,<base64 HMAC-SHA256(key, id.ts.body)>" into out (>= 64 bytes).  The
 * key is the base64-decoded part of a "whsec_..." secret, else the secret's
 * bytes.  Returns 0 or -EINVAL (empty or undecodable secret). */
int wk_webhook_sign(const char *secret, const char *id, int64_t ts, const char *body, size_t len,
                    char *out, size_t outsz);

#endif
