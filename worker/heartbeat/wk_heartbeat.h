/*
 * wk_heartbeat.h - the worker announces itself in Redis every few seconds.
 *
 * Each beat (HEARTBEAT_INTERVAL_MS, default 5000) writes, in one MULTI/EXEC
 * on the heartbeat's own hiredis async connection:
 *   HSET ci:workers:<id> id host pid started_at last_heartbeat slots
 *        jobs_in_hand docker state interval_ms <gauges of wk_stats.h>
 *   PEXPIRE ci:workers:<id> 3 intervals
 *   ZADD ci:workers <now> <id>, and prunes members older than 3 intervals
 *   HINCRBY ci:stats / ci:stats:jobs with the counters' deltas (wk_stats.h)
 * (key layout: ci_stats.h).  `docker` is the answer of a GET /_ping sent each
 * interval ("down" when it fails or hangs for two intervals), so
 * GET /health/detailed can tell whether each worker reaches its dockerd.
 *
 * The connection heals itself: a beat that finds it down reconnects, and a
 * connection whose beats go unanswered for 3 intervals is dropped and made
 * again.  Counter deltas of a beat that failed are given back and sent with
 * the next one.
 *
 * Lifecycle: one heartbeat per process (module state is static).
 * wk_heartbeat_start() beats at once and then every interval;
 * wk_heartbeat_draining() marks the worker "draining" (SIGTERM seen);
 * wk_heartbeat_stop() sends a last beat's counters, deletes the worker's
 * hash and set member, closes the connection and the timer, then calls
 * `done` (within ~2 s even when Redis does not answer).  After stop, the
 * heartbeat no longer reads `ex`.
 *
 * Loop affinity: the worker's loop thread only.
 */
#ifndef WK_HEARTBEAT_H
#define WK_HEARTBEAT_H

#include "wk_docker.h"
#include "wk_exec.h"

#include <uv.h>

/* Returns 0 or a negative errno (already started: -EALREADY). */
int wk_heartbeat_start(uv_loop_t *loop, struct wk_docker *docker, const struct wk_exec *ex);
void wk_heartbeat_draining(void);
void wk_heartbeat_stop(void (*done)(void *arg), void *arg);

#endif
