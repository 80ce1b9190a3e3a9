/*
 * sch_validate.c - request body -> struct sch_job (rules in sch_validate.h).
 *
 * Each field has one checker; checkers record every failure with its class
 * and never stop early, so one response lists all problems.
 */
#include "sch_output.h"
#include "sch_validate.h"

#include "ci_util.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Failure classes, in priority order for the final status. */
#define V_400 1u
#define V_413 2u
#define V_422 4u

struct sch_vctx {
    const struct sch_limits *lim;
    struct sch_errors *errs;
    unsigned classes;
};

static void verr(struct sch_vctx *v, unsigned cls, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void verr(struct sch_vctx *v, unsigned cls, const char *field, const char *fmt, ...)
{
    char msg[SCH_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    v->classes |= cls;
    sch_errors_add(v->errs, field, "%s", msg);
}

/* The member `key`, or NULL when absent or JSON null. */
static json_t *vget(const json_t *obj, const char *key)
{
    json_t *x = json_object_get(obj, key);
    return json_is_null(x) ? NULL : x;
}

/* A string member without NUL bytes, else NULL (after recording 422). */
static const char *vstring(struct sch_vctx *v, const json_t *x, const char *field)
{
    if (!json_is_string(x)) {
        verr(v, V_422, field, "must be a string");
        return NULL;
    }
    const char *s = json_string_value(x);
    if (strlen(s) != json_string_length(x)) {
        verr(v, V_422, field, "must not contain NUL characters");
        return NULL;
    }
    return s;
}

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

static void v_code(struct sch_vctx *v, const json_t *body, struct sch_job *job)
{
    json_t *x = vget(body, "code");
    if (!x) {
        verr(v, V_400, "code", "is required");
        return;
    }
    if (!json_is_string(x)) {
        verr(v, V_422, "code", "must be a string");
        return;
    }
    const char *s = json_string_value(x);
    size_t n = json_string_length(x);
    if (n > v->lim->max_code_bytes) {
        verr(v, V_413, "code", "must be at most %zu bytes (got %zu)", v->lim->max_code_bytes, n);
        return;
    }
    if (n == strspn(s, " \t\r\n\v\f")) {
        verr(v, V_400, "code", "must not be blank");
        return;
    }
    job->code = ci_xmalloc(n + 1);
    memcpy(job->code, s, n + 1);
    job->code_len = n;
}

static void v_lang(struct sch_vctx *v, const json_t *body, struct sch_job *job)
{
    json_t *x = vget(body, "lang");
    if (!x) {
        verr(v, V_400, "lang", "is required");
        return;
    }
    if (!json_is_string(x)) {
        verr(v, V_422, "lang", "must be a string");
        return;
    }
    job->lang = sch_lang_from_name(json_string_value(x));
    if (job->lang == SCH_LANG_NONE) {
        char list[96] = "";
        size_t used = 0;
        for (int i = 0; i < SCH_LANG_COUNT && used < sizeof list; i++)
            used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "",
                                     sch_lang_name((enum sch_lang)i));
        verr(v, V_400, "lang", "unsupported language; allowed values: %s", list);
    }
}

static void v_one_arg(struct sch_vctx *v, const json_t *x, const char *field, struct sch_job *job)
{
    const char *s = vstring(v, x, field);
    if (!s)
        return;
    if (strlen(s) > v->lim->max_arg_bytes) {
        verr(v, V_413, field, "must be at most %zu bytes", v->lim->max_arg_bytes);
        return;
    }
    job->args[job->nargs++] = ci_xstrdup(s);
}

static void v_args(struct sch_vctx *v, const json_t *body, struct sch_job *job)
{
    json_t *x = vget(body, "args");
    char field[32];
    if (!x)
        return;
    if (json_is_string(x)) {
        job->args = ci_xcalloc(1, sizeof *job->args);
        v_one_arg(v, x, "args", job);
        return;
    }
    if (!json_is_array(x)) {
        verr(v, V_422, "args", "must be a string or an array of strings");
        return;
    }
    size_t n = json_array_size(x);
    if (n > v->lim->max_args) {
        verr(v, V_422, "args", "must have at most %u entries (got %zu)", v->lim->max_args, n);
        return;
    }
    if (n == 0)
        return;
    job->args = ci_xcalloc(n, sizeof *job->args);
    for (size_t i = 0; i < n; i++) {
        snprintf(field, sizeof field, "args[%zu]", i);
        v_one_arg(v, json_array_get(x, i), field, job);
    }
}

/* An optional id-like string member: [A-Za-z0-9_-]{min..max}. */
static char *v_id(struct sch_vctx *v, const json_t *obj, const char *key, const char *field,
                  size_t max, int required)
{
    json_t *x = vget(obj, key);
    if (!x) {
        if (required)
            verr(v, V_422, field, "is required");
        return NULL;
    }
    const char *s = vstring(v, x, field);
    if (!s)
        return NULL;
    if (!*s && !required && strcmp(key, "entity_id") == 0)
        return NULL; /* "" entity_id means none */
    if (!sch_valid_id(s, max)) {
        verr(v, V_422, field, "must be 1 to %zu characters of A-Z a-z 0-9 _ -", max);
        return NULL;
    }
    return ci_xstrdup(s);
}

static void v_user_id(struct sch_vctx *v, const json_t *body, struct sch_job *job)
{
    json_t *x = vget(body, "user_id");
    if (!x)
        return;
    const char *s = vstring(v, x, "user_id");
    if (!s)
        return;
    if (utf8_chars(s) > SCH_USER_ID_MAX) {
        verr(v, V_422, "user_id", "must be at most %d characters", SCH_USER_ID_MAX);
        return;
    }
    job->user_id = ci_xstrdup(s);
}

/* files[i].name: a safe relative path (sch_valid_relpath). */
static void v_file_name(struct sch_vctx *v, const json_t *x, const char *field, struct sch_file *f)
{
    const char *why;
    json_t *name = vget(x, "name");
    if (!name) {
        verr(v, V_422, field, "is required");
    } else if (json_is_string(name)) {
        const char *s = json_string_value(name);
        if (strlen(s) != json_string_length(name))
            verr(v, V_422, field, "must not contain NUL characters");
        else if (!sch_valid_relpath(s, &why))
            verr(v, V_422, field, "%s", why);
        else
            f->name = ci_xstrdup(s);
    } else {
        verr(v, V_422, field, "must be a string");
    }
}

/* files[i].version: a non-negative integer (LibreChat sends a number) or
 * 1..20 decimal digits as a string; kept as decimal text. */
static void v_file_version(struct sch_vctx *v, const json_t *x, const char *field,
                           struct sch_file *f)
{
    json_t *ver = vget(x, "version");
    char buf[24];
    if (!ver)
        return;
    if (json_is_integer(ver) && json_integer_value(ver) >= 0) {
        snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(ver));
        f->version = ci_xstrdup(buf);
        return;
    }
    const char *s = json_is_string(ver) ? json_string_value(ver) : NULL;
    size_t n = s ? strlen(s) : 0;
    if (s && n >= 1 && n <= 20 && strspn(s, "0123456789") == n && n == json_string_length(ver)) {
        f->version = ci_xstrdup(s);
        return;
    }
    verr(v, V_422, field, "must be a non-negative integer");
}

