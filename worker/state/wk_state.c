/*
 * wk_state.c - Python state restore (stage-in; stage-out is wk_state_save.c); the
 * design is in docs/state.md, the keys in wk_state_int.h.
 *
 * stage-in (py jobs, STATE_PERSISTENCE_ENABLED): GET ci:state:<sid>; on a
 * miss, the archive object state/<sid> (threadpool).  The blob is checked
 * (binding to session + owner, bounded lz4) and written to <run dir>/state.in
 * (0644, O_EXCL|O_NOFOLLOW: the dir is writable by the sandbox).  An archive
 * hit warms Redis again.  Redis or storage unavailable -> rc < 0 (the job is
 * retried: running clean would overwrite the saved state); a corrupt blob ->
 * a warning and a clean namespace; another owner's blob -> an audit line and
 * a clean namespace.  ctx->state_out is always set when enabled.
 *
 * stage-out: after COMPLETED (or FAILED with STATE_SAVE_ON_ERROR) read
 * <run dir>/state.out (O_NOFOLLOW, regular, <= STATE_MAX_SIZE_MB), compress
 * (threadpool), SET ... EX ttl, ZADD NX the archive due set.  res->has_state
 * / res->state_size say what this call stored (state_size = bytes of the
 * serialized state, before compression).
 */
#include "wk_state_int.h"

#include "ci_env.h"
#include "ci_log.h"
#include "ci_util.h"
#include "st_store.h"
#include "wk_state_blob.h"
#include "wk_state.h"
#include "wk_state_io.h"
#include "wk_stats.h"

#include <errno.h>
#include <lz4.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct wk_state_g wk_state_g;

void wk_state_init(uv_loop_t *loop)
{
    if (wk_state_g.inited)
        return;
    struct wk_state_cfg *c = &wk_state_g.cfg;
    wk_state_g.inited = 1;
    wk_state_g.loop = loop;
    c->enabled = ci_env_bool("STATE_PERSISTENCE_ENABLED", 1);
    c->ttl_s = ci_env_int("STATE_TTL_SECONDS", 7200, 1, 365LL * 86400);
    c->max_mb = ci_env_int("STATE_MAX_SIZE_MB", 10, 1, 1024);
    c->max_raw = (size_t)c->max_mb * 1024 * 1024;
    c->save_on_error = ci_env_bool("STATE_SAVE_ON_ERROR", 0);
    c->archive_after_s = ci_env_int("STATE_ARCHIVE_AFTER_SECONDS", 600, 0, 365LL * 86400);
    c->archive_ttl_days = ci_env_int("STATE_ARCHIVE_TTL_DAYS", 7, 1, 3650);
    c->fence_ms = ci_env_int("STATE_FENCE_MS", 30000, 100, 3600000);
    if (!c->enabled) {
        log_info("state: persistence disabled (STATE_PERSISTENCE_ENABLED=false)");
        return;
    }
    if (st_store_open_from_env(&wk_state_g.store) < 0) {
        wk_state_g.store = NULL;
        log_error("state: object storage unavailable: states are kept in Redis only");
    }
    wk_state_redis_open(); /* up before the first job needs it */
    log_info("state: persistence on (ttl %llds, max %lld MB, archive after %llds, kept %lld days)",
             (long long)c->ttl_s, (long long)c->max_mb, (long long)c->archive_after_s,
             (long long)c->archive_ttl_days);
    wk_state_sweep_start();
}

void wk_state_queue_work(uv_work_t *req, uv_work_cb work, uv_after_work_cb after)
{
    wk_state_g.works++;
    if (uv_queue_work(wk_state_g.loop, req, work, after) != 0)
        abort(); /* only fails for a NULL work_cb */
}

void wk_state_work_done(void)
{
    if (--wk_state_g.works == 0 && wk_state_g.closing && wk_state_g.store) {
        st_store_close(wk_state_g.store);
        wk_state_g.store = NULL;
    }
}

void wk_state_shutdown(void)
{
    if (!wk_state_g.inited || wk_state_g.closing)
        return;
    wk_state_g.closing = 1;
    wk_state_sweep_stop();
    wk_state_redis_close();
    if (wk_state_g.works == 0 && wk_state_g.store) {
        st_store_close(wk_state_g.store);
        wk_state_g.store = NULL;
    }
}

