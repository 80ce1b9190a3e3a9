/*
 * sch_json.c - JSON mapping of results and errors at the HTTP edge.
 */
#include "sch_json.h"
#include "sch_output.h"

#include "ci_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *sch_json_text(const char *s, size_t len)
{
    char *clean = NULL;
    size_t n = 0;
    if (sch_output_sanitize(s ? s : "", s ? len : 0, SCH_OUTPUT_NO_CAP, 0, &clean, &n) < 0)
        return NULL;
    json_t *j = json_stringn(clean, n);
    free(clean);
    return j;
}

json_t *sch_json_time(int64_t ms)
{
    char buf[40];
    if (ms <= 0)
        return json_null();
    ci_format_iso8601(ms, buf, sizeof buf);
    return json_string(buf);
}

/* A short string member (id, name, message) that may be absent: JSON null
 * for NULL; invalid UTF-8 or control characters are cleaned like output,
 * but no newline is added. */
static json_t *opt_str(const char *s)
{
    if (!s)
        return json_null();
    size_t len = strlen(s);
    if (sch_utf8_valid(s, len))
        return json_stringn(s, len);
    char *clean = NULL;
    size_t n = 0;
    if (sch_output_sanitize(s, len, SCH_OUTPUT_NO_CAP, 0, &clean, &n) < 0)
        return NULL;
    if (n > 0 && clean[n - 1] == '\n' && (len == 0 || s[len - 1] != '\n'))
        n--;
    json_t *j = json_stringn(clean, n);
    free(clean);
    return j;
}

static json_t *file_json(const struct sch_file *f, const char *session_id)
{
    const char *name = f->name ? f->name : "";
    char *path = NULL;
    json_t *j;

    if (!f->path) {
        size_t n = strlen("/mnt/data/") + strlen(name) + 1;
        path = ci_xmalloc(n);
        snprintf(path, n, "/mnt/data/%s", name);
    }
    const char *sid = f->session_id ? f->session_id : session_id;
    j = json_pack("{s:o, s:o, s:o, s:o, s:o}", "id", opt_str(f->id), "name", opt_str(name), "path",
                  opt_str(f->path ? f->path : path), "session_id", opt_str(sid),
                  "storage_session_id", opt_str(sid));
    free(path);
    if (j && f->inherited && json_object_set_new(j, "inherited", json_true()) < 0) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

/* LibreChat's ArtifactDeliveryFailure when outputs were dropped, else
 * NULL (the member is then absent). */
static json_t *artifact_delivery(const struct sch_result *res)
{
    uint32_t att = res->outputs_attempted, del = res->outputs_delivered;
    if (att <= del)
        return NULL;
    return json_pack("{s:s, s:s, s:I, s:I, s:I}", "code", "artifact_delivery_failed", "status",
                     del ? "partial" : "failed", "attempted", (json_int_t)att, "delivered",
                     (json_int_t)del, "failed", (json_int_t)(att - del));
}

/* deleted_files and artifact_delivery, present only when there is
 * something to say.  0 or -1 (out of memory). */
static int add_lifecycle(json_t *j, const struct sch_result *res)
{
    if (res->ndeleted_files > 0) {
        json_t *del = json_array();
        if (!del || json_object_set_new(j, "deleted_files", del) < 0)
            return -1;
        for (size_t i = 0; i < res->ndeleted_files; i++)
            if (json_array_append_new(del, opt_str(res->deleted_files[i])) < 0)
                return -1;
    }
    json_t *ad = artifact_delivery(res);
    if (ad && json_object_set_new(j, "artifact_delivery", ad) < 0)
        return -1;
    return 0;
}

json_t *sch_result_to_json(const struct sch_result *res, const char *session_id)
{
    json_t *files = json_array(), *warnings = json_array(), *j = NULL;
    const char *status = sch_status_name(res->status);

    if (!files || !warnings)
        goto out;
    for (size_t i = 0; i < res->nfiles; i++)
        if (json_array_append_new(files, file_json(&res->files[i], session_id)) < 0)
            goto out;
    for (size_t i = 0; i < res->nwarnings; i++)
        if (json_array_append_new(warnings, opt_str(res->warnings[i])) < 0)
            goto out;
    j = json_pack("{s:o, s:o, s:o, s:O, s:i, s:s, s:I, s:b, s:I, s:O}", "session_id",
                  opt_str(session_id), "stdout", sch_json_text(res->stdout_buf, res->stdout_len),
                  "stderr", sch_json_text(res->stderr_buf, res->stderr_len), "files", files,
                  "exit_code", res->exit_code, "status", status ? status : "failed", "duration_ms",
                  (json_int_t)res->duration_ms, "has_state", res->has_state, "state_size",
                  (json_int_t)res->state_size, "warnings", warnings);
    if (j && ((res->error && json_object_set_new(j, "error", opt_str(res->error)) < 0) ||
              add_lifecycle(j, res) < 0)) {
        json_decref(j);
        j = NULL;
    }
out:
    json_decref(files);
    json_decref(warnings);
    return j;
}

json_t *sch_error_json(const char *error, const char *error_type, const struct sch_errors *details,
                       const char *request_id)
{
    char ts[32];
    json_t *arr = json_array();

    if (!arr)
        return NULL;
    for (size_t i = 0; details && i < details->n; i++) {
        json_t *d = json_pack("{s:o, s:o}", "field", opt_str(details->item[i].field), "message",
                              opt_str(details->item[i].message));
        if (json_array_append_new(arr, d) < 0) {
            json_decref(arr);
            return NULL;
        }
    }
    ci_format_iso8601(ci_now_ms(), ts, sizeof ts);
    return json_pack("{s:o, s:o, s:o, s:o, s:s}", "error", opt_str(error ? error : "error"),
                     "error_type", opt_str(error_type ? error_type : "error"), "details", arr,
                     "request_id", opt_str(request_id), "timestamp", ts);
}
