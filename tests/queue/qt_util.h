/*
 * qt_util.h - helpers shared by the queue integration tests: a private
 * redis per case, job factories, and a scripted test worker around
 * q_consumer that records what it was given.
 *
 * Everything runs on the test's main thread; a qt_worker lives on one
 * uv loop and is stopped with qt_worker_stop() (which runs the loop until
 * the consumer is closed).
 */
#ifndef QT_UTIL_H
#define QT_UTIL_H

#include "ci_redis.h"
#include "q_consumer.h"
#include "q_job.h"

#include <uv.h>

#define QT_MAX 64

/* What the worker does with each job it gets. */
enum qt_mode { QT_KEEP = 0, QT_COMPLETE, QT_FAIL, QT_DEFER };

struct qt_worker {
    uv_loop_t *loop;
    struct q_consumer *qc;
    enum qt_mode mode;
    int refill;                      /* call want(refill) after each done */
    struct q_delivery *held[QT_MAX]; /* deliveries kept (QT_KEEP) */
    int ngot;
    char ids[QT_MAX][65];
    int attempts[QT_MAX];
    int turn_expired[QT_MAX];
    int ndone;
    int done_rc[QT_MAX];
    int ncancel;
    char cancelled[8][65];
    int closed;
};

/* One case's fixture: its private redis and a uv loop. */
struct qt_case {
    struct ci_redis redis;
    uv_loop_t loop;
};
/* qt_redis_up(&k->redis, NULL) and the loop initialised. */
redisContext *qt_case_up(struct qt_case *k);
/* Frees c, runs the loop once, closes it (asserting every handle was
 * closed) and stops the redis. */
void qt_case_down(struct qt_case *k, redisContext *c);

/* Starts redis (extra config lines or NULL) and runs q_setup; aborts the
 * case on failure.  Returns a blocking context. */
redisContext *qt_redis_up(struct ci_redis *r, const char *extra_conf);

/* Fills *job with a fresh random id, lang py, code "print(1)", owner
 * "owner-1", session "sess-<id>" (its own, so jobs never wait for each
 * other's turn), timeout 1 s, created now, the given priority. */
void qt_job_init(struct sch_job *job, int priority);
/* Enqueues a fresh job; copies its id to id_out (>= 65 bytes). */
void qt_enqueue(redisContext *c, int priority, char *id_out);

/* A consumer on loop named `name`, lease/max_attempts as given (0: default). */
void qt_worker_start(struct qt_worker *w, uv_loop_t *loop, int port, const char *name,
                     int64_t lease_ms, int max_attempts, enum qt_mode mode);
void qt_worker_stop(struct qt_worker *w);
/* Completes w->held[i] with status completed and `out` as stdout. */
void qt_worker_complete(struct qt_worker *w, int i, const char *out);

/* Runs loop until *counter >= want or timeout_ms passes; returns 1 when
 * reached. */
int qt_run_until(uv_loop_t *loop, const int *counter, int want, int64_t timeout_ms);
/* Runs loop for ms milliseconds. */
void qt_run_for(uv_loop_t *loop, int64_t ms);

/* Integer reply of a command (formatted like redisCommand), -1 on error. */
long long qt_int(redisContext *c, const char *fmt, ...);

#endif
