/*
 * wk_sandbox_run.c - one run on a ready sandbox: the `run` frame, the
 * `result` frame, the host-side deadline, cancellation, and what happens
 * when the container dies mid-run.
 */
#include "wk_sandbox_int.h"

#include "ci_log.h"
#include "ci_util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define INSPECT_RETRY_MS 100
#define INSPECT_TRIES 100 /* 10 s for the container to stop (slow on a loaded host) */

void wk_sb__finish_run(struct wk_sandbox *sb, int rc, struct wk_run_result *r)
{
    wk_sandbox_result_cb cb = sb->run_cb;
    void *arg = sb->run_arg;
    sb->run_cb = NULL;
    sb->tool_cb = NULL;
    sb->paused = 0;
    if (sb->state == WK_SB_RUNNING)
        sb->state =
            rc == 0 && sb->end == WK_SB_END_NONE && sb->conn_open ? WK_SB_READY : WK_SB_DEAD;
    if (sb->timer_open)
        uv_timer_stop(&sb->timer);
    free(sb->job_id);
    sb->job_id = NULL;
    if (cb && !sb->destroying)
        cb(arg, sb, rc, r);
    sch_result_release(&r->res);
}

static void on_killed(void *arg, int status, const char *body, size_t len);

/* A run that ended without a result frame. */
static void finish_without_result(struct wk_sandbox *sb, int rc, enum sch_status st,
                                  const char *error)
{
    struct wk_run_result r;
    memset(&r, 0, sizeof r);
    r.res.status = st;
    r.res.exit_code = (st == SCH_STATUS_FAILED) ? -1 : 137;
    if (error)
        r.res.error = ci_xstrdup(error);
    sb->state = WK_SB_DEAD;
    wk_sb__finish_run(sb, rc, &r);
}

/* The runner broke the protocol during a run (a result for another job, a
 * malformed or oversized frame, an unexpected frame type): it shares the
 * container with the caller's code, so this is the caller's failure, not
 * the infrastructure's.  The job fails at once with a one-line stderr (never
 * retried) and the container is killed (the pool then destroys it). */
void wk_sb__protocol_violation(struct wk_sandbox *sb, const char *why)
{
    struct wk_run_result r;
    char msg[256];
    log_warn("sandbox %s: protocol violation during job %s: %s", sb->name,
             sb->job_id ? sb->job_id : "?", why);
    memset(&r, 0, sizeof r);
    r.res.status = SCH_STATUS_FAILED;
    r.res.exit_code = 1;
    snprintf(msg, sizeof msg,
             "sandbox error: the sandbox sent %s; the run was stopped and its sandbox destroyed\n",
             why);
    r.res.stderr_len = strlen(msg);
    r.res.stderr_buf = ci_xstrndup(msg, r.res.stderr_len);
    r.res.stdout_buf = ci_xstrdup("");
    if (sb->container_id)
        wk_sb__docker_issued(sb, wk_docker_kill(sb->docker, sb->container_id, NULL, on_killed, sb));
    wk_sb__close_conn(sb);
    sb->state = WK_SB_DEAD;
    wk_sb__finish_run(sb, 0, &r);
}

int wk_sb__on_run_frame(struct wk_sandbox *sb, json_t *msg, const char *type)
{
    const char *id = json_string_value(json_object_get(msg, "id"));
    const char *bad = NULL;
    struct wk_run_result r;
    int rc;

    memset(&r, 0, sizeof r);
    if (sb->end != WK_SB_END_NONE)
        return 0; /* being killed: on_killed reports */
    if (strcmp(type, "tool_calls") == 0 && sb->tool_cb) {
        wk_sb__on_tool_calls(sb, msg);
        return 0;
    }
    sb->paused = 0;
    if (strcmp(type, "result") == 0) {
        rc = wk_sandbox_parse_result(msg, sb->job_id, sb->max_output, &r, &bad);
        if (rc == -EPROTO) {
            sch_result_release(&r.res);
            wk_sb__protocol_violation(sb, bad);
            return 0;
        }
        if (rc < 0)
            r.res.error = ci_xstrdup("cannot read the result");
    } else if (strcmp(type, "error") == 0 && id && sb->job_id && strcmp(id, sb->job_id) == 0) {
        /* The runner could not act on the run (e.g. its build dir cannot be
         * made because an earlier run of the session filled HOME): running
         * it again would not help, so this is the caller's outcome too.  The
         * channel stays usable: READY. */
        char text[512];
        const char *why = json_string_value(json_object_get(msg, "message"));
        rc = 0;
        r.res.status = SCH_STATUS_FAILED;
        r.res.exit_code = 1;
        snprintf(text, sizeof text, "sandbox error: the runner refused the run: %.400s\n",
                 why ? why : "no reason given");
        r.res.stderr_len = strlen(text);
        r.res.stderr_buf = ci_xstrndup(text, r.res.stderr_len);
        r.res.stdout_buf = ci_xstrdup("");
        log_warn("sandbox %s: runner error for job %s: %s", sb->name, sb->job_id, text);
        sb->state = WK_SB_READY;
    } else {
        wk_sb__protocol_violation(sb, strcmp(type, "error") == 0 ? "an error for another job"
                                                                 : "an unexpected frame");
        return 0;
    }
    wk_sb__finish_run(sb, rc, &r);
    return 0;
}

