/*
 * ing_health.c - GET /health (open) and GET /health/detailed (key).
 *
 * /health/detailed answers 200 when every part is up and 503 when one is
 * down, naming it:
 *   redis    reachable from this ingress
 *   workers  at least one live worker that is not draining (a heartbeat
 *            record in ci:workers:<id>, see ci_stats.h); each is listed
 *   docker   at least one live worker reaches its dockerd (workers ping it
 *            each beat)
 *   storage  the object store (STORAGE_BACKEND) takes and returns a small
 *            probe object
 *   queue    depth, pending, oldest pending age, dead letters (a figure, not
 *            a part: a deep queue is not "down")
 * So "jobs stuck in the queue" is one request away: no live worker, or
 * workers whose dockerd is down, or a growing oldest_pending_ms.
 */
#include "ing_http.h"

#include "ci_log.h"
#include "ci_util.h"
#include "ing_config.h"
#include "ing_fleet.h"
#include "ing_redis.h"
#include "ing_wait.h"
#include "q_job.h"
#include "st_store.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum MHD_Result ing_h_health(struct ing_request *req)
{
    json_t *o = json_pack("{s:s,s:s}", "status", "healthy", "version", ING_VERSION);
    return ing_reply_json(req->conn, MHD_HTTP_OK, o, req->request_id);
}

static pthread_once_t store_once = PTHREAD_ONCE_INIT;
static struct st_store *store;

static void store_open(void)
{
    if (st_store_open_from_env(&store) != 0)
        store = NULL;
}

/* Writes and reads back a probe object; "up" when both work. */
static json_t *storage_part(int *ok)
{
    pthread_once(&store_once, store_open);
    *ok = 0;
    if (!store)
        return json_pack("{s:s,s:s}", "status", "down", "error", "storage is not configured");
    static const char probe[] = "ok";
    char *back = NULL;
    size_t len = 0;
    int rc = st_put(store, "health/probe", probe, sizeof probe - 1, "text/plain");
    if (rc == 0)
        rc = st_get(store, "health/probe", 64, &back, &len);
    *ok = rc == 0 && len == sizeof probe - 1 && memcmp(back, probe, len) == 0;
    free(back);
    return json_pack("{s:s,s:s}", "status", *ok ? "up" : "down", "backend",
                     st_store_backend(store));
}

static json_t *worker_json(const struct ing_worker_info *w, int64_t now)
{
    char hb[32], started[32];
    int64_t last = ing_worker_num(w, "last_heartbeat", 0);
    ci_format_iso8601(last, hb, sizeof hb);
    ci_format_iso8601(ing_worker_num(w, "started_at", 0), started, sizeof started);
    const char *id = ing_worker_str(w, "id"), *host = ing_worker_str(w, "host");
    const char *docker = ing_worker_str(w, "docker"), *state = ing_worker_str(w, "state");
    return json_pack(
        "{s:s,s:s,s:I,s:s,s:I,s:I,s:I,s:s,s:s,s:s}", "id", id ? id : "", "host", host ? host : "",
        "pid", (json_int_t)ing_worker_num(w, "pid", 0), "last_heartbeat", hb, "heartbeat_age_ms",
        (json_int_t)(now - last), "jobs_in_hand", (json_int_t)ing_worker_num(w, "jobs_in_hand", 0),
        "slots", (json_int_t)ing_worker_num(w, "slots", 0), "docker", docker ? docker : "unknown",
        "state", state ? state : "running", "started_at", started);
}

/* Adds "workers" (the list) and the "docker" part; sets the two verdicts. */
static void workers_part(json_t *o, const struct ing_worker_info *w, size_t n, int *workers_ok,
                         int *docker_ok)
{
    int64_t now = ci_now_ms();
    size_t running = 0, docker_up = 0;
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        const char *d = ing_worker_str(&w[i], "docker"), *st = ing_worker_str(&w[i], "state");
        running += !st || strcmp(st, "draining") != 0;
        docker_up += d && strcmp(d, "ok") == 0;
        json_array_append_new(list, worker_json(&w[i], now));
    }
    *workers_ok = running > 0;
    *docker_ok = docker_up > 0;
    json_object_set_new(o, "workers", list);
    json_object_set_new(o, "workers_summary",
                        json_pack("{s:s,s:I,s:I}", "status", *workers_ok ? "up" : "down", "live",
                                  (json_int_t)n, "running", (json_int_t)running));
    json_object_set_new(o, "docker",
                        json_pack("{s:s,s:I,s:I}", "status",
                                  *docker_ok ? "up"
                                  : n        ? "down"
                                             : "unknown",
                                  "workers_ok", (json_int_t)docker_up, "workers_total",
                                  (json_int_t)n));
}

enum MHD_Result ing_h_health_detailed(struct ing_request *req)
{
    struct q_stats st;
    struct ing_worker_info *w = NULL;
    size_t nw = 0;
    int redis_ok = 0, workers_ok = 0, docker_ok = 0, storage_ok = 0;
    memset(&st, 0, sizeof st);
    redisContext *c = ing_redis();
    if (c) {
        redis_ok = q_stats(c, &st) == 0 && ing_fleet_workers(c, &w, &nw) == 0;
        if (!redis_ok)
            ing_redis_reset();
    }
    json_t *o = json_object();
    json_object_set_new(o, "version", json_string(ING_VERSION));
    json_object_set_new(o, "redis", json_pack("{s:s}", "status", redis_ok ? "up" : "down"));
    if (redis_ok) {
        workers_part(o, w, nw, &workers_ok, &docker_ok);
        json_object_set_new(o, "queue",
                            json_pack("{s:I,s:I,s:I,s:I,s:I}", "depth", (json_int_t)st.depth,
                                      "depth_high", (json_int_t)st.depth_high, "pending",
                                      (json_int_t)st.pending, "oldest_pending_ms",
                                      (json_int_t)st.oldest_pending_age_ms, "dead",
                                      (json_int_t)st.dead));
    }
    json_object_set_new(o, "storage", storage_part(&storage_ok));
    json_object_set_new(o, "waiting_requests", json_integer(ing_wait_count()));
    int healthy = redis_ok && workers_ok && docker_ok && storage_ok;
    json_t *down = json_array();
    if (!redis_ok)
        json_array_append_new(down, json_string("redis"));
    if (redis_ok && !workers_ok)
        json_array_append_new(down, json_string("workers"));
    if (redis_ok && !docker_ok)
        json_array_append_new(down, json_string("docker"));
    if (!storage_ok)
        json_array_append_new(down, json_string("storage"));
    json_object_set_new(o, "status", json_string(healthy ? "healthy" : "unhealthy"));
    json_object_set_new(o, "down", down);
    ing_fleet_workers_free(w, nw);
    return ing_reply_json(req->conn, healthy ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, o,
                          req->request_id);
}
