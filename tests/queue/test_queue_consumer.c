/*
 * test_queue_consumer.c - the async consumer against a real private
 * redis-server: delivery, results, first-write-wins, priority, leases,
 * retries and dead letters.  One redis per case.
 */
#include "ci_test.h"
#include "qt_util.h"

#include "ci_util.h"
#include "q_keys.h"

#include <string.h>

static struct qt_case s_case;

/* Reads one message from a SUBSCRIBEd blocking context (1 s timeout). */
static void expect_message(redisContext *sub, const char *payload)
{
    redisReply *r = NULL;
    ASSERT_EQ(redisGetReply(sub, (void **)&r), REDIS_OK);
    ASSERT(r && r->type == REDIS_REPLY_ARRAY && r->elements == 3);
    ASSERT_STR_EQ(r->element[0]->str, "message");
    ASSERT_STR_EQ(r->element[2]->str, payload);
    freeReplyObject(r);
}

static redisContext *subscribe_done(void)
{
    redisContext *sub = ci_redis_connect(&s_case.redis);
    ASSERT_NOT_NULL(sub);
    redisReply *r = redisCommand(sub, "SUBSCRIBE %s", Q_CHAN_DONE);
    ASSERT_NOT_NULL(r);
    freeReplyObject(r);
    return sub;
}

TEST(complete_roundtrip)
{
    redisContext *c = qt_case_up(&s_case);
    redisContext *sub = subscribe_done();
    char id[65];
    struct qt_worker w;
    struct q_job_info info;
    qt_enqueue(c, 0, id);
    qt_worker_start(&w, &s_case.loop, s_case.redis.port, "w1", 0, 0, QT_KEEP);
    q_consumer_want(w.qc, 1);
    ASSERT(qt_run_until(&s_case.loop, &w.ngot, 1, 5000));
    ASSERT_STR_EQ(w.ids[0], id);
    ASSERT_EQ(w.attempts[0], 1);
    ASSERT_STR_EQ(w.held[0]->job.code, "print(1)");
    ASSERT_STR_EQ(w.held[0]->stream, Q_STREAM_NORMAL);
    ASSERT_EQ(q_job_get(c, id, &info), 0);
    ASSERT_EQ(info.status, SCH_STATUS_RUNNING);
    ASSERT_STR_EQ(info.worker, "w1");
    ASSERT_GT(info.started_at, 0);
    q_job_info_release(&info);

    qt_worker_complete(&w, 0, "hi\n");
    ASSERT(qt_run_until(&s_case.loop, &w.ndone, 1, 5000));
    ASSERT_EQ(w.done_rc[0], 0);
    expect_message(sub, id); /* ci:done after the result is stored */
    ASSERT_EQ(q_job_get(c, id, &info), 0);
    ASSERT_EQ(info.status, SCH_STATUS_COMPLETED);
    ASSERT_EQ(info.has_result, 1);
    ASSERT_EQ(info.result.stdout_len, 3);
    ASSERT_STR_EQ(info.result.stdout_buf, "hi\n");
    ASSERT_STR_EQ(info.owner, "owner-1");
    char sid[80];
    snprintf(sid, sizeof sid, "sess-%s", id);
    ASSERT_STR_EQ(info.session_id, sid);
    ASSERT_EQ(info.attempts, 1);
    ASSERT_GE(info.finished_at, info.started_at);
    ASSERT_GE(info.started_at, info.created_at);
    q_job_info_release(&info);
    ASSERT_EQ(qt_int(c, "XLEN %s", Q_STREAM_NORMAL), 0); /* acked and deleted */
    ASSERT_GT(qt_int(c, "TTL %s%s", Q_JOB_KEY_PREFIX, id), 86000);
    ASSERT_EQ(q_consumer_held(w.qc), 0);
    qt_worker_stop(&w);
    redisFree(sub);
    qt_case_down(&s_case, c);
}

