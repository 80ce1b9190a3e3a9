/*
 * test_queue_turn.c - the per-session line (queue/lua/turn.lua,
 * docs/queue.md "Sessions: one call at a time") against a real private
 * redis-server: tickets in arrival order, one call of a session at a time
 * on any consumer, the turn passing on when its holder dies, is cancelled
 * or waits too long, and the cap of ci:dead.  One redis per case.
 */
#include "ci_test.h"
#include "qt_util.h"

#include "ci_util.h"
#include "q_batch.h"
#include "q_keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct qt_case s_case;

/* Enqueues a job of session sid (priority 0/1, timeout in ms). */
static void enqueue_in(redisContext *c, const char *sid, int priority, uint32_t timeout_ms,
                       char *id_out)
{
    struct sch_job job;
    qt_job_init(&job, priority);
    free(job.session_id);
    job.session_id = ci_xstrdup(sid);
    job.timeout_ms = timeout_ms;
    ASSERT_EQ(q_enqueue(c, &job, 0), 0);
    snprintf(id_out, 65, "%s", job.id);
    sch_job_release(&job);
}

/* A field of a job hash as a string ("" when absent); out >= 64 bytes. */
static const char *job_field(redisContext *c, const char *id, const char *field, char *out)
{
    redisReply *r = redisCommand(c, "HGET %s%s %s", Q_JOB_KEY_PREFIX, id, field);
    snprintf(out, 64, "%s", r && r->type == REDIS_REPLY_STRING ? r->str : "");
    freeReplyObject(r);
    return out;
}

static enum sch_status status_of(redisContext *c, const char *id)
{
    struct q_job_info info;
    ASSERT_EQ(q_job_get(c, id, &info), 0);
    enum sch_status st = info.status;
    q_job_info_release(&info);
    return st;
}

static void complete_as(struct qt_worker *w, int i, enum sch_status st)
{
    struct sch_result res = {0};
    res.status = st;
    ASSERT_EQ(q_consumer_complete(w->qc, w->held[i], &res, NULL, NULL), 0);
    w->held[i] = NULL;
}

/* Tickets follow arrival within a session, each session counts on its
 * own, and batch items take none. */
TEST(tickets_follow_arrival)
{
    redisContext *c = qt_case_up(&s_case);
    char a[65], b[65], d[65], x[65], buf[64];
    enqueue_in(c, "s-a", 0, 5000, a);
    enqueue_in(c, "s-a", 1, 5000, b);
    enqueue_in(c, "s-b", 0, 5000, x);
    enqueue_in(c, "s-a", 0, 5000, d);
    ASSERT_STR_EQ(job_field(c, a, "ticket", buf), "1");
    ASSERT_STR_EQ(job_field(c, b, "ticket", buf), "2");
    ASSERT_STR_EQ(job_field(c, d, "ticket", buf), "3");
    ASSERT_STR_EQ(job_field(c, x, "ticket", buf), "1");
    char created[64], deadline[64];
    job_field(c, a, "created_at", created);
    job_field(c, a, "turn_deadline", deadline);
    ASSERT_EQ(strtoll(deadline, NULL, 10) - strtoll(created, NULL, 10), 5000);
    redisReply *r = redisCommand(c, "ZRANGE %ss-a 0 -1", Q_TURN_PREFIX);
    ASSERT(r && r->type == REDIS_REPLY_ARRAY && r->elements == 3);
    ASSERT_STR_EQ(r->element[0]->str, a);
    ASSERT_STR_EQ(r->element[1]->str, b);
    ASSERT_STR_EQ(r->element[2]->str, d);
    freeReplyObject(r);
    ASSERT_GT(qt_int(c, "TTL %ss-a", Q_TURN_PREFIX), 86000);
    ASSERT_EQ(qt_int(c, "ZRANK %ss-a %s", Q_TURN_PREFIX, d), 2);

    struct sch_job bj;
    qt_job_init(&bj, 0);
    free(bj.session_id);
    bj.session_id = ci_xstrdup("s-a");
    const struct sch_job *jobs[] = {&bj};
    struct q_batch_spec spec = {.id = "b0b0", .owner = "owner-1", .created_ms = ci_now_ms()};
    ASSERT_EQ(q_enqueue_batch_ex(c, jobs, 1, 0, &spec, NULL), 0);
    ASSERT_STR_EQ(job_field(c, bj.id, "ticket", buf), "");
    ASSERT_EQ(qt_int(c, "ZCARD %ss-a", Q_TURN_PREFIX), 3);
    sch_job_release(&bj);
    qt_case_down(&s_case, c);
}

