/*
 * wk_pool_fill.c - keeping the warm pools full (bounded concurrency,
 * backoff when Docker fails, silence when an image is missing), sweeping
 * dead and expired containers, and the figures (wk_pool.h).
 */
#include "wk_pool_int.h"

#include "ci_env.h"
#include "ci_log.h"
#include "ci_util.h"
#include "wk_config.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FILL_BACKOFF_MIN_MS 500
#define FILL_BACKOFF_MAX_MS 30000
#define POOL_SIZE_MAX 32
#define DEMAND_MIN_RATE 0.5 /* new sessions per second */

static int64_t now_ms(void)
{
    return ci_mono_us() / 1000;
}

/* ---- configuration ------------------------------------------------------ */

void wk_pool__config(struct wk_pool *p)
{
    for (int i = 0; i < SCH_LANG_COUNT; i++) {
        char name[32] = "POOL_SIZE_";
        const char *lang = sch_lang_name((enum sch_lang)i);
        size_t n = strlen(name);
        for (size_t k = 0; lang[k] && n + 1 < sizeof name; k++)
            name[n++] = (char)toupper((unsigned char)lang[k]);
        name[n] = '\0';
        int def = i == SCH_LANG_PY ? 2 : 0;
        p->lang[i].target = (int)ci_env_int(name, def, 0, POOL_SIZE_MAX);
        p->lang[i].st.target = p->lang[i].target;
        /* RSS of a READY container measured here (docker stats): py with
         * numpy/pandas/matplotlib imported ~130-150 MB, a JVM's runner ~40,
         * the rest ~20-30 (the runner's own Python); with a margin. */
        p->lang[i].est_mb = i == SCH_LANG_PY ? 160 : i == SCH_LANG_JAVA ? 120 : 48;
        p->lang[i].warm_s = 1.0;
    }
    /* wk_sandbox_config.c labels containers with WORKER_ID: make sure it is
     * the id this worker uses (its default is computed, not in the env). */
    if (wk_cfg.worker_id[0] && strcmp(ci_env_str("WORKER_ID", ""), wk_cfg.worker_id) != 0)
        setenv("WORKER_ID", wk_cfg.worker_id, 1);
    p->keep_idle_ms = (int)ci_env_int("POOL_KEEP_IDLE_MS", 30000, 0, 600000);
    p->keep_max = (int)ci_env_int("POOL_KEEP_MAX", 32, 0, 256);
    p->memory_mb = ci_env_int("POOL_MEMORY_MB", 2048, 0, INT64_C(1) << 24);
    p->fill_concurrency = (int)ci_env_int("POOL_FILL_CONCURRENCY", 1, 1, 16);
    p->stats_log_ms = (int)ci_env_int("POOL_STATS_LOG_MS", 60000, 1000, 3600000);
    /* Each container a caller adds costs a create and the runner's imports
     * (seconds of CPU); beyond two per core they only take turns for the
     * same cores, so a caller's further calls wait for one of its own. */
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int def_caller = (int)(ncpu > 0 ? 2 * ncpu : 4);
    p->caller_max = (int)ci_env_int("POOL_CALLER_MAX", def_caller, 0, 1024);
    p->caller_wait_ms = (int)ci_env_int("POOL_CALLER_WAIT_MS", 500, 0, 60000);
}

/* ---- warming ------------------------------------------------------------ */

static void fill_failed(struct wk_pool *p, enum sch_lang lang, int status)
{
    struct wk_pool_lang *l = &p->lang[lang];
    l->st.refill_failures++;
    if (status == -ENOENT) {
        if (!l->image_missing)
            log_warn("pool %s: image missing; this pool stays empty until a job's own "
                     "container of this language starts",
                     sch_lang_name(lang));
        l->image_missing = 1;
        l->st.image_missing = 1;
        return;
    }
    l->backoff_ms = l->backoff_ms ? l->backoff_ms * 2 : FILL_BACKOFF_MIN_MS;
    if (l->backoff_ms > FILL_BACKOFF_MAX_MS)
        l->backoff_ms = FILL_BACKOFF_MAX_MS;
    l->next_fill_ms = now_ms() + l->backoff_ms;
    log_warn("pool %s: a warm container did not start (%s); next try in %lld ms",
             sch_lang_name(lang), strerror(status < 0 ? -status : EIO), (long long)l->backoff_ms);
}

