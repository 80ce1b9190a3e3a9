#include "ing_http.h"

#include "ci_log.h"
#include "ci_util.h"
#include "ing_config.h"
#include "ing_files.h"
#include "ing_metrics.h"
#include "ing_sec.h"
#include "ing_wait.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static struct MHD_Daemon *daemon_;

const char *ing_query(struct ing_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

static void client_ip(struct MHD_Connection *conn, char *out, size_t outsz)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(out, outsz, "unknown");
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)outsz);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out,
                  (socklen_t)outsz);
}

static struct ing_request *request_new(struct MHD_Connection *conn)
{
    struct ing_request *req = ci_xcalloc(1, sizeof *req);
    req->conn = conn;
    req->started_us = ci_mono_us();
    const char *given = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-ID");
    size_t glen = given ? strlen(given) : 0;
    int ok = glen > 0 && glen < sizeof req->request_id;
    for (size_t i = 0; ok && i < glen; i++)
        ok = (given[i] >= '0' && given[i] <= '9') || (given[i] >= 'a' && given[i] <= 'z') ||
             (given[i] >= 'A' && given[i] <= 'Z') || given[i] == '-' || given[i] == '_';
    if (ok)
        memcpy(req->request_id, given, glen + 1);
    else
        ci_random_hex(req->request_id, 16);
    client_ip(conn, req->client_ip, sizeof req->client_ip);
    return req;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct ing_request *req = *con_cls;
    if (!req)
        return;
    ing_sec_forget(req);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_HTTP_STATUS);
    ing_metrics_observe(req->matched, ci ? ci->http_status : 0, ci_mono_us() - req->started_us);
    if (req->waiter)
        ing_wait_finish(req->waiter);
    if (req->held.resp)
        MHD_destroy_response(req->held.resp);
    if (req->scratch_free)
        req->scratch_free(req->scratch);
    free(req->body);
    free(req->ptc_tools);
    free(req->ptc_pushed);
    free(req);
    *con_cls = NULL;
}

/* First call for a request: route, authenticate, check the body's type and
 * announced size.  Returns MHD_YES to go on reading, or the result of
 * queueing an error (req->route stays NULL then). */
static enum MHD_Result begin(struct ing_request *req, const char *method, const char *url,
                             int *replied)
{
    int mismatch;
    *replied = 1;
    const struct ing_route *route = ing_route_match(method, url, req->params, &mismatch);
    req->matched = route;
    enum MHD_Result refused;
    if (ing_sec_gate(req, route, method, url, &refused)) /* auth, limits, audit: ing_sec.h */
        return refused;
    if (!route) {
        if (mismatch)
            return ing_reply_error(req->conn, MHD_HTTP_METHOD_NOT_ALLOWED,
                                   "method_not_allowed", "method not allowed on this route",
                                   NULL, req->request_id, 0);
        return ing_reply_error(req->conn, MHD_HTTP_NOT_FOUND, "not_found", "no such route", NULL,
                               req->request_id, 0);
    }
    if (route->body == ING_BODY_JSON) {
        const char *ct = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_TYPE);
        if (!ct || strncasecmp(ct, "application/json", 16) != 0 ||
            (ct[16] != '\0' && ct[16] != ';' && ct[16] != ' '))
            return ing_reply_error(req->conn, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                   "unsupported_media_type",
                                   "Content-Type must be application/json", NULL,
                                   req->request_id, 0);
        req->body_max = ing_cfg.limits.max_body_bytes;
        const char *cl = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > req->body_max)
            return ing_reply_error(req->conn, MHD_HTTP_CONTENT_TOO_LARGE, "payload_too_large",
                                   "request body too large", NULL, req->request_id, 0);
    }
    if (route->body == ING_BODY_MULTIPART && ing_upload_begin(req, &refused) != 0)
        return refused; /* ing_files.h: streamed multipart intake */
    req->route = route;
    *replied = 0;
    return MHD_YES;
}

/* A refused request's body is read and discarded up to this many bytes
 * before the refusal is answered: twice MAX_BODY_BYTES, at least 8 MiB.
 * Beyond it (announced or sent) the connection is closed instead. */