TEST(duplicate_completion_keeps_first)
{
    redisContext *c = qt_case_up(&s_case);
    char id[65];
    struct qt_worker a, b;
    struct q_job_info info;
    qt_enqueue(c, 0, id);
    qt_worker_start(&a, &s_case.loop, s_case.redis.port, "slow-heartbeat", 60000, 5, QT_KEEP);
    q_consumer_want(a.qc, 1);
    ASSERT(qt_run_until(&s_case.loop, &a.ngot, 1, 5000));
    /* b's short lease reclaims the entry a does not heartbeat in time */
    qt_worker_start(&b, &s_case.loop, s_case.redis.port, "reclaimer", 300, 5, QT_KEEP);
    q_consumer_want(b.qc, 1);
    ASSERT(qt_run_until(&s_case.loop, &b.ngot, 1, 5000));
    ASSERT_STR_EQ(b.ids[0], id);
    ASSERT_EQ(b.attempts[0], 2);

    qt_worker_complete(&a, 0, "first\n");
    ASSERT(qt_run_until(&s_case.loop, &a.ndone, 1, 5000));
    ASSERT_EQ(a.done_rc[0], 0);
    qt_worker_complete(&b, 0, "second\n");
    ASSERT(qt_run_until(&s_case.loop, &b.ndone, 1, 5000));
    ASSERT_EQ(b.done_rc[0], -EALREADY);

    ASSERT_EQ(q_job_get(c, id, &info), 0);
    ASSERT_EQ(info.status, SCH_STATUS_COMPLETED);
    ASSERT_STR_EQ(info.result.stdout_buf, "first\n");
    q_job_info_release(&info);
    ASSERT_EQ(qt_int(c, "XLEN %s", Q_STREAM_NORMAL), 0);
    qt_worker_stop(&a);
    qt_worker_stop(&b);
    qt_case_down(&s_case, c);
}

TEST(priority_high_first)
{
    redisContext *c = qt_case_up(&s_case);
    char n1[65], n2[65], h1[65];
    struct qt_worker w;
    qt_enqueue(c, 0, n1);
    qt_enqueue(c, 0, n2);
    qt_enqueue(c, 1, h1);
    qt_worker_start(&w, &s_case.loop, s_case.redis.port, "w1", 0, 0, QT_KEEP);
    for (int i = 0; i < 3; i++) {
        q_consumer_want(w.qc, 1);
        ASSERT(qt_run_until(&s_case.loop, &w.ngot, i + 1, 5000));
        qt_run_for(&s_case.loop, 50); /* nothing more arrives while no slot is free */
        ASSERT_EQ(w.ngot, i + 1);
        qt_worker_complete(&w, i, "x");
        ASSERT(qt_run_until(&s_case.loop, &w.ndone, i + 1, 5000));
    }
    ASSERT_STR_EQ(w.ids[0], h1);
    ASSERT_STR_EQ(w.ids[1], n1);
    ASSERT_STR_EQ(w.ids[2], n2);
    qt_worker_stop(&w);
    qt_case_down(&s_case, c);
}

TEST(lease_expiry_redelivers_after_stop)
{
    redisContext *c = qt_case_up(&s_case);
    char id[65];
    struct qt_worker a, b;
    struct q_job_info info;
    qt_enqueue(c, 0, id);
    qt_worker_start(&a, &s_case.loop, s_case.redis.port, "dies", 300, 3, QT_KEEP);
    q_consumer_want(a.qc, 1);
    ASSERT(qt_run_until(&s_case.loop, &a.ngot, 1, 5000));
    qt_worker_stop(&a); /* gone without completing */
    int64_t t0 = ci_mono_us();
    qt_worker_start(&b, &s_case.loop, s_case.redis.port, "survivor", 300, 3, QT_COMPLETE);
    q_consumer_want(b.qc, 1);
    ASSERT(qt_run_until(&s_case.loop, &b.ndone, 1, 5000));
    ASSERT_GE(ci_mono_us() - t0, 250 * 1000); /* not before the lease ran out */
    ASSERT_STR_EQ(b.ids[0], id);
    ASSERT_EQ(b.attempts[0], 2);
    ASSERT_EQ(q_job_get(c, id, &info), 0);
    ASSERT_EQ(info.status, SCH_STATUS_COMPLETED);
    ASSERT_EQ(info.attempts, 2);
    ASSERT_STR_EQ(info.worker, "survivor");
    q_job_info_release(&info);
    qt_worker_stop(&b);
    qt_case_down(&s_case, c);
}

/* A frozen worker (its loop never runs again) loses its job; with
 * max_attempts 1 the reclaim dead-letters it instead of running it twice. */
