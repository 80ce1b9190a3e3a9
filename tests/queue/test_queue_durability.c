/*
 * test_queue_durability.c - Redis killed with SIGKILL and restarted from its
 * AOF: queued and running jobs survive, and a consumer that stayed up
 * reconnects by itself, posts the results it produced meanwhile and drains
 * the rest.
 */
#include "ci_test.h"
#include "qt_util.h"

#include "q_keys.h"

#include <string.h>

static struct ci_redis s_redis;
static uv_loop_t s_loop;

#define NJOBS 6

TEST(kill9_restart_keeps_jobs_and_consumer_reconnects)
{
    redisContext *c = qt_redis_up(&s_redis, "appendfsync always\n");
    char ids[NJOBS][65];
    struct qt_worker w;
    struct q_job_info info;
    ASSERT_EQ(uv_loop_init(&s_loop), 0);
    for (int i = 0; i < NJOBS; i++)
        qt_enqueue(c, i % 2, ids[i]);
    qt_worker_start(&w, &s_loop, s_redis.port, "w1", 5000, 3, QT_KEEP);
    q_consumer_want(w.qc, 2);
    ASSERT(qt_run_until(&s_loop, &w.ngot, 2, 5000));

    redisFree(c);
    ASSERT_EQ(ci_redis_kill9(&s_redis), 0);
    qt_run_for(&s_loop, 300); /* the consumer notices and starts retrying */
    /* results produced while Redis is down are kept and replayed */
    qt_worker_complete(&w, 0, "during outage\n");
    qt_run_for(&s_loop, 200);
    ASSERT_EQ(w.ndone, 0);
    ASSERT_EQ(ci_redis_restart(&s_redis), 0);
    c = ci_redis_connect(&s_redis);
    ASSERT_NOT_NULL(c);
    for (int i = 0; i < NJOBS; i++) { /* everything enqueued survived */
        ASSERT_EQ(q_job_get(c, ids[i], &info), 0);
        ASSERT(info.status == SCH_STATUS_QUEUED || info.status == SCH_STATUS_RUNNING);
        q_job_info_release(&info);
    }
    ASSERT_EQ(qt_int(c, "XLEN %s", Q_STREAM_HIGH) + qt_int(c, "XLEN %s", Q_STREAM_NORMAL), NJOBS);

    ASSERT(qt_run_until(&s_loop, &w.ndone, 1, 10000));
    ASSERT_EQ(w.done_rc[0], 0);
    qt_worker_complete(&w, 1, "after outage\n");
    w.mode = QT_COMPLETE;
    q_consumer_want(w.qc, NJOBS);
    ASSERT(qt_run_until(&s_loop, &w.ndone, NJOBS, 10000));
    ASSERT_EQ(w.ngot, NJOBS);
    for (int i = 0; i < NJOBS; i++) {
        ASSERT_EQ(q_job_get(c, ids[i], &info), 0);
        ASSERT_EQ(info.status, SCH_STATUS_COMPLETED);
        ASSERT_EQ(info.attempts, 1);
        q_job_info_release(&info);
    }
    ASSERT_EQ(q_job_get(c, w.ids[0], &info), 0);
    ASSERT_STR_EQ(info.result.stdout_buf, "during outage\n");
    q_job_info_release(&info);
    struct q_stats s;
    ASSERT_EQ(q_stats(c, &s), 0);
    ASSERT_EQ(s.pending, 0);
    ASSERT_EQ(s.depth, 0);
    qt_worker_stop(&w);
    redisFree(c);
    uv_run(&s_loop, UV_RUN_NOWAIT);
    ASSERT_EQ(uv_loop_close(&s_loop), 0);
    ci_redis_cleanup(&s_redis);
}

TEST_MAIN(kill9_restart_keeps_jobs_and_consumer_reconnects)
