/*
 * ing_wait.h - holding HTTP requests until a job finishes, without a thread
 * per request.
 *
 * A request that must wait (POST /exec, GET /jobs/{id}?wait=N) registers a
 * waiter for its job id and suspends its MHD connection.  One notifier thread
 * runs a libuv loop with an async hiredis connection SUBSCRIBEd to `ci:done`
 * (see queue/q_keys.h); each message names a finished job, and every waiter
 * of that job is woken (MHD_resume_connection).  The same thread sweeps
 * deadlines every 50 ms and wakes waiters whose time is up.
 *
 * Wake-ups may be spurious (after a Redis reconnect every waiter is woken so
 * that no notice published while unsubscribed is missed): a woken handler
 * always re-reads the job and, if it is not finished and time remains,
 * registers and suspends again.  Registration happens before the handler's
 * own status check, so a notice can never fall between the two.
 *
 * Life of a waiter: ing_wait_register() -> ing_wait_suspend() -> (woken;
 * MHD calls the handler again) -> ing_wait_finish().  If MHD tears the
 * connection down instead, the request's cleanup calls ing_wait_finish().
 * The waiter is owned by the request from register to finish.
 *
 * Thread-safety: all functions may be called from any MHD thread; the table
 * is guarded by one mutex.
 */
#ifndef ING_WAIT_H
#define ING_WAIT_H

#include <microhttpd.h>
#include <stdint.h>

enum ing_wake {
    ING_WAKE_NONE = 0, /* not woken yet */
    ING_WAKE_NOTICE,   /* the job's completion notice (or a recheck) arrived */
    ING_WAKE_DEADLINE, /* the deadline passed */
    ING_WAKE_SHUTDOWN, /* the ingress is stopping */
};

struct ing_waiter;

/* Starts the notifier thread.  Returns 0 once the subscription is confirmed
 * or after 5 s of trying (it keeps retrying in the background), -1 when the
 * thread could not start. */
int ing_wait_start(void);

/* Wakes every waiter with ING_WAKE_SHUTDOWN and joins the thread. */
void ing_wait_stop(void);

/* A waiter for `job_id` on `conn` until `deadline_ms` (ci_mono_us()/1000
 * clock).  Never NULL (aborts on out-of-memory). */
struct ing_waiter *ing_wait_register(const char *job_id, struct MHD_Connection *conn,
                                     int64_t deadline_ms);

/* Suspends the connection; the handler must return MHD_YES right after.  If
 * the waiter was woken in between, the connection is resumed at once. */
void ing_wait_suspend(struct ing_waiter *w);

/* Unregisters and frees the waiter; returns why it was woken. */
enum ing_wake ing_wait_finish(struct ing_waiter *w);

/* Number of registered waiters (for metrics and tests). */
int ing_wait_count(void);

#endif
