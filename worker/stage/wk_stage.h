/*
 * wk_stage.h - what happens around a run: staging inputs in before, and
 * collecting outputs after.
 *
 *   stage in :  files (wk_files.c: referenced session files copied into the
 *               sandbox's /mnt/data)  ->  state (wk_state.c: the session's
 *               Python state written to <run dir>/state.in)
 *   run      :  wk_sandbox_run() (wk_exec.c)
 *   stage out:  files (new or changed files under /mnt/data stored and listed
 *               in res->files)  ->  state (<run dir>/state.out compressed,
 *               res->has_state/state_size; stored in Redis by a tail after
 *               the result is out, behind a fence other workers wait on)
 *
 * Every step is asynchronous on the worker's loop and ends by calling its
 * callback exactly once (possibly before the step function returns).  The
 * callback's rc: 0 = go on; > 0 = the caller's fault (e.g. a referenced file
 * does not exist): the job completes as FAILED with `msg` in stderr; < 0 =
 * infrastructure failure: the job is retried (q_consumer_fail) with `msg`.
 * Warnings for the response go to ctx->res via sch_result_add_warning().
 *
 * The ctx belongs to the job slot (wk_exec.c) and outlives every step.
 */
#ifndef WK_STAGE_H
#define WK_STAGE_H

#include "sch_types.h"
#include "wk_sandbox.h"

#include <uv.h>

struct wk_job_ctx {
    uv_loop_t *loop;
    const struct sch_job *job;
    struct wk_sandbox *sb;
    struct sch_result *res; /* the result being built; stage-in may add warnings */
    int state_in;           /* set by stage-in: <run dir>/state.in is ready */
    int state_out;          /* set by stage-in: ask the runner to write state.out */
    void *files_priv;       /* private to wk_files.c (e.g. the input listing) */
    void *state_priv;       /* private to wk_state.c */
    /* Work a step leaves running after its callback (the state store after
     * the result is posted, wk_state_save.c): the slot, and so its sandbox,
     * stays busy while tails > 0; each tail, when over, decrements tails
     * and calls tail_done(tail_arg).  tail_done is set by wk_exec.c; a tail
     * never reads job or res (the job may be handed back already). */
    int tails;
    void (*tail_done)(void *arg);
    void *tail_arg;
};

typedef void (*wk_stage_cb)(void *arg, int rc, const char *msg);

/* The whole stage-in / stage-out chains. */
void wk_stage_in(struct wk_job_ctx *ctx, wk_stage_cb cb, void *arg);
void wk_stage_out(struct wk_job_ctx *ctx, wk_stage_cb cb, void *arg);
/* Frees what the steps kept in files_priv/state_priv (after stage-out, or
 * when the job ends early). */
void wk_stage_release(struct wk_job_ctx *ctx);

/* Ends a step: frees `op` (a step's own allocation, which may hold `msg`),
 * then calls cb(arg, rc, msg) with msg copied first (NULL or "" -> NULL). */
void wk_stage_end(void *op, wk_stage_cb cb, void *arg, int rc, const char *msg);

/* The steps (wk_files.c, wk_state.c). */
void wk_files_stage_in(struct wk_job_ctx *ctx, wk_stage_cb cb, void *arg);
void wk_files_stage_out(struct wk_job_ctx *ctx, wk_stage_cb cb, void *arg);
void wk_files_release(struct wk_job_ctx *ctx);
void wk_state_stage_in(struct wk_job_ctx *ctx, wk_stage_cb cb, void *arg);
void wk_state_stage_out(struct wk_job_ctx *ctx, wk_stage_cb cb, void *arg);
void wk_state_release(struct wk_job_ctx *ctx);

#endif
