/*
 * qt_util.c - queue test helpers (see qt_util.h).
 */
#include "qt_util.h"

#include "ci_test.h"
#include "ci_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

redisContext *qt_redis_up(struct ci_redis *r, const char *extra_conf)
{
    ASSERT_EQ(ci_redis_start(r, extra_conf), 0);
    redisContext *c = ci_redis_connect(r);
    ASSERT_NOT_NULL(c);
    ASSERT_EQ(q_setup(c), 0);
    return c;
}

redisContext *qt_case_up(struct qt_case *k)
{
    redisContext *c = qt_redis_up(&k->redis, NULL);
    ASSERT_EQ(uv_loop_init(&k->loop), 0);
    return c;
}

void qt_case_down(struct qt_case *k, redisContext *c)
{
    redisFree(c);
    uv_run(&k->loop, UV_RUN_NOWAIT);
    ASSERT_EQ(uv_loop_close(&k->loop), 0); /* every handle was closed */
    ci_redis_cleanup(&k->redis);
}

void qt_job_init(struct sch_job *job, int priority)
{
    char id[33];
    memset(job, 0, sizeof *job);
    ASSERT_EQ(ci_random_hex(id, 16), 0);
    job->id = ci_xstrdup(id);
    char sid[64];
    snprintf(sid, sizeof sid, "sess-%s", id); /* a session per job: no line between them */
    job->session_id = ci_xstrdup(sid);
    job->owner = ci_xstrdup("owner-1");
    job->lang = SCH_LANG_PY;
    job->code = ci_xstrdup("print(1)");
    job->code_len = 8;
    job->timeout_ms = 1000;
    job->priority = priority;
    job->created_ms = ci_now_ms();
}

void qt_enqueue(redisContext *c, int priority, char *id_out)
{
    struct sch_job job;
    qt_job_init(&job, priority);
    ASSERT_EQ(q_enqueue(c, &job, 0), 0);
    snprintf(id_out, 65, "%s", job.id);
    sch_job_release(&job);
}

static void qt_done(void *arg, int rc)
{
    struct qt_worker *w = arg;
    if (w->ndone < QT_MAX)
        w->done_rc[w->ndone] = rc;
    w->ndone++;
    if (w->refill)
        q_consumer_want(w->qc, w->refill);
}

void qt_worker_complete(struct qt_worker *w, int i, const char *out)
{
    struct sch_result res = {0};
    res.status = SCH_STATUS_COMPLETED;
    res.stdout_buf = (char *)out;
    res.stdout_len = strlen(out);
    ASSERT_EQ(q_consumer_complete(w->qc, w->held[i], &res, qt_done, w), 0);
    w->held[i] = NULL;
}

static void qt_on_job(void *arg, struct q_delivery *d)
{
    struct qt_worker *w = arg;
    int i = w->ngot++;
    ASSERT_LT(i, QT_MAX);
    snprintf(w->ids[i], sizeof w->ids[i], "%s", d->job.id);
    w->attempts[i] = d->attempts;
    w->turn_expired[i] = d->turn_expired;
    w->held[i] = d;
    if (w->mode == QT_COMPLETE) {
        qt_worker_complete(w, i, "ok\n");
    } else if (w->mode == QT_FAIL) {
        w->held[i] = NULL;
        ASSERT_EQ(q_consumer_fail(w->qc, d, "sandbox unavailable", qt_done, w), 0);
    } else if (w->mode == QT_DEFER) {
        w->held[i] = NULL;
        ASSERT_EQ(q_consumer_defer(w->qc, d, "engine away", qt_done, w), 0);
    }
}

static void qt_on_cancel(void *arg, const char *job_id)
{
    struct qt_worker *w = arg;
    if (w->ncancel < 8)
        snprintf(w->cancelled[w->ncancel], 65, "%s", job_id);
    w->ncancel++;
}

void qt_worker_start(struct qt_worker *w, uv_loop_t *loop, int port, const char *name,
                     int64_t lease_ms, int max_attempts, enum qt_mode mode)
{
    memset(w, 0, sizeof *w);
    w->loop = loop;
    w->mode = mode;
    struct q_consumer_config cfg = {.host = "127.0.0.1",
                                    .port = port,
                                    .name = name,
                                    .lease_ms = lease_ms,
                                    .max_attempts = max_attempts,
                                    .block_ms = 200,
                                    .retry_base_ms = 50};
    struct q_consumer_cb cb = {.on_job = qt_on_job, .on_cancel = qt_on_cancel};
    ASSERT_EQ(q_consumer_start(loop, &cfg, &cb, w, &w->qc), 0);
}

static void qt_closed(void *arg)
{
    ((struct qt_worker *)arg)->closed = 1;
}

void qt_worker_stop(struct qt_worker *w)
{
    q_consumer_stop(w->qc, qt_closed, w);
    ASSERT(qt_run_until(w->loop, &w->closed, 1, 5000));
    w->qc = NULL;
}

static void qt_tick(uv_timer_t *t)
{
    (void)t;
}

int qt_run_until(uv_loop_t *loop, const int *counter, int want, int64_t timeout_ms)
{
    uv_timer_t tick;
    int64_t end = ci_mono_us() + timeout_ms * 1000;
    uv_timer_init(loop, &tick);
    uv_timer_start(&tick, qt_tick, 5, 5);
    while ((!counter || *counter < want) && ci_mono_us() < end)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return counter && *counter >= want;
}

void qt_run_for(uv_loop_t *loop, int64_t ms)
{
    qt_run_until(loop, NULL, 0, ms);
}

long long qt_int(redisContext *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    long long v = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    return v;
}