/* With slots to spare, a consumer gets one call of a session at a time, in
 * arrival order (a later high-priority call included), while another
 * session runs beside it; the waiting ones are parked outside the streams
 * and woken by the end of the call before them. */
TEST(one_at_a_time_in_arrival_order)
{
    redisContext *c = qt_case_up(&s_case);
    char a[65], b[65], d[65], x[65], buf[64];
    struct qt_worker w;
    enqueue_in(c, "s", 0, 60000, a);
    enqueue_in(c, "s", 1, 60000, b); /* high priority, but after a */
    enqueue_in(c, "s", 0, 60000, d);
    enqueue_in(c, "other", 0, 60000, x);
    qt_worker_start(&w, &s_case.loop, s_case.redis.port, "w1", 0, 0, QT_KEEP);
    q_consumer_want(w.qc, 4);
    ASSERT(qt_run_until(&s_case.loop, &w.ngot, 2, 5000));
    qt_run_for(&s_case.loop, 300);
    ASSERT_EQ(w.ngot, 2); /* a and x; b and d wait */
    ASSERT_STR_EQ(w.ids[0], a);
    ASSERT_STR_EQ(w.ids[1], x);
    ASSERT_STR_EQ(job_field(c, b, "parked", buf), Q_STREAM_HIGH);
    ASSERT_STR_EQ(job_field(c, d, "parked", buf), Q_STREAM_NORMAL);
    ASSERT_EQ(status_of(c, b), SCH_STATUS_QUEUED);
    ASSERT_EQ(qt_int(c, "XLEN %s", Q_STREAM_HIGH), 0);   /* parked: not in a stream */
    ASSERT_EQ(qt_int(c, "XLEN %s", Q_STREAM_NORMAL), 2); /* a, x pending */

    complete_as(&w, 0, SCH_STATUS_COMPLETED);
    ASSERT(qt_run_until(&s_case.loop, &w.ngot, 3, 5000));
    qt_run_for(&s_case.loop, 300);
    ASSERT_EQ(w.ngot, 3);
    ASSERT_STR_EQ(w.ids[2], b);
    ASSERT_EQ(w.attempts[2], 1);
    ASSERT_STR_EQ(job_field(c, b, "parked", buf), "");
    complete_as(&w, 2, SCH_STATUS_FAILED); /* a failing call passes the turn on too */
    ASSERT(qt_run_until(&s_case.loop, &w.ngot, 4, 5000));
    ASSERT_STR_EQ(w.ids[3], d);
    ASSERT_EQ(w.turn_expired[3], 0);
    complete_as(&w, 3, SCH_STATUS_COMPLETED);
    complete_as(&w, 1, SCH_STATUS_COMPLETED);
    qt_run_for(&s_case.loop, 200);
    ASSERT_EQ(qt_int(c, "EXISTS %ss", Q_TURN_PREFIX), 0); /* line empty: gone */
    ASSERT_EQ(qt_int(c, "ZCARD %s", Q_TURN_DUE), 0);
    qt_worker_stop(&w);
    qt_case_down(&s_case, c);
}

/* The holder of the turn dies: its lease runs out, another consumer
 * reclaims the same job (it still holds the turn: attempt 2), and only its
 * end lets the next call of the session start. */
TEST(worker_death_passes_turn_after_lease)
{
    redisContext *c = qt_case_up(&s_case);
    char a[65], b[65];
    struct qt_worker dies, live;
    enqueue_in(c, "s", 0, 60000, a);
    enqueue_in(c, "s", 0, 60000, b);
    qt_worker_start(&dies, &s_case.loop, s_case.redis.port, "dies", 300, 3, QT_KEEP);
    q_consumer_want(dies.qc, 2);
    ASSERT(qt_run_until(&s_case.loop, &dies.ngot, 1, 5000));
    qt_run_for(&s_case.loop, 200);
    ASSERT_EQ(dies.ngot, 1);
    ASSERT_STR_EQ(dies.ids[0], a);
    qt_worker_stop(&dies); /* gone without an end: its lease runs out */

    qt_worker_start(&live, &s_case.loop, s_case.redis.port, "live", 300, 3, QT_KEEP);
    q_consumer_want(live.qc, 2);
    ASSERT(qt_run_until(&s_case.loop, &live.ngot, 1, 5000));
    qt_run_for(&s_case.loop, 700); /* more than a lease: b still waits */
    ASSERT_EQ(live.ngot, 1);
    ASSERT_STR_EQ(live.ids[0], a);
    ASSERT_EQ(live.attempts[0], 2);
    complete_as(&live, 0, SCH_STATUS_COMPLETED);
    ASSERT(qt_run_until(&s_case.loop, &live.ngot, 2, 5000));
    ASSERT_STR_EQ(live.ids[1], b);
    ASSERT_EQ(live.attempts[1], 1);
    complete_as(&live, 1, SCH_STATUS_COMPLETED);
    qt_run_for(&s_case.loop, 100);
    ASSERT_EQ(status_of(c, a), SCH_STATUS_COMPLETED);
    ASSERT_EQ(status_of(c, b), SCH_STATUS_COMPLETED);
    qt_worker_stop(&live);
    qt_case_down(&s_case, c);
}

