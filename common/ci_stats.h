/*
 * ci_stats.h - the Redis keys of the operating figures: worker heartbeats and
 * the fleet-wide counters that GET /metrics and GET /health/detailed read
 * and ops/ci-admin shows.  A contract like q_keys.h: workers write these,
 * the ingress and the admin tool read them (docs/operations.md).
 *
 * Keys
 *
 *   ci:workers           sorted set: member = worker id, score = its last
 *                        heartbeat (ms since epoch).  A member whose score is
 *                        older than the heartbeat TTL is dead; readers skip
 *                        it and workers prune such members as they beat.
 *   ci:workers:<id>      hash, one per live worker, rewritten each beat and
 *                        given a TTL of 3 heartbeat intervals, so a worker
 *                        that dies vanishes by itself:
 *                          id, host, pid, started_at, last_heartbeat (ms),
 *                          slots, jobs_in_hand, docker ("ok"|"down"),
 *                          state ("running"|"draining"), interval_ms,
 *                          and the worker's pool figures (wk_pool.h):
 *                          pool_idle pool_warming pool_kept pool_in_use
 *                          (now) and pool_hits pool_reuses pool_misses
 *                          pool_refill_failures (since the worker started),
 *                          each also per language as "<field>:<lang>" when
 *                          not zero.
 *   ci:stats             hash of fleet-wide counters, HINCRBY only:
 *                          containers_started    sandbox containers that came up
 *                          container_failures    sandbox containers that did not
 *                          webhook_delivered     webhook POSTs answered 2xx
 *                          webhook_failed        attempts that failed (retried)
 *                          webhook_gave_up       deliveries abandoned (410 / out
 *                                                of attempts)
 *                          state_bytes_saved     compressed Python state stored
 *                          state_bytes_restored  compressed state loaded
 *                        Anyone may add a field: /metrics exports every field
 *                        of this hash as ci_<field>_total.
 *   ci:stats:jobs        hash, field "<lang>:<status>" (e.g. "py:completed")
 *                        = jobs that ended so, counted by the worker that
 *                        posted the result.
 */
#ifndef CI_STATS_H
#define CI_STATS_H

#define CI_WORKERS_SET "ci:workers"
#define CI_WORKER_KEY_PREFIX "ci:workers:"
#define CI_STATS_KEY "ci:stats"
#define CI_STATS_JOBS_KEY "ci:stats:jobs"

/* Heartbeat interval default (HEARTBEAT_INTERVAL_MS) and the factor giving
 * the TTL of ci:workers:<id>: a worker is live while its last beat is
 * younger than CI_HEARTBEAT_TTL_FACTOR intervals. */
#define CI_HEARTBEAT_INTERVAL_DEFAULT_MS 5000
#define CI_HEARTBEAT_TTL_FACTOR 3

#endif
