/* Unit tests for the validation of the runner's result frame
 * (wk_sandbox_parse_result): the runner shares its container with the
 * caller's code, so every field is checked as an adversary's. */
#include "ci_test.h"
#include "wk_frame.h"
#include "wk_sandbox.h"

#include <errno.h>

/* Parses `text` as the result for job "j1" with max_output 100. */
static int parse(const char *text, struct wk_run_result *r, const char **why)
{
    json_error_t e;
    json_t *msg = json_loads(text, JSON_ALLOW_NUL, &e);
    ASSERT_NOT_NULL(msg);
    memset(r, 0, sizeof *r);
    int rc = wk_sandbox_parse_result(msg, "j1", 100, r, why);
    json_decref(msg);
    return rc;
}

#define GOOD_TAIL                                                                                  \
    "\"exit_code\":0,\"duration_ms\":5,\"state_size\":0,\"stdout\":\"a\",\"stderr\":\"\""

static void expect_refused(const char *text, const char *why_part)
{
    struct wk_run_result r;
    const char *why = NULL;
    ASSERT_EQ(parse(text, &r, &why), -EPROTO);
    ASSERT_NOT_NULL(why);
    if (!strstr(why, why_part)) {
        fprintf(stderr, "why '%s' lacks '%s'\n", why, why_part);
        ASSERT(0);
    }
    sch_result_release(&r.res);
}

TEST(accepts_a_good_result)
{
    struct wk_run_result r;
    const char *why = NULL;
    ASSERT_EQ(parse("{\"type\":\"result\",\"id\":\"j1\",\"status\":\"completed\"," GOOD_TAIL
                    ",\"warnings\":[\"w1\"],\"stdout_truncated\":true}",
                    &r, &why),
              0);
    ASSERT_EQ(r.res.status, SCH_STATUS_COMPLETED);
    ASSERT_EQ(r.res.stdout_len, 1);
    ASSERT_EQ(r.res.nwarnings, 1);
    ASSERT_STR_EQ(r.res.warnings[0], "w1");
    ASSERT_EQ(r.stdout_truncated, 1);
    sch_result_release(&r.res);
}

TEST(output_with_nul_is_kept_whole)
{
    struct wk_run_result r;
    const char *why = NULL;
    ASSERT_EQ(parse("{\"id\":\"j1\",\"status\":\"completed\",\"exit_code\":0,\"duration_ms\":1,"
                    "\"state_size\":0,\"stdout\":\"a\\u0000b\",\"stderr\":\"\"}",
                    &r, &why),
              0);
    ASSERT_EQ(r.res.stdout_len, 3);
    ASSERT_EQ(r.res.stdout_buf[1], '\0');
    sch_result_release(&r.res);
}

TEST(refuses_another_jobs_id)
{
    expect_refused("{\"id\":\"j2\",\"status\":\"completed\"," GOOD_TAIL "}", "another job");
    expect_refused("{\"status\":\"completed\"," GOOD_TAIL "}", "another job");
}

TEST(refuses_unknown_status)
{
    expect_refused("{\"id\":\"j1\",\"status\":\"cancelled\"," GOOD_TAIL "}", "status");
    expect_refused("{\"id\":\"j1\",\"status\":\"dead\"," GOOD_TAIL "}", "status");
    expect_refused("{\"id\":\"j1\",\"status\":7," GOOD_TAIL "}", "status");
}

TEST(refuses_bad_numbers)
{
    expect_refused("{\"id\":\"j1\",\"status\":\"failed\",\"exit_code\":256,\"duration_ms\":1,"
                   "\"state_size\":0,\"stdout\":\"\",\"stderr\":\"\"}",
                   "number");
    expect_refused("{\"id\":\"j1\",\"status\":\"failed\",\"exit_code\":1,\"duration_ms\":1,"
                   "\"state_size\":-5,\"stdout\":\"\",\"stderr\":\"\"}",
                   "number");
    expect_refused("{\"id\":\"j1\",\"status\":\"failed\",\"exit_code\":\"1\",\"duration_ms\":1,"
                   "\"state_size\":0,\"stdout\":\"\",\"stderr\":\"\"}",
                   "number");
}

TEST(refuses_oversized_output)
{
    char buf[1024];
    char big[400];
    memset(big, 'x', 301); /* 3 * max_output = 300 */
    big[301] = '\0';
    snprintf(buf, sizeof buf,
             "{\"id\":\"j1\",\"status\":\"completed\",\"exit_code\":0,\"duration_ms\":1,"
             "\"state_size\":0,\"stdout\":\"%s\",\"stderr\":\"\"}",
             big);
    expect_refused(buf, "output");
    expect_refused("{\"id\":\"j1\",\"status\":\"completed\",\"exit_code\":0,\"duration_ms\":1,"
                   "\"state_size\":0,\"stdout\":5,\"stderr\":\"\"}",
                   "output");
}

TEST(bounds_warnings)
{
    /* 101 warnings: refused */
    char *buf = malloc(16384);
    size_t off = (size_t)snprintf(
        buf, 16384, "{\"id\":\"j1\",\"status\":\"completed\"," GOOD_TAIL ",\"warnings\":[");
    for (int i = 0; i < WK_SANDBOX_MAX_WARNINGS + 1; i++)
        off += (size_t)snprintf(buf + off, 16384 - off, "%s\"w\"", i ? "," : "");
    snprintf(buf + off, 16384 - off, "]}");
    expect_refused(buf, "warnings");
    expect_refused("{\"id\":\"j1\",\"status\":\"completed\"," GOOD_TAIL ",\"warnings\":5}",
                   "warnings");
    expect_refused("{\"id\":\"j1\",\"status\":\"completed\"," GOOD_TAIL ",\"warnings\":[5]}",
                   "warning");
    /* a long warning is cut to WK_SANDBOX_WARNING_MAX, on a character boundary */
    off = (size_t)snprintf(
        buf, 16384, "{\"id\":\"j1\",\"status\":\"completed\"," GOOD_TAIL ",\"warnings\":[\"");
    for (int i = 0; i < 2000; i++)
        off += (size_t)snprintf(buf + off, 16384 - off, "\\u00e9"); /* 2 bytes each */
    snprintf(buf + off, 16384 - off, "\"]}");
    struct wk_run_result r;
    const char *why = NULL;
    ASSERT_EQ(parse(buf, &r, &why), 0);
    ASSERT_EQ(r.res.nwarnings, 1);
    ASSERT_EQ(strlen(r.res.warnings[0]), WK_SANDBOX_WARNING_MAX);
    sch_result_release(&r.res);
    free(buf);
}

TEST(frame_cap_follows_max_output)
{
    ASSERT_LT(wk_sandbox_frame_cap(64 << 10), 4u << 20);
    ASSERT_GE(wk_sandbox_frame_cap(64 << 10), 12u * (64 << 10));
    ASSERT_EQ(wk_sandbox_frame_cap((size_t)1 << 40), WK_FRAME_MAX);
}

TEST_MAIN(accepts_a_good_result, output_with_nul_is_kept_whole, refuses_another_jobs_id,
          refuses_unknown_status, refuses_bad_numbers, refuses_oversized_output, bounds_warnings,
          frame_cap_follows_max_output)