TEST(lease_expiry_of_frozen_worker)
{
    redisContext *c = qt_case_up(&s_case);
    uv_loop_t frozen;
    char id[65], id2[65];
    struct qt_worker a, b;
    struct q_job_info info;
    ASSERT_EQ(uv_loop_init(&frozen), 0);
    qt_enqueue(c, 0, id);
    qt_worker_start(&a, &frozen, s_case.redis.port, "frozen", 300, 2, QT_KEEP);
    q_consumer_want(a.qc, 1);
    ASSERT(qt_run_until(&frozen, &a.ngot, 1, 5000));
    qt_worker_start(&b, &s_case.loop, s_case.redis.port, "live", 300, 2, QT_COMPLETE);
    q_consumer_want(b.qc, 1);
    ASSERT(qt_run_until(&s_case.loop, &b.ndone, 1, 5000));
    ASSERT_STR_EQ(b.ids[0], id);
    ASSERT_EQ(b.attempts[0], 2);

    /* second job: frozen takes it, live reclaims at attempt 3 > 2 -> dead */
    qt_enqueue(c, 0, id2);
    b.refill = 0;
    q_consumer_want(b.qc, 0);
    q_consumer_want(a.qc, 1);
    ASSERT(qt_run_until(&frozen, &a.ngot, 2, 5000));
    ASSERT_STR_EQ(a.ids[1], id2);
    /* make it look like attempt 2 already happened */
    freeReplyObject(redisCommand(c, "HSET %s%s attempts 2", Q_JOB_KEY_PREFIX, id2));
    q_consumer_want(b.qc, 1);
    for (int i = 0; i < 100 && qt_int(c, "XLEN %s", Q_DEAD_STREAM) < 1; i++)
        qt_run_for(&s_case.loop, 20);
    ASSERT_EQ(qt_int(c, "XLEN %s", Q_DEAD_STREAM), 1);
    ASSERT_EQ(b.ngot, 1); /* never delivered a third time */
    ASSERT_EQ(q_job_get(c, id2, &info), 0);
    ASSERT_EQ(info.status, SCH_STATUS_DEAD);
    ASSERT_NOT_NULL(info.error);
    q_job_info_release(&info);
    qt_worker_stop(&b);
    qt_worker_stop(&a);
    uv_run(&frozen, UV_RUN_NOWAIT);
    ASSERT_EQ(uv_loop_close(&frozen), 0);
    qt_case_down(&s_case, c);
}

/* A crashed worker's jobs behind a pending list longer than one XAUTOCLAIM
 * scan (Redis looks at 10 x COUNT entries per call; a reclaimer with one
 * free slot asks COUNT 1): the cursor is kept between calls, so later
 * rounds reach them. */
TEST(reclaim_behind_long_pending_list)
{
    redisContext *c = qt_case_up(&s_case);
    uv_loop_t frozen;
    char id[65], dead_ids[2][65];
    struct qt_worker busy, dead, live;
    ASSERT_EQ(uv_loop_init(&frozen), 0);
    for (int i = 0; i < 40; i++)
        qt_enqueue(c, 0, id);
    qt_worker_start(&busy, &s_case.loop, s_case.redis.port, "busy", 600, 3, QT_KEEP);
    q_consumer_want(busy.qc, 40);
    ASSERT(qt_run_until(&s_case.loop, &busy.ngot, 40, 10000));
    /* the last two entries go to a worker whose loop never runs again */
    qt_enqueue(c, 0, dead_ids[0]);
    qt_enqueue(c, 0, dead_ids[1]);
    qt_worker_start(&dead, &frozen, s_case.redis.port, "crashed", 600, 3, QT_KEEP);
    q_consumer_want(dead.qc, 2);
    ASSERT(qt_run_until(&frozen, &dead.ngot, 2, 5000));
    ASSERT_EQ(qt_int(c, "XLEN %s", Q_STREAM_NORMAL), 42);
    /* one free slot: COUNT 1 scans 10 entries, all busy's first 40 alive */
    qt_worker_start(&live, &s_case.loop, s_case.redis.port, "live", 600, 3, QT_COMPLETE);
    live.refill = 1;
    q_consumer_want(live.qc, 1);
    ASSERT(qt_run_until(&s_case.loop, &live.ndone, 2, 20000));
    ASSERT_EQ(busy.ngot, 40);
    for (int i = 0; i < 2; i++) {
        struct q_job_info info;
        ASSERT_EQ(q_job_get(c, dead_ids[i], &info), 0);
        ASSERT_EQ(info.status, SCH_STATUS_COMPLETED);
        ASSERT_STR_EQ(info.worker, "live");
        q_job_info_release(&info);
    }
    qt_worker_stop(&live);
    qt_worker_stop(&busy);
    qt_worker_stop(&dead);
    uv_run(&frozen, UV_RUN_NOWAIT);
    ASSERT_EQ(uv_loop_close(&frozen), 0);
    qt_case_down(&s_case, c);
}

