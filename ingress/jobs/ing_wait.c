#include "ing_wait.h"

#include "ci_log.h"
#include "ci_util.h"
#include "ing_config.h"
#include "ing_sec.h"
#include "q_keys.h"
#include "q_link.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define DONE_CHANNEL Q_CHAN_DONE
#define NBUCKETS 4096
#define JOB_ID_MAX 64

struct ing_waiter {
    struct ing_waiter *next;
    struct MHD_Connection *conn;
    int64_t deadline_ms;
    enum ing_wake woken;
    int suspended;
    int resumed;
    char job_id[JOB_ID_MAX + 1];
};

static struct {
    pthread_mutex_t lock;
    struct ing_waiter *bucket[NBUCKETS];
    int count;
    /* notifier thread state */
    pthread_t thread;
    uv_loop_t loop;
    uv_async_t stop_async;
    uv_timer_t sweep_timer;
    struct q_link *link; /* q_link.h: reconnects, keepalive, no DNS on the loop */
    int stopping;
    int subscribed;
    pthread_cond_t subscribed_cond;
} W = {.lock = PTHREAD_MUTEX_INITIALIZER, .subscribed_cond = PTHREAD_COND_INITIALIZER};

static unsigned bucket_of(const char *id)
{
    return ci_fnv1a(id, strlen(id)) % NBUCKETS;
}

static int64_t now_ms(void)
{
    return ci_mono_us() / 1000;
}

/* Caller holds W.lock. */
static void wake_locked(struct ing_waiter *w, enum ing_wake why)
{
    if (w->woken == ING_WAKE_NONE)
        w->woken = why;
    if (w->suspended && !w->resumed) {
        w->resumed = 1;
        MHD_resume_connection(w->conn);
    }
}

static void wake_all(enum ing_wake why)
{
    pthread_mutex_lock(&W.lock);
    for (int b = 0; b < NBUCKETS; b++)
        for (struct ing_waiter *w = W.bucket[b]; w; w = w->next)
            wake_locked(w, why);
    pthread_mutex_unlock(&W.lock);
}

static void wake_job(const char *job_id, size_t len)
{
    char id[JOB_ID_MAX + 1];
    if (len > JOB_ID_MAX)
        return;
    memcpy(id, job_id, len);
    id[len] = '\0';
    pthread_mutex_lock(&W.lock);
    for (struct ing_waiter *w = W.bucket[bucket_of(id)]; w; w = w->next)
        if (strcmp(w->job_id, id) == 0)
            wake_locked(w, ING_WAKE_NOTICE);
    pthread_mutex_unlock(&W.lock);
}

struct ing_waiter *ing_wait_register(const char *job_id, struct MHD_Connection *conn,
                                     int64_t deadline_ms)
{
    struct ing_waiter *w = ci_xcalloc(1, sizeof *w);
    w->conn = conn;
    w->deadline_ms = deadline_ms;
    snprintf(w->job_id, sizeof w->job_id, "%s", job_id);
    pthread_mutex_lock(&W.lock);
    unsigned b = bucket_of(w->job_id);
    w->next = W.bucket[b];
    W.bucket[b] = w;
    W.count++;
    if (W.stopping)
        w->woken = ING_WAKE_SHUTDOWN;
    pthread_mutex_unlock(&W.lock);
    return w;
}

void ing_wait_suspend(struct ing_waiter *w)
{
    pthread_mutex_lock(&W.lock);
    MHD_suspend_connection(w->conn);
    w->suspended = 1;
    if (w->woken != ING_WAKE_NONE) {
        w->resumed = 1;
        MHD_resume_connection(w->conn);
    }
    pthread_mutex_unlock(&W.lock);
}

enum ing_wake ing_wait_finish(struct ing_waiter *w)
{
    pthread_mutex_lock(&W.lock);
    struct ing_waiter **pp = &W.bucket[bucket_of(w->job_id)];
    while (*pp && *pp != w)
        pp = &(*pp)->next;
    if (*pp) {
        *pp = w->next;
        W.count--;
    }
    enum ing_wake why = w->woken;
    pthread_mutex_unlock(&W.lock);
    free(w);
    return why;
}

int ing_wait_count(void)
{
    pthread_mutex_lock(&W.lock);
    int n = W.count;
    pthread_mutex_unlock(&W.lock);
    return n;
}

/* ---- notifier thread ---------------------------------------------------- */