static void on_warm_ready(void *arg, struct wk_sandbox *sb, int status)
{
    struct wk_pool_entry *e = arg;
    struct wk_pool *p = e->p;
    struct wk_pool_lang *l = &p->lang[e->lang];
    (void)sb;
    if (status == 0) {
        l->st.refills++;
        l->backoff_ms = 0;
        double took = (double)(now_ms() - e->since_ms) / 1000.0;
        l->warm_s = 0.7 * l->warm_s + 0.3 * (took > 0 ? took : 0);
        const char *cid = wk_sandbox_container_id(e->sb);
        log_debug("pool %s: warm container %.12s ready (%d idle)", sch_lang_name(e->lang),
                  cid ? cid : "?", l->st.idle + 1);
        wk_pool__set_state(e, WK_PE_IDLE);
    } else {
        fill_failed(p, e->lang, status);
        wk_pool__destroy_entry(e);
    }
    wk_pool__fill(p);
}

static int open_warm(struct wk_pool *p, enum sch_lang lang)
{
    char image[256];
    struct wk_sandbox_spec spec;
    wk_pool__spec(p, lang, NULL, image, sizeof image, &spec);
    struct wk_pool_entry *e = wk_pool__entry_new(p, lang);
    wk_pool__set_state(e, WK_PE_WARMING);
    int rc = wk_sandbox_open(p->loop, p->docker, &spec, on_warm_ready, e, &e->sb);
    if (rc < 0) {
        e->sb = NULL;
        wk_pool__destroy_entry(e);
        fill_failed(p, lang, rc == -ENOENT ? -EIO : rc);
    }
    return rc;
}

int64_t wk_pool__held_mb(const struct wk_pool *p)
{
    int64_t mb = 0;
    for (int i = 0; i < SCH_LANG_COUNT; i++) {
        const struct wk_pool_lang *l = &p->lang[i];
        mb += (int64_t)(l->st.idle + l->st.warming + l->st.kept) * l->est_mb;
    }
    return mb;
}

/* Warm containers wanted for `l`: enough to cover the new sessions that
 * arrive while one warms up (rate x warm-up time, plus one), never fewer
 * than POOL_SIZE_<LANG>; none beyond that while the rate is below
 * DEMAND_MIN_RATE (an occasional new session is what the minimum is for). */
static int demand_target(const struct wk_pool_lang *l)
{
    int want = l->target;
    if (l->rate >= DEMAND_MIN_RATE) {
        double d = l->rate * l->warm_s + 1.0;
        int n = d > POOL_SIZE_MAX ? POOL_SIZE_MAX : (int)(d + 0.999);
        if (n > want)
            want = n;
    }
    return want;
}

void wk_pool__fill(struct wk_pool *p)
{
    if (p->closing || p->reaping)
        return;
    int64_t now = now_ms();
    for (int i = 0; i < SCH_LANG_COUNT; i++) {
        struct wk_pool_lang *l = &p->lang[i];
        int want = demand_target(l);
        l->st.target = want;
        /* POOL_SIZE_<LANG> is kept whatever the budget; demand only within it */
        while (p->filling < p->fill_concurrency && l->st.idle + l->st.warming < want &&
               !l->image_missing && now >= l->next_fill_ms &&
               (l->st.idle + l->st.warming < l->target ||
                wk_pool__held_mb(p) + l->est_mb <= p->memory_mb)) {
            if (open_warm(p, (enum sch_lang)i) < 0)
                break;
        }
    }
}

