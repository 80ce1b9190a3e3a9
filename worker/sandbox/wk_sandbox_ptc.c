/*
 * wk_sandbox_ptc.c - programmatic tool calling on the runner channel: a
 * `tool_calls` frame from the runner (validated: it shares its container
 * with the caller's code) pauses the run, wk_sandbox_tool_results()
 * resumes it (docs/runner-protocol.md, "Tool calls").
 */
#include "wk_sandbox_int.h"

#include "ci_log.h"
#include "ci_util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define CALL_ID_MAX 32
#define TOOL_NAME_MAX 256

static const char *check_calls(const struct wk_sandbox *sb, json_t *msg, json_t **calls_out,
                               int *round_out)
{
    const char *id = json_string_value(json_object_get(msg, "id"));
    json_t *round = json_object_get(msg, "round");
    json_t *calls = json_object_get(msg, "calls");
    if (!id || !sb->job_id || strcmp(id, sb->job_id) != 0)
        return "tool calls for another job";
    if (sb->paused)
        return "tool calls while paused";
    if (!json_is_integer(round) || json_integer_value(round) != sb->round + 1)
        return "tool calls out of round";
    size_t n = json_array_size(calls);
    if (!json_is_array(calls) || n == 0 || n > WK_SANDBOX_PTC_MAX_CALLS)
        return "a tool_calls frame without 1..64 calls";
    for (size_t i = 0; i < n; i++) {
        json_t *c = json_array_get(calls, i);
        const char *cid = json_string_value(json_object_get(c, "id"));
        const char *name = json_string_value(json_object_get(c, "name"));
        if (!json_is_object(c) || !cid || !*cid || strlen(cid) > CALL_ID_MAX || !name || !*name ||
            strlen(name) > TOOL_NAME_MAX || !json_object_get(c, "input"))
            return "a malformed tool call";
    }
    *calls_out = calls;
    *round_out = (int)json_integer_value(round);
    return NULL;
}

void wk_sb__on_tool_calls(struct wk_sandbox *sb, json_t *msg)
{
    json_t *calls = NULL;
    int round = 0;
    const char *why = check_calls(sb, msg, &calls, &round);
    if (why) {
        wk_sb__protocol_violation(sb, why);
        return;
    }
    sb->paused = 1;
    sb->round = round;
    /* paused: the backstop is the pause TTL, the runner ends it first */
    wk_sb__arm_deadline(sb, (uint64_t)sb->pause_ms + WK_SANDBOX_DEADLINE_SLACK_MS);
    sb->tool_cb(sb->run_arg, sb, round, calls);
}

static void on_written(uv_write_t *w, int status)
{
    (void)status;
    free(w->data);
    free(w);
}

int wk_sandbox_tool_results(struct wk_sandbox *sb, json_t *results)
{
    if (sb->destroying || !sb->paused || !sb->conn_open || sb->state != WK_SB_RUNNING)
        return -EPIPE;
    json_t *msg =
        json_pack("{s:s, s:s, s:O}", "type", "tool_results", "id", sb->job_id, "results", results);
    char *frame = NULL;
    size_t len = 0;
    int rc = msg ? wk_frame_encode(msg, &frame, &len) : -ENOMEM;
    json_decref(msg);
    if (rc < 0)
        return rc;
    uv_write_t *w = ci_xmalloc(sizeof *w);
    w->data = frame;
    uv_buf_t buf = uv_buf_init(frame, (unsigned)len);
    rc = uv_write(w, (uv_stream_t *)&sb->conn, &buf, 1, on_written);
    if (rc < 0) {
        free(frame);
        free(w);
        return rc;
    }
    sb->paused = 0;
    wk_sb__arm_deadline(sb, (uint64_t)sb->run_timeout_ms + WK_SANDBOX_DEADLINE_SLACK_MS);
    return 0;
}
