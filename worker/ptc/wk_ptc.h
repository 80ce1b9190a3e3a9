/*
 * wk_ptc.h - the worker's side of programmatic tool calling (docs/ptc.md):
 * the paused programs it holds and the continuations that reach them.
 *
 * A program paused at a round of tool calls (wk_sandbox_tool_cb) is
 * announced with wk_ptc_paused(): ci:ptc:job:<job id> records the round,
 * its calls and this worker, and a ci:done publish of the job id wakes the
 * ingress waiting for it (queue/q_keys.h).  Continuations come back on this
 * worker's list ci:ptc:in:<worker id> (any ingress RPUSHes there); a link
 * of its own BLPOPs it and hands each to the paused program of that job and
 * round (`resume`, which owns nothing: the results are borrowed).  A
 * continuation for a job this worker no longer holds is dropped.
 *
 * Settings (environment): PTC_PAUSE_TTL_SECONDS (300: a program paused
 * longer is ended by its runner), PTC_MAX_ROUNDS (50), PTC_MAX_PAUSED (32:
 * programs this worker holds paused at once, beside its WORKER_CONCURRENCY
 * running jobs; a paused program holds its sandbox, not a slot).
 *
 * Loop affinity: one uv loop (the worker's); callbacks run there.
 */
#ifndef WK_PTC_H
#define WK_PTC_H

#include "sch_types.h"

#include <jansson.h>
#include <stdint.h>
#include <uv.h>

struct wk_ptc_config {
    uint32_t pause_ms;
    int max_rounds;
    int max_paused;
};
/* The settings above, read from the environment. */
void wk_ptc_config_load(struct wk_ptc_config *cfg);

typedef void (*wk_ptc_resume_cb)(void *arg, json_t *results);

/* Starts the module (two Redis links).  0 or a negative errno. */
int wk_ptc_start(uv_loop_t *loop);
/* Closes the links; `done` (may be NULL) runs once they are closed. */
void wk_ptc_stop(void (*done)(void *arg), void *arg);

/* Announces a paused program (see above).  `calls` borrowed.  A job with
 * a callback_url also gets a job.tool_call_required webhook delivery
 * (docs/webhooks.md; id job_<job id>_r<round>): it names the job and the
 * round; the calls and the round's token are read with GET /jobs/{id}. */
void wk_ptc_paused(const struct sch_job *job, int round, json_t *calls, wk_ptc_resume_cb resume,
                   void *arg);
/* The program of `job_id` is no longer paused (resumed or ended): no
 * continuation reaches `resume` any more.  ended: its record goes too. */
void wk_ptc_forget(const char *job_id, int ended);

/* The settings in force (after wk_ptc_start). */
const struct wk_ptc_config *wk_ptc_cfg(void);

/* Programs paused now on this worker (metrics). */
int wk_ptc_paused_now(void);

#endif
