/*
 * wk_state_archive.c - copies states older than STATE_ARCHIVE_AFTER_SECONDS
 * from Redis to object storage, deletes archive objects older than
 * STATE_ARCHIVE_TTL_DAYS, and writes the audit lines.
 *
 * Archive sweep (every worker, a timer of clamp(after/2, 1 s, 60 s)):
 *   ZRANGEBYSCORE ci:state:due -inf <now - after> LIMIT 0 1  -> sid
 *   ZREM ci:state:due sid          (1 = this worker claimed it)
 *   GET ci:state:<sid>             -> st_put(state/<sid>) in the threadpool
 * repeated up to WK_SWEEP_BATCH sessions per tick.  Saves ZADD NX, so a
 * state is archived at most about `after` (+ one tick) after the first save
 * that the archive does not hold yet.  A worker that dies between ZREM and
 * the put loses that round; the session's next save queues it again.
 *
 * Expiry (at most once an hour across all workers: SET ci:state:expiry_lock
 * NX EX 3600): list state/, st_head each object, delete those whose mtime is
 * older than the TTL.  Stage-in also ignores (and deletes) an archived blob
 * whose header's saved_ms is past the TTL, so expiry holds between sweeps.
 */
#include "wk_state_int.h"

#include "ci_log.h"
#include "ci_util.h"
#include "st_store.h"
#include "wk_config.h"

#include <jansson.h>
#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WK_SWEEP_BATCH 32
#define WK_EXPIRY_EVERY_MS (3600 * 1000LL)

struct wk_archive_op {
    uv_work_t work;
    char sid[128];
    char *blob;
    size_t len;
    int rc;
    int64_t deleted; /* expiry: objects deleted */
};

static int sweep_left;

static void sweep_next(void);

static void sweep_end(void)
{
    wk_state_g.sweeping = 0;
}

static void put_work(uv_work_t *w)
{
    struct wk_archive_op *a = w->data;
    char key[160];
    snprintf(key, sizeof key, WK_STATE_ARCHIVE_PREFIX "%s", a->sid);
    a->rc = st_put(wk_state_g.store, key, a->blob, a->len, "application/octet-stream");
}

static void put_done(uv_work_t *w, int status)
{
    struct wk_archive_op *a = w->data;
    wk_state_work_done();
    if (a->rc == 0)
        wk_state_audit("state_archive", a->sid, NULL, "{s:I}", "stored_size", (json_int_t)a->len);
    else
        log_warn("state: archiving session %s failed (%d); its next save queues it again", a->sid,
                 a->rc);
    free(a->blob);
    free(a);
    sweep_next();
}

static void on_state_get(redisAsyncContext *ac, void *reply, void *priv)
{
    struct wk_archive_op *a = priv;
    redisReply *r = reply;
    if (!r || r->type != REDIS_REPLY_STRING || wk_state_g.closing) {
        free(a); /* expired meanwhile, or redis went away */
        if (r)
            sweep_next();
        else
            sweep_end();
        return;
    }
    a->blob = ci_xmalloc(r->len ? (size_t)r->len : 1);
    memcpy(a->blob, r->str, (size_t)r->len);
    a->len = (size_t)r->len;
    a->work.data = a;
    wk_state_queue_work(&a->work, put_work, put_done);
}

static void on_claim(redisAsyncContext *ac, void *reply, void *priv)
{
    struct wk_archive_op *a = priv;
    redisReply *r = reply;
    if (!r || r->type != REDIS_REPLY_INTEGER || r->integer != 1) {
        free(a); /* another worker claimed it */
        if (r)
            sweep_next();
        else
            sweep_end();
        return;
    }
    char key[160];
    snprintf(key, sizeof key, WK_STATE_KEY_PREFIX "%s", a->sid);
    const char *argv[] = {"GET", key};
    if (wk_state_redis_argv(on_state_get, a, 2, argv, NULL) < 0) {
        free(a);
        sweep_end();
    }
}

static void on_due(redisAsyncContext *ac, void *reply, void *priv)
{
    redisReply *r = reply;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements == 0 || wk_state_g.closing ||
        r->element[0]->type != REDIS_REPLY_STRING || r->element[0]->len >= 128) {
        sweep_end();
        return;
    }
    struct wk_archive_op *a = ci_xcalloc(1, sizeof *a);
    memcpy(a->sid, r->element[0]->str, (size_t)r->element[0]->len);
    const char *argv[] = {"ZREM", WK_STATE_DUE_KEY, a->sid};
    if (wk_state_redis_argv(on_claim, a, 3, argv, NULL) < 0) {
        free(a);
        sweep_end();
    }
}

