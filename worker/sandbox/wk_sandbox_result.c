/*
 * wk_sandbox_result.c - the runner's `result` frame, read as input from an
 * adversary (docs/runner-protocol.md, "Validation"): the runner shares its
 * container with the caller's code, so the worker assumes it may have been
 * taken over and accepts only a well-formed, bounded answer to the request
 * it sent.  Anything else is a protocol violation; the caller of
 * wk_sandbox_parse_result() then fails the job (the caller's failure, never
 * retried) and kills the container.
 */
#include "wk_sandbox.h"

#include "ci_util.h"
#include "wk_frame.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

size_t wk_sandbox_frame_cap(size_t max_output)
{
    /* Both streams JSON-escaped at worst 6 bytes per byte (\u00XX), the
     * warnings likewise, plus room for the rest of the object. */
    size_t cap = 12 * max_output + 6 * (size_t)WK_SANDBOX_MAX_WARNINGS * WK_SANDBOX_WARNING_MAX +
                 (64u << 10);
    return cap > WK_FRAME_MAX || cap < max_output ? WK_FRAME_MAX : cap;
}

/* A copy of string member `key` (NULs kept: the output sanitizer drops
 * them later); NULL when absent, not a string or longer than `max`. */
static char *take_stream(json_t *msg, const char *key, size_t max, size_t *len)
{
    json_t *v = json_object_get(msg, key);
    if (!json_is_string(v) || json_string_length(v) > max)
        return NULL;
    size_t n = json_string_length(v);
    char *s = ci_xmalloc(n + 1);
    memcpy(s, json_string_value(v), n);
    s[n] = '\0';
    *len = n;
    return s;
}

/* Integer member in [lo, hi], else -1 with *ok cleared. */
static json_int_t int_in(json_t *msg, const char *key, json_int_t lo, json_int_t hi, int *ok)
{
    json_t *v = json_object_get(msg, key);
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        *ok = 0;
        return -1;
    }
    return json_integer_value(v);
}

/* Adds one warning, cut to WK_SANDBOX_WARNING_MAX bytes on a UTF-8
 * boundary (jansson has checked the encoding). */
static int add_warning(struct sch_result *res, const char *w)
{
    char buf[WK_SANDBOX_WARNING_MAX + 1];
    size_t n = strlen(w);
    if (n > WK_SANDBOX_WARNING_MAX) {
        n = WK_SANDBOX_WARNING_MAX;
        while (n > 0 && ((unsigned char)w[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(buf, w, n);
    buf[n] = '\0';
    return sch_result_add_warning(res, buf);
}

int wk_sandbox_parse_result(json_t *msg, const char *job_id, size_t max_output,
                            struct wk_run_result *r, const char **why)
{
    const char *id = json_string_value(json_object_get(msg, "id"));
    json_t *warnings = json_object_get(msg, "warnings");
    int ok = 1;

    *why = NULL;
    if (!id || !job_id || strcmp(id, job_id) != 0) {
        *why = "a result for another job";
        return -EPROTO;
    }
    r->res.status = sch_status_from_name(json_string_value(json_object_get(msg, "status")));
    if (r->res.status != SCH_STATUS_COMPLETED && r->res.status != SCH_STATUS_FAILED &&
        r->res.status != SCH_STATUS_TIMEOUT && r->res.status != SCH_STATUS_OOM) {
        *why = "an unknown status";
        return -EPROTO;
    }
    r->res.exit_code = (int)int_in(msg, "exit_code", 0, 255, &ok);
    r->res.duration_ms = int_in(msg, "duration_ms", 0, INT64_C(1) << 40, &ok);
    r->res.state_size = int_in(msg, "state_size", 0, INT64_C(1) << 40, &ok);
    if (!ok) {
        *why = "a missing or out-of-range number";
        return -EPROTO;
    }
    r->res.has_state = r->res.state_size > 0;
    /* max_output bytes decoded: each invalid byte may have become U+FFFD */
    size_t max_text = max_output > SIZE_MAX / 3 ? SIZE_MAX : 3 * max_output;
    r->res.stdout_buf = take_stream(msg, "stdout", max_text, &r->res.stdout_len);
    r->res.stderr_buf = take_stream(msg, "stderr", max_text, &r->res.stderr_len);
    if (!r->res.stdout_buf || !r->res.stderr_buf) {
        *why = "missing or oversized output";
        return -EPROTO;
    }
    r->stdout_truncated = json_is_true(json_object_get(msg, "stdout_truncated"));
    r->stderr_truncated = json_is_true(json_object_get(msg, "stderr_truncated"));
    if (warnings &&
        (!json_is_array(warnings) || json_array_size(warnings) > WK_SANDBOX_MAX_WARNINGS)) {
        *why = "too many warnings";
        return -EPROTO;
    }
    for (size_t i = 0; i < json_array_size(warnings); i++) {
        const char *w = json_string_value(json_array_get(warnings, i));
        if (!w) {
            *why = "a warning that is not a string";
            return -EPROTO;
        }
        if (add_warning(&r->res, w) < 0)
            return -ENOMEM;
    }
    return 0;
}
