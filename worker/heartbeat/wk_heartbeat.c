/*
 * wk_heartbeat.c - periodic worker record + counter shipping (wk_heartbeat.h).
 */
#include "wk_heartbeat.h"

#include "ci_env.h"
#include "ci_log.h"
#include "ci_stats.h"
#include "ci_util.h"
#include "q_link.h"
#include "wk_config.h"
#include "wk_pool.h"
#include "wk_ptc.h"
#include "wk_stats.h"

#include <errno.h>
#include <hiredis/async.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HB_STOP_GRACE_MS 2000

static struct {
    uv_loop_t *loop;
    struct wk_docker *docker;
    const struct wk_exec *ex;
    uv_timer_t timer;
    int64_t interval_ms;
    int64_t started_at;
    char host[64];
    char key[sizeof CI_WORKER_KEY_PREFIX + 128];
    struct q_link *link; /* q_link.h: reconnects, command timeouts, keepalive */
    int ping_inflight;
    int64_t ping_sent_ms;
    int docker_ok; /* -1 unknown, 0 down, 1 ok */
    int beaten;    /* at least one beat sent */
    int draining;
    int started, stopping, closed_handles;
    void (*done)(void *arg);
    void *done_arg;
} H;

static void hb_finish(void);

static void hb_beat(int last);

/* The link is up (first time or again): beat at once, so a fresh worker
 * shows in ci:workers without waiting a whole interval. */
static void hb_link_up(struct q_link *l, void *arg)
{
    (void)l, (void)arg;
    if (!H.stopping)
        hb_beat(0);
}

static int hb_link_open(void)
{
    static const struct q_link_cb cb = {hb_link_up, NULL};
    struct q_link_config cfg = {.host = wk_cfg.redis_host,
                                .port = wk_cfg.redis_port,
                                .password = wk_cfg.redis_password,
                                .name = "heartbeat"};
    return q_link_open(H.loop, &cfg, &cb, NULL, &H.link);
}

/* EXEC's reply: the beat (and its counter deltas) landed, or give them back. */
static void on_exec(redisAsyncContext *ac, void *reply, void *priv)
{
    struct wk_stats_delta *d = priv;
    redisReply *r = reply;
    int ok = r && r->type == REDIS_REPLY_ARRAY;
    if (!ok && d)
        wk_stats_give_back(d);
    if (!ok && r && r->type == REDIS_REPLY_ERROR)
        log_warn("heartbeat: redis refused the beat: %s", r->str);
    free(d);
}

static void add_counters(redisAsyncContext *ac, const struct wk_stats_delta *d)
{
    for (int i = 0; i < WK_STAT_COUNT; i++)
        if (d->stat[i])
            redisAsyncCommand(ac, NULL, NULL, "HINCRBY %s %s %lld", CI_STATS_KEY,
                              wk_stat_name((enum wk_stat)i), (long long)d->stat[i]);
    for (int l = 0; l < SCH_LANG_COUNT; l++)
        for (int s = 0; s < SCH_STATUS_COUNT; s++)
            if (d->job[l][s])
                redisAsyncCommand(ac, NULL, NULL, "HINCRBY %s %s:%s %lld", CI_STATS_JOBS_KEY,
                                  sch_lang_name((enum sch_lang)l),
                                  sch_status_name((enum sch_status)s), (long long)d->job[l][s]);
}

/* Adds "<name>" = sum over languages and "<name>:<lang>" for non-zero ones. */
#define HB_POOL_FIELDS 10
static const char *const pool_field[HB_POOL_FIELDS] = {
    "pool_idle",  "pool_warming",      "pool_kept",   "pool_in_use",
    "pool_hits",  "pool_reuses",       "pool_misses", "pool_refill_failures",
    "pool_wipes", "pool_wipe_failures"};