/* files[i].resource_id: optional ("" = absent), <= 128 characters, no
 * control characters. */
static void v_file_resource(struct sch_vctx *v, const json_t *x, const char *field,
                            struct sch_file *f)
{
    json_t *r = vget(x, "resource_id");
    if (!r)
        return;
    const char *s = vstring(v, r, field);
    if (!s || !*s)
        return; /* "" is absent */
    size_t n = strlen(s);
    int ok = utf8_chars(s) <= SCH_USER_ID_MAX && sch_utf8_valid(s, n);
    for (size_t i = 0; ok && i < n; i++)
        ok = (unsigned char)s[i] >= 0x20 && s[i] != 0x7f;
    if (!ok)
        verr(v, V_422, field, "must be 1 to %d printable characters", SCH_USER_ID_MAX);
    else
        f->resource_id = ci_xstrdup(s);
}

/* One file reference: LibreChat's {id, resource_id, name,
 * storage_session_id, kind, version?} or the older {id, session_id, name,
 * restore_state?}.  Either way f->session_id is the storage session. */
static void v_file(struct sch_vctx *v, const json_t *x, size_t i, struct sch_file *f)
{
    char field[48], sub[80];

    snprintf(field, sizeof field, "files[%zu]", i);
    if (!json_is_object(x)) {
        verr(v, V_422, field, "must be an object");
        return;
    }
    snprintf(sub, sizeof sub, "%s.id", field);
    f->id = v_id(v, x, "id", sub, SCH_FILE_ID_MAX, 1);
    int lc = vget(x, "storage_session_id") != NULL || vget(x, "kind") != NULL;
    if (lc) {
        snprintf(sub, sizeof sub, "%s.storage_session_id", field);
        f->session_id = v_id(v, x, "storage_session_id", sub, SCH_SESSION_ID_MAX, 1);
        char *older = NULL;
        if (vget(x, "session_id")) {
            snprintf(sub, sizeof sub, "%s.session_id", field);
            older = v_id(v, x, "session_id", sub, SCH_SESSION_ID_MAX, 0);
            if (older && f->session_id && strcmp(older, f->session_id) != 0)
                verr(v, V_422, sub, "must equal storage_session_id when both are given");
        }
        free(older);
        snprintf(sub, sizeof sub, "%s.kind", field);
        json_t *k = vget(x, "kind");
        const char *ks = k ? vstring(v, k, sub) : "user";
        if (ks) {
            f->kind = sch_file_kind_from_name(ks);
            if (f->kind == SCH_FILE_KIND_COUNT) {
                f->kind = SCH_FILE_KIND_USER;
                verr(v, V_422, sub, "must be \"user\", \"agent\" or \"skill\"");
            }
        }
        snprintf(sub, sizeof sub, "%s.resource_id", field);
        v_file_resource(v, x, sub, f);
        snprintf(sub, sizeof sub, "%s.version", field);
        v_file_version(v, x, sub, f);
    } else {
        snprintf(sub, sizeof sub, "%s.session_id", field);
        f->session_id = v_id(v, x, "session_id", sub, SCH_SESSION_ID_MAX, 1);
    }
    snprintf(sub, sizeof sub, "%s.name", field);
    v_file_name(v, x, sub, f);
    snprintf(sub, sizeof sub, "%s.restore_state", field);
    json_t *rs = vget(x, "restore_state");
    if (rs && !json_is_boolean(rs))
        verr(v, V_422, sub, "must be a boolean");
    f->restore_state = json_is_true(rs);
}

