/*
 * ing_http.h - the HTTP edge: the libmicrohttpd daemon, one request's state
 * and the route table, replies and the error shape, the user a request acts
 * for.
 *
 * Sections, in order: replies (ing_reply.c); requests and routes
 * (ing_server.c, ing_routes.c); the user (ing_user.c); the route handlers
 * the table names that no module header of their own declares; the daemon
 * (ing_server.c).
 */
#ifndef ING_HTTP_H
#define ING_HTTP_H

#include "ing_sec.h"
#include "sch_validate.h"

#include <jansson.h>
#include <microhttpd.h>
#include <stddef.h>
#include <stdint.h>

/*
 * ---- Replies (ing_reply.c) ----
 *
 * Building and queueing HTTP responses.
 *
 * Every response carries the security headers of the spec
 * (X-Content-Type-Options, X-Frame-Options, X-XSS-Protection,
 * Strict-Transport-Security, Content-Security-Policy, Referrer-Policy) and
 * X-Request-ID.  Errors use the one JSON shape of DESIGN.md §4.3:
 *   {"error","error_type","details":[{"field","message"}],"request_id","timestamp"}
 *
 * Called from MHD handler threads only, on the connection being served.
 * Functions return MHD_YES when the response was queued, MHD_NO otherwise
 * (MHD then closes the connection).
 */

/* Queues `len` bytes of `body` (malloc'd; ownership passes to MHD, also on
 * failure) with `content_type`.  `retry_after` > 0 adds Retry-After. */
enum MHD_Result ing_reply_buf(struct MHD_Connection *c, unsigned status, char *body, size_t len,
                              const char *content_type, const char *request_id, int retry_after);

/* Serializes `obj` (reference stolen) as the JSON body. */
enum MHD_Result ing_reply_json(struct MHD_Connection *c, unsigned status, json_t *obj,
                               const char *request_id);

/* The error shape; `errs` may be NULL; `retry_after` > 0 adds Retry-After.
 * A 429 carries "error":"rate_limited" (what LibreChat reads), the text in
 * "message" and "retry_after_seconds" besides the shape's other fields. */
enum MHD_Result ing_reply_error(struct MHD_Connection *c, unsigned status, const char *error_type,
                                const char *message, const struct sch_errors *errs,
                                const char *request_id, int retry_after);

/* A response held back instead of queued (ing_server.c: a refusal decided
 * before an Expect-less client's body was read is answered only once that
 * body has been drained, so the client can read it). */
struct ing_held {
    struct MHD_Connection *conn;
    struct MHD_Response *resp; /* owned; NULL until a reply is held */
    unsigned status;
};

/* While `h` is set on the calling thread, the first response for h->conn
 * is stored in h instead of queued (the reply functions return MHD_YES);
 * NULL stops holding.  The caller queues or destroys h->resp. */
void ing_reply_hold(struct ing_held *h);

/* Adds the security headers to a response built elsewhere (downloads). */
void ing_reply_add_security_headers(struct MHD_Response *r, const char *request_id);

/*
 * ---- Requests and routes (ing_server.c, ing_routes.c) ----
 *
 * The state of one HTTP request while MHD serves it, and the
 * route table's types.
 *
 * An ing_request is allocated on MHD's first call for a connection's request
 * (stored in *con_cls), owned by the server, and freed by the
 * request-completed callback (ing_server.c), which also releases a waiter
 * that is still registered.  Handlers run on the MHD thread serving the
 * connection; a handler may be called more than once for one request when it
 * suspends the connection to wait (ing_wait.h) and is resumed.
 */

struct ing_request;
struct ing_waiter;

typedef enum MHD_Result (*ing_handler_fn)(struct ing_request *req);

enum ing_body_kind {
    ING_BODY_NONE = 0, /* GET/DELETE: a body is ignored */
    ING_BODY_JSON,     /* application/json, read whole up to max_body */
    ING_BODY_MULTIPART /* multipart/form-data, streamed to the handler */
};

struct ing_route {
    const char *method;
    const char *pattern; /* "/jobs/{}": each {} captures one path segment */
    ing_handler_fn handler;
    int public_route; /* no API key needed */
    enum ing_body_kind body;
    const char *name; /* for metrics and logs: "POST /jobs/{id}" */
};

#define ING_MAX_PARAMS 3
#define ING_PARAM_MAX 128

struct ing_request {
    struct MHD_Connection *conn;
    const struct ing_route *route;
    const struct ing_route *matched; /* route the path matched, even if refused (metrics) */
    char params[ING_MAX_PARAMS][ING_PARAM_MAX + 1];
    char request_id[33];
    char owner[ING_OWNER_LEN + 1];          /* the tenant: key identity or JWT tenant (ing_sec.h) */
    char jwt_user[4 * ING_JWT_SUB_MAX + 1]; /* JWT mode: the token's sub */
    int user_fixed;         /* 1 in JWT mode: jwt_user is the user, whatever is asserted */
    char user_tag[17];      /* ci_user_tag() of the request's user once known ("" anon) */
    char hint_hex[33];      /* digest of a runtime_session_hint that applies (ing_profile.h) */
    char runtime_status[8]; /* "new" / "reused" once the hint's session is chosen, else "" */
    char key_prefix[9];
    char client_ip[64];
    int64_t started_us;

