/*
 * ing_metrics_fleet.c - the Redis-derived half of GET /metrics: queue
 * figures, live workers and their pools, fleet counters (ci_stats.h).
 */
#include "ing_fleet.h"
#include "ing_metrics_int.h"

#include "ci_stats.h"
#include "ci_util.h"
#include "q_job.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ci:stats fields always exported (0 until counted), with their help text.
 * Other fields of the hash are exported too, as ci_<field>_total. */
static const char *const known_stats[][2] = {
    {"containers_started", "Sandbox containers that came up (runner said hello)."},
    {"container_failures", "Sandbox containers that failed to start."},
    {"webhook_delivered", "Webhook deliveries answered 2xx."},
    {"webhook_failed", "Webhook delivery attempts that failed and will be retried."},
    {"webhook_gave_up", "Webhook deliveries abandoned (410 or out of attempts)."},
    {"state_bytes_saved", "Bytes of compressed Python state stored."},
    {"state_bytes_restored", "Bytes of compressed Python state loaded."},
};
#define NKNOWN (sizeof known_stats / sizeof known_stats[0])

static void gauge(FILE *f, const char *name, const char *help, long long v)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n%s %lld\n", name, help, name, name, v);
}

static void render_queue(FILE *f, const struct q_stats *st)
{
    fputs("# HELP ci_queue_depth Jobs waiting in a stream, not yet delivered to a worker.\n"
          "# TYPE ci_queue_depth gauge\n",
          f);
    fprintf(f, "ci_queue_depth{priority=\"high\"} %lld\n", (long long)st->depth_high);
    fprintf(f, "ci_queue_depth{priority=\"normal\"} %lld\n",
            (long long)(st->depth - st->depth_high));
    gauge(f, "ci_queue_pending", "Jobs delivered to a worker and not yet acknowledged.",
          (long long)st->pending);
    fprintf(f,
            "# HELP ci_queue_oldest_pending_age_seconds Age of the oldest job still in "
            "flight (0: none).\n# TYPE ci_queue_oldest_pending_age_seconds gauge\n"
            "ci_queue_oldest_pending_age_seconds %.3f\n",
            (double)st->oldest_pending_age_ms / 1000.0);
    gauge(f, "ci_queue_dead_letters", "Jobs in the dead-letter stream ci:dead.",
          (long long)st->dead);
}

static void worker_series(FILE *f, const char *metric, const char *id, long long v)
{
    fprintf(f, "%s{worker=", metric);
    ing_prom_label(f, id);
    fprintf(f, "} %lld\n", v);
}

/* What render_pool prints: one metric, the heartbeat's pool fields it reads
 * ("pool_<field>:<lang>") and the label value each becomes. */
struct pool_series {
    const char *metric; /* "ci_pool_..." */
    const char *type;   /* "gauge" or "counter" */
    const char *help;
    const char *label; /* "state", "result", or NULL (lang only) */
    const char *field[4];
    const char *value[4];
};

static const struct pool_series POOL_SERIES[] = {
    {"ci_pool_containers",
     "gauge",
     "Sandbox containers in a worker's pools, by language and state.",
     "state",
     {"idle", "warming", "kept", "in_use"},
     {"idle", "warming", "kept", "in_use"}},
    {"ci_pool_acquires_total",
     "counter",
     "Sandbox acquires of a worker since it started: hit (warm container), reuse (the "
     "session's kept one), miss (fresh), wipe (a kept container of the same caller, wiped and "
     "checked, for a new session).",
     "result",
     {"hits", "reuses", "misses", "wipes"},
     {"hit", "reuse", "miss", "wipe"}},
    {"ci_pool_wipe_failures_total",
     "counter",
     "Wipes refused or failing a check since the worker started (the container was destroyed).",
     NULL,
     {"wipe_failures"},
     {NULL}},
};

/* Pool fields "pool_<what>:<lang>" of one worker as labelled series. */
static void render_pool(FILE *f, const struct ing_worker_info *w, const char *id,
                        const struct pool_series *ps)
{
    for (size_t i = 0; i < w->nfields; i++) {
        const char *name = w->fields[i].name;
        if (strncmp(name, "pool_", 5) != 0)
            continue;
        const char *colon = strchr(name, ':');
        if (!colon)
            continue;
        for (size_t k = 0; k < 4 && ps->field[k]; k++) {
            size_t len = strlen(ps->field[k]);
            if ((size_t)(colon - name) != 5 + len || strncmp(name + 5, ps->field[k], len) != 0)
                continue;
            fprintf(f, "%s{worker=", ps->metric);
            ing_prom_label(f, id);
            fputs(",lang=", f);
            ing_prom_label(f, colon + 1);
            if (ps->label)
                fprintf(f, ",%s=\"%s\"", ps->label, ps->value[k]);
            fprintf(f, "} %lld\n", (long long)w->fields[i].value);
        }
    }
}

