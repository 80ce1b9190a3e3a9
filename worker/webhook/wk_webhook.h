/*
 * wk_webhook.h - the worker's webhook delivery loop (docs/webhooks.md).
 *
 * Apart from the job slots: its own libcurl multi on the worker's loop
 * (wk_curl_uv.h) and its own hiredis async connection, so a slow or dead
 * receiver never holds a code run.  Every WEBHOOK_POLL_MS it claims due
 * deliveries (q_webhook.h: a script with a lease, safe with any number of
 * workers), POSTs each signed body, and records the outcome with the finish
 * script: 2xx delivered, 410 gone (stop), refused by the address guard
 * (wk_webhook_guard.h) refused, anything else a retry after
 * min(WEBHOOK_RETRY_BASE_MS * 2^(attempt-1), WEBHOOK_RETRY_MAX_MS) with
 * +-25 % jitter, until WEBHOOK_MAX_AGE_SECONDS after the event: failed.
 * A worker that dies mid-delivery loses nothing: the claim's lease
 * (WEBHOOK_LEASE_MS) brings the delivery due again; receivers dedupe with
 * the stable webhook-id.
 *
 * Lifecycle: start once per process after the loop exists; stop claims no
 * more, lets the deliveries in flight end (bounded by WEBHOOK_TIMEOUT_MS)
 * and record their outcome, closes everything and calls `done`.
 * Loop affinity: the worker's loop thread only.
 */
#ifndef WK_WEBHOOK_H
#define WK_WEBHOOK_H

#include <uv.h>

struct wk_webhook;

/* Returns 0 (also when webhooks are switched off: WEBHOOK_CONCURRENCY=0)
 * or a negative errno (bad WEBHOOK_ALLOW_CIDRS: -EINVAL). */
int wk_webhook_start(uv_loop_t *loop, struct wk_webhook **out);

/* `wh` may be NULL (then done runs at once). */
void wk_webhook_stop(struct wk_webhook *wh, void (*done)(void *arg), void *arg);

#endif
