/*
 * wk_state_save.c - stage-out: the run's state.out compressed, fenced, the
 * result released, then stored (see wk_state_stage_out below, wk_state.c
 * and docs/state.md).
 */
#include "wk_state_int.h"

#include "ci_file.h"
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

/* Deletes the fence if it is still ours (wk_state_fence_del.lua). */
extern const char wk_lua_fence_del[];
static struct q_lua s_fence_del = Q_LUA_INIT(wk_lua_fence_del);

/* 1 when saves are to be archived: each store ZADDs the due set. */
static int archive_due(void)
{
    return wk_state_g.store && wk_state_g.cfg.archive_after_s > 0;
}

/* work thread: SET the blob with its TTL and ZADD the due set (pipelined),
 * then drop the fence, on one blocking connection (the fence goes last:
 * once it is gone, the store is wholly recorded); 1 stored, 0 not. */
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
        r = NULL;
    }
    int due = archive_due();
    if (redisAppendCommand(c, "SET %s %b EX %lld", op->key, op->blob, op->bloblen,
                           (long long)wk_state_g.cfg.ttl_s) != REDIS_OK ||
        (due && redisAppendCommand(c, "ZADD %s NX %lld %s", WK_STATE_DUE_KEY,
                                   (long long)ci_now_ms(), op->sid) != REDIS_OK) ||
        redisGetReply(c, (void **)&r) != REDIS_OK)
        goto out;
    ok = r && r->type == REDIS_REPLY_STATUS;
    if (due) { /* ZADD */
        freeReplyObject(r);
        r = NULL;
        if (redisGetReply(c, (void **)&r) != REDIS_OK) {
            r = NULL;
            goto out; /* the fence expires by itself */
        }
    }
    freeReplyObject(r);
    const char *fence[] = {op->fence, op->token};
    r = q_lua_call(c, &s_fence_del, 1, 2, fence, NULL); /* failed: the fence expires anyway */
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
    int rc = ci_file_read(op->path, c->max_raw, &raw, &size);
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
    }
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
        wk_state_local_set(run_dir, op->sid, &op->hdr);
    else
        wk_state_io_unlink(op->path);
}

/* ---- the tail: after the result is out -------------------------------- */

/* The store is over (stored or not): the sandbox may be released. */
static void tail_end(struct wk_state_op *op)
{
    struct wk_job_ctx *ctx = op->ctx;
    keep_local(op, !op->store_failed);
    if (op->store_failed) {
        log_error("state: %s: the state of a completed job could not be stored in redis; "
                  "the session's next job gets the previous one",
                  op->sid);
        wk_state_audit("state_save_failed", op->sid, wk_state_rid_of(op), "{s:I,s:s}", "size",
                       (json_int_t)op->rawlen, "reason", "redis unavailable");
    } else {
        wk_state_audit("state_save", op->sid, wk_state_rid_of(op), "{s:I,s:I,s:f}", "size",
                       (json_int_t)op->rawlen, "stored_size", (json_int_t)op->bloblen, "ms",
                       wk_state_ms_of(op));
        wk_stats_incr(WK_STAT_STATE_BYTES_SAVED, (int64_t)op->bloblen); /* /metrics */
    }
    free(op->blob);
    free(op);
    ctx->tails--;
    if (ctx->tail_done)
        ctx->tail_done(ctx->tail_arg);
}

static void store_sync_done(uv_work_t *w, int status)
{
    struct wk_state_op *op = w->data;
    wk_state_work_done();
    op->store_failed = !op->stored_sync;
    tail_end(op);
}

static void store_sync_work(uv_work_t *w)
{
    struct wk_state_op *op = w->data;
    op->stored_sync = set_blocking(op);
}

static void on_tail_set(redisAsyncContext *ac, void *reply, void *priv)
{
    struct wk_state_op *op = priv;
    redisReply *r = reply;
    op->store_failed = !r || r->type == REDIS_REPLY_ERROR;
}

static void on_tail_fence(redisAsyncContext *ac, void *reply, void *priv)
{
    tail_end(priv); /* the fence reply comes after the SET's: both are known */
}

