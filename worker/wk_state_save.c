/*
 * wk_state_save.c - stage-out: the run's state.out compressed and stored
 * (see wk_state.c and docs/state.md).
 */
#include "wk_state_int.h"

#include "ci_log.h"
#include "ci_util.h"
#include "st_store.h"
#include "wk_config.h"
#include "wk_state_io.h"
#include "wk_stats.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- stage-out ------------------------------------------------------- */

/* Blobs from this size on are stored from the work thread over a blocking
 * connection: hiredis' async writer moves the rest of its output buffer
 * after every partial write, which costs O(n^2) for one multi-megabyte
 * command (measured: ~60 ms for 10 MB); a blocking write sends it whole. */
#define SYNC_SET_MIN (1u << 20)

/* work thread: SET the blob with its TTL; 1 stored, 0 not (the loop then
 * tries the async connection). */
static int set_blocking(struct wk_state_op *op)
{
    struct timeval tv = {5, 0};
    redisContext *c = redisConnectWithTimeout(wk_cfg.redis_host, wk_cfg.redis_port, tv);
    redisReply *r = NULL;
    int ok = 0;
    if (!c || c->err)
        goto out;
    redisSetTimeout(c, tv);
    if (wk_cfg.redis_password[0]) {
        r = redisCommand(c, "AUTH %s", wk_cfg.redis_password);
        if (!r || r->type == REDIS_REPLY_ERROR)
            goto out;
        freeReplyObject(r);
    }
    r = redisCommand(c, "SET %s %b EX %lld", op->key, op->blob, op->bloblen,
                     (long long)wk_state_g.cfg.ttl_s);
    ok = r && r->type == REDIS_REPLY_STATUS;
out:
    freeReplyObject(r);
    redisFree(c);
    return ok;
}

/* work: read state.out (bounded) and compress it */
static void save_work(uv_work_t *w)
{
    struct wk_state_op *op = w->data;
    const struct wk_state_cfg *c = &wk_state_g.cfg;
    char *raw = NULL;
    size_t size = 0;
    int rc = wk_state_io_read(op->path, c->max_raw, &raw, &size);
    if (rc < 0)
        wk_state_io_unlink(op->path);
    op->rawlen = size;
    if (rc == -ENOENT) {
        op->none = 1;
        return;
    }
    if (rc == -EFBIG) {
        /* the stored state would be older than this run's: drop it too */
        op->oversize = 1;
        if (wk_state_g.store)
            st_delete(wk_state_g.store, op->archive);
        return;
    }
    if (rc < 0) {
        op->rc = rc;
        snprintf(op->msg, sizeof op->msg, "state not saved: cannot read state.out (%s)",
                 strerror(-rc));
        return;
    }
    rc = wk_state_blob_pack(raw, size, c->max_raw, ci_now_ms(), op->binding, &op->blob,
                            &op->bloblen);
    free(raw);
    if (rc == 0)
        rc = wk_state_blob_header(op->blob, op->bloblen, c->max_raw, &op->hdr);
    if (rc < 0) {
        wk_state_io_unlink(op->path);
        op->rc = rc;
        snprintf(op->msg, sizeof op->msg, "state not saved: compression failed");
        return;
    }
    if (op->bloblen >= SYNC_SET_MIN)
        op->stored_sync = set_blocking(op);
}

/* After a save: state.out becomes the sandbox's next state.in (the same
 * session's next job on this sandbox then skips the download). */
static void keep_local(struct wk_state_op *op, int saved)
{
    const char *run_dir = wk_sandbox_run_dir(op->ctx->sb);
    char in[512];
    snprintf(in, sizeof in, "%s/state.in", run_dir);
    wk_state_local_forget(run_dir);
    if (saved && rename(op->path, in) == 0)
        wk_state_local_set(run_dir, wk_state_sid_of(op), &op->hdr);
    else
        wk_state_io_unlink(op->path);
}

static void saved(struct wk_state_op *op)
{
    keep_local(op, 1);
    op->ctx->res->has_state = 1;
    op->ctx->res->state_size = (int64_t)op->rawlen;
    wk_state_audit("state_save", wk_state_sid_of(op), wk_state_rid_of(op), "{s:I,s:I,s:f}", "size",
                   (json_int_t)op->rawlen, "stored_size", (json_int_t)op->bloblen, "ms",
                   wk_state_ms_of(op));
    wk_stats_incr(WK_STAT_STATE_BYTES_SAVED, (int64_t)op->bloblen); /* /metrics */
    wk_state_op_finish(op, 0, NULL);
}