/* ---- deadline, cancellation ------------------------------------------- */

static void on_killed(void *arg, int status, const char *body, size_t len)
{
    struct wk_sandbox *sb = arg;
    if (wk_sb__docker_done(sb))
        return;
    if (status != 204 && status != 409)
        log_warn("sandbox %s: kill answered %d: %.*s", sb->name, status, (int)len, body);
    if (sb->state != WK_SB_RUNNING || !sb->run_cb)
        return;
    finish_without_result(
        sb, 0, sb->end == WK_SB_END_TIMEOUT ? SCH_STATUS_TIMEOUT : SCH_STATUS_CANCELLED, NULL);
}

/* Kills the container; a run in flight completes from on_killed. */
static int kill_container(struct wk_sandbox *sb, enum wk_sb_end why)
{
    if (!sb->container_id)
        return -EPIPE;
    if (sb->state == WK_SB_RUNNING && sb->end == WK_SB_END_NONE)
        sb->end = why;
    return wk_sb__docker_issued(sb,
                                wk_docker_kill(sb->docker, sb->container_id, NULL, on_killed, sb));
}

static void on_run_deadline(uv_timer_t *t)
{
    struct wk_sandbox *sb = t->data;
    if (sb->state != WK_SB_RUNNING)
        return;
    log_warn("sandbox %s: job %s past its host deadline: killing", sb->name, sb->job_id);
    if (kill_container(sb, WK_SB_END_TIMEOUT) < 0)
        finish_without_result(sb, 0, SCH_STATUS_TIMEOUT, NULL);
}

int wk_sandbox_kill(struct wk_sandbox *sb)
{
    if (sb->destroying || sb->state == WK_SB_DEAD || sb->cancelled)
        return -EPIPE;
    if (sb->state == WK_SB_OPENING) {
        /* Kill what exists; a create in flight is removed by the teardown. */
        if (sb->container_id)
            kill_container(sb, WK_SB_END_CANCEL);
        wk_sb__cancel_open(sb);
        return 0;
    }
    enum wk_sb_state was = sb->state;
    int rc = kill_container(sb, WK_SB_END_CANCEL);
    if (rc < 0)
        return rc;
    if (was != WK_SB_RUNNING)
        sb->state = WK_SB_DEAD;
    return 0;
}

/* ---- the container died mid-run ------------------------------------- */

static void inspect_dead(struct wk_sandbox *sb);

/* SIGKILL or SIGTERM as the container's end: dockerd (a stop, its own
 * restart), an operator, the kernel.  Programs cannot signal the runner
 * (another uid, no CAP_KILL), so these are infrastructure faults. */
static int killed_from_outside(int exit_code)
{
    return exit_code == 128 + 9 || exit_code == 128 + 15;
}

static void on_inspect_retry(uv_timer_t *t)
{
    inspect_dead(t->data);
}

static void on_inspected(void *arg, int status, const char *body, size_t len)
{
    struct wk_sandbox *sb = arg;
    if (wk_sb__docker_done(sb))
        return;
    if (!sb->run_cb)
        return;
    json_t *doc = status == 200 ? json_loadb(body, len, 0, NULL) : NULL;
    json_t *st = json_object_get(doc, "State");
    int running = json_is_true(json_object_get(st, "Running"));
    int oom = json_is_true(json_object_get(st, "OOMKilled"));
    json_t *code = json_object_get(st, "ExitCode");
    int exit_code = json_is_integer(code) ? (int)json_integer_value(code) : -1;
    json_decref(doc);

    if (oom) {
        finish_without_result(sb, 0, SCH_STATUS_OOM, NULL);
    } else if (status == 200 && !running && exit_code >= 0 && !killed_from_outside(exit_code)) {
        /* The runner ended on its own mid-run: programs cannot signal it
         * (docs/sandbox.md), so the run broke it (or a bug did): the
         * caller's failure, never retried. */
        char why[96];
        snprintf(why, sizeof why, "no result: its runner exited during the run (code %d)",
                 exit_code);
        wk_sb__protocol_violation(sb, why);
    } else if (running && ++sb->inspect_tries < INSPECT_TRIES && sb->timer_open) {
        uv_timer_start(&sb->timer, on_inspect_retry, INSPECT_RETRY_MS, 0); /* still exiting */
    } else {
        log_error("sandbox %s: runner channel lost mid-run (inspect %d, running %d)", sb->name,
                  status, running);
        finish_without_result(sb, -EPIPE, SCH_STATUS_FAILED, "sandbox died mid-run");
    }
}

