/*
 * q_job_json.c - the job as callers read it (q_job.h: q_job_info_json).
 */
#include "q_job.h"

#include "sch_json.h"

json_t *q_job_info_json(const char *job_id, const struct q_job_info *info, int with_delivery)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "job_id", json_string(job_id));
    json_object_set_new(o, "status", json_string(sch_status_name(info->status)));
    json_object_set_new(o, "session_id", json_string(info->session_id));
    json_object_set_new(o, "created_at", sch_json_time(info->created_at));
    json_object_set_new(o, "started_at", sch_json_time(info->started_at));
    json_object_set_new(o, "finished_at", sch_json_time(info->finished_at));
    json_object_set_new(o, "attempts", json_integer(info->attempts));
    if (info->has_result)
        json_object_set_new(o, "result", sch_result_to_json(&info->result, info->session_id));
    if (info->error)
        json_object_set_new(o, "error", json_string(info->error));
    if (with_delivery && info->webhook_status[0]) /* job.completed delivery (docs/webhooks.md) */
        json_object_set_new(o, "webhook",
                            json_pack("{s:s,s:s,s:i,s:s?}", "id", info->webhook_id, "status",
                                      info->webhook_status, "attempts", info->webhook_attempts,
                                      "error",
                                      info->webhook_error[0] ? info->webhook_error : NULL));
    return o;
}
