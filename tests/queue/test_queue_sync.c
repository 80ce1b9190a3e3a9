/*
 * test_queue_sync.c - the ingress-side API against a real private
 * redis-server: enqueue/get errors, cancel (queued and running), stats.
 */
#include "ci_test.h"
#include "qt_util.h"

#include "ci_util.h"
#include "q_batch.h"
#include "q_keys.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

static struct qt_case s_case;

TEST(enqueue_get_and_errors)
{
    redisContext *c = qt_case_up(&s_case);
    struct sch_job job;
    struct q_job_info info;
    enum sch_status st;
    qt_job_init(&job, 1);
    ASSERT_EQ(q_enqueue(c, &job, 60), 0);
    ASSERT_EQ(q_enqueue(c, &job, 60), -EEXIST); /* same id: nothing written */
    ASSERT_EQ(qt_int(c, "XLEN %s", Q_STREAM_HIGH), 1);
    ASSERT_EQ(qt_int(c, "XLEN %s", Q_STREAM_NORMAL), 0);
    long long ttl = qt_int(c, "TTL %s%s", Q_JOB_KEY_PREFIX, job.id);
    ASSERT(ttl > 50 && ttl <= 60);
    ASSERT_EQ(q_job_get(c, job.id, &info), 0);
    ASSERT_EQ(info.status, SCH_STATUS_QUEUED);
    ASSERT_EQ(info.created_at, job.created_ms);
    ASSERT_EQ(info.attempts, 0);
    ASSERT_EQ(info.has_result, 0);
    ASSERT_EQ(info.started_at, 0);
    q_job_info_release(&info);
    ASSERT_EQ(q_job_get(c, "0123456789abcdef0123456789abcdef", &info), -ENOENT);
    ASSERT_EQ(q_cancel(c, "0123456789abcdef0123456789abcdef", &st), -ENOENT);
    ASSERT_EQ(q_job_get(c, "", &info), -EINVAL);
    ASSERT_EQ(q_setup(c), 0); /* idempotent: BUSYGROUP ignored */

    /* a batch: one pipeline, the taken id reported per job */
    struct sch_job more[3];
    const struct sch_job *ptrs[4];
    int rcs[4];
    for (int i = 0; i < 3; i++) {
        qt_job_init(&more[i], 0);
        ptrs[i] = &more[i];
    }
    ptrs[3] = &job;
    ASSERT_EQ(q_enqueue_batch(c, ptrs, 4, 0, rcs), -EEXIST);
    ASSERT_EQ(rcs[0], 0);
    ASSERT_EQ(rcs[2], 0);
    ASSERT_EQ(rcs[3], -EEXIST);
    ASSERT_EQ(qt_int(c, "XLEN %s", Q_STREAM_NORMAL), 3);
    for (int i = 0; i < 3; i++)
        sch_job_release(&more[i]);
    sch_job_release(&job);
    qt_case_down(&s_case, c);
}

/* n fresh jobs; the last one's code is `last_code_len` bytes when > 0. */
static const struct sch_job **batch_jobs(struct sch_job *jobs, size_t n, size_t last_code_len)
{
    const struct sch_job **ptrs = ci_xcalloc(n, sizeof *ptrs);
    for (size_t i = 0; i < n; i++) {
        qt_job_init(&jobs[i], 0);
        ptrs[i] = &jobs[i];
    }
    if (last_code_len) {
        free(jobs[n - 1].code);
        jobs[n - 1].code = ci_xmalloc(last_code_len + 1);
        memset(jobs[n - 1].code, '#', last_code_len);
        jobs[n - 1].code[last_code_len] = '\0';
        jobs[n - 1].code_len = last_code_len;
    }
    return ptrs;
}

