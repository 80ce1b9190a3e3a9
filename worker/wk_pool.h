/*
 * wk_pool.h - where sandboxes come from and go to.
 *
 * wk_pool_acquire() hands out a sandbox for a job's language, bound to the
 * job's session: a container serves at most one session, ever.
 * wk_pool_release() gives it back after the job; `reusable` says the run
 * ended cleanly (the pool may keep it for the *same* session for a bounded
 * idle time, or destroy it).
 *
 * Current implementation: no warm pool yet; acquire opens a fresh sandbox
 * (wk_sandbox_open) and release destroys it.
 *
 * Loop affinity: the worker's loop; callbacks never run inside the call.
 */
#ifndef WK_POOL_H
#define WK_POOL_H

#include "sch_types.h"
#include "wk_docker.h"
#include "wk_sandbox.h"

#include <uv.h>

struct wk_pool;

int wk_pool_new(uv_loop_t *loop, struct wk_docker *docker, struct wk_pool **out);

/* Starts acquiring.  Returns 0 with *out set to the sandbox (not yet ready:
 * `cb` reports when it is, or why it failed; the caller may kill it meanwhile
 * with wk_sandbox_kill), or a negative errno (no callback). */
int wk_pool_acquire(struct wk_pool *p, const struct sch_job *job, wk_sandbox_ready_cb cb,
                    void *arg, struct wk_sandbox **out);

/* Hands the sandbox back.  Never use `sb` afterwards. */
void wk_pool_release(struct wk_pool *p, struct wk_sandbox *sb, int reusable);

/* Destroys every pooled sandbox, then frees the pool and calls done. */
void wk_pool_close(struct wk_pool *p, void (*done)(void *arg), void *arg);

#endif
