/*
 * ing_handlers.h - the route handlers (one file per group of routes).
 *
 * Each is called on an MHD thread with the request fully read (body
 * NUL-terminated in req->body for JSON routes) and authenticated when the
 * route requires it.  A handler queues exactly one response, or suspends the
 * connection through ing_wait.h and is called again when woken.
 */
#ifndef ING_HANDLERS_H
#define ING_HANDLERS_H

#include "ing_http.h"

enum MHD_Result ing_h_health(struct ing_request *req);
enum MHD_Result ing_h_health_detailed(struct ing_request *req);
enum MHD_Result ing_h_exec(struct ing_request *req);
/* POST /exec/programmatic and its cancel (ing_ptc.c, docs/ptc.md). */
enum MHD_Result ing_h_ptc(struct ing_request *req);
enum MHD_Result ing_h_ptc_cancel(struct ing_request *req);
/* /exec's and /jobs' intake (ing_jobs.c): validate, choose the session,
 * enqueue; 0, 1 (an Idempotency-Key replay) or -1 with *ret queued. */
int ing_jobs_submit(struct ing_request *req, enum MHD_Result *ret);
enum MHD_Result ing_h_jobs_submit(struct ing_request *req);
enum MHD_Result ing_h_jobs_get(struct ing_request *req);
enum MHD_Result ing_h_jobs_cancel(struct ing_request *req);
/* ing_batch.c, ing_webhooks.c */
enum MHD_Result ing_h_jobs_batch_submit(struct ing_request *req);
enum MHD_Result ing_h_jobs_batch_get(struct ing_request *req);
enum MHD_Result ing_h_webhooks_secret(struct ing_request *req);

#endif
