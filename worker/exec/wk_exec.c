#include "wk_exec.h"

#include "ci_log.h"
#include "ci_util.h"
#include "q_consumer.h"
#include "sch_explain.h"
#include "sch_output.h"
#include "wk_config.h"
#include "wk_pool.h"
#include "wk_ptc.h"
#include "wk_stage.h"
#include "wk_stats.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct wk_slot {
    struct wk_exec *ex;
    struct q_delivery *d; /* NULL when the slot is free */
    struct wk_sandbox *sb;
    struct wk_job_ctx ctx;
    struct sch_result res;
    int cancel_requested;
    int clean_run; /* the sandbox may be reused for the same session */
    int failing;   /* an infrastructure failure waits for the engine check */
    int posted;    /* the result is out; the slot waits for ctx.tails */
    int paused;    /* programmatic tool calling: paused, not counted in busy */
    char fail_msg[256];
};

struct wk_exec {
    uv_loop_t *loop;
    struct wk_docker *docker;
    struct wk_pool *pool;
    struct q_consumer *qc;
    struct wk_slot *slots;
    int nslots;  /* WORKER_CONCURRENCY: jobs running at once */
    int nalloc;  /* slots: nslots + PTC_MAX_PAUSED (paused programs hold no running slot) */
    int busy;    /* slots running a job (paused ones excluded) */
    int npaused; /* slots holding a paused program */
    int posting; /* complete/fail calls whose done callback has not run */
    int stopping;
    void (*stop_done)(void *arg);
    void *stop_arg;
    /* Engine outage: while the Docker engine does not answer, the worker
     * takes no jobs and pings it every ENGINE_PROBE_MS on `probe`. */
    int engine_down;
    int64_t pause_ms; /* last pause; doubles while troubles repeat, 0 after a start */
    uv_timer_t probe;
    int probe_inflight;
    int probe_closed;
};

#define ENGINE_PROBE_MS 1000
#define ENGINE_PAUSE_MIN_MS 1000
#define ENGINE_PAUSE_MAX_MS 30000

static void maybe_finish_stop(struct wk_exec *ex);

static const char *rid(const struct wk_slot *s)
{
    return s->d ? s->d->job.request_id : NULL;
}

/* The slot's job is over (posted or handed back): tear down, ask for more. */
static void slot_release(struct wk_slot *s)
{
    struct wk_exec *ex = s->ex;
    wk_stage_release(&s->ctx);
    if (s->sb)
        wk_pool_release(ex->pool, s->sb, s->clean_run && !s->cancel_requested);
    sch_result_release(&s->res);
    memset(&s->ctx, 0, sizeof s->ctx);
    s->sb = NULL;
    s->d = NULL;
    s->cancel_requested = 0;
    s->clean_run = 0;
    s->failing = 0;
    s->posted = 0;
    ex->busy--;
    if (ex->stopping)
        maybe_finish_stop(ex);
    else if (!ex->engine_down)
        q_consumer_want(ex->qc, ex->nslots - ex->busy);
}

static void on_posted(void *arg, int rc)
{
    struct wk_exec *ex = arg;
    if (rc < 0 && rc != -EALREADY)
        log_error("posting a job's outcome failed (%d); its lease hands it to another worker",
                  rc);
    ex->posting--;
    if (ex->stopping)
        maybe_finish_stop(ex);
}

/* ---- engine outage -------------------------------------------------- */

static void on_probe(void *arg, int status, const char *body, size_t len)
{
    struct wk_exec *ex = arg;
    (void)body;
    (void)len;
    ex->probe_inflight = 0;
    if (ex->stopping) {
        maybe_finish_stop(ex);
        return;
    }
    if (status != 200 || !ex->engine_down)
        return;
    ex->engine_down = 0;
    uv_timer_stop(&ex->probe);
    log_warn("docker engine answers again: taking jobs");
    q_consumer_want(ex->qc, ex->nslots - ex->busy);
}

static void on_probe_tick(uv_timer_t *t)
{
    struct wk_exec *ex = t->data;
    if (!ex->probe_inflight && !ex->stopping && wk_docker_ping(ex->docker, on_probe, ex) == 0)
        ex->probe_inflight = 1;
}

/* Pauses intake: no jobs for pause_ms (1 s, doubling up to 30 s while the
 * troubles repeat without a sandbox starting in between), then until a
 * ping answers. */