TEST(fail_retries_then_dead_letters)
{
    redisContext *c = qt_case_up(&s_case);
    char id[65];
    struct qt_worker w;
    struct q_job_info info;
    qt_enqueue(c, 1, id);
    qt_worker_start(&w, &s_case.loop, s_case.redis.port, "w1", 0, 3, QT_FAIL);
    w.refill = 1;
    q_consumer_want(w.qc, 1);
    ASSERT(qt_run_until(&s_case.loop, &w.ndone, 3, 10000));
    qt_run_for(&s_case.loop, 300); /* no fourth delivery */
    ASSERT_EQ(w.ngot, 3);
    for (int i = 0; i < 3; i++) {
        ASSERT_STR_EQ(w.ids[i], id);
        ASSERT_EQ(w.attempts[i], i + 1);
    }
    ASSERT_EQ(w.done_rc[0], 1); /* requeued */
    ASSERT_EQ(w.done_rc[1], 1);
    ASSERT_EQ(w.done_rc[2], 2); /* dead */
    ASSERT_EQ(q_job_get(c, id, &info), 0);
    ASSERT_EQ(info.status, SCH_STATUS_DEAD);
    ASSERT_EQ(info.attempts, 3);
    ASSERT_STR_EQ(info.error, "sandbox unavailable");
    ASSERT_GT(info.finished_at, 0);
    q_job_info_release(&info);
    redisReply *r = redisCommand(c, "XRANGE %s - +", Q_DEAD_STREAM);
    ASSERT(r && r->type == REDIS_REPLY_ARRAY && r->elements == 1);
    redisReply *f = r->element[0]->element[1];
    ASSERT_EQ(f->elements, 8);
    ASSERT_STR_EQ(f->element[0]->str, "id");
    ASSERT_STR_EQ(f->element[1]->str, id);
    ASSERT_STR_EQ(f->element[2]->str, "job");
    ASSERT_GT(f->element[3]->len, 10);
    ASSERT_STR_EQ(f->element[5]->str, "sandbox unavailable");
    ASSERT_STR_EQ(f->element[7]->str, "3");
    freeReplyObject(r);
    ASSERT_EQ(qt_int(c, "XLEN %s", Q_STREAM_HIGH), 0);
    qt_worker_stop(&w);
    qt_case_down(&s_case, c);
}

TEST(defer_gives_the_attempt_back)
{
    /* max_attempts 2, deferred 5 times: never dead, always attempt 1 */
    redisContext *c = qt_case_up(&s_case);
    char id[65];
    struct qt_worker w;
    struct q_job_info info;
    qt_enqueue(c, 1, id);
    qt_worker_start(&w, &s_case.loop, s_case.redis.port, "w1", 0, 2, QT_DEFER);
    w.refill = 1;
    q_consumer_want(w.qc, 1);
    ASSERT(qt_run_until(&s_case.loop, &w.ndone, 5, 10000));
    for (int i = 0; i < 5; i++) {
        ASSERT_STR_EQ(w.ids[i], id);
        ASSERT_EQ(w.attempts[i], 1);
        ASSERT_EQ(w.done_rc[i], 1); /* requeued */
    }
    w.mode = QT_COMPLETE; /* the engine is back */
    int got = w.ngot;
    ASSERT(qt_run_until(&s_case.loop, &w.ngot, got + 1, 10000));
    qt_run_for(&s_case.loop, 200);
    ASSERT_EQ(q_job_get(c, id, &info), 0);
    ASSERT_EQ(info.status, SCH_STATUS_COMPLETED);
    ASSERT_EQ(info.attempts, 1);
    q_job_info_release(&info);
    ASSERT_EQ(qt_int(c, "XLEN %s", Q_DEAD_STREAM), 0);
    qt_worker_stop(&w);
    qt_case_down(&s_case, c);
}

TEST_MAIN(complete_roundtrip, duplicate_completion_keeps_first, priority_high_first,
          lease_expiry_redelivers_after_stop, lease_expiry_of_frozen_worker,
          reclaim_behind_long_pending_list,
          fail_retries_then_dead_letters, defer_gives_the_attempt_back)
