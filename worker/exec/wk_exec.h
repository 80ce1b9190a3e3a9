/*
 * wk_exec.h - the worker's job loop: slots, each taking one delivered job
 * through sandbox open -> run -> result -> teardown.
 *
 * A worker has WORKER_CONCURRENCY slots.  The queue consumer (q_consumer.h)
 * delivers at most as many jobs as there are free slots.  For each job:
 *
 *   1. a sandbox for the job's language is opened (wk_sandbox.h) and bound
 *      to the job's session: a container never serves two sessions;
 *   2. the program runs under the job's time limit;
 *   3. stdout/stderr are sanitized and capped (sch_output.h) and the result
 *      is posted (first write wins, completion notice published);
 *   4. the sandbox is destroyed and the slot asks for another job.
 *
 * A sandbox that cannot start or breaks mid-run is an infrastructure
 * failure: the job goes back to the queue with backoff (q_consumer_fail),
 * and is dead-lettered after MAX_ATTEMPTS.  Unless the Docker engine itself
 * does not answer /_ping at that moment (stopped, restarting): then the job
 * is requeued with its attempt given back (q_consumer_defer) and the
 * worker takes no jobs until a ping, every second, succeeds again - an
 * engine outage never kills jobs, and other workers take them meanwhile.  A program that fails, times out
 * or runs out of memory is a result, never a retry.
 *
 * Everything runs on the worker's one uv loop.
 */
#ifndef WK_EXEC_H
#define WK_EXEC_H

#include "wk_docker.h"

#include <uv.h>

struct wk_exec;

/* Starts the consumer and the slots.  Returns 0 or a negative errno. */
int wk_exec_start(uv_loop_t *loop, struct wk_docker *docker, struct wk_exec **out);

/* Stops taking jobs; jobs in hand run to their end (bounded by their time
 * limit) and post their results; then `done` runs and the wk_exec is freed. */
void wk_exec_stop(struct wk_exec *ex, void (*done)(void *arg), void *arg);

/* Jobs currently in hand. */
int wk_exec_busy(const struct wk_exec *ex);

#endif