static void engine_down(struct wk_exec *ex, const char *why)
{
    if (ex->engine_down || ex->stopping)
        return;
    ex->engine_down = 1;
    ex->pause_ms = ex->pause_ms ? ex->pause_ms * 2 : ENGINE_PAUSE_MIN_MS;
    if (ex->pause_ms > ENGINE_PAUSE_MAX_MS)
        ex->pause_ms = ENGINE_PAUSE_MAX_MS;
    log_warn("docker engine %s: taking no jobs for %lld ms, then until it answers", why,
             (long long)ex->pause_ms);
    q_consumer_want(ex->qc, 0);
    uv_timer_start(&ex->probe, on_probe_tick, (uint64_t)ex->pause_ms, ENGINE_PROBE_MS);
}

/* Ends an infrastructure failure.  engine_why: NULL when the engine is
 * fine (the failure is an attempt), else what is wrong with it. */
static void infra_decide(struct wk_slot *s, const char *engine_why)
{
    struct wk_exec *ex = s->ex;
    int rc;
    ex->posting++;
    if (!engine_why) {
        rlog_warn(rid(s), "job %s: %s (attempt %d)", s->d->job.id, s->fail_msg,
                  s->d->attempts);
        rc = q_consumer_fail(ex->qc, s->d, s->fail_msg, on_posted, ex);
    } else {
        rlog_warn(rid(s), "job %s: %s; the docker engine %s: requeued, attempt %d given back",
                  s->d->job.id, s->fail_msg, engine_why, s->d->attempts);
        rc = q_consumer_defer(ex->qc, s->d, s->fail_msg, on_posted, ex);
        engine_down(ex, engine_why);
    }
    if (rc < 0)
        ex->posting--;
    s->d = NULL; /* the consumer owns it again */
    slot_release(s);
}

static void on_fail_ping(void *arg, int status, const char *body, size_t len)
{
    (void)body;
    (void)len;
    infra_decide(arg, status == 200 ? NULL : "does not answer");
}

/* An infrastructure failure.  When the Docker engine itself is at fault -
 * it does not answer /_ping (stopped, restarting, crashed) or it answered
 * the sandbox's create/start with a 5xx (-EAGAIN: e.g. its containerd is
 * away) - the job is not: it goes back to the queue with its attempt given
 * back, and the worker pauses its intake (engine_down).  Otherwise it is an
 * attempt (retry with backoff, dead after MAX_ATTEMPTS).  The slot stays
 * busy for the check. */
static void infra_failure(struct wk_slot *s, const char *what, int rc)
{
    snprintf(s->fail_msg, sizeof s->fail_msg, "%s (%s)", what, strerror(rc < 0 ? -rc : rc));
    s->failing = 1;
    if (rc == -EAGAIN)
        infra_decide(s, "cannot start containers");
    else if (wk_docker_ping(s->ex->docker, on_fail_ping, s) != 0)
        infra_decide(s, "does not answer");
}

/* Replaces a raw stream with its sanitized, capped form. */
static void clean_stream(char **buf, size_t *len, int truncated)
{
    char *out = NULL;
    size_t outlen = 0;
    if (sch_output_sanitize(*buf ? *buf : "", *len, wk_cfg.limits.max_output_bytes, truncated,
                            &out, &outlen) != 0)
        return;
    free(*buf);
    *buf = out;
    *len = outlen;
}

/* The program's wall-clock limit: the job's own, else MAX_EXECUTION_TIME. */
static uint32_t run_timeout_ms(const struct sch_job *job)
{
    return job->timeout_ms ? job->timeout_ms : wk_cfg.limits.max_execution_time_s * 1000u;
}

static void post_result(struct wk_slot *s)
{
    struct sch_result *res = &s->res;
    if (s->cancel_requested)
        res->status = SCH_STATUS_CANCELLED;
    rlog_info(rid(s), "job %s: %s (exit %d, %lld ms)", s->d->job.id,
              sch_status_name(res->status), res->exit_code, (long long)res->duration_ms);
    wk_stats_job(s->d->job.lang, res->status); /* /metrics: jobs by language and outcome */
    s->ex->posting++;
    if (q_consumer_complete(s->ex->qc, s->d, res, on_posted, s->ex) < 0)
        s->ex->posting--;
    s->d = NULL;
    if (s->ctx.tails > 0) { /* the state store goes on: keep slot and sandbox */
        s->posted = 1;
        if (s->sb)
            wk_pool_finishing(s->ex->pool, s->sb);
        return;
    }
    slot_release(s);
}

