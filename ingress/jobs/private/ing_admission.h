/*
 * ing_admission.h - what happens between validation and enqueue: back
 * pressure on queue depth and Idempotency-Key replay.
 *
 * Back pressure: when the queue holds more than MAX_QUEUE_DEPTH undelivered
 * jobs, submissions answer 503 with Retry-After.  The depth is read from
 * Redis at most every 250 ms per thread (q_stats), so the check costs no
 * round trip on most requests.
 *
 * Idempotency (POST /jobs with `Idempotency-Key`): the key (1..128 printable
 * ASCII characters) is recorded per owner as
 *   ci:idem:<owner>:<sha256(key)>  ->  "<job_id> <sha256(body)>"  (TTL JOB_TTL_SECONDS)
 * with SET NX, so of two concurrent first uses exactly one wins.  The same
 * key with the same body returns the recorded job; with another body, 409.
 *
 * Called on MHD threads with the thread's redisContext.
 */
#ifndef ING_ADMISSION_H
#define ING_ADMISSION_H

#include <hiredis/hiredis.h>
#include <stddef.h>

/* ci:idem:<owner>:<sha256(key)> (above). */
#define ING_IDEM_PREFIX "ci:idem:"

/* 1 when the queue is over MAX_QUEUE_DEPTH, 0 when not (or unknown). */
int ing_queue_full(redisContext *c);

enum ing_idem {
    ING_IDEM_NEW = 0,    /* first use: recorded, go on and enqueue job_id */
    ING_IDEM_REPLAY = 1, /* same key and body: *existing holds the job id */
    ING_IDEM_CONFLICT = 2, /* same key, other body */
    ING_IDEM_INVALID = 3,  /* the key's format is unacceptable */
    ING_IDEM_ERROR = -1,   /* Redis failed */
};

/* Claims `key` for `job_id` (existing >= 65 bytes). */
enum ing_idem ing_idem_claim(redisContext *c, const char *owner, const char *key,
                             const char *body, size_t body_len, const char *job_id,
                             char *existing);

/* Forgets a claim whose enqueue then failed. */
void ing_idem_forget(redisContext *c, const char *owner, const char *key);

#endif
