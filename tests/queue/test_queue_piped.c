/*
 * test_queue_piped.c - q_enqueue_after(): the caller's appended commands
 * and the job share one round trip, replies read in order (the ingress
 * intake pipelines its session and audit writes this way: ingress/redis/ing_redis.h).
 */
#include "ci_test.h"
#include "qt_util.h"

#include "q_keys.h"

#include <errno.h>
#include <string.h>

static struct ci_redis s_redis;

TEST(enqueue_after_reads_pending_first)
{
    redisContext *c = qt_redis_up(&s_redis, NULL);
    struct sch_job job;
    struct q_job_info info;
    int bad = -1;
    qt_job_init(&job, 0);
    redisAppendCommand(c, "SET piped:a 1");
    redisAppendCommand(c, "HSET piped:a f 1"); /* WRONGTYPE: an error reply */
    redisAppendCommand(c, "INCRBY piped:n 5");
    ASSERT_EQ(q_enqueue_after(c, &job, 60, 3, &bad), 0);
    ASSERT_EQ(bad, 1);
    ASSERT_EQ(qt_int(c, "INCRBY piped:n 0"), 5); /* the next reply is its own, not a leftover */
    ASSERT_EQ(qt_int(c, "XLEN %s", Q_STREAM_NORMAL), 1);
    ASSERT_EQ(q_job_get(c, job.id, &info), 0);
    ASSERT_EQ(info.status, SCH_STATUS_QUEUED);
    q_job_info_release(&info);

    /* the same id again: -EEXIST, and the pending reply is still consumed */
    redisAppendCommand(c, "INCRBY piped:n 1");
    ASSERT_EQ(q_enqueue_after(c, &job, 60, 1, &bad), -EEXIST);
    ASSERT_EQ(bad, 0);
    ASSERT_EQ(qt_int(c, "INCRBY piped:n 0"), 6);
    /* nothing pending: a plain enqueue */
    struct sch_job other;
    qt_job_init(&other, 1);
    ASSERT_EQ(q_enqueue_after(c, &other, 60, 0, &bad), 0);
    ASSERT_EQ(qt_int(c, "XLEN %s", Q_STREAM_HIGH), 1);
    sch_job_release(&job);
    sch_job_release(&other);
    redisFree(c);
    ci_redis_cleanup(&s_redis);
}

TEST_MAIN(enqueue_after_reads_pending_first)