TEST(batch_all_or_nothing)
{
    /* proto-max-bulk-len 1mb: Redis drops the connection at the 2 MB job,
     * which sits in the third of three chunks (128 jobs each) */
    redisContext *c = qt_redis_up(&s_case.redis, "proto-max-bulk-len 1mb");
    enum { N = 300 };
    struct sch_job jobs[N];
    int rcs[N];
    const struct sch_job **ptrs = batch_jobs(jobs, N, 2u << 20);
    struct q_batch_spec spec = {.id = "0123456789abcdef0123456789abcdef", .owner = "owner-1",
                                .created_ms = ci_now_ms()};
    ASSERT_EQ(q_enqueue_batch_ex(c, ptrs, N, 60, &spec, rcs), -EIO);
    for (size_t i = 0; i < N; i++)
        ASSERT_EQ(rcs[i], -EIO);
    redisFree(c);
    c = ci_redis_connect(&s_case.redis);
    ASSERT(c != NULL);
    /* nothing of it reached Redis: no stream entry, job record or batch */
    ASSERT_EQ(qt_int(c, "XLEN %s", Q_STREAM_NORMAL), 0);
    ASSERT_EQ(qt_int(c, "EXISTS %s%s", Q_JOB_KEY_PREFIX, jobs[0].id), 0);
    ASSERT_EQ(qt_int(c, "EXISTS %s%s", Q_BATCH_KEY_PREFIX, spec.id), 0);
    for (size_t i = 0; i < N; i++)
        sch_job_release(&jobs[i]);
    free(ptrs);

    /* the same shape without the oversized job is queued whole */
    ptrs = batch_jobs(jobs, N, 0);
    ASSERT_EQ(q_enqueue_batch_ex(c, ptrs, N, 60, &spec, rcs), 0);
    ASSERT_EQ(qt_int(c, "XLEN %s", Q_STREAM_NORMAL), N);
    ASSERT_EQ(qt_int(c, "LLEN %s%s:jobs", Q_BATCH_KEY_PREFIX, spec.id), N);
    ASSERT_EQ(qt_int(c, "EXISTS %s%s", Q_JOB_KEY_PREFIX, jobs[N - 1].id), 1);
    /* the id is taken now: -EEXIST */
    ASSERT_EQ(q_enqueue_batch_ex(c, ptrs, 1, 60, &spec, rcs), -EEXIST);
    for (size_t i = 0; i < N; i++)
        sch_job_release(&jobs[i]);
    free(ptrs);
    redisFree(c);
    ci_redis_cleanup(&s_case.redis);
}

TEST(cancel_queued_never_runs)
{
    redisContext *c = qt_case_up(&s_case);
    char a[65], b[65];
    enum sch_status st = SCH_STATUS_COUNT;
    struct q_job_info info;
    struct qt_worker w;
    qt_enqueue(c, 0, a);
    qt_enqueue(c, 0, b);
    ASSERT_EQ(q_cancel(c, a, &st), 0);
    ASSERT_EQ(st, SCH_STATUS_CANCELLED);
    ASSERT_EQ(q_cancel(c, a, &st), 0); /* terminal: unchanged */
    ASSERT_EQ(st, SCH_STATUS_CANCELLED);
    qt_worker_start(&w, &s_case.loop, s_case.redis.port, "w1", 0, 0, QT_COMPLETE);
    q_consumer_want(w.qc, 5);
    ASSERT(qt_run_until(&s_case.loop, &w.ndone, 1, 5000));
    qt_run_for(&s_case.loop, 300);
    ASSERT_EQ(w.ngot, 1);
    ASSERT_STR_EQ(w.ids[0], b);
    ASSERT_EQ(q_job_get(c, a, &info), 0);
    ASSERT_EQ(info.status, SCH_STATUS_CANCELLED);
    ASSERT_EQ(info.attempts, 0);
    ASSERT_GT(info.finished_at, 0);
    q_job_info_release(&info);
    ASSERT_EQ(qt_int(c, "XLEN %s", Q_STREAM_NORMAL), 0); /* a's entry acked and dropped */
    struct q_stats s;
    ASSERT_EQ(q_stats(c, &s), 0);
    ASSERT_EQ(s.pending, 0);
    ASSERT_EQ(s.depth, 0);
    qt_worker_stop(&w);
    qt_case_down(&s_case, c);
}