static void on_tail_done(void *arg)
{
    struct wk_slot *s = arg;
    if (s->ctx.tails == 0 && s->posted)
        slot_release(s);
}

/* Ends the job as FAILED with `msg` as its stderr (the caller's fault). */
static void post_user_error(struct wk_slot *s, const char *msg)
{
    sch_result_release(&s->res);
    s->res.status = SCH_STATUS_FAILED;
    s->res.exit_code = 1;
    s->res.stderr_len = strlen(msg);
    s->res.stderr_buf = ci_xstrndup(msg, s->res.stderr_len);
    clean_stream(&s->res.stderr_buf, &s->res.stderr_len, 0);
    post_result(s);
}

static void on_staged_out(void *arg, int rc, const char *msg)
{
    struct wk_slot *s = arg;
    if (rc != 0) {
        /* The program ran: never run it twice for a storage hiccup. */
        char w[256];
        snprintf(w, sizeof w, "outputs were not fully saved: %s", msg ? msg : "error");
        sch_result_add_warning(&s->res, w);
        rlog_warn(rid(s), "job %s: %s", s->d->job.id, w);
    }
    post_result(s);
}

/* A paused program runs again (resumed, or ended while paused): it counts
 * as a running job once more. */
static void slot_unpause(struct wk_slot *s)
{
    if (!s->paused)
        return;
    s->paused = 0;
    s->ex->npaused--;
    s->ex->busy++;
}

static void on_result(void *arg, struct wk_sandbox *sb, int rc, struct wk_run_result *r)
{
    struct wk_slot *s = arg;
    if (s->d && s->d->job.tools) {
        slot_unpause(s);
        wk_ptc_forget(s->d->job.id, 1);
    }
    if (rc < 0 && !s->cancel_requested) {
        infra_failure(s, r && r->res.error ? r->res.error : "sandbox failed mid-run", rc);
        return;
    }
    /* keep warnings stage-in added; take the rest from the runner */
    char **warn = s->res.warnings;
    size_t nwarn = s->res.nwarnings;
    s->res.warnings = NULL;
    s->res.nwarnings = 0;
    sch_result_release(&s->res);
    s->res = r->res;
    memset(&r->res, 0, sizeof r->res);
    for (size_t i = 0; i < nwarn; i++) {
        sch_result_add_warning(&s->res, warn[i]);
        free(warn[i]);
    }
    free(warn);
    clean_stream(&s->res.stdout_buf, &s->res.stdout_len, r->stdout_truncated);
    clean_stream(&s->res.stderr_buf, &s->res.stderr_len, r->stderr_truncated);
    /* LibreChat reads only stdout/stderr: say what happened (sch_explain.h) */
    sch_result_explain(&s->res, run_timeout_ms(&s->d->job), wk_cfg.limits.max_memory_mb);
    s->clean_run = rc == 0 && wk_sandbox_is_ready(sb) &&
                   (s->res.status == SCH_STATUS_COMPLETED || s->res.status == SCH_STATUS_FAILED);
    if (s->cancel_requested) {
        post_result(s);
        return;
    }
    wk_stage_out(&s->ctx, on_staged_out, s);
}

/* The continuation of a paused program (wk_ptc.h): resume it. */
static void slot_resume(void *arg, json_t *results)
{
    struct wk_slot *s = arg;
    slot_unpause(s);
    rlog_info(rid(s), "job %s: tool results in; resuming", s->d ? s->d->job.id : "?");
    if (s->sb && wk_sandbox_tool_results(s->sb, results) < 0)
        wk_sandbox_kill(s->sb); /* its result callback ends the job */
}

/* The program waits on tool calls: it keeps its sandbox and slot record,
 * but not a running slot (another job may start), until its continuation. */
static void slot_tool_calls(void *arg, struct wk_sandbox *sb, int round, json_t *calls)
{
    struct wk_slot *s = arg;
    struct wk_exec *ex = s->ex;
    (void)sb;
    rlog_info(rid(s), "job %s: paused at round %d (%zu tool call(s))", s->d->job.id, round,
              json_array_size(calls));
    if (!s->paused) {
        s->paused = 1;
        ex->npaused++;
        ex->busy--;
        if (!ex->stopping && !ex->engine_down)
            q_consumer_want(ex->qc, ex->nslots - ex->busy);
    }
    wk_ptc_paused(&s->d->job, round, calls, slot_resume, s);
}