static void on_saved(redisAsyncContext *ac, void *reply, void *priv)
{
    struct wk_state_op *op = priv;
    redisReply *r = reply;
    if (!r || r->type == REDIS_REPLY_ERROR) {
        keep_local(op, 0);
        wk_state_op_finish(op, -EIO, "state not saved: redis unavailable");
        return;
    }
    saved(op);
}

/* A reply nobody waits for (priv NULL), or the end of an op. */
static void on_dropped(redisAsyncContext *ac, void *reply, void *priv)
{
    struct wk_state_op *op = priv;
    if (op)
        wk_state_op_finish(op, 0, NULL);
}

static void save_oversize(struct wk_state_op *op)
{
    char w[200];
    snprintf(w, sizeof w, "state not saved: %.1f MB exceeds STATE_MAX_SIZE_MB=%lld",
             (double)op->rawlen / (1024.0 * 1024.0), (long long)wk_state_g.cfg.max_mb);
    sch_result_add_warning(op->ctx->res, w);
    wk_state_audit("state_size_limit_exceeded", wk_state_sid_of(op), wk_state_rid_of(op),
                   "{s:I,s:I}", "size", (json_int_t)op->rawlen, "limit",
                   (json_int_t)wk_state_g.cfg.max_raw);
    const char *del[] = {"DEL", op->key};
    const char *zrem[] = {"ZREM", WK_STATE_DUE_KEY, wk_state_sid_of(op)};
    wk_state_redis_argv(on_dropped, NULL, 3, zrem, NULL);
    if (wk_state_redis_argv(on_dropped, op, 2, del, NULL) < 0)
        wk_state_op_finish(op, 0, NULL);
}

static void save_done(uv_work_t *w, int status)
{
    struct wk_state_op *op = w->data;
    wk_state_work_done();
    log_debug("state: %s: state.out read and compressed in %.1f ms", wk_state_sid_of(op),
              wk_state_ms_of(op));
    if (op->rc < 0) {
        wk_state_op_finish(op, op->rc, op->msg);
        return;
    }
    if (op->none) {
        wk_state_op_finish(op, 0, NULL);
        return;
    }
    if (op->oversize) {
        save_oversize(op);
        return;
    }
    char ttl[32], now[32];
    snprintf(ttl, sizeof ttl, "%lld", (long long)wk_state_g.cfg.ttl_s);
    snprintf(now, sizeof now, "%lld", (long long)ci_now_ms());
    const char *zadd[] = {"ZADD", WK_STATE_DUE_KEY, "NX", now, wk_state_sid_of(op)};
    const char *set[] = {"SET", op->key, op->blob, "EX", ttl};
    size_t lens[] = {3, strlen(op->key), op->bloblen, 2, strlen(ttl)};
    int archive = wk_state_g.store && wk_state_g.cfg.archive_after_s > 0;
    if (op->stored_sync) {
        if (archive)
            wk_state_redis_argv(on_dropped, NULL, 5, zadd, NULL);
        saved(op);
        return;
    }
    if (wk_state_redis_argv(on_saved, op, 5, set, lens) < 0) {
        keep_local(op, 0);
        wk_state_op_finish(op, -EIO, "state not saved: redis unavailable");
        return;
    }
    if (archive)
        wk_state_redis_argv(on_dropped, NULL, 5, zadd, NULL);
}

void wk_state_stage_out(struct wk_job_ctx *ctx, wk_stage_cb cb, void *arg)
{
    struct sch_result *res = ctx->res;
    res->has_state = 0;
    res->state_size = 0;
    if (!ctx->state_out || !wk_state_g.cfg.enabled) {
        cb(arg, 0, NULL);
        return;
    }
    int ok = res->status == SCH_STATUS_COMPLETED ||
             (res->status == SCH_STATUS_FAILED && wk_state_g.cfg.save_on_error);
    if (!ok) {
        cb(arg, 0, NULL);
        return;
    }
    struct wk_state_op *op = wk_state_op_new(ctx, cb, arg, "state.out");
    wk_state_queue_work(&op->work, save_work, save_done);
}