static void inspect_dead(struct wk_sandbox *sb)
{
    int rc = -EPIPE;
    if (sb->container_id)
        rc = wk_sb__docker_issued(
            sb, wk_docker_inspect(sb->docker, sb->container_id, on_inspected, sb));
    if (rc < 0)
        finish_without_result(sb, -EPIPE, SCH_STATUS_FAILED, "sandbox died mid-run");
}

void wk_sb__on_channel_lost(struct wk_sandbox *sb, int err)
{
    enum wk_sb_state was = sb->state;
    wk_sb__close_conn(sb);
    if (was == WK_SB_OPENING) {
        wk_sb__fail_open(sb, err);
        return;
    }
    if (was != WK_SB_RUNNING) {
        sb->state = WK_SB_DEAD;
        return;
    }
    if (sb->wiping) {
        wk_sb__wipe_channel_lost(sb);
        return;
    }
    if (sb->end != WK_SB_END_NONE)
        return; /* we killed it: on_killed reports */
    if (sb->timer_open)
        uv_timer_stop(&sb->timer);
    if (err == -EPROTO) {
        wk_sb__protocol_violation(sb, "a malformed or oversized frame");
        return;
    }
    sb->inspect_tries = 0;
    inspect_dead(sb);
}

/* ---- sending a run --------------------------------------------------- */

static void on_written(uv_write_t *w, int status)
{
    free(w->data);
    free(w);
}

static json_t *run_message(const struct wk_run_request *req)
{
    json_t *code = json_stringn(req->code, req->code_len);
    json_t *args = json_array();
    for (size_t i = 0; i < req->nargs; i++) {
        json_t *a = json_string(req->args[i]);
        if (!a || json_array_append_new(args, a) != 0) {
            json_decref(code);
            json_decref(args);
            return NULL;
        }
    }
    if (!code) {
        json_decref(args);
        return NULL;
    }
    json_t *msg =
        json_pack("{s:s, s:s, s:s, s:o, s:o, s:I, s:I, s:b, s:b}", "type", "run", "id", req->job_id,
                  "lang", req->lang, "code", code, "args", args, "timeout_ms",
                  (json_int_t)req->timeout_ms, "max_output", (json_int_t)req->max_output,
                  "state_in", req->state_in, "state_out", req->state_out);
    if (msg && req->tools) { /* programmatic tool calling */
        json_t *tools = json_loads(req->tools, 0, NULL);
        if (!json_is_array(tools) || json_object_set_new(msg, "tools", tools) != 0 ||
            json_object_set_new(msg, "ptc_pause_ms", json_integer(req->ptc_pause_ms)) != 0 ||
            json_object_set_new(msg, "ptc_max_rounds", json_integer(req->ptc_max_rounds)) != 0) {
            if (!json_is_array(tools))
                json_decref(tools);
            json_decref(msg);
            return NULL;
        }
    }
    return msg;
}

void wk_sb__arm_deadline(struct wk_sandbox *sb, uint64_t ms)
{
    uv_timer_start(&sb->timer, on_run_deadline, ms, 0);
}

int wk_sandbox_run(struct wk_sandbox *sb, const struct wk_run_request *req, wk_sandbox_result_cb cb,
                   void *arg)
{
    char *frame = NULL;
    size_t frame_len = 0;
    json_t *msg = NULL;
    int rc = 0;

    if (sb->destroying)
        return -EPIPE;
    if (sb->state == WK_SB_RUNNING)
        return -EBUSY;
    if (sb->state != WK_SB_READY || !sb->conn_open)
        return -EPIPE;
    if (!req->job_id || !req->lang || !req->code || !cb || (req->tools && !req->on_tool_calls))
        return -EINVAL;
    msg = run_message(req);
    if (!msg) {
        rc = -EINVAL;
        goto out;
    }
    if ((rc = wk_frame_encode(msg, &frame, &frame_len)) < 0)
        goto out;
    uv_write_t *w = ci_xmalloc(sizeof *w);
    w->data = frame;
    uv_buf_t buf = uv_buf_init(frame, (unsigned)frame_len);
    rc = uv_write(w, (uv_stream_t *)&sb->conn, &buf, 1, on_written);
    if (rc < 0) {
        free(w);
        goto out;
    }
    frame = NULL; /* owned by the write request now */
    sb->state = WK_SB_RUNNING;
    sb->end = WK_SB_END_NONE;
    sb->run_cb = cb;
    sb->run_arg = arg;
    sb->job_id = ci_xstrdup(req->job_id);
    sb->max_output = req->max_output;
    sb->tool_cb = req->tools ? req->on_tool_calls : NULL;
    sb->run_timeout_ms = req->timeout_ms;
    sb->pause_ms = req->ptc_pause_ms;
    sb->paused = 0;
    sb->round = 0;
    wk_frame_decoder_set_max(&sb->dec, wk_sandbox_frame_cap(req->max_output));
    uv_timer_start(&sb->timer, on_run_deadline,
                   (uint64_t)req->timeout_ms + WK_SANDBOX_DEADLINE_SLACK_MS, 0);
out:
    free(frame);
    json_decref(msg);
    return rc;
}
