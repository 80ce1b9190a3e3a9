/*
 * ing_routes.c - the route table and the matcher.
 */
#include "ing_files.h"
#include "ing_http.h"
#include "ing_metrics.h"
#include "ing_openapi.h"
#include "ing_sec.h"

#include <string.h>

const struct ing_route ing_routes[] = {
    {"GET", "/health", ing_h_health, 1, ING_BODY_NONE, "GET /health"},
    {"GET", "/health/detailed", ing_h_health_detailed, 0, ING_BODY_NONE, "GET /health/detailed"},
    {"POST", "/exec", ing_h_exec, 0, ING_BODY_JSON, "POST /exec"},
    {"POST", "/exec/programmatic", ing_h_ptc, 0, ING_BODY_JSON, "POST /exec/programmatic"},
    {"POST", "/exec/programmatic/cancel", ing_h_ptc_cancel, 0, ING_BODY_JSON,
     "POST /exec/programmatic/cancel"},
    {"POST", "/jobs", ing_h_jobs_submit, 0, ING_BODY_JSON, "POST /jobs"},
    /* batches and webhook secrets (ing_batch.c, ing_webhooks.c) */
    {"POST", "/jobs/batch", ing_h_jobs_batch_submit, 0, ING_BODY_JSON, "POST /jobs/batch"},
    {"GET", "/jobs/batch/{}", ing_h_jobs_batch_get, 0, ING_BODY_NONE, "GET /jobs/batch/{id}"},
    {"POST", "/webhooks/secret", ing_h_webhooks_secret, 0, ING_BODY_NONE, "POST /webhooks/secret"},
    {"GET", "/jobs/{}", ing_h_jobs_get, 0, ING_BODY_NONE, "GET /jobs/{id}"},
    {"DELETE", "/jobs/{}", ing_h_jobs_cancel, 0, ING_BODY_NONE, "DELETE /jobs/{id}"},
    /* files (ing_files.h) */
    {"POST", "/upload", ing_h_upload, 0, ING_BODY_MULTIPART, "POST /upload"},
    {"POST", "/upload/batch", ing_h_upload, 0, ING_BODY_MULTIPART, "POST /upload/batch"},
    {"GET", "/files/{}", ing_h_files_list, 0, ING_BODY_NONE, "GET /files/{session_id}"},
    {"DELETE", "/files/{}/{}", ing_h_files_delete, 0, ING_BODY_NONE,
     "DELETE /files/{session_id}/{file_id}"},
    {"GET", "/download/{}/{}", ing_h_files_download, 0, ING_BODY_NONE,
     "GET /download/{session_id}/{file_id}"},
    {"GET", "/sessions/{}/objects/{}", ing_h_objects_get, 0, ING_BODY_NONE,
     "GET /sessions/{session_id}/objects/{file_id}"},
    {"DELETE", "/sessions/{}/objects/{}", ing_h_files_delete, 0, ING_BODY_NONE,
     "DELETE /sessions/{session_id}/objects/{file_id}"},
    /* operations and the API document (ing_metrics.h, ing_openapi.h) */
    {"GET", "/metrics", ing_h_metrics, 0, ING_BODY_NONE, "GET /metrics"},
    {"GET", "/openapi.json", ing_h_openapi, 1, ING_BODY_NONE, "GET /openapi.json"},
    {"GET", "/docs", ing_h_docs, 1, ING_BODY_NONE, "GET /docs"},
    /* admin (ADMIN_API_KEY, enforced by ing_sec.c for /admin/...): ing_sec.h */
    {"POST", "/admin/keys", ing_h_admin_key_create, 0, ING_BODY_JSON, "POST /admin/keys"},
    {"GET", "/admin/keys", ing_h_admin_key_list, 0, ING_BODY_NONE, "GET /admin/keys"},
    {"GET", "/admin/keys/{}", ing_h_admin_key_get, 0, ING_BODY_NONE, "GET /admin/keys/{id}"},
    {"DELETE", "/admin/keys/{}", ing_h_admin_key_revoke, 0, ING_BODY_NONE,
     "DELETE /admin/keys/{id}"},
    {"POST", "/admin/keys/{}/disable", ing_h_admin_key_disable, 0, ING_BODY_NONE,
     "POST /admin/keys/{id}/disable"},
    {"POST", "/admin/keys/{}/enable", ing_h_admin_key_enable, 0, ING_BODY_NONE,
     "POST /admin/keys/{id}/enable"},
    {"GET", "/admin/stats/auth", ing_h_admin_stats_auth, 0, ING_BODY_NONE, "GET /admin/stats/auth"},
    {"GET", "/admin/ratelimits", ing_h_admin_ratelimits, 0, ING_BODY_NONE, "GET /admin/ratelimits"},
    {"GET", "/admin/events", ing_h_admin_events, 0, ING_BODY_NONE, "GET /admin/events"},
    {NULL, NULL, NULL, 0, ING_BODY_NONE, NULL},
};

/* Matches one pattern; 1 on match with params filled. */
static int match(const char *pattern, const char *path,
                 char params[ING_MAX_PARAMS][ING_PARAM_MAX + 1])
{
    int np = 0;
    while (*pattern && *path) {
        if (pattern[0] == '{' && pattern[1] == '}') {
            size_t len = strcspn(path, "/");
            if (len == 0 || len > ING_PARAM_MAX || np >= ING_MAX_PARAMS)
                return 0;
            memcpy(params[np], path, len);
            params[np++][len] = '\0';
            path += len;
            pattern += 2;
            continue;
        }
        if (*pattern++ != *path++)
            return 0;
    }
    if (*path == '/' && path[1] == '\0') /* tolerate one trailing slash */
        path++;
    return *pattern == '\0' && *path == '\0';
}

const struct ing_route *ing_route_match(const char *method, const char *path,
                                        char params[ING_MAX_PARAMS][ING_PARAM_MAX + 1],
                                        int *method_mismatch)
{
    *method_mismatch = 0;
    for (const struct ing_route *r = ing_routes; r->method; r++) {
        if (!match(r->pattern, path, params))
            continue;
        if (strcmp(r->method, method) == 0)
            return r;
        *method_mismatch = 1;
    }
    return NULL;
}
