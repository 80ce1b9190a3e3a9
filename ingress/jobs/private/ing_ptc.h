/*
 * ing_ptc.h - programmatic tool calling at the ingress (ing_ptc.c,
 * docs/ptc.md).  The handlers are declared in ing_http.h.
 */
#ifndef ING_PTC_H
#define ING_PTC_H

#include "ing_http.h"

#include <jansson.h>
#include <stddef.h>

/* POST /jobs: a body with `tools` becomes a programmatic job (validated as
 * for /exec/programmatic).  0, or -1 with *ret queued. */
int ing_ptc_jobs_intake(struct ing_request *req, enum MHD_Result *ret);

/* GET /jobs/{id} of a job paused at tool calls (`o` its JSON, not
 * terminal): status tool_call_required, round, tool_calls, and the round's
 * continuation_token the first time it is shown (else null). */
void ing_ptc_annotate_job(struct ing_request *req, json_t *o);

/* 1 when the job is a program paused at tool calls right now (its round is
 * waiting for results), else 0 (also on Redis trouble).  GET /jobs/{id}?wait
 * answers at a pause as at the end: the caller has work to do. */
int ing_ptc_job_paused(const char *job_id);

/* A tool name as LibreChat's client normalises it (Python when bash is 0:
 * normalizeToPythonIdentifier; Bash: normalizeToBashIdentifier) into
 * `out` (NUL-terminated, cut to fit). */
void ing_ptc_normalise(const char *name, int bash, char *out, size_t outsz);

#endif