/* Cancelling a waiting call takes it out of the line (it never runs);
 * cancelling the running one passes the turn on once its worker ends it. */
TEST(cancel_releases_turn)
{
    redisContext *c = qt_case_up(&s_case);
    char a[65], b[65], d[65], buf[64];
    struct qt_worker w;
    enum sch_status st;
    enqueue_in(c, "s", 0, 60000, a);
    enqueue_in(c, "s", 0, 60000, b);
    enqueue_in(c, "s", 0, 60000, d);
    qt_worker_start(&w, &s_case.loop, s_case.redis.port, "w1", 0, 0, QT_KEEP);
    q_consumer_want(w.qc, 3);
    ASSERT(qt_run_until(&s_case.loop, &w.ngot, 1, 5000));
    qt_run_for(&s_case.loop, 300);
    ASSERT_EQ(w.ngot, 1);
    ASSERT_STR_EQ(job_field(c, b, "parked", buf), Q_STREAM_NORMAL);

    ASSERT_EQ(q_cancel(c, b, &st), 0); /* waiting: cancelled at once */
    ASSERT_EQ(st, SCH_STATUS_CANCELLED);
    ASSERT_STR_EQ(job_field(c, b, "parked", buf), "");
    ASSERT_STR_EQ(job_field(c, b, "parked_job", buf), "");
    ASSERT_EQ(qt_int(c, "ZRANK %ss %s", Q_TURN_PREFIX, b), -1); /* not in the line */

    ASSERT_EQ(q_cancel(c, a, &st), 0); /* running: its worker ends it */
    ASSERT_EQ(st, SCH_STATUS_RUNNING);
    ASSERT(qt_run_until(&s_case.loop, &w.ncancel, 1, 5000));
    ASSERT_STR_EQ(w.cancelled[0], a);
    qt_run_for(&s_case.loop, 200);
    ASSERT_EQ(w.ngot, 1); /* d still waits for a */
    complete_as(&w, 0, SCH_STATUS_CANCELLED);
    ASSERT(qt_run_until(&s_case.loop, &w.ngot, 2, 5000));
    ASSERT_STR_EQ(w.ids[1], d); /* b never runs */
    complete_as(&w, 1, SCH_STATUS_COMPLETED);
    qt_run_for(&s_case.loop, 300);
    ASSERT_EQ(w.ngot, 2);
    ASSERT_EQ(status_of(c, a), SCH_STATUS_CANCELLED);
    ASSERT_EQ(status_of(c, b), SCH_STATUS_CANCELLED);
    ASSERT_EQ(status_of(c, d), SCH_STATUS_COMPLETED);
    qt_worker_stop(&w);
    qt_case_down(&s_case, c);
}

/* A call whose own timeout passes while it waits is handed over marked
 * turn_expired (never to be run) while the turn's holder still runs; the
 * next call waits for the holder as before. */
TEST(wait_past_timeout_is_answered_not_run)
{
    redisContext *c = qt_case_up(&s_case);
    char a[65], b[65], d[65], buf[64];
    struct qt_worker w;
    enqueue_in(c, "s", 0, 60000, a);
    enqueue_in(c, "s", 0, 300, b);
    enqueue_in(c, "s", 0, 60000, d);
    qt_worker_start(&w, &s_case.loop, s_case.redis.port, "w1", 0, 0, QT_KEEP);
    q_consumer_want(w.qc, 3);
    ASSERT(qt_run_until(&s_case.loop, &w.ngot, 2, 10000)); /* the sweep wakes b */
    ASSERT_STR_EQ(w.ids[0], a);
    ASSERT_STR_EQ(w.ids[1], b);
    ASSERT_EQ(w.turn_expired[1], 1);
    ASSERT_EQ(w.attempts[1], 0);
    ASSERT_EQ(w.turn_expired[0], 0);
    ASSERT_STR_EQ(job_field(c, b, "turn_expired", buf), "1");
    ASSERT_STR_EQ(job_field(c, b, "attempts", buf), "0");
    complete_as(&w, 1, SCH_STATUS_TIMEOUT);
    qt_run_for(&s_case.loop, 300);
    ASSERT_EQ(w.ngot, 2); /* d still waits for a */
    ASSERT_EQ(status_of(c, b), SCH_STATUS_TIMEOUT);
    complete_as(&w, 0, SCH_STATUS_COMPLETED);
    ASSERT(qt_run_until(&s_case.loop, &w.ngot, 3, 5000));
    ASSERT_STR_EQ(w.ids[2], d);
    ASSERT_EQ(w.turn_expired[2], 0);
    complete_as(&w, 2, SCH_STATUS_COMPLETED);
    qt_run_for(&s_case.loop, 100);
    qt_worker_stop(&w);
    qt_case_down(&s_case, c);
}