static uint64_t pool_value(const struct wk_pool_lang_stats *l, int f)
{
    switch (f) {
    case 0:
        return (uint64_t)l->idle;
    case 1:
        return (uint64_t)l->warming;
    case 2:
        return (uint64_t)l->kept;
    case 3:
        return (uint64_t)l->in_use;
    case 4:
        return l->hits;
    case 5:
        return l->reuses;
    case 6:
        return l->misses;
    case 7:
        return l->refill_failures;
    case 8:
        return l->wipes;
    default:
        return l->wipe_failures;
    }
}

/* The HSET of the worker record, as an argv of heap strings. */
static void send_record(redisAsyncContext *ac, int64_t now)
{
    enum { MAXA = 4 + 2 * (12 + HB_POOL_FIELDS * (1 + SCH_LANG_COUNT)) };
    char *argv[MAXA];
    size_t argl[MAXA];
    int n = 0;
    char num[32];
#define ARG(s) (argv[n] = ci_xstrdup(s), argl[n] = strlen(argv[n]), n++)
#define NUM(x) (snprintf(num, sizeof num, "%lld", (long long)(x)), ARG(num))
    ARG("HSET");
    ARG(H.key);
    ARG("id"), ARG(wk_cfg.worker_id);
    ARG("host"), ARG(H.host);
    ARG("pid"), NUM(getpid());
    ARG("started_at"), NUM(H.started_at);
    ARG("last_heartbeat"), NUM(now);
    ARG("interval_ms"), NUM(H.interval_ms);
    ARG("slots"), NUM(wk_cfg.concurrency);
    ARG("jobs_in_hand"), NUM(H.ex ? wk_exec_busy(H.ex) : 0);
    ARG("ptc_paused"), NUM(wk_ptc_paused_now()); /* programs paused at tool calls */
    ARG("docker"), ARG(H.docker_ok > 0 ? "ok" : H.docker_ok == 0 ? "down" : "unknown");
    ARG("state"), ARG(H.draining ? "draining" : "running");
    struct wk_pool_stats ps;
    if (wk_pool_stats_snapshot(&ps) == 0) {
        for (int f = 0; f < HB_POOL_FIELDS; f++) {
            uint64_t sum = 0;
            for (int l = 0; l < SCH_LANG_COUNT; l++) {
                uint64_t v = pool_value(&ps.lang[l], f);
                sum += v;
                if (v) {
                    char field[48];
                    snprintf(field, sizeof field, "%s:%s", pool_field[f],
                             sch_lang_name((enum sch_lang)l));
                    ARG(field), NUM(v);
                }
            }
            ARG(pool_field[f]), NUM(sum);
        }
    }
#undef ARG
#undef NUM
    redisAsyncCommandArgv(ac, NULL, NULL, n, (const char **)argv, argl);
    for (int i = 0; i < n; i++)
        free(argv[i]);
}

/* One beat: the record (unless `last`), its TTL and set member, and the
 * counter deltas, in one MULTI/EXEC. */
static void hb_beat(int last)
{
    redisAsyncContext *ac = q_link_ac(H.link); /* NULL while down: this beat is skipped */
    if (!ac)
        return;
    int64_t now = ci_now_ms();
    int64_t ttl = H.interval_ms * CI_HEARTBEAT_TTL_FACTOR;
    struct wk_stats_delta *d = ci_xmalloc(sizeof *d);
    wk_stats_take(d);
    redisAsyncCommand(ac, NULL, NULL, "MULTI");
    if (last) {
        redisAsyncCommand(ac, NULL, NULL, "DEL %s", H.key);
        redisAsyncCommand(ac, NULL, NULL, "ZREM %s %s", CI_WORKERS_SET, wk_cfg.worker_id);
    } else {
        send_record(ac, now);
        redisAsyncCommand(ac, NULL, NULL, "PEXPIRE %s %lld", H.key, (long long)ttl);
        redisAsyncCommand(ac, NULL, NULL, "ZADD %s %lld %s", CI_WORKERS_SET, (long long)now,
                          wk_cfg.worker_id);
        redisAsyncCommand(ac, NULL, NULL, "ZREMRANGEBYSCORE %s -inf (%lld", CI_WORKERS_SET,
                          (long long)(now - ttl));
    }
    add_counters(ac, d);
    if (redisAsyncCommand(ac, on_exec, d, "EXEC") != REDIS_OK) {
        wk_stats_give_back(d);
        free(d);
    }
    H.beaten = 1;
}