static void tail_start(struct wk_state_op *op)
{
    if (op->bloblen >= SYNC_SET_MIN) {
        wk_state_queue_work(&op->work, store_sync_work, store_sync_done);
        return;
    }
    char ttl[32];
    snprintf(ttl, sizeof ttl, "%lld", (long long)wk_state_g.cfg.ttl_s);
    const char *set[] = {"SET", op->key, op->blob, "EX", ttl};
    size_t lens[] = {3, strlen(op->key), op->bloblen, 2, strlen(ttl)};
    const char *del[] = {op->fence, op->token};
    char now[32];
    snprintf(now, sizeof now, "%lld", (long long)ci_now_ms());
    const char *zadd[] = {"ZADD", WK_STATE_DUE_KEY, "NX", now, op->sid};
    if (wk_state_redis_argv(on_tail_set, op, 5, set, lens) < 0) {
        op->store_failed = 1;
        tail_end(op);
        return;
    }
    if (archive_due()) /* before the fence goes: then the store is wholly recorded */
        wk_state_redis_argv(NULL, NULL, 5, zadd, NULL);
    /* on the same connection right after the SET (hiredis refuses a second
     * command only while the context is being torn down: then the SET's
     * callback is already failing, and the fence expires by itself) */
    if (wk_state_redis_lua(&s_fence_del, on_tail_fence, op, 1, 2, del) < 0)
        log_warn("state: %s: fence left to expire", op->sid);
}

/* ---- before the result ------------------------------------------------- */

static void save_oversize(struct wk_state_op *op)
{
    char w[200];
    snprintf(w, sizeof w, "state not saved: %.1f MB exceeds STATE_MAX_SIZE_MB=%lld",
             (double)op->rawlen / (1024.0 * 1024.0), (long long)wk_state_g.cfg.max_mb);
    sch_result_add_warning(op->ctx->res, w);
    wk_state_audit("state_size_limit_exceeded", op->sid, wk_state_rid_of(op), "{s:I,s:I}",
                   "size", (json_int_t)op->rawlen, "limit", (json_int_t)wk_state_g.cfg.max_raw);
    const char *del[] = {"DEL", op->key};
    const char *zrem[] = {"ZREM", WK_STATE_DUE_KEY, op->sid};
    wk_state_redis_argv(NULL, NULL, 3, zrem, NULL);
    wk_state_redis_argv(NULL, NULL, 2, del, NULL);
    wk_state_op_finish(op, 0, NULL);
}

/* The fence is up: the result may go out; the store continues as a tail. */
static void on_fence_set(redisAsyncContext *ac, void *reply, void *priv)
{
    struct wk_state_op *op = priv;
    redisReply *r = reply;
    if (!r || r->type != REDIS_REPLY_STATUS) {
        keep_local(op, 0);
        wk_state_op_finish(op, -EIO, "state not saved: redis unavailable");
        return;
    }
    struct wk_job_ctx *ctx = op->ctx;
    ctx->res->has_state = 1;
    ctx->res->state_size = (int64_t)op->rawlen;
    ctx->tails++;
    wk_stage_cb cb = op->cb;
    void *arg = op->arg;
    op->cb = NULL;
    tail_start(op); /* may end at once; the slot waits for tails == 0 */
    cb(arg, 0, NULL);
}

static void save_done(uv_work_t *w, int status)
{
    struct wk_state_op *op = w->data;
    wk_state_work_done();
    log_debug("state: %s: state.out read and compressed in %.1f ms", op->sid,
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
    char ms[32];
    snprintf(ms, sizeof ms, "%lld", (long long)wk_state_g.cfg.fence_ms);
    if (ci_random_hex(op->token, 16) != 0)
        snprintf(op->token, sizeof op->token, "%llx", (unsigned long long)ci_mono_us());
    const char *set[] = {"SET", op->fence, op->token, "PX", ms};
    if (wk_state_redis_argv(on_fence_set, op, 5, set, NULL) < 0) {
        keep_local(op, 0);
        wk_state_op_finish(op, -EIO, "state not saved: redis unavailable");
    }
}

/*
 * Stage-out of the state, in two halves around the posting of the result:
 *   before: state.out read and compressed (work thread); a fence
 *     ci:state:<sid>:saving is SET (awaited: it is in Redis before anyone
 *     can see the result); has_state/state_size are set; the stage
 *     callback runs, so the result goes out now.
 *   after (a tail, ctx->tails; the slot and sandbox stay busy): SET of the
 *     blob, ZADD of the archive due set, then the fence deleted if still
 *     ours (last: a fence gone means the store is wholly recorded);
 *     state.out renamed to the sandbox's state.in; audit.
 * A restore anywhere waits while the fence exists (wk_state.c), so the
 * session's next job sees this state even when another worker runs it
 * before the store has finished; the caller does not wait for Redis to
 * take a 10 MB blob.  If the store fails after the result went out, the
 * session's next job gets the previous state (logged, audited
 * state_save_failed); the fence expires after STATE_FENCE_MS if this worker
 * dies meanwhile.
 */
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