static void on_staged_in(void *arg, int rc, const char *msg)
{
    struct wk_slot *s = arg;
    const struct sch_job *job = &s->d->job;
    if (rc < 0) {
        infra_failure(s, msg ? msg : "cannot stage the job's inputs", rc);
        return;
    }
    if (rc > 0) {
        post_user_error(s, msg ? msg : "the job's inputs are invalid");
        return;
    }
    struct wk_run_request req = {
        .job_id = job->id,
        .lang = sch_lang_name(job->lang),
        .code = job->code,
        .code_len = job->code_len,
        .args = (const char *const *)job->args,
        .nargs = job->nargs,
        .timeout_ms = run_timeout_ms(job),
        .max_output = wk_cfg.limits.max_output_bytes,
        .state_in = s->ctx.state_in,
        .state_out = s->ctx.state_out,
        .tools = job->tools,
        .ptc_pause_ms = wk_ptc_cfg()->pause_ms,
        .ptc_max_rounds = wk_ptc_cfg()->max_rounds,
        .on_tool_calls = slot_tool_calls,
    };
    rc = wk_sandbox_run(s->sb, &req, on_result, s);
    if (rc < 0)
        infra_failure(s, "cannot send the program to the sandbox", rc);
}

static void on_ready(void *arg, struct wk_sandbox *sb, int status)
{
    struct wk_slot *s = arg;
    s->sb = sb; /* after a wipe the pool names it here first (wk_pool.h) */
    if (status == 0 && s->cancel_requested) { /* cancelled during a wipe */
        s->res.exit_code = 137;
        post_result(s);
        return;
    }
    if (status < 0) {
        if (s->cancel_requested) {
            s->res.exit_code = 137;
            post_result(s);
        } else {
            infra_failure(s, "sandbox did not start", status);
        }
        return;
    }
    s->ex->pause_ms = 0; /* the engine starts containers: troubles are over */
    s->ctx.loop = s->ex->loop;
    s->ctx.job = &s->d->job;
    s->ctx.sb = sb;
    s->ctx.res = &s->res;
    s->ctx.tail_done = on_tail_done;
    s->ctx.tail_arg = s;
    wk_stage_in(&s->ctx, on_staged_in, s);
}

/* The job waited for an earlier call of its session until its own timeout
 * passed (q_consumer.h, turn_expired): it never runs, so the session's
 * state and files stay as that earlier call left them.  Answered at once,
 * without a sandbox. */
static void post_turn_expired(struct wk_slot *s)
{
    const struct sch_job *job = &s->d->job;
    char msg[400];
    snprintf(msg, sizeof msg,
             "not run: an earlier call of session %s was still running when this call's "
             "timeout (%u ms) passed; calls of one session run one at a time, in arrival "
             "order. Nothing ran and the session is unchanged.",
             job->session_id ? job->session_id : "", (unsigned)job->timeout_ms);
    sch_result_release(&s->res);
    s->res.status = SCH_STATUS_TIMEOUT;
    s->res.exit_code = -1;
    s->res.stderr_len = strlen(msg);
    s->res.stderr_buf = ci_xstrndup(msg, s->res.stderr_len);
    clean_stream(&s->res.stderr_buf, &s->res.stderr_len, 0);
    rlog_warn(rid(s), "job %s: waited past its timeout for its session's turn; not run", job->id);
    post_result(s);
}

static void on_job(void *arg, struct q_delivery *d)
{
    struct wk_exec *ex = arg;
    struct wk_slot *s = NULL;
    for (int i = 0; i < ex->nalloc && !s; i++)
        if (!ex->slots[i].d && !ex->slots[i].posted && !ex->slots[i].sb)
            s = &ex->slots[i];
    if (!s) { /* the consumer never delivers more than asked; hand it back */
        q_consumer_release(ex->qc, d);
        return;
    }
    s->d = d;
    ex->busy++;
    if (d->turn_expired) {
        post_turn_expired(s);
        return;
    }
    if (d->job.tools && d->attempts > 1) {
        /* programmatic tool calling: the program ran (and maybe paused) on
         * a worker that died; running it again would replay its tool calls
         * and side effects */
        post_user_error(s, "the worker running this programmatic run died; it is not run "
                           "again (its tool calls would be replayed)");
        return;
    }
    for (size_t i = 0; i < d->job.nwarnings; i++) /* code-scan findings of the ingress */
        sch_result_add_warning(&s->res, d->job.warnings[i]);
    rlog_info(d->job.request_id, "job %s: starting (%s, session %s, attempt %d)", d->job.id,
              sch_lang_name(d->job.lang), d->job.session_id, d->attempts);
    int rc = wk_pool_acquire(ex->pool, &d->job, on_ready, s, &s->sb);
    if (rc < 0) {
        s->sb = NULL;
        infra_failure(s, "cannot prepare the sandbox", rc);
    }
}