    /* security gate (ing_sec.h) */
    char endpoint[112];                    /* "METHOD /path" for audit lines */
    int admin;                             /* authenticated with ADMIN_API_KEY */
    long rl_limit, rl_remaining, rl_reset; /* X-RateLimit-*; rl_limit 0 = none */
    char lang[8];                          /* language of the submitted job, for the audit */

    /* JSON body, NUL-terminated */
    char *body;
    size_t body_len, body_cap, body_max;
    int body_too_large;
    uint64_t received;    /* body bytes read so far, kept or not */
    struct ing_held held; /* a refusal waiting for the body to be drained */

    /* waiting for a job */
    struct ing_waiter *waiter;
    int64_t deadline_ms; /* monotonic ms */
    char job_id[65];
    char session_id[65];
    int enqueued;
    const char *idem_key; /* Idempotency-Key claimed by this request (MHD-owned) */
    /* programmatic tool calling (ing_ptc.c); strings owned, freed with the request */
    char *ptc_tools;        /* first call: the validated tools, JSON text */
    int ptc_round;          /* answer a pause at a round above this one */
    int64_t ptc_timeout_ms; /* the run's timeout (bounds each wait) */
    char ptc_worker[128];   /* continuation: the worker holding the program */
    char *ptc_pushed;       /* continuation: the message pushed to its list */
    int64_t ptc_pushed_ms;

    /* per-handler scratch, freed by `scratch_free` when set */
    void *scratch;
    void (*scratch_free)(void *);
};

/* The route table, terminated by a NULL method (ing_routes.c). */
extern const struct ing_route ing_routes[];

/* Finds the route for method+path; fills req->params.  Returns the route,
 * or NULL with *method_mismatch = 1 when the path exists under another method. */
const struct ing_route *ing_route_match(const char *method, const char *path,
                                        char params[ING_MAX_PARAMS][ING_PARAM_MAX + 1],
                                        int *method_mismatch);

/* A query-string argument of the request, or NULL. */
const char *ing_query(struct ing_request *req, const char *name);

/*
 * ---- The user (ing_user.c) ----
 *
 * The user a request acts for, inside its tenant (DESIGN.md §4).
 *
 * JWT mode: the token's `sub`, always (req->user_fixed; whatever the request
 * asserts is ignored).  Key mode: the key holder asserts it, first found of
 *   1. the body's `user_id` (POST /exec, /jobs, each /jobs/batch item),
 *   2. the `User-Id` header (LibreChat's uploads),
 *   3. the query `id` when the query says `kind=user` (LibreChat's file routes),
 *   4. the query `user_id` (older clients' file routes);
 * none of them: the key's own anonymous user "" - never a wildcard.
 * A user id is 1..128 UTF-8 characters without control characters; an
 * invalid one is a 422 naming where it came from.
 *
 * MHD threads; the strings returned point into the request (MHD-owned
 * header/query values or req->jwt_user) and live as long as it.
 */

#define ING_USER_MAX (4 * 128)

/* The request's user: "" for the anonymous user.  `body_user` is the
 * body's user_id (NULL when absent or not applicable).  Returns 0 with
 * *user set, or -1 after queueing a 422 into *ret. */
int ing_user_of(struct ing_request *req, const char *body_user, const char **user,
                enum MHD_Result *ret);

/* 1 when s[0..n) is 1..max_chars UTF-8 characters with no NUL and no
 * control character (the rule of user ids and of JWT sub/tenant claims). */
int ing_text_valid(const char *s, size_t n, size_t max_chars);

/* 1 when s is a valid user id (rules above). */
int ing_user_valid(const char *s);

/*
 * ---- Route handlers: the job routes and /health ----
 *
 * One file per group of routes: ing_jobs.c, ing_ptc.c, ing_batch.c,
 * ing_webhooks.c (ingress/jobs/), ing_health.c (ingress/metrics/).
 *
 * Each is called on an MHD thread with the request fully read (body
 * NUL-terminated in req->body for JSON routes) and authenticated when the
 * route requires it.  A handler queues exactly one response, or suspends the
 * connection through ing_wait.h and is called again when woken.
 */

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

/*
 * ---- The daemon (ing_server.c) ----
 *
 * The libmicrohttpd daemon: request intake, authentication,
 * body limits, routing.
 *
 * ing_server_start() starts MHD with its own pool of ing_cfg.threads polling
 * threads (epoll) and suspend/resume enabled; ing_server_stop() stops
 * accepting, wakes waiting requests and stops the daemon.  Both are called
 * from main() only.
 */

int ing_server_start(void);
/* Stops accepting new connections (MHD quiesce) but keeps serving. */
void ing_server_quiesce(void);
void ing_server_stop(void);

#endif