TEST(cancel_running_notifies_worker)
{
    redisContext *c = qt_case_up(&s_case);
    char a[65];
    enum sch_status st = SCH_STATUS_COUNT;
    struct q_job_info info;
    struct qt_worker w;
    qt_enqueue(c, 0, a);
    qt_worker_start(&w, &s_case.loop, s_case.redis.port, "w1", 0, 0, QT_KEEP);
    q_consumer_want(w.qc, 1);
    ASSERT(qt_run_until(&s_case.loop, &w.ngot, 1, 5000));
    qt_run_for(&s_case.loop, 100); /* the subscription is in place */
    ASSERT_EQ(q_cancel(c, a, &st), 0);
    ASSERT_EQ(st, SCH_STATUS_RUNNING);
    ASSERT(qt_run_until(&s_case.loop, &w.ncancel, 1, 5000));
    ASSERT_STR_EQ(w.cancelled[0], a);
    ASSERT_EQ(q_job_get(c, a, &info), 0);
    ASSERT_EQ(info.cancel_requested, 1);
    q_job_info_release(&info);
    /* the worker kills it and posts the cancelled result */
    struct sch_result res = {.status = SCH_STATUS_CANCELLED, .exit_code = 137};
    ASSERT_EQ(q_consumer_complete(w.qc, w.held[0], &res, NULL, NULL), 0);
    for (int i = 0; i < 100; i++) {
        qt_run_for(&s_case.loop, 10);
        ASSERT_EQ(q_job_get(c, a, &info), 0);
        st = info.status;
        q_job_info_release(&info);
        if (st == SCH_STATUS_CANCELLED)
            break;
    }
    ASSERT_EQ(st, SCH_STATUS_CANCELLED);
    qt_worker_stop(&w);
    qt_case_down(&s_case, c);
}

TEST(stats_numbers)
{
    redisContext *c = qt_case_up(&s_case);
    char id[65];
    struct q_stats s;
    struct qt_worker w;
    for (int i = 0; i < 3; i++)
        qt_enqueue(c, 0, id);
    for (int i = 0; i < 2; i++)
        qt_enqueue(c, 1, id);
    ASSERT_EQ(q_stats(c, &s), 0);
    ASSERT_EQ(s.depth, 5);
    ASSERT_EQ(s.depth_high, 2);
    ASSERT_EQ(s.pending, 0);
    ASSERT_EQ(s.oldest_pending_age_ms, 0);
    ASSERT_EQ(s.dead, 0);

    qt_worker_start(&w, &s_case.loop, s_case.redis.port, "w1", 0, 1, QT_KEEP);
    q_consumer_want(w.qc, 2);
    ASSERT(qt_run_until(&s_case.loop, &w.ngot, 2, 5000));
    qt_run_for(&s_case.loop, 120);
    ASSERT_EQ(q_stats(c, &s), 0);
    ASSERT_EQ(s.pending, 2);
    ASSERT_EQ(s.depth_high, 0); /* both high ones were taken first */
    ASSERT_EQ(s.depth, 3);
    ASSERT_GE(s.oldest_pending_age_ms, 100);
    ASSERT_LT(s.oldest_pending_age_ms, 60000);

    /* max_attempts 1: an infrastructure failure dead-letters at once */
    ASSERT_EQ(q_consumer_fail(w.qc, w.held[0], "boom", NULL, NULL), 0);
    w.held[0] = NULL;
    qt_worker_complete(&w, 1, "done");
    ASSERT(qt_run_until(&s_case.loop, &w.ndone, 1, 5000));
    for (int i = 0; i < 100 && qt_int(c, "XLEN %s", Q_DEAD_STREAM) < 1; i++)
        qt_run_for(&s_case.loop, 10);
    ASSERT_EQ(q_stats(c, &s), 0);
    ASSERT_EQ(s.pending, 0);
    ASSERT_EQ(s.dead, 1);
    ASSERT_EQ(s.depth, 3);
    ASSERT_EQ(s.oldest_pending_age_ms, 0);
    qt_worker_stop(&w);
    qt_case_down(&s_case, c);
}

TEST_MAIN(enqueue_get_and_errors, batch_all_or_nothing, cancel_queued_never_runs, cancel_running_notifies_worker,
          stats_numbers)
