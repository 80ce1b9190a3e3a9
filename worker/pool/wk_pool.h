/*
 * wk_pool.h - where sandboxes come from and go to: warm pools per language
 * (docs/pool.md).
 *
 * Invariant: a container serves at most one caller (owner = tenant +
 * user, carried on the job), ever.  A warm container is READY (its runner
 * said hello) and bound to nobody; the acquire that takes it binds it to
 * the job's caller for the rest of its life, and to the job's session.
 * After the job it is destroyed, or kept READY for its caller for at most
 * POOL_KEEP_IDLE_MS: the same session's next job takes it as it is; a new
 * session of the same caller takes it only after a wipe that passed the
 * runner's and the worker's checks (wk_sandbox_wipe; a failed wipe
 * destroys the container and the job takes a warm or fresh one).
 *
 * Life of a pool entry:
 *
 *   WARMING   opened by the pool for language L, no session (label
 *             com.code-interpreter.session=unassigned)
 *   IDLE      READY and unbound, waiting in L's pool
 *   HANDOFF   taken by an acquire and bound to the job's session; the ready
 *             callback is deferred to the next loop turn
 *   OPENING   a pool miss: a fresh container opened for the job's session
 *   IN_USE    the caller has it (after its ready callback)
 *   KEPT      released after a clean run, READY, bound to its caller and
 *             session, until POOL_KEEP_IDLE_MS passes (then destroyed)
 *   WIPING    a kept container taken by a new session of its caller,
 *             being wiped; rebound to that session when the wipe passes
 *   GONE      being destroyed (never handed out again)
 *
 * Configuration (environment, read once in wk_pool_new):
 *   POOL_SIZE_<LANG>      warm containers per language at least
 *                         (POOL_SIZE_PY=2, every other language 0), 0..32;
 *                         more are kept warm ahead of the observed rate of
 *                         new sessions that need one (rate x warm-up time)
 *   POOL_MEMORY_MB        budget of the pooled containers (warming, warm and
 *                         kept) by their estimates (py 160 MB, java 120 MB,
 *                         others 48 MB); 2048
 *   POOL_KEEP_IDLE_MS     keep a used container for its session (30000;
 *                         0 = destroy after every job), max 600000
 *   POOL_KEEP_MAX         kept containers at most (32); the oldest goes first,
 *                         also when the memory budget is full
 *   POOL_FILL_CONCURRENCY pool containers being created at once (1)
 *   POOL_CALLER_MAX       containers of one language one caller holds at
 *                         once (2 per online CPU; 0 = no limit): a further
 *                         acquire of that caller waits for one of its own
 *                         to come back (wiped for it), at most
 *                         POOL_CALLER_WAIT_MS (500; 0 = never wait) plus
 *                         one tick, then takes a warm or fresh one
 *   POOL_STATS_LOG_MS     period of the debug-level stats log line (60000)
 *
 * Start-up: containers labelled com.code-interpreter.managed=true and
 * com.code-interpreter.worker=<WORKER_ID> are left-overs of an earlier run
 * of this worker: they are removed before the pools are filled.
 *
 * Loop affinity: every function except wk_pool_stats_snapshot() runs on the
 * worker's loop; callbacks never run inside the call that started them.
 */
#ifndef WK_POOL_H
#define WK_POOL_H

#include "sch_types.h"
#include "wk_docker.h"
#include "wk_sandbox.h"

#include <stdint.h>
#include <uv.h>

struct wk_pool;

/* Per-language figures, for logs and /metrics. */
struct wk_pool_lang_stats {
    int target;               /* warm containers wanted now: POOL_SIZE_<LANG> at
                                 least, more with the new-session rate */
    int idle;                 /* warm, READY, unbound, now */
    int warming;              /* being created for the pool, now */
    int kept;                 /* READY, bound, kept for their session, now */
    int in_use;               /* handed out (including misses opening), now */
    int image_missing;        /* 1: the image is missing; the pool stays empty */
    uint64_t hits;            /* acquires served by a warm container */
    uint64_t reuses;          /* acquires served by the session's kept container */
    uint64_t misses;          /* acquires that opened a fresh container */
    uint64_t refills;         /* warm containers that became READY */
    uint64_t refill_failures; /* warm containers that failed to start */
    uint64_t discarded;       /* idle/kept containers found dead or expired */
    uint64_t wipes;           /* acquires served by a kept container of the same
                                 caller after a wipe that passed its checks */
    uint64_t wipe_failures;   /* wipes refused or failing a check: destroyed */
};

struct wk_pool_stats {
    struct wk_pool_lang_stats lang[SCH_LANG_COUNT]; /* indexed by enum sch_lang */
};

/* Creates the pool, reaps this worker's stale containers, then fills the
 * pools in the background.  Returns 0 or a negative errno. */
int wk_pool_new(uv_loop_t *loop, struct wk_docker *docker, struct wk_pool **out);

/* Starts acquiring.  Returns 0 with *out set to the sandbox (not yet ready:
 * `cb` reports when it is, or why it failed; the caller may kill it meanwhile
 * with wk_sandbox_kill), or a negative errno (no callback).  *out is NULL
 * while a kept container is being wiped for the job, or while the acquire
 * waits (for the session's own container, still storing its previous job's
 * state, or because the caller is at POOL_CALLER_MAX): the sandbox is then
 * known only from `cb` (which may name another one if the wipe failed);
 * `job` must stay valid until `cb` ran. */
int wk_pool_acquire(struct wk_pool *p, const struct sch_job *job, wk_sandbox_ready_cb cb, void *arg,
                    struct wk_sandbox **out);

/* Hands the sandbox back.  `reusable` says the run ended cleanly and the
 * sandbox is still READY: it may be kept for its session.  Never use `sb`
 * afterwards. */
void wk_pool_release(struct wk_pool *p, struct wk_sandbox *sb, int reusable);

/* The job in `sb` is over and its result posted; the caller still stores
 * the session's state and releases `sb` within milliseconds.  Meanwhile a
 * new session of the same caller waits for it (to take it wiped) instead
 * of taking another container. */
void wk_pool_finishing(struct wk_pool *p, struct wk_sandbox *sb);

/* Destroys every pooled sandbox, then frees the pool and calls done.  Every
 * acquired sandbox must have been released first. */
void wk_pool_close(struct wk_pool *p, void (*done)(void *arg), void *arg);

/* Copies the current figures (loop thread). */
void wk_pool_get_stats(const struct wk_pool *p, struct wk_pool_stats *out);

/* Copies the figures of this process's pool as of the last change; any
 * thread (mutex-protected snapshot).  -ENOENT when no pool exists. */
int wk_pool_stats_snapshot(struct wk_pool_stats *out);

#endif
