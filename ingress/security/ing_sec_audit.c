/*
 * ing_sec_audit.c - audit hooks called by the job handlers (ing_sec.h).
 */
#include "ing_audit.h"
#include "ing_http.h"
#include "ing_sec.h"
#include "q_job.h"
#include "sch_types.h"

#include <stdio.h>
#include <string.h>

static json_t *warnings_json(char **w, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(w[i]));
    return a;
}

void ing_sec_scan_job(struct ing_request *req, struct sch_job *job)
{
    snprintf(req->lang, sizeof req->lang, "%s", sch_lang_name(job->lang));
    if (job->code)
        ing_scan_code(job->code, job->code_len, &job->warnings, &job->nwarnings);
    ing_audit_event(req, "code_execution", 1,
                    json_pack("{s:s,s:s,s:s,s:o}", "phase", "submitted", "job_id", job->id,
                              "language", req->lang, "warnings",
                              warnings_json(job->warnings, job->nwarnings)));
}

void ing_sec_exec_outcome(struct ing_request *req, const struct q_job_info *info)
{
    const struct sch_result *r = &info->result;
    ing_audit_event(req, "code_execution", r->status == SCH_STATUS_COMPLETED,
                    json_pack("{s:s,s:s,s:s,s:s,s:i,s:o}", "phase", "finished", "job_id",
                              req->job_id, "language", req->lang, "outcome",
                              sch_status_name(r->status), "exit_code", r->exit_code,
                              "warnings", warnings_json(r->warnings, r->nwarnings)));
}

void ing_sec_denied(struct ing_request *req, const char *resource, const char *id,
                    const char *reason)
{
    ing_audit_event(req, "access_denied", 0,
                    json_pack("{s:s,s:s,s:s}", "resource", resource, "id", id, "reason",
                              reason));
}

void ing_sec_file_event(struct ing_request *req, const char *event_type, const char *session_id,
                        const char *file_id, size_t nfiles)
{
    json_t *o = json_pack("{s:s,s:I}", "session_id", session_id, "files", (json_int_t)nfiles);
    if (file_id)
        json_object_set_new(o, "file_id", json_string(file_id));
    ing_audit_event(req, event_type, 1, o);
}

void ing_sec_upload_refused(struct ing_request *req, const char *error_type, const char *field,
                            const char *message)
{
    json_t *o = json_pack("{s:s,s:s}", "error", error_type, "reason", message);
    if (field)
        json_object_set_new(o, "field", json_string(field));
    ing_audit_event(req, "file_upload", 0, o);
}

void ing_sec_session_chosen(struct ing_request *req, const char *given)
{
    if (!given || !*given || strcmp(given, req->session_id) == 0)
        return;
    ing_audit_event(req, "access_denied", 0,
                    json_pack("{s:s,s:s,s:s}", "resource", "session", "id", given, "reason",
                              "another caller's or unknown session; a fresh one was used"));
}