static void on_cancel(void *arg, const char *job_id)
{
    struct wk_exec *ex = arg;
    for (int i = 0; i < ex->nalloc; i++) {
        struct wk_slot *s = &ex->slots[i];
        if (s->d && !s->failing && !s->posted && strcmp(s->d->job.id, job_id) == 0) {
            rlog_info(rid(s), "job %s: cancel requested; killing its sandbox", job_id);
            s->cancel_requested = 1;
            if (s->sb) /* NULL while its container is wiped: on_ready ends it */
                wk_sandbox_kill(s->sb);
        }
    }
}

int wk_exec_start(uv_loop_t *loop, struct wk_docker *docker, struct wk_exec **out)
{
    struct wk_exec *ex = ci_xcalloc(1, sizeof *ex);
    ex->loop = loop;
    ex->docker = docker;
    ex->nslots = wk_cfg.concurrency;
    int rc0 = wk_ptc_start(loop); /* programmatic tool calling: wk_ptc.h */
    if (rc0 < 0)
        return rc0;
    ex->nalloc = ex->nslots + wk_ptc_cfg()->max_paused;
    ex->slots = ci_xcalloc((size_t)ex->nalloc, sizeof *ex->slots);
    for (int i = 0; i < ex->nalloc; i++)
        ex->slots[i].ex = ex;
    struct q_consumer_config cfg = {
        .host = wk_cfg.redis_host,
        .port = wk_cfg.redis_port,
        .password = wk_cfg.redis_password[0] ? wk_cfg.redis_password : NULL,
        .name = wk_cfg.worker_id,
        .lease_ms = wk_cfg.lease_ms,
        .max_attempts = wk_cfg.max_attempts,
        .block_ms = 2000,
    };
    static const struct q_consumer_cb cbs = {.on_job = on_job, .on_cancel = on_cancel};
    int rc = wk_pool_new(loop, docker, &ex->pool);
    if (rc == 0)
        rc = q_consumer_start(loop, &cfg, &cbs, ex, &ex->qc);
    if (rc < 0) {
        if (ex->pool)
            wk_pool_close(ex->pool, NULL, NULL);
        free(ex->slots);
        free(ex);
        return rc;
    }
    uv_timer_init(loop, &ex->probe);
    ex->probe.data = ex;
    q_consumer_want(ex->qc, ex->nslots);
    *out = ex;
    return 0;
}

static void pool_closed(void *arg)
{
    struct wk_exec *ex = arg;
    void (*done)(void *) = ex->stop_done;
    void *darg = ex->stop_arg;
    free(ex->slots);
    free(ex);
    if (done)
        done(darg);
}

static void ptc_closed(void *arg)
{
    struct wk_exec *ex = arg;
    wk_pool_close(ex->pool, pool_closed, ex);
}

static void consumer_closed(void *arg)
{
    wk_ptc_stop(ptc_closed, arg);
}

static void probe_closed(uv_handle_t *h)
{
    struct wk_exec *ex = h->data;
    ex->probe_closed = 1;
    maybe_finish_stop(ex);
}

static void maybe_finish_stop(struct wk_exec *ex)
{
    if (ex->busy > 0 || ex->npaused > 0 || ex->posting > 0 || !ex->qc || !ex->probe_closed ||
        ex->probe_inflight)
        return;
    struct q_consumer *qc = ex->qc;
    ex->qc = NULL;
    q_consumer_stop(qc, consumer_closed, ex);
}

void wk_exec_stop(struct wk_exec *ex, void (*done)(void *arg), void *arg)
{
    if (!ex->stopping)
        uv_close((uv_handle_t *)&ex->probe, probe_closed);
    ex->stopping = 1;
    ex->stop_done = done;
    ex->stop_arg = arg;
    log_info("stopping: %d job(s) in hand will finish first; %d paused program(s) end now",
             ex->busy, ex->npaused);
    for (int i = 0; i < ex->nalloc; i++)
        if (ex->slots[i].paused && ex->slots[i].sb)
            wk_sandbox_kill(ex->slots[i].sb);
    if (ex->qc)
        q_consumer_want(ex->qc, 0);
    maybe_finish_stop(ex);
}

int wk_exec_busy(const struct wk_exec *ex)
{
    return ex->busy;
}
