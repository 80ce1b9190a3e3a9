/*
 * ing_request.h - the state of one HTTP request while MHD serves it, and the
 * route table's types.
 *
 * An ing_request is allocated on MHD's first call for a connection's request
 * (stored in *con_cls), owned by the server, and freed by the
 * request-completed callback (ing_server.c), which also releases a waiter
 * that is still registered.  Handlers run on the MHD thread serving the
 * connection; a handler may be called more than once for one request when it
 * suspends the connection to wait (ing_wait.h) and is resumed.
 */
#ifndef ING_REQUEST_H
#define ING_REQUEST_H

#include "ing_auth.h"
#include "ing_reply.h"

#include <microhttpd.h>
#include <stddef.h>
#include <stdint.h>

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
    int public_route;    /* no API key needed */
    enum ing_body_kind body;
    const char *name;    /* for metrics and logs: "POST /jobs/{id}" */
};

#define ING_MAX_PARAMS 3
#define ING_PARAM_MAX 128

struct ing_request {
    struct MHD_Connection *conn;
    const struct ing_route *route;
    const struct ing_route *matched; /* route the path matched, even if refused (metrics) */
    char params[ING_MAX_PARAMS][ING_PARAM_MAX + 1];
    char request_id[33];
    char owner[ING_OWNER_LEN + 1]; /* the tenant: key identity or JWT tenant (ing_auth.h) */
    char jwt_user[4 * ING_JWT_SUB_MAX + 1]; /* JWT mode: the token's sub */
    int user_fixed;                /* 1 in JWT mode: jwt_user is the user, whatever is asserted */
    char user_tag[17];             /* ci_user_tag() of the request's user once known ("" anon) */
    char hint_hex[33];             /* digest of a runtime_session_hint that applies (ing_profile.h) */
    char runtime_status[8];        /* "new" / "reused" once the hint's session is chosen, else "" */
    char key_prefix[9];
    char client_ip[64];
    int64_t started_us;

    /* security gate (ing_sec.h) */
    char endpoint[112];   /* "METHOD /path" for audit lines */
    int admin;            /* authenticated with ADMIN_API_KEY */
    long rl_limit, rl_remaining, rl_reset; /* X-RateLimit-*; rl_limit 0 = none */
    char lang[8];         /* language of the submitted job, for the audit */

    /* JSON body, NUL-terminated */
    char *body;
    size_t body_len, body_cap, body_max;
    int body_too_large;
    uint64_t received;     /* body bytes read so far, kept or not */
    struct ing_held held;  /* a refusal waiting for the body to be drained */

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

#endif
