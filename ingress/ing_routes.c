/*
 * ing_routes.c - the route table and the matcher.
 */
#include "ing_handlers.h"
#include "ing_request.h"

#include <string.h>

const struct ing_route ing_routes[] = {
    {"GET", "/health", ing_h_health, 1, ING_BODY_NONE, "GET /health"},
    {"GET", "/health/detailed", ing_h_health_detailed, 0, ING_BODY_NONE, "GET /health/detailed"},
    {"POST", "/exec", ing_h_exec, 0, ING_BODY_JSON, "POST /exec"},
    {"POST", "/jobs", ing_h_jobs_submit, 0, ING_BODY_JSON, "POST /jobs"},
    {"GET", "/jobs/{}", ing_h_jobs_get, 0, ING_BODY_NONE, "GET /jobs/{id}"},
    {"DELETE", "/jobs/{}", ing_h_jobs_cancel, 0, ING_BODY_NONE, "DELETE /jobs/{id}"},
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