/* A head whose job record is gone (expired, deleted) never blocks the
 * line: the next call's start drops it and runs. */
TEST(vanished_head_is_skipped)
{
    redisContext *c = qt_case_up(&s_case);
    char a[65], b[65];
    struct qt_worker w;
    enqueue_in(c, "s", 0, 60000, a);
    enqueue_in(c, "s", 0, 60000, b);
    ASSERT_EQ(qt_int(c, "DEL %s%s", Q_JOB_KEY_PREFIX, a), 1);
    qt_worker_start(&w, &s_case.loop, s_case.redis.port, "w1", 0, 0, QT_KEEP);
    q_consumer_want(w.qc, 2);
    ASSERT(qt_run_until(&s_case.loop, &w.ngot, 1, 5000));
    ASSERT_STR_EQ(w.ids[0], b);
    ASSERT_EQ(qt_int(c, "ZRANK %ss %s", Q_TURN_PREFIX, a), -1); /* not in the line */
    complete_as(&w, 0, SCH_STATUS_COMPLETED);
    qt_run_for(&s_case.loop, 200);
    ASSERT_EQ(w.ngot, 1);
    ASSERT_EQ(qt_int(c, "EXISTS %ss", Q_TURN_PREFIX), 0);
    qt_worker_stop(&w);
    qt_case_down(&s_case, c);
}

/* ci:dead keeps about DEAD_LETTER_MAX entries (XADD MAXLEN ~: whole stream
 * nodes go, here 10 entries each), the newest ones; each dead job's record
 * keeps its TTL. */
TEST(dead_letters_capped)
{
    enum { N = 60, CAP = 20, NODE = 10 }; /* N <= QT_MAX */
    struct ci_redis *rd = &s_case.redis;
    redisContext *c = qt_redis_up(rd, "stream-node-max-entries 10\n");
    ASSERT_EQ(uv_loop_init(&s_case.loop), 0);
    ASSERT_EQ(setenv("DEAD_LETTER_MAX", "20", 1), 0);
    char ids[N][65];
    struct qt_worker w;
    for (int i = 0; i < N; i++)
        qt_enqueue(c, 0, ids[i]);
    qt_worker_start(&w, &s_case.loop, rd->port, "w1", 0, 1, QT_FAIL);
    w.refill = 8;
    q_consumer_want(w.qc, 8);
    ASSERT(qt_run_until(&s_case.loop, &w.ndone, N, 30000));
    for (int i = 0; i < N; i++)
        ASSERT_EQ(w.done_rc[i], 2); /* dead */
    long long len = qt_int(c, "XLEN %s", Q_DEAD_STREAM);
    ASSERT_GE(len, CAP);
    ASSERT_LE(len, CAP + NODE);
    /* the newest dead letter is kept */
    redisReply *r = redisCommand(c, "XREVRANGE %s + - COUNT 1", Q_DEAD_STREAM);
    ASSERT(r && r->type == REDIS_REPLY_ARRAY && r->elements == 1);
    const redisReply *f = r->element[0]->element[1];
    ASSERT_STR_EQ(f->element[0]->str, "id");
    int found = 0;
    for (int i = 0; i < N; i++)
        found += strcmp(ids[i], f->element[1]->str) == 0;
    ASSERT_EQ(found, 1);
    ASSERT_EQ(status_of(c, f->element[1]->str), SCH_STATUS_DEAD);
    ASSERT_GT(qt_int(c, "TTL %s%s", Q_JOB_KEY_PREFIX, f->element[1]->str), 0);
    freeReplyObject(r);
    qt_worker_stop(&w);
    qt_case_down(&s_case, c);
}

TEST_MAIN(tickets_follow_arrival, one_at_a_time_in_arrival_order,
          worker_death_passes_turn_after_lease, cancel_releases_turn,
          wait_past_timeout_is_answered_not_run, vanished_head_is_skipped, dead_letters_capped)