static void render_workers(FILE *f, const struct ing_worker_info *w, size_t n)
{
    int64_t now = ci_now_ms();
    gauge(f, "ci_workers_live", "Workers whose heartbeat record is live.", (long long)n);
    static const char *const per[][3] = {
        {"ci_worker_slots", "slots", "Jobs a worker runs at once."},
        {"ci_worker_jobs_in_hand", "jobs_in_hand", "Jobs a worker is running now."},
        {"ci_worker_ptc_paused", "ptc_paused",
         "Programs a worker holds paused at tool calls (programmatic tool calling)."},
    };
    for (size_t m = 0; m < sizeof per / sizeof per[0]; m++) {
        fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n", per[m][0], per[m][2], per[m][0]);
        for (size_t i = 0; i < n; i++)
            worker_series(f, per[m][0], ing_worker_str(&w[i], "id"),
                          (long long)ing_worker_num(&w[i], per[m][1], 0));
    }
    fputs("# HELP ci_worker_docker_up 1 when the worker's last ping of its dockerd answered.\n"
          "# TYPE ci_worker_docker_up gauge\n",
          f);
    for (size_t i = 0; i < n; i++) {
        const char *d = ing_worker_str(&w[i], "docker");
        worker_series(f, "ci_worker_docker_up", ing_worker_str(&w[i], "id"),
                      d && strcmp(d, "ok") == 0);
    }
    fputs("# HELP ci_worker_heartbeat_age_seconds Time since the worker's last heartbeat.\n"
          "# TYPE ci_worker_heartbeat_age_seconds gauge\n",
          f);
    for (size_t i = 0; i < n; i++) {
        fputs("ci_worker_heartbeat_age_seconds{worker=", f);
        ing_prom_label(f, ing_worker_str(&w[i], "id"));
        fprintf(f, "} %.3f\n", (double)(now - ing_worker_num(&w[i], "last_heartbeat", now)) / 1e3);
    }
    for (size_t k = 0; k < sizeof POOL_SERIES / sizeof POOL_SERIES[0]; k++) {
        const struct pool_series *ps = &POOL_SERIES[k];
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", ps->metric, ps->help, ps->metric, ps->type);
        for (size_t i = 0; i < n; i++)
            render_pool(f, &w[i], ing_worker_str(&w[i], "id"), ps);
    }
}

static void render_jobs(FILE *f, const struct ing_kv *kv, size_t n)
{
    fputs("# HELP ci_jobs_total Jobs that ended, by language and outcome.\n"
          "# TYPE ci_jobs_total counter\n",
          f);
    for (size_t i = 0; i < n; i++) {
        char lang[32];
        const char *colon = strchr(kv[i].name, ':');
        if (!colon || (size_t)(colon - kv[i].name) >= sizeof lang)
            continue;
        memcpy(lang, kv[i].name, (size_t)(colon - kv[i].name));
        lang[colon - kv[i].name] = '\0';
        fputs("ci_jobs_total{lang=", f);
        ing_prom_label(f, lang);
        fputs(",status=", f);
        ing_prom_label(f, colon + 1);
        fprintf(f, "} %lld\n", (long long)kv[i].value);
    }
}

/* A ci:stats field name usable in a metric name: [a-z0-9_], <= 64. */
static int metric_safe(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') || s[n] == '_'))
            return 0;
    return n > 0 && n <= 64;
}

static void render_counters(FILE *f, const struct ing_kv *kv, size_t n)
{
    for (size_t k = 0; k < NKNOWN; k++) {
        long long v = 0;
        for (size_t i = 0; i < n; i++)
            if (strcmp(kv[i].name, known_stats[k][0]) == 0)
                v = kv[i].value;
        fprintf(f, "# HELP ci_%s_total %s\n# TYPE ci_%s_total counter\nci_%s_total %lld\n",
                known_stats[k][0], known_stats[k][1], known_stats[k][0], known_stats[k][0], v);
    }
    for (size_t i = 0; i < n; i++) {
        int known = 0;
        for (size_t k = 0; k < NKNOWN && !known; k++)
            known = strcmp(kv[i].name, known_stats[k][0]) == 0;
        if (known || !metric_safe(kv[i].name))
            continue;
        fprintf(f, "# TYPE ci_%s_total counter\nci_%s_total %lld\n", kv[i].name, kv[i].name,
                (long long)kv[i].value);
    }
}

int ing_metrics_render_fleet(FILE *f, redisContext *c)
{
    struct q_stats st;
    struct ing_worker_info *w = NULL;
    struct ing_kv *jobs = NULL, *stats = NULL;
    size_t nw = 0, njobs = 0, nstats = 0;
    int rc = -EIO;
    if (q_stats(c, &st) != 0 || ing_fleet_workers(c, &w, &nw) != 0 ||
        ing_fleet_hash(c, CI_STATS_JOBS_KEY, &jobs, &njobs) != 0 ||
        ing_fleet_hash(c, CI_STATS_KEY, &stats, &nstats) != 0)
        goto out;
    render_queue(f, &st);
    render_workers(f, w, nw);
    render_jobs(f, jobs, njobs);
    render_counters(f, stats, nstats);
    rc = 0;
out:
    ing_fleet_workers_free(w, nw);
    ing_kv_free(jobs, njobs);
    ing_kv_free(stats, nstats);
    return rc;
}