static void v_files(struct sch_vctx *v, const json_t *body, struct sch_job *job)
{
    json_t *x = vget(body, "files");
    if (!x)
        return;
    if (!json_is_array(x)) {
        verr(v, V_422, "files", "must be an array");
        return;
    }
    size_t n = json_array_size(x);
    if (n > v->lim->max_files_per_session) {
        verr(v, V_422, "files", "must have at most %u entries (got %zu)",
             v->lim->max_files_per_session, n);
        return;
    }
    if (n == 0)
        return;
    job->files = ci_xcalloc(n, sizeof *job->files);
    job->nfiles = n;
    for (size_t i = 0; i < n; i++)
        v_file(v, json_array_get(x, i), i, &job->files[i]);
}

static void v_callback(struct sch_vctx *v, const json_t *body, struct sch_job *job)
{
    json_t *x = vget(body, "callback_url");
    if (!x)
        return;
    const char *s = vstring(v, x, "callback_url");
    if (!s)
        return;
    if (strlen(s) > SCH_CALLBACK_URL_MAX)
        verr(v, V_422, "callback_url", "must be at most %d bytes", SCH_CALLBACK_URL_MAX);
    else if (strncasecmp(s, "http://", 7) != 0 && strncasecmp(s, "https://", 8) != 0)
        verr(v, V_422, "callback_url", "must be an http:// or https:// URL");
    else
        job->callback_url = ci_xstrdup(s);
}

/* timeout: milliseconds, as LibreChat sends it (15000); above the
 * configured maximum it is clamped, not refused. */
static void v_timeout(struct sch_vctx *v, const json_t *body, struct sch_job *job)
{
    uint32_t max_ms = v->lim->max_execution_time_s * 1000u;
    json_t *x = vget(body, "timeout");
    job->timeout_ms = max_ms;
    if (!x)
        return;
    if (!json_is_number(x)) {
        verr(v, V_422, "timeout", "must be a number of milliseconds");
        return;
    }
    double t = json_number_value(x);
    if (!(t > 0)) {
        verr(v, V_422, "timeout", "must be greater than 0 milliseconds");
        return;
    }
    job->timeout_ms = t >= (double)max_ms ? max_ms : (uint32_t)ceil(t);
}

static void v_priority(struct sch_vctx *v, const json_t *body, struct sch_job *job)
{
    json_t *x = vget(body, "priority");
    if (!x)
        return;
    if (json_is_string(x) && strcasecmp(json_string_value(x), "normal") == 0)
        job->priority = 0;
    else if (json_is_string(x) && strcasecmp(json_string_value(x), "high") == 0)
        job->priority = 1;
    else if (json_is_integer(x) && (json_integer_value(x) == 0 || json_integer_value(x) == 1))
        job->priority = (int)json_integer_value(x);
    else
        verr(v, V_422, "priority", "must be \"normal\", \"high\", 0 or 1");
}

int sch_job_from_json(const json_t *body, const struct sch_limits *lim, struct sch_job *out,
                      struct sch_errors *errs, int *http_status)
{
    struct sch_vctx v = {lim, errs, 0};

    memset(out, 0, sizeof *out);
    out->lang = SCH_LANG_NONE;
    sch_errors_init(errs);
    if (!json_is_object(body)) {
        verr(&v, V_400, "body", "body must be a JSON object");
        goto out;
    }
    v_code(&v, body, out);
    v_lang(&v, body, out);
    v_args(&v, body, out);
    v_user_id(&v, body, out);
    out->entity_id = v_id(&v, body, "entity_id", "entity_id", SCH_ENTITY_ID_MAX, 0);
    out->session_id = v_id(&v, body, "session_id", "session_id", SCH_SESSION_ID_MAX, 0);
    v_files(&v, body, out);
    v_callback(&v, body, out);
    v_timeout(&v, body, out);
    v_priority(&v, body, out);
out:
    if (v.classes == 0) {
        *http_status = 200;
        return 0;
    }
    *http_status = (v.classes & V_400) ? 400 : (v.classes & V_413) ? 413 : 422;
    sch_job_release(out);
    return -EINVAL;
}