static void on_message(redisAsyncContext *ac, void *r, void *priv)
{
    redisReply *reply = r;
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 3)
        return;
    const redisReply *kind = reply->element[0], *payload = reply->element[2];
    if (kind->type != REDIS_REPLY_STRING)
        return;
    const redisReply *chan = reply->element[1];
    int keys_chan = chan->type == REDIS_REPLY_STRING && strcmp(chan->str, ING_KEYS_CHANNEL) == 0;
    if (keys_chan) { /* managed key revoked/disabled: ing_sec.h */
        if (strcmp(kind->str, "message") == 0 && payload->type == REDIS_REPLY_STRING)
            ing_keys_cache_drop(payload->str, payload->len);
        else if (strcmp(kind->str, "subscribe") == 0)
            ing_keys_cache_set_live(1);
        return;
    }
    if (strcmp(kind->str, "message") == 0 && payload->type == REDIS_REPLY_STRING) {
        wake_job(payload->str, payload->len);
    } else if (strcmp(kind->str, "subscribe") == 0) {
        log_info("subscribed to %s", DONE_CHANNEL);
        /* Anything published while we were not subscribed was missed: recheck all. */
        wake_all(ING_WAKE_NOTICE);
        pthread_mutex_lock(&W.lock);
        W.subscribed = 1;
        pthread_cond_broadcast(&W.subscribed_cond);
        pthread_mutex_unlock(&W.lock);
    }
}

/* The link is up (again): subscribe.  The "subscribe" confirmation wakes
 * every waiter once (on_message), for notices published meanwhile. */
static void on_link_up(struct q_link *l, void *arg)
{
    (void)arg;
    if (q_link_command(l, on_message, NULL, "SUBSCRIBE " DONE_CHANNEL " " ING_KEYS_CHANNEL) != 0)
        q_link_drop(l, "cannot subscribe");
}

static void on_link_down(struct q_link *l, void *arg)
{
    (void)l, (void)arg;
    ing_keys_cache_set_live(0);
    pthread_mutex_lock(&W.lock);
    W.subscribed = 0;
    pthread_mutex_unlock(&W.lock);
}

static void connect_redis(void)
{
    static const struct q_link_cb cb = {on_link_up, on_link_down};
    struct q_link_config cfg = {.host = ing_cfg.redis_host,
                                .port = ing_cfg.redis_port,
                                .password = ing_cfg.redis_password,
                                .name = "notifier"};
    if (q_link_open(&W.loop, &cfg, &cb, NULL, &W.link) != 0)
        log_error("notifier: cannot create its redis link");
}

static void on_sweep(uv_timer_t *t)
{
    int64_t now = now_ms();
    pthread_mutex_lock(&W.lock);
    for (int b = 0; b < NBUCKETS && W.count; b++)
        for (struct ing_waiter *w = W.bucket[b]; w; w = w->next)
            if (w->woken == ING_WAKE_NONE && now >= w->deadline_ms)
                wake_locked(w, ING_WAKE_DEADLINE);
    pthread_mutex_unlock(&W.lock);
}

static void close_handle(uv_handle_t *h, void *arg)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static void on_stop(uv_async_t *a)
{
    W.stopping = 1;
    q_link_close(W.link, 0, NULL, NULL); /* its handles close on this loop */
    W.link = NULL;
    uv_close((uv_handle_t *)&W.sweep_timer, NULL);
    uv_close((uv_handle_t *)&W.stop_async, NULL);
}

static void *notifier_main(void *arg)
{
    connect_redis();
    uv_run(&W.loop, UV_RUN_DEFAULT);
    uv_walk(&W.loop, close_handle, NULL);
    uv_run(&W.loop, UV_RUN_DEFAULT);
    uv_loop_close(&W.loop);
    return NULL;
}

int ing_wait_start(void)
{
    if (uv_loop_init(&W.loop) != 0)
        return -1;
    uv_async_init(&W.loop, &W.stop_async, on_stop);
    uv_timer_init(&W.loop, &W.sweep_timer);
    uv_timer_start(&W.sweep_timer, on_sweep, 50, 50);
    if (pthread_create(&W.thread, NULL, notifier_main, NULL) != 0)
        return -1;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 5;
    pthread_mutex_lock(&W.lock);
    while (!W.subscribed)
        if (pthread_cond_timedwait(&W.subscribed_cond, &W.lock, &until) != 0)
            break;
    if (!W.subscribed)
        log_warn("not yet subscribed to %s; continuing, the notifier keeps trying",
                 DONE_CHANNEL);
    pthread_mutex_unlock(&W.lock);
    return 0;
}

void ing_wait_stop(void)
{
    pthread_mutex_lock(&W.lock);
    W.stopping = 1;
    pthread_mutex_unlock(&W.lock);
    wake_all(ING_WAKE_SHUTDOWN);
    uv_async_send(&W.stop_async);
    pthread_join(W.thread, NULL);
}