/* Folds the takes of the last period into each language's rate. */
static void update_rates(struct wk_pool *p, int64_t now)
{
    double dt = (double)(now - p->last_tick_ms) / 1000.0;
    if (p->last_tick_ms == 0 || dt <= 0) {
        p->last_tick_ms = now;
        return;
    }
    p->last_tick_ms = now;
    double a = dt / 5.0 > 1.0 ? 1.0 : dt / 5.0; /* ~5 s memory */
    for (int i = 0; i < SCH_LANG_COUNT; i++) {
        struct wk_pool_lang *l = &p->lang[i];
        l->rate = (1.0 - a) * l->rate + a * ((double)l->takes / dt);
        l->takes = 0;
    }
}

/* ---- sweeping and figures ----------------------------------------------- */

static void log_stats(struct wk_pool *p)
{
    for (int i = 0; i < SCH_LANG_COUNT; i++) {
        const struct wk_pool_lang_stats *s = &p->lang[i].st;
        if (!s->target && !s->hits && !s->misses && !s->reuses && !s->kept && !s->in_use)
            continue;
        log_debug("pool %s: target %d idle %d warming %d kept %d in_use %d hits %llu reuses %llu "
                  "wipes %llu wipe_failures %llu misses %llu refills %llu refill_failures %llu "
                  "discarded %llu rate %.2f/s warm %.2f s held %lld/%lld MB%s",
                  sch_lang_name((enum sch_lang)i), s->target, s->idle, s->warming, s->kept,
                  s->in_use, (unsigned long long)s->hits, (unsigned long long)s->reuses,
                  (unsigned long long)s->wipes, (unsigned long long)s->wipe_failures,
                  (unsigned long long)s->misses, (unsigned long long)s->refills,
                  (unsigned long long)s->refill_failures, (unsigned long long)s->discarded,
                  p->lang[i].rate, p->lang[i].warm_s, (long long)wk_pool__held_mb(p),
                  (long long)p->memory_mb, s->image_missing ? " (image missing)" : "");
    }
}

void wk_pool__tick(uv_timer_t *t)
{
    struct wk_pool *p = t->data;
    int64_t now = now_ms();
    struct wk_pool_entry *e = p->entries, *next;
    for (; e; e = next) {
        next = e->next;
        int dead =
            (e->state == WK_PE_IDLE || e->state == WK_PE_KEPT) && !wk_sandbox_is_ready(e->sb);
        int expired = e->state == WK_PE_KEPT && now - e->since_ms >= p->keep_idle_ms;
        if (dead)
            p->lang[e->lang].st.discarded++;
        if (dead || expired) {
            log_debug("pool %s: dropping a %s container (%s)", sch_lang_name(e->lang),
                      e->state == WK_PE_KEPT ? "kept" : "warm", dead ? "dead" : "idle too long");
            wk_pool__destroy_entry(e);
        }
    }
    update_rates(p, now);
    wk_pool__serve_waiters(p); /* the ones waiting too long take a warm one */
    wk_pool__fill(p);
    if (now - p->last_stats_log_ms >= p->stats_log_ms) {
        p->last_stats_log_ms = now;
        log_stats(p);
    }
    wk_pool__publish(p);
}

void wk_pool_get_stats(const struct wk_pool *p, struct wk_pool_stats *out)
{
    for (int i = 0; i < SCH_LANG_COUNT; i++)
        out->lang[i] = p->lang[i].st;
}

static pthread_mutex_t snap_mu = PTHREAD_MUTEX_INITIALIZER;
static struct wk_pool_stats snap;
static int snap_valid;

void wk_pool__publish(struct wk_pool *p)
{
    pthread_mutex_lock(&snap_mu);
    wk_pool_get_stats(p, &snap);
    snap_valid = 1;
    pthread_mutex_unlock(&snap_mu);
}

void wk_pool__unpublish(void)
{
    pthread_mutex_lock(&snap_mu);
    snap_valid = 0;
    pthread_mutex_unlock(&snap_mu);
}

int wk_pool_stats_snapshot(struct wk_pool_stats *out)
{
    pthread_mutex_lock(&snap_mu);
    int ok = snap_valid;
    if (ok)
        *out = snap;
    pthread_mutex_unlock(&snap_mu);
    return ok ? 0 : -ENOENT;
}
