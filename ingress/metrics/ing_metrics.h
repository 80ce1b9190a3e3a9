/*
 * ing_metrics.h - GET /metrics: the Prometheus text format (version 0.0.4).
 *
 * Two sources:
 *   - this ingress process: requests by route and status, a latency
 *     histogram per route, requests waiting for a job.  Counted by
 *     ing_metrics_observe(), which ing_server.c calls once per finished
 *     request; kept in memory (per ingress process: label `instance` comes
 *     from the scraper), reset when the process restarts.
 *   - Redis, read at each scrape: queue depth / pending / oldest pending age
 *     / dead letters (q_stats), the live workers' heartbeat records (slots,
 *     jobs in hand, docker, pool figures) and the fleet counters ci:stats and
 *     ci:stats:jobs (ci_stats.h).  When Redis is down, ci_redis_up is 0 and
 *     those series are absent; the scrape itself still answers 200.
 *
 * The route needs the API key like every route but /health, /openapi.json
 * and /docs (SECURITY.md: all endpoints except health checks and
 * documentation require a key); Prometheus sends it with
 * `authorization: {credentials: KEY}` (docs/operations.md).
 *
 * Threads: ing_metrics_observe() may be called from any MHD thread (one
 * mutex); the handler runs on an MHD thread with that thread's Redis
 * connection.
 */
#ifndef ING_METRICS_H
#define ING_METRICS_H

#include "ing_http.h"

#include <stdint.h>

/* One finished request: `route` NULL when none matched; `status` 0 when no
 * response was queued (the client went away). */
void ing_metrics_observe(const struct ing_route *route, unsigned status, int64_t duration_us);

enum MHD_Result ing_h_metrics(struct ing_request *req);

#endif
