/*
 * ing_metrics.c - request counters and latency histograms of this ingress,
 * and the GET /metrics handler (ing_metrics.h).
 */
#include "ing_metrics.h"

#include "ci_log.h"
#include "ci_util.h"
#include "ing_http.h"
#include "ing_metrics_int.h"
#include "ing_redis.h"
#include "ing_wait.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define M_MAX_ROUTES 64 /* route table entries counted; one more for "unmatched" */
#define M_MAX_STATUS 16 /* distinct statuses per route; later ones go to status "other" */

/* Histogram bucket upper bounds, seconds (Prometheus' default set plus 30/60
 * for /exec and long polls). */
static const double bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                0.5,   1,      2.5,   5,    10,    30,   60};
#define M_NBUCKETS (sizeof bounds / sizeof bounds[0])

struct m_route {
    unsigned status[M_MAX_STATUS];
    uint64_t count[M_MAX_STATUS];
    uint64_t other;
    uint64_t bucket[M_NBUCKETS]; /* not cumulative; summed at render */
    uint64_t total;
    double sum_s;
};

static pthread_mutex_t m_lock = PTHREAD_MUTEX_INITIALIZER;
static struct m_route m_routes[M_MAX_ROUTES + 1];

static size_t route_index(const struct ing_route *route)
{
    if (!route)
        return M_MAX_ROUTES;
    size_t i = (size_t)(route - ing_routes);
    return i < M_MAX_ROUTES ? i : M_MAX_ROUTES;
}

void ing_metrics_observe(const struct ing_route *route, unsigned status, int64_t duration_us)
{
    double s = duration_us > 0 ? (double)duration_us / 1e6 : 0;
    pthread_mutex_lock(&m_lock);
    struct m_route *m = &m_routes[route_index(route)];
    int done = 0;
    for (int i = 0; i < M_MAX_STATUS && !done; i++) {
        if (m->count[i] == 0 || m->status[i] == status) {
            m->status[i] = status;
            m->count[i]++;
            done = 1;
        }
    }
    if (!done)
        m->other++;
    size_t b = 0;
    while (b < M_NBUCKETS && s > bounds[b])
        b++;
    if (b < M_NBUCKETS)
        m->bucket[b]++;
    m->total++;
    m->sum_s += s;
    pthread_mutex_unlock(&m_lock);
}

void ing_prom_label(FILE *f, const char *s)
{
    if (!s)
        s = "";
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            fputc('\\', f), fputc(*s, f);
        else if (*s == '\n')
            fputs("\\n", f);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

static const char *route_name(size_t i)
{
    return i < M_MAX_ROUTES && ing_routes[i].method ? ing_routes[i].name : "unmatched";
}

static size_t nroutes(void)
{
    size_t n = 0;
    while (n < M_MAX_ROUTES && ing_routes[n].method)
        n++;
    return n;
}

static void render_requests(FILE *f)
{
    struct m_route *snap = ci_xmalloc(sizeof m_routes);
    size_t n = nroutes();
    pthread_mutex_lock(&m_lock);
    memcpy(snap, m_routes, sizeof m_routes);
    pthread_mutex_unlock(&m_lock);
    fputs("# HELP ci_http_requests_total HTTP requests answered by this ingress, by route and "
          "status (status 0: the client left before an answer).\n"
          "# TYPE ci_http_requests_total counter\n",
          f);
    for (size_t r = 0; r <= M_MAX_ROUTES; r++) {
        if (r == n)
            r = M_MAX_ROUTES; /* skip the unused slots up to "unmatched" */
        const struct m_route *m = &snap[r];
        for (int i = 0; i < M_MAX_STATUS && m->count[i]; i++) {
            fputs("ci_http_requests_total{route=", f);
            ing_prom_label(f, route_name(r));
            fprintf(f, ",status=\"%u\"} %llu\n", m->status[i], (unsigned long long)m->count[i]);
        }
        if (m->other) {
            fputs("ci_http_requests_total{route=", f);
            ing_prom_label(f, route_name(r));
            fprintf(f, ",status=\"other\"} %llu\n", (unsigned long long)m->other);
        }
    }
    fputs("# HELP ci_http_request_duration_seconds Time from the request's first byte to its "
          "end, by route.\n"
          "# TYPE ci_http_request_duration_seconds histogram\n",
          f);
    for (size_t r = 0; r <= M_MAX_ROUTES; r++) {
        if (r == n)
            r = M_MAX_ROUTES;
        const struct m_route *m = &snap[r];
        if (!m->total)
            continue;
        uint64_t cum = 0;
        for (size_t b = 0; b < M_NBUCKETS; b++) {
            cum += m->bucket[b];
            fputs("ci_http_request_duration_seconds_bucket{route=", f);
            ing_prom_label(f, route_name(r));
            fprintf(f, ",le=\"%g\"} %llu\n", bounds[b], (unsigned long long)cum);
        }
        fputs("ci_http_request_duration_seconds_bucket{route=", f);
        ing_prom_label(f, route_name(r));
        fprintf(f, ",le=\"+Inf\"} %llu\n", (unsigned long long)m->total);
        fputs("ci_http_request_duration_seconds_sum{route=", f);
        ing_prom_label(f, route_name(r));
        fprintf(f, "} %.6f\n", m->sum_s);
        fputs("ci_http_request_duration_seconds_count{route=", f);
        ing_prom_label(f, route_name(r));
        fprintf(f, "} %llu\n", (unsigned long long)m->total);
    }
    fprintf(f,
            "# HELP ci_http_waiting_requests Requests of this ingress suspended until their "
            "job ends.\n# TYPE ci_http_waiting_requests gauge\nci_http_waiting_requests %d\n",
            ing_wait_count());
    free(snap);
}

enum MHD_Result ing_h_metrics(struct ing_request *req)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return ing_reply_error(req->conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal_error",
                               "out of memory", NULL, req->request_id, 0);
    render_requests(f);
    redisContext *c = ing_redis();
    int up = c && ing_metrics_render_fleet(f, c) == 0;
    if (c && !up)
        ing_redis_reset();
    fprintf(f,
            "# HELP ci_redis_up 1 when this ingress reached Redis for this scrape.\n"
            "# TYPE ci_redis_up gauge\nci_redis_up %d\n",
            up);
    if (fclose(f) != 0 || !buf) {
        free(buf);
        return ing_reply_error(req->conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal_error",
                               "cannot render the metrics", NULL, req->request_id, 0);
    }
    return ing_reply_buf(req->conn, MHD_HTTP_OK, buf, len, "text/plain; version=0.0.4",
                         req->request_id, 0);
}
