/*
 * sch_codec_tables.c - wire keys of jobs, results and files (see sch_codec.h).
 */
#include "sch_codec_int.h"

#include <limits.h>

#define F_(k, kind, type, m, m2, lo, hi, req, bin)                                                 \
    {                                                                                              \
        k, kind, offsetof(type, m), offsetof(type, m2), lo, hi, req, bin                           \
    }
#define VER_(type)                                                                                 \
    {                                                                                              \
        "v", SCH__VERSION, 0, 0, 0, 0, 1, 0                                                        \
    }

static const struct sch__field sch__file_fields[] = {
    F_("id", SCH__STR, struct sch_file, id, id, 0, 0, 0, 0),
    F_("sid", SCH__STR, struct sch_file, session_id, session_id, 0, 0, 0, 0),
    F_("name", SCH__STR, struct sch_file, name, name, 0, 0, 0, 0),
    F_("path", SCH__STR, struct sch_file, path, path, 0, 0, 0, 0),
    F_("rs", SCH__BOOL, struct sch_file, restore_state, restore_state, 0, 1, 0, 0),
    F_("kind", SCH__FKIND, struct sch_file, kind, kind, 0, 0, 0, 0),
    F_("rid", SCH__STR, struct sch_file, resource_id, resource_id, 0, 0, 0, 0),
    F_("ver", SCH__STR, struct sch_file, version, version, 0, 0, 0, 0),
    F_("inh", SCH__BOOL, struct sch_file, inherited, inherited, 0, 1, 0, 0),
};

#define J_(k, kind, m, m2, lo, hi, req) F_(k, kind, struct sch_job, m, m2, lo, hi, req, 0)
static const struct sch__field sch__job_fields[] = {
    VER_(struct sch_job),
    J_("id", SCH__STR, id, id, 0, 0, 1),
    J_("sid", SCH__STR, session_id, session_id, 0, 0, 0),
    J_("lang", SCH__LANG, lang, lang, 0, 0, 1),
    J_("code", SCH__BYTES, code, code_len, 0, 0, 1),
    J_("args", SCH__STRV, args, nargs, 0, 0, 0),
    J_("uid", SCH__STR, user_id, user_id, 0, 0, 0),
    J_("eid", SCH__STR, entity_id, entity_id, 0, 0, 0),
    J_("own", SCH__STR, owner, owner, 0, 0, 0),
    J_("rid", SCH__STR, request_id, request_id, 0, 0, 0),
    J_("cb", SCH__STR, callback_url, callback_url, 0, 0, 0),
    J_("files", SCH__FILES, files, nfiles, 0, 0, 0),
    J_("to", SCH__U32, timeout_ms, timeout_ms, 0, UINT32_MAX, 0),
    J_("pri", SCH__INT, priority, priority, 0, 1, 0),
    J_("ct", SCH__I64, created_ms, created_ms, 0, INT64_MAX, 0),
    J_("warn", SCH__STRV, warnings, nwarnings, 0, 0, 0),
    J_("tools", SCH__STR, tools, tools, 0, 0, 0),
};

#define R_(k, kind, m, m2, lo, hi, req, bin) F_(k, kind, struct sch_result, m, m2, lo, hi, req, bin)
static const struct sch__field sch__result_fields[] = {
    VER_(struct sch_result),
    R_("st", SCH__STATUS, status, status, 0, 0, 1, 0),
    R_("ec", SCH__INT, exit_code, exit_code, INT_MIN, INT_MAX, 0, 0),
    R_("out", SCH__BYTES, stdout_buf, stdout_len, 0, 0, 0, 1),
    R_("err", SCH__BYTES, stderr_buf, stderr_len, 0, 0, 0, 1),
    R_("dur", SCH__I64, duration_ms, duration_ms, 0, INT64_MAX, 0, 0),
    R_("files", SCH__FILES, files, nfiles, 0, 0, 0, 0),
    R_("hs", SCH__BOOL, has_state, has_state, 0, 1, 0, 0),
    R_("ss", SCH__I64, state_size, state_size, 0, INT64_MAX, 0, 0),
    R_("warn", SCH__STRV, warnings, nwarnings, 0, 0, 0, 0),
    R_("error", SCH__STR, error, error, 0, 0, 0, 0),
    R_("del", SCH__STRV, deleted_files, ndeleted_files, 0, 0, 0, 0),
    R_("oat", SCH__U32, outputs_attempted, outputs_attempted, 0, UINT32_MAX, 0, 0),
    R_("odl", SCH__U32, outputs_delivered, outputs_delivered, 0, UINT32_MAX, 0, 0),
};

#define REC_(arr)                                                                                  \
    {                                                                                              \
        arr, sizeof arr / sizeof arr[0]                                                            \
    }
const struct sch__record sch__job_record = REC_(sch__job_fields);
const struct sch__record sch__result_record = REC_(sch__result_fields);
const struct sch__record sch__file_record = REC_(sch__file_fields);