struct wk_state_op *wk_state_op_new(struct wk_job_ctx *ctx, wk_stage_cb cb, void *arg,
                                    const char *file)
{
    const struct sch_job *job = ctx->job;
    struct wk_state_op *op = ci_xcalloc(1, sizeof *op);
    op->ctx = ctx;
    op->cb = cb;
    op->arg = arg;
    op->work.data = op;
    op->t0_us = ci_mono_us();
    snprintf(op->key, sizeof op->key, WK_STATE_KEY_PREFIX "%s", job->session_id);
    snprintf(op->fence, sizeof op->fence, "%s" WK_STATE_FENCE_SUFFIX, op->key);
    snprintf(op->sid, sizeof op->sid, "%s", job->session_id);
    snprintf(op->rid, sizeof op->rid, "%s", job->request_id ? job->request_id : "");
    snprintf(op->archive, sizeof op->archive, WK_STATE_ARCHIVE_PREFIX "%s", job->session_id);
    snprintf(op->path, sizeof op->path, "%s/%s", wk_sandbox_run_dir(ctx->sb), file);
    wk_state_binding(job->session_id, job->owner, job->user_id, op->binding);
    return op;
}

void wk_state_op_finish(struct wk_state_op *op, int rc, const char *msg)
{
    free(op->blob);
    wk_stage_end(op, op->cb, op->arg, rc, msg);
}

double wk_state_ms_of(const struct wk_state_op *op)
{
    return (double)(ci_mono_us() - op->t0_us) / 1000.0;
}

const char *wk_state_rid_of(const struct wk_state_op *op)
{
    return op->rid[0] ? op->rid : NULL;
}

const char *wk_state_sid_of(const struct wk_state_op *op)
{
    return op->sid;
}

/* ---- stage-in -------------------------------------------------------- */

/* work: fetch from the archive when Redis had nothing, check, write state.in */
static void restore_work(uv_work_t *w)
{
    struct wk_state_op *op = w->data;
    const struct wk_state_cfg *c = &wk_state_g.cfg;
    wk_state_io_unlink(op->path);
    if (!op->blob) {
        if (!wk_state_g.store)
            return;
        size_t max = WK_STATE_BLOB_HDR + (size_t)LZ4_COMPRESSBOUND(c->max_raw);
        int rc = st_get(wk_state_g.store, op->archive, max, &op->blob, &op->bloblen);
        if (rc == -ENOENT)
            return;
        if (rc < 0 && rc != -EFBIG) {
            op->rc = rc;
            snprintf(op->msg, sizeof op->msg, "cannot read archived state (%s)", strerror(-rc));
            return;
        }
        if (rc == -EFBIG) {
            op->warn = 1;
            snprintf(op->msg, sizeof op->msg,
                     "state: the archived state is larger than STATE_MAX_SIZE_MB=%lld; "
                     "starting with a clean namespace",
                     (long long)c->max_mb);
            return;
        }
        op->from_archive = 1;
    }
    char *raw = NULL;
    struct wk_state_hdr h;
    int rc =
        wk_state_blob_unpack(op->blob, op->bloblen, c->max_raw, op->binding, &raw, &op->rawlen, &h);
    op->hdr = h;
    if (rc == 0 && op->from_archive &&
        h.saved_ms + c->archive_ttl_days * 86400000LL < ci_now_ms()) {
        st_delete(wk_state_g.store, op->archive); /* expired: the sweep may not have run */
        free(raw);
        free(op->blob);
        op->blob = NULL;
        return;
    }
    if (rc == -EACCES) {
        op->rc = -EACCES; /* audited on the loop; not the caller's business */
    } else if (rc < 0) {
        op->warn = 1;
        snprintf(op->msg, sizeof op->msg,
                 "state: the saved state could not be restored (%s); starting with a clean "
                 "namespace",
                 rc == -EFBIG ? "larger than STATE_MAX_SIZE_MB" : "corrupt data");
    } else {
        rc = wk_state_io_write(op->path, raw, op->rawlen);
        if (rc < 0) {
            op->rc = rc;
            snprintf(op->msg, sizeof op->msg, "cannot write state.in (%s)", strerror(-rc));
        } else {
            op->loaded = 1;
        }
    }
    free(raw);
}

static void on_warmed(redisAsyncContext *ac, void *reply, void *priv)
{
    redisReply *r = reply;
    if (!r || r->type == REDIS_REPLY_ERROR)
        log_warn("state: could not warm redis with an archived state");
}

