/*
 * wk_stats.h - the worker's operating counters, kept in memory
 * and shipped to Redis by the heartbeat (wk_heartbeat.h) on every beat.
 *
 * Any worker module counts an event with one call (no Redis, no I/O):
 *   wk_stats_incr(WK_STAT_CONTAINERS_STARTED, 1);
 *   wk_stats_job(SCH_LANG_PY, SCH_STATUS_COMPLETED);
 * Counters are deltas: the heartbeat takes them (wk_stats_take, which zeroes
 * them) and adds them to the fleet-wide hashes ci:stats / ci:stats:jobs with
 * HINCRBY (ci_stats.h); a beat that cannot be sent gives its deltas back, so
 * a Redis outage loses no counts (a crash loses at most one interval).
 * (Pool figures are not counted here: the heartbeat copies them from
 * wk_pool_stats_snapshot() into the worker's own ci:workers:<id> hash.)
 *
 * Threads: every function is safe from any thread (C11 atomics); the worker
 * normally calls them on its loop, and uv threadpool work may too.
 * No state to set up or free: the tables are process globals.
 */
#ifndef WK_STATS_H
#define WK_STATS_H

#include "sch_types.h"

#include <stdint.h>

enum wk_stat {
    WK_STAT_CONTAINERS_STARTED = 0,
    WK_STAT_CONTAINER_FAILURES,
    WK_STAT_WEBHOOK_DELIVERED,
    WK_STAT_WEBHOOK_FAILED,
    WK_STAT_WEBHOOK_GAVE_UP,
    WK_STAT_STATE_BYTES_SAVED,
    WK_STAT_STATE_BYTES_RESTORED,
    WK_STAT_COUNT
};

/* The ci:stats field of a counter ("containers_started", ...). */
const char *wk_stat_name(enum wk_stat s);

void wk_stats_incr(enum wk_stat s, int64_t n);
/* One job ended with `status` (counted under "<lang>:<status>"). */
void wk_stats_job(enum sch_lang lang, enum sch_status status);

/* A snapshot of the deltas since the last take. */
struct wk_stats_delta {
    int64_t stat[WK_STAT_COUNT];
    int64_t job[SCH_LANG_COUNT][SCH_STATUS_COUNT];
};

/* Moves the current deltas into *out (zeroing them); returns how many are
 * non-zero.  wk_stats_give_back() adds a snapshot that could not be sent
 * back into the counters. */
int wk_stats_take(struct wk_stats_delta *out);
void wk_stats_give_back(const struct wk_stats_delta *d);

#endif
