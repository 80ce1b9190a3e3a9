/*
 * sch_json.h - results and errors as the JSON a caller reads (DESIGN.md
 * §4.1, §4.3).  Field names here are a contract with real clients.
 *
 * /exec response (also the "result" of GET /jobs/{id}):
 *   {"session_id", "stdout", "stderr",
 *    "files": [{"id","name","path","session_id","storage_session_id",
 *               "inherited"? (true, only for an input echoed unchanged)}],
 *    "exit_code", "status", "duration_ms", "has_state", "state_size",
 *    "warnings": [...], "error"? (only when res->error is set),
 *    "deleted_files"? [input names the run removed; only when any],
 *    "artifact_delivery"? (only when outputs were dropped: LibreChat's
 *      {"code":"artifact_delivery_failed","status":"partial"|"failed",
 *       "attempted","delivered","failed"}, attempted = delivered + failed)}
 * stdout/stderr always pass through sch_output_sanitize() (no cap; the
 * worker already capped them), so they are valid UTF-8 without stray
 * control characters and, when non-empty, end with "\n".  A file's
 * session_id defaults to the response session_id, its path to
 * "/mnt/data/<name>"; storage_session_id (LibreChat's name for the
 * storage session the file lives in) always equals its session_id.
 *
 * Error body:
 *   {"error","error_type","details":[{"field","message"}],
 *    "request_id" (null when unknown),"timestamp":"2026-11-27T22:50:01.123Z"}
 *
 * Both return a new reference (json_decref() it), NULL only on
 * out-of-memory.  Any thread.
 */
#ifndef SCH_JSON_H
#define SCH_JSON_H

#include "sch_types.h"
#include "sch_validate.h"

#include <jansson.h>

json_t *sch_result_to_json(const struct sch_result *res, const char *session_id);

json_t *sch_error_json(const char *error, const char *error_type, const struct sch_errors *details,
                       const char *request_id);

/* A JSON string for arbitrary bytes (sanitized as above, no cap); never
 * NULL for valid arguments except on out-of-memory.  s may be NULL ("" ). */
json_t *sch_json_text(const char *s, size_t len);

/* A timestamp member: "2026-11-27T22:50:01.123Z" for epoch milliseconds
 * ms > 0, JSON null for 0 or less ("not yet").  New reference. */
json_t *sch_json_time(int64_t ms);

#endif
