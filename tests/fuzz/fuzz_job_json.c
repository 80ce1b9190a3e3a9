/*
 * fuzz_job_json.c - request bodies: json_loadb -> sch_job_from_json.
 *
 * Beyond "no crash, no leak" it checks the contract: an accepted body gives
 * a job that satisfies every rule and survives the msgpack round trip; a
 * refused one has a 400/413/422 status, at least one error and a
 * serializable error body.
 */
#include "sch_codec.h"
#include "sch_json.h"
#include "sch_validate.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

const char *const ci_fuzz_dict[] = {
    "\"code\":",
    "\"lang\":",
    "\"args\":",
    "\"user_id\":",
    "\"entity_id\":",
    "\"files\":",
    "\"session_id\":",
    "\"name\":",
    "\"restore_state\":",
    "\"callback_url\":",
    "\"timeout\":",
    "\"priority\":",
    "\"id\":",
    "\"py\"",
    "\"BASH\"",
    "\"high\"",
    "\"..\"",
    "\"https://x\"",
    "null",
    "true",
    "1e309",
    "-0",
    "[",
    "]",
    "{",
    "}",
    ",",
    "\"\\u0000\"",
    "\"\\ud800\"",
    "\"  \"",
    NULL,
};

static void check(int cond)
{
    if (!cond)
        abort();
}

static void check_accepted(struct sch_job *job, const struct sch_limits *lim)
{
    check(job->code && job->code_len <= lim->max_code_bytes);
    check(job->lang > SCH_LANG_NONE && job->lang < SCH_LANG_COUNT);
    check(job->nargs <= lim->max_args);
    check(job->nfiles <= lim->max_files_per_session);
    for (size_t i = 0; i < job->nfiles; i++) {
        check(sch_valid_relpath(job->files[i].name, NULL)); /* nested names allowed */
        check(sch_valid_id(job->files[i].id, SCH_FILE_ID_MAX));
        check(sch_valid_id(job->files[i].session_id, SCH_SESSION_ID_MAX));
    }
    check(!job->session_id || sch_valid_id(job->session_id, SCH_SESSION_ID_MAX));
    check(job->timeout_ms > 0 && job->timeout_ms <= lim->max_execution_time_s * 1000u);

    struct sch_job back;
    char *buf;
    size_t len;
    job->id = strdup("0123456789abcdef0123456789abcdef");
    check(job->id != NULL);
    check(sch_job_encode(job, &buf, &len) == 0);
    check(sch_job_decode(buf, len, &back) == 0);
    check(back.code_len == job->code_len && memcmp(back.code, job->code, job->code_len) == 0);
    check(back.lang == job->lang && back.nargs == job->nargs && back.nfiles == job->nfiles);
    check(back.timeout_ms == job->timeout_ms && back.priority == job->priority);
    free(buf);
    sch_job_release(&back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct sch_limits lim;
    static int init;
    struct sch_job job;
    struct sch_errors errs;
    int status = 0;

    if (!init) {
        sch_limits_default(&lim);
        lim.max_code_bytes = 256; /* small limits so mutations reach them */
        lim.max_args = 4;
        lim.max_arg_bytes = 16;
        lim.max_files_per_session = 3;
        init = 1;
    }
    json_t *body = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (!body)
        return -1; /* not JSON: not worth mutating further */
    int rc = sch_job_from_json(body, &lim, &job, &errs, &status);
    if (rc == 0) {
        check(status == 200 && errs.n == 0);
        check_accepted(&job, &lim);
        sch_job_release(&job);
    } else {
        check(rc == -EINVAL);
        check(status == 400 || status == 413 || status == 422);
        check(errs.n >= 1 && errs.n <= SCH_ERRORS_MAX);
        check(job.code == NULL && job.args == NULL && job.files == NULL);
        json_t *e = sch_error_json("invalid request", "validation_error", &errs, "fuzz");
        check(e != NULL);
        char *text = json_dumps(e, 0);
        check(text != NULL);
        free(text);
        json_decref(e);
    }
    json_decref(body);
    return 0;
}