static void sweep_next(void)
{
    if (wk_state_g.closing || sweep_left-- <= 0) {
        sweep_end();
        return;
    }
    char max[32];
    snprintf(max, sizeof max, "%lld",
             (long long)(ci_now_ms() - wk_state_g.cfg.archive_after_s * 1000));
    const char *argv[] = {"ZRANGEBYSCORE", WK_STATE_DUE_KEY, "-inf", max, "LIMIT", "0", "1"};
    if (wk_state_redis_argv(on_due, NULL, 7, argv, NULL) < 0)
        sweep_end();
}

/* ---- expiry ---------------------------------------------------------- */

static void expiry_work(uv_work_t *w)
{
    struct wk_archive_op *a = w->data;
    char **keys = NULL;
    size_t n = 0;
    int64_t cutoff = ci_now_ms() - wk_state_g.cfg.archive_ttl_days * 86400000LL;
    a->rc = st_list(wk_state_g.store, WK_STATE_ARCHIVE_PREFIX, &keys, &n);
    for (size_t i = 0; a->rc == 0 && i < n; i++) {
        struct st_object_info info;
        if (st_head(wk_state_g.store, keys[i], &info) == 0 && info.mtime_ms < cutoff &&
            st_delete(wk_state_g.store, keys[i]) == 0)
            a->deleted++;
    }
    if (a->rc == 0)
        st_list_free(keys, n);
}

static void expiry_done(uv_work_t *w, int status)
{
    struct wk_archive_op *a = w->data;
    wk_state_work_done();
    if (a->deleted > 0)
        wk_state_audit("state_archive_expired", NULL, NULL, "{s:I,s:I}", "deleted",
                       (json_int_t)a->deleted, "ttl_days",
                       (json_int_t)wk_state_g.cfg.archive_ttl_days);
    free(a);
}

static void on_expiry_lock(redisAsyncContext *ac, void *reply, void *priv)
{
    redisReply *r = reply;
    if (!r || r->type != REDIS_REPLY_STATUS || wk_state_g.closing || !wk_state_g.store)
        return; /* another worker holds this hour's sweep */
    struct wk_archive_op *a = ci_xcalloc(1, sizeof *a);
    a->work.data = a;
    wk_state_queue_work(&a->work, expiry_work, expiry_done);
}

static void on_tick(uv_timer_t *t)
{
    int64_t now = ci_now_ms();
    if (!wk_state_g.sweeping) {
        wk_state_g.sweeping = 1;
        sweep_left = WK_SWEEP_BATCH;
        sweep_next();
    }
    if (now >= wk_state_g.next_expiry_ms) {
        wk_state_g.next_expiry_ms = now + WK_EXPIRY_EVERY_MS;
        const char *argv[] = {"SET", WK_STATE_EXPIRY_LOCK, wk_cfg.worker_id, "NX", "EX", "3600"};
        wk_state_redis_argv(on_expiry_lock, NULL, 6, argv, NULL);
    }
}

void wk_state_sweep_start(void)
{
    if (!wk_state_g.store || wk_state_g.cfg.archive_after_s <= 0)
        return;
    int64_t period = wk_state_g.cfg.archive_after_s * 500;
    if (period < 1000)
        period = 1000;
    if (period > 60000)
        period = 60000;
    wk_state_g.next_expiry_ms = ci_now_ms() + 60000; /* not in the start-up rush */
    uv_timer_init(wk_state_g.loop, &wk_state_g.sweep_timer);
    uv_timer_start(&wk_state_g.sweep_timer, on_tick, (uint64_t)period, (uint64_t)period);
    uv_unref((uv_handle_t *)&wk_state_g.sweep_timer);
    wk_state_g.sweep_timer.data = &wk_state_g;
}

void wk_state_sweep_stop(void)
{
    if (wk_state_g.sweep_timer.data) {
        uv_timer_stop(&wk_state_g.sweep_timer);
        uv_close((uv_handle_t *)&wk_state_g.sweep_timer, NULL);
        wk_state_g.sweep_timer.data = NULL;
    }
}

/* ---- audit ----------------------------------------------------------- */

void wk_state_audit(const char *event_type, const char *session_id, const char *request_id,
                    const char *fmt, ...)
{
    char ts[32];
    json_t *o = NULL;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        o = json_vpack_ex(NULL, 0, fmt, ap);
        va_end(ap);
    }
    if (!o)
        o = json_object();
    ci_format_iso8601(ci_now_ms(), ts, sizeof ts);
    json_object_set_new(o, "ts", json_string(ts));
    json_object_set_new(o, "level", json_string("info"));
    json_object_set_new(o, "component", json_string("worker"));
    json_object_set_new(o, "audit", json_true());
    json_object_set_new(o, "event_type", json_string(event_type));
    if (session_id)
        json_object_set_new(o, "session_id", json_string(session_id));
    if (request_id)
        json_object_set_new(o, "request_id", json_string(request_id));
    json_object_set_new(o, "worker", json_string(wk_cfg.worker_id));
    char *line = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!line)
        return;
    ci_write_line(STDERR_FILENO, line);
    free(line);
}