static uint64_t discard_max(void)
{
    uint64_t m = 2 * (uint64_t)ing_cfg.limits.max_body_bytes;
    return m < ((uint64_t)8 << 20) ? (uint64_t)8 << 20 : m;
}

/* 1 when a refusal decided before the body is read must wait for the body:
 * the request announces one (Content-Length > 0 or chunked), within
 * discard_max(), and did not ask for "Expect: 100-continue" (those clients
 * read an early answer and never send the body; the others, Node's fetch,
 * Python's requests and urllib, send it all first and would meet a
 * connection reset). */
static int must_drain_first(struct MHD_Connection *conn)
{
    const char *ex = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
    const char *cl =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    const char *te =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    if (ex && strcasecmp(ex, "100-continue") == 0)
        return 0;
    if (te && strcasestr(te, "chunked"))
        return 1;
    unsigned long long n = cl ? strtoull(cl, NULL, 10) : 0;
    return n > 0 && n <= discard_max();
}

static void body_append(struct ing_request *req, const char *data, size_t len)
{
    if (req->body_too_large || req->route->body != ING_BODY_JSON)
        return;
    if (req->body_len + len > req->body_max) {
        req->body_too_large = 1;
        return;
    }
    ci_buf_append(&req->body, &req->body_len, &req->body_cap, data, len);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    struct ing_request *req = *con_cls;
    if (!req) {
        req = request_new(conn);
        *con_cls = req;
        ing_sec_set_current(req); /* for X-RateLimit-* on whatever reply follows */
        int replied;
        if (must_drain_first(conn)) { /* a refusal is held until the body is read */
            req->held.conn = conn;
            ing_reply_hold(&req->held);
        }
        enum MHD_Result r = begin(req, method, url, &replied);
        ing_reply_hold(NULL);
        return replied && !req->held.resp ? r : MHD_YES;
    }
    ing_sec_set_current(req);
    if (*upload_data_size) {
        req->received += *upload_data_size;
        if ((!req->route || req->body_too_large) && req->received > discard_max())
            return MHD_NO; /* past the discard bound: close the connection */
    }
    if (!req->route) { /* refused at the start: drain, then answer the held refusal */
        if (*upload_data_size || !req->held.resp)
            return (*upload_data_size = 0, MHD_YES);
        enum MHD_Result r = MHD_queue_response(conn, req->held.status, req->held.resp);
        MHD_destroy_response(req->held.resp);
        req->held.resp = NULL;
        return r;
    }
    if (*upload_data_size) {
        if (req->route->body == ING_BODY_MULTIPART)
            ing_upload_feed(req, upload_data, *upload_data_size);
        else
            body_append(req, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (req->body_too_large)
        return ing_reply_error(conn, MHD_HTTP_CONTENT_TOO_LARGE, "payload_too_large",
                               "request body too large", NULL, req->request_id, 0);
    return req->route->handler(req);
}

int ing_server_start(void)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)ing_cfg.port)};
    if (inet_pton(AF_INET, ing_cfg.bind, &addr.sin_addr) != 1) {
        log_error("HOST=%s is not an IPv4 address", ing_cfg.bind);
        return -1;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG | MHD_USE_TURBO;
    daemon_ = MHD_start_daemon(
        flags, (uint16_t)ing_cfg.port, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&addr, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)ing_cfg.threads,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)ing_cfg.max_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
        NULL, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)64 * 1024, MHD_OPTION_LISTEN_BACKLOG_SIZE,
        (unsigned)1024, MHD_OPTION_END);
    if (!daemon_) {
        log_error("cannot start the HTTP server on %s:%d", ing_cfg.bind, ing_cfg.port);
        return -1;
    }
    log_info("listening on %s:%d with %d threads", ing_cfg.bind, ing_cfg.port, ing_cfg.threads);
    return 0;
}

void ing_server_quiesce(void)
{
    if (daemon_) {
        MHD_socket s = MHD_quiesce_daemon(daemon_);
        if (s != MHD_INVALID_SOCKET)
            close(s);
    }
}

void ing_server_stop(void)
{
    if (!daemon_)
        return;
    MHD_stop_daemon(daemon_);
    daemon_ = NULL;
}