static void on_ping(void *arg, int status, const char *body, size_t len)
{
    int first = H.docker_ok < 0;
    H.ping_inflight = 0;
    if (H.stopping)
        return;
    int ok = status == 200;
    if (ok != H.docker_ok && !first)
        log_warn("heartbeat: docker engine %s", ok ? "answers again" : "does not answer");
    H.docker_ok = ok;
    if (first)
        hb_beat(0); /* announce the docker state as soon as it is known */
}

static void on_tick(uv_timer_t *t)
{
    int64_t now = ci_now_ms();
    if (H.ping_inflight && now - H.ping_sent_ms > 2 * H.interval_ms)
        H.docker_ok = 0; /* hung: report it, keep waiting for the answer */
    if (!H.ping_inflight && H.docker) {
        if (wk_docker_ping(H.docker, on_ping, NULL) == 0) {
            H.ping_inflight = 1;
            H.ping_sent_ms = now;
        } else {
            H.docker_ok = 0;
        }
    }
    hb_beat(0);
}

int wk_heartbeat_start(uv_loop_t *loop, struct wk_docker *docker, const struct wk_exec *ex)
{
    if (H.started)
        return -EALREADY;
    memset(&H, 0, sizeof H);
    H.loop = loop;
    H.docker = docker;
    H.ex = ex;
    H.docker_ok = -1;
    H.interval_ms =
        ci_env_int("HEARTBEAT_INTERVAL_MS", CI_HEARTBEAT_INTERVAL_DEFAULT_MS, 100, 600000);
    H.started_at = ci_now_ms();
    if (gethostname(H.host, sizeof H.host - 1) != 0)
        snprintf(H.host, sizeof H.host, "unknown");
    snprintf(H.key, sizeof H.key, "%s%s", CI_WORKER_KEY_PREFIX, wk_cfg.worker_id);
    uv_timer_init(loop, &H.timer);
    if (hb_link_open() != 0)
        log_error("heartbeat: cannot create its redis link");
    H.started = 1;
    uv_timer_start(&H.timer, on_tick, 0, (uint64_t)H.interval_ms);
    return 0;
}

void wk_heartbeat_draining(void)
{
    if (!H.started || H.stopping)
        return;
    H.draining = 1;
    hb_beat(0);
}

static void on_timer_closed(uv_handle_t *h)
{
    void (*done)(void *) = H.done;
    void *arg = H.done_arg;
    H.started = 0;
    H.done = NULL;
    if (done)
        done(arg);
}

/* Called when the link is closed. */
static void hb_finish(void)
{
    if (H.closed_handles)
        return;
    H.closed_handles = 1;
    uv_timer_stop(&H.timer);
    uv_close((uv_handle_t *)&H.timer, on_timer_closed);
}

static void on_link_closed(void *arg)
{
    (void)arg;
    hb_finish();
}

void wk_heartbeat_stop(void (*done)(void *arg), void *arg)
{
    if (!H.started || H.stopping) {
        if (done && !H.started)
            done(arg);
        return;
    }
    H.stopping = 1;
    H.done = done;
    H.done_arg = arg;
    H.ex = NULL;
    uv_timer_stop(&H.timer);
    hb_beat(1); /* ships the last counters and withdraws the record, if up */
    struct q_link *l = H.link;
    H.link = NULL;
    if (l)
        q_link_close(l, HB_STOP_GRACE_MS, on_link_closed, NULL); /* replies first */
    else
        hb_finish();
}