static void warm_redis(struct wk_state_op *op)
{
    char ttl[32];
    snprintf(ttl, sizeof ttl, "%lld", (long long)wk_state_g.cfg.ttl_s);
    const char *argv[] = {"SET", op->key, op->blob, "EX", ttl};
    size_t lens[] = {3, strlen(op->key), op->bloblen, 2, strlen(ttl)};
    wk_state_redis_argv(on_warmed, NULL, 5, argv, lens); /* hiredis copied the args */
}

static void restore_done(uv_work_t *w, int status)
{
    struct wk_state_op *op = w->data;
    const char *src = op->from_archive ? "archive" : "redis";
    wk_state_work_done();
    if (op->rc == -EACCES) {
        wk_state_audit("state_owner_mismatch", wk_state_sid_of(op), wk_state_rid_of(op), "{s:s}",
                       "source", src);
        wk_state_op_finish(op, 0, NULL);
        return;
    }
    if (op->rc < 0) {
        wk_state_op_finish(op, op->rc, op->msg);
        return;
    }
    if (op->warn) {
        sch_result_add_warning(op->ctx->res, op->msg);
        wk_state_audit("state_load_failed", wk_state_sid_of(op), wk_state_rid_of(op), "{s:s,s:s}",
                       "source", src, "reason", op->msg);
    }
    const char *run_dir = wk_sandbox_run_dir(op->ctx->sb);
    wk_state_local_forget(run_dir);
    if (op->loaded) {
        wk_state_local_set(run_dir, wk_state_sid_of(op), &op->hdr);
        op->ctx->state_in = 1;
        wk_state_audit("state_load", wk_state_sid_of(op), wk_state_rid_of(op), "{s:s,s:I,s:I,s:f}",
                       "source", src, "size", (json_int_t)op->rawlen, "stored_size",
                       (json_int_t)op->bloblen, "ms", wk_state_ms_of(op));
        wk_stats_incr(WK_STAT_STATE_BYTES_RESTORED, (int64_t)op->bloblen); /* /metrics */
        if (op->from_archive)
            warm_redis(op);
    }
    wk_state_op_finish(op, 0, NULL);
}

static void restore_begin(struct wk_state_op *op);

static void free_timer(uv_handle_t *h)
{
    free(h);
}

static void on_fence_wait(uv_timer_t *t)
{
    struct wk_state_op *op = t->data;
    uv_close((uv_handle_t *)t, free_timer);
    restore_begin(op);
}

/* A save of this session is in flight (its result was posted, its blob is
 * on the way): try again shortly, until the fence is gone or has outlived
 * its lifetime (its worker died: the last stored version is all there is).
 * 1 when waiting (the reply is not to be used), else 0. */
static int fence_wait(struct wk_state_op *op)
{
    if (!op->fenced)
        return 0;
    int64_t now = ci_now_ms();
    if (!op->wait_until_ms) {
        op->wait_until_ms = now + wk_state_g.cfg.fence_ms;
        log_debug("state: %s: waiting for a save in flight (fence)", op->sid);
    }
    if (now >= op->wait_until_ms || wk_state_g.closing) {
        log_warn("state: %s: a save still fenced after %lld ms; restoring what is stored",
                 op->sid, (long long)wk_state_g.cfg.fence_ms);
        op->wait_until_ms = -1; /* no more fence checks */
        op->fenced = 0;
        return 0;
    }
    uv_timer_t *t = ci_xcalloc(1, sizeof *t);
    uv_timer_init(wk_state_g.loop, t);
    t->data = op;
    uv_timer_start(t, on_fence_wait, 5, 0);
    return 1;
}

static void on_fence(redisAsyncContext *ac, void *reply, void *priv)
{
    struct wk_state_op *op = priv;
    redisReply *r = reply;
    op->fenced = r && r->type == REDIS_REPLY_INTEGER && r->integer == 1;
}

