/*
 * wk_docker.h - asynchronous Docker Engine API client over the unix socket.
 *
 * Requests go to DOCKER_SOCKET (default /var/run/docker.sock) with the API
 * version prefix /v1.41, through libcurl driven by the libuv loop
 * (wk_curl_uv.h).  Connections to dockerd are kept alive and reused.
 *
 * Loop affinity: a wk_docker belongs to the loop given to wk_docker_new();
 * call every function on that loop's thread.  Callbacks run there too, never
 * from inside the call that started the request.
 *
 * Ownership and bounds:
 *   - every request function copies what it needs (path, body); the caller
 *     keeps ownership of its arguments (wk_docker_create does not steal the
 *     json_t reference).
 *   - the callback's `body` is NUL-terminated, owned by wk_docker and valid
 *     only during the callback.  Bodies are bounded by WK_DOCKER_MAX_BODY;
 *     a larger response fails with -EMSGSIZE.
 *   - each request is bounded in time by DOCKER_TIMEOUT_MS (default 30000);
 *     past it the callback gets -ETIMEDOUT.
 *   - a request that was accepted (return 0) calls its callback exactly once;
 *     a refused one (return < 0) never does.
 *   - wk_docker_close() fails every pending request with -ECANCELED
 *     (synchronously), then frees the client once all its uv handles are
 *     closed and calls `closed_cb`.
 */
#ifndef WK_DOCKER_H
#define WK_DOCKER_H

#include <jansson.h>
#include <stddef.h>
#include <uv.h>

#define WK_DOCKER_API_PREFIX "/v1.41"
#define WK_DOCKER_MAX_BODY (4u << 20)

struct wk_docker;

/* `http_status` is the HTTP status (e.g. 200, 204, 404), or a negative errno
 * on transport failure (-ECONNREFUSED, -ETIMEDOUT, -EMSGSIZE, -ECANCELED,
 * -EIO).  `body` is never NULL ("" when empty). */
typedef void (*wk_docker_cb)(void *arg, int http_status, const char *body, size_t len);

/* Creates a client on `loop` for the socket at DOCKER_SOCKET.  Returns 0 or a
 * negative errno. */
int wk_docker_new(uv_loop_t *loop, struct wk_docker **out);

/* Fails pending requests with -ECANCELED, frees asynchronously; `closed_cb`
 * (may be NULL) runs when done.  No request may be started afterwards. */
void wk_docker_close(struct wk_docker *d, void (*closed_cb)(void *arg), void *arg);

/* Generic request: `method` "GET" | "POST" | "DELETE" | ..., `path` below the
 * version prefix (e.g. "/containers/abc/json"; already URL-safe), optional
 * JSON `json_body` sent with Content-Type: application/json.
 * Returns 0 (cb will run), -EINVAL, -ESHUTDOWN after close, or -EIO. */
int wk_docker_request(struct wk_docker *d, const char *method, const char *path,
                      const char *json_body, wk_docker_cb cb, void *arg);

/* Convenience wrappers.  `id` is a container id or name ([A-Za-z0-9_.-]).
 * POST /containers/create[?name=...] with `config` serialized; 201 on success
 * with {"Id":...} in the body. `name` may be NULL. */
int wk_docker_create(struct wk_docker *d, const char *name, const json_t *config, wk_docker_cb cb,
                     void *arg);
/* POST /containers/{id}/start: 204 started, 304 already started. */
int wk_docker_start(struct wk_docker *d, const char *id, wk_docker_cb cb, void *arg);
/* POST /containers/{id}/kill?signal=... (`signal` NULL = SIGKILL): 204; 409
 * when not running. */
int wk_docker_kill(struct wk_docker *d, const char *id, const char *signal, wk_docker_cb cb,
                   void *arg);
/* DELETE /containers/{id}?force=true&v=true: 204; 404 when already gone. */
int wk_docker_remove(struct wk_docker *d, const char *id, wk_docker_cb cb, void *arg);
/* GET /containers/{id}/json: 200 with the inspect document; 404. */
int wk_docker_inspect(struct wk_docker *d, const char *id, wk_docker_cb cb, void *arg);
/* POST /containers/{id}/wait?condition=not-running: 200 once it has stopped. */
int wk_docker_wait(struct wk_docker *d, const char *id, wk_docker_cb cb, void *arg);
/* GET /_ping: 200 "OK". */
int wk_docker_ping(struct wk_docker *d, wk_docker_cb cb, void *arg);

/* Extracts "Id" from a create response body into a new string (caller
 * frees), or NULL when absent/malformed. */
char *wk_docker_parse_id(const char *body, size_t len);

#endif
