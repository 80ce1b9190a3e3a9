/*
 * wk_curl_uv.h - run libcurl easy transfers on a libuv loop.
 *
 * One curl multi handle driven by curl_multi_socket_action(): curl tells us
 * which sockets to watch (CURLMOPT_SOCKETFUNCTION -> one uv_poll_t per socket)
 * and when to wake it (CURLMOPT_TIMERFUNCTION -> one uv_timer_t).  When a
 * transfer finishes, its completion callback runs on the loop.
 *
 * Loop affinity: a wk_curl_uv belongs to the loop it was created on; every
 * function here must be called on that loop's thread, and every callback runs
 * there.  Nothing is thread-safe.
 *
 * Ownership:
 *   - the caller creates and configures each CURL easy handle and keeps owning
 *     it; wk_curl_uv_add() only lends it.  wk_curl_uv uses CURLOPT_PRIVATE of
 *     the easy handle while it is added: callers must not touch that option.
 *   - after the completion callback (or wk_curl_uv_remove()) the easy handle is
 *     no longer in the multi handle and the caller may curl_easy_cleanup() it,
 *     including from inside the completion callback.
 *   - wk_curl_uv_close() is asynchronous: it aborts every pending transfer
 *     (their callbacks run synchronously with CURLE_ABORTED_BY_CALLBACK), closes
 *     all uv handles and frees the struct from the last uv_close callback,
 *     then calls `closed_cb`.  The loop must keep running until then.
 */
#ifndef WK_CURL_UV_H
#define WK_CURL_UV_H

#include <curl/curl.h>
#include <uv.h>

struct wk_curl_uv;

/* Called once per transfer when it is done; `result` is curl's code
 * (CURLE_OK when an HTTP response, of any status, was received). */
typedef void (*wk_curl_done_cb)(void *arg, CURL *easy, CURLcode result);

/* Creates the driver on `loop`.  Returns 0 or -ENOMEM / -EIO. */
int wk_curl_uv_new(uv_loop_t *loop, struct wk_curl_uv **out);

/* Starts `easy` (configured by the caller).  `cb` runs exactly once, later,
 * from the loop (never from inside this call).  Returns 0, -ESHUTDOWN after
 * wk_curl_uv_close(), or -EIO when curl refuses the handle (no callback then). */
int wk_curl_uv_add(struct wk_curl_uv *cu, CURL *easy, wk_curl_done_cb cb, void *arg);

/* Stops a pending transfer without calling its callback.  Returns 0 or
 * -ENOENT when `easy` is not pending here. */
int wk_curl_uv_remove(struct wk_curl_uv *cu, CURL *easy);

/* Number of transfers pending. */
unsigned wk_curl_uv_pending(const struct wk_curl_uv *cu);

/* Aborts pending transfers and frees everything asynchronously (see above).
 * `closed_cb` may be NULL.  Call at most once. */
void wk_curl_uv_close(struct wk_curl_uv *cu, void (*closed_cb)(void *arg), void *arg);

#endif