static void on_get(redisAsyncContext *ac, void *reply, void *priv)
{
    struct wk_state_op *op = priv;
    redisReply *r = reply;
    if (!r || r->type == REDIS_REPLY_ERROR) {
        wk_state_op_finish(op, -EIO, "cannot read the session's state from redis");
        return;
    }
    if (op->fenced && fence_wait(op))
        return;
    size_t max = WK_STATE_BLOB_HDR + (size_t)LZ4_COMPRESSBOUND(wk_state_g.cfg.max_raw);
    if (r->type == REDIS_REPLY_STRING && (size_t)r->len > max) {
        sch_result_add_warning(op->ctx->res, "state: the saved state could not be restored "
                                             "(larger than STATE_MAX_SIZE_MB); starting with "
                                             "a clean namespace");
        wk_state_audit("state_load_failed", wk_state_sid_of(op), wk_state_rid_of(op), "{s:s,s:s}",
                       "source", "redis", "reason", "oversize blob");
        wk_state_op_finish(op, 0, NULL);
        return;
    }
    if (r->type == REDIS_REPLY_STRING) {
        op->blob = ci_xmalloc(r->len ? (size_t)r->len : 1);
        memcpy(op->blob, r->str, (size_t)r->len);
        op->bloblen = (size_t)r->len;
    }
    log_debug("state: %s: GET answered in %.1f ms (%zu bytes)", wk_state_sid_of(op),
              wk_state_ms_of(op), op->bloblen);
    wk_state_queue_work(&op->work, restore_work, restore_done);
}

/* Sends EXISTS <fence> (unless the wait is over) right before the read:
 * both go in one round trip and on_fence runs first. */
static int send_fence_check(struct wk_state_op *op)
{
    const char *argv[] = {"EXISTS", op->fence};
    op->fenced = 0;
    if (op->wait_until_ms < 0)
        return 0;
    return wk_state_redis_argv(on_fence, op, 2, argv, NULL);
}

static void get_full(struct wk_state_op *op)
{
    const char *argv[] = {"GET", op->key};
    if (send_fence_check(op) < 0 || wk_state_redis_argv(on_get, op, 2, argv, NULL) < 0)
        wk_state_op_finish(op, -EIO, "cannot reach redis for the session's state");
}

/* The sandbox's state.in holds the version this worker saved last: keep it
 * when Redis still has that very version (same time, size and binding). */
static void on_peek(redisAsyncContext *ac, void *reply, void *priv)
{
    struct wk_state_op *op = priv;
    redisReply *r = reply;
    struct wk_state_hdr h;
    if (!r || r->type == REDIS_REPLY_ERROR) {
        wk_state_op_finish(op, -EIO, "cannot read the session's state from redis");
        return;
    }
    if (op->fenced && fence_wait(op))
        return;
    if (r->type == REDIS_REPLY_STRING &&
        wk_state_blob_peek(r->str, (size_t)r->len, wk_state_g.cfg.max_raw, &h) == 0 &&
        h.saved_ms == op->hdr.saved_ms && h.comp_size == op->hdr.comp_size &&
        memcmp(h.binding, op->binding, sizeof h.binding) == 0 &&
        memcmp(h.binding, op->hdr.binding, sizeof h.binding) == 0) {
        op->ctx->state_in = 1;
        wk_state_audit("state_load", wk_state_sid_of(op), wk_state_rid_of(op), "{s:s,s:I,s:I,s:f}",
                       "source", "local", "size", (json_int_t)h.raw_size, "stored_size",
                       (json_int_t)(h.comp_size + WK_STATE_BLOB_HDR), "ms", wk_state_ms_of(op));
        wk_state_op_finish(op, 0, NULL);
        return;
    }
    wk_state_local_forget(wk_sandbox_run_dir(op->ctx->sb));
    get_full(op);
}

void wk_state_stage_in(struct wk_job_ctx *ctx, wk_stage_cb cb, void *arg)
{
    wk_state_init(ctx->loop);
    ctx->state_in = 0;
    ctx->state_out = 0;
    if (!wk_state_g.cfg.enabled || ctx->job->lang != SCH_LANG_PY) {
        cb(arg, 0, NULL);
        return;
    }
    ctx->state_out = 1;
    restore_begin(wk_state_op_new(ctx, cb, arg, "state.in"));
}

/* The sandbox's own state.in when it holds the stored version (a 64-byte
 * peek), else the whole blob; either behind the fence check. */
static void restore_begin(struct wk_state_op *op)
{
    if (wk_state_local_get(wk_sandbox_run_dir(op->ctx->sb), op->sid, &op->hdr) == 0) {
        const char *argv[] = {"GETRANGE", op->key, "0", "63"};
        if (send_fence_check(op) < 0 || wk_state_redis_argv(on_peek, op, 4, argv, NULL) < 0)
            wk_state_op_finish(op, -EIO, "cannot reach redis for the session's state");
        return;
    }
    get_full(op);
}

void wk_state_release(struct wk_job_ctx *ctx)
{
    ctx->state_priv = NULL; /* every op frees itself before its callback */
}
