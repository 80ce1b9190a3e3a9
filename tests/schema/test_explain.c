/*
 * test_explain.c - the stderr line for outcomes a caller reading only
 * stdout/stderr would not see (sch_explain.h).
 */
#include "ci_test.h"
#include "sch_explain.h"

#include <stdlib.h>
#include <string.h>

static void set_stderr(struct sch_result *r, const char *s)
{
    free(r->stderr_buf);
    r->stderr_buf = s ? strdup(s) : NULL;
    r->stderr_len = s ? strlen(s) : 0;
}

TEST(timeout_line)
{
    struct sch_result r = {0};
    r.status = SCH_STATUS_TIMEOUT;
    r.exit_code = 137;
    ASSERT_EQ(sch_result_explain(&r, 15000, 512), 0);
    ASSERT_STR_EQ(r.stderr_buf, "Execution timed out after 15 s\n");
    /* after what the program wrote, without a missing newline */
    set_stderr(&r, "partial");
    ASSERT_EQ(sch_result_explain(&r, 1500, 512), 0);
    ASSERT_STR_EQ(r.stderr_buf, "partial\nExecution timed out after 1.5 s\n");
    ASSERT_EQ(r.stderr_len, strlen(r.stderr_buf));
    /* idempotent */
    ASSERT_EQ(sch_result_explain(&r, 1500, 512), 0);
    ASSERT_STR_EQ(r.stderr_buf, "partial\nExecution timed out after 1.5 s\n");
    sch_result_release(&r);
}

TEST(oom_line)
{
    struct sch_result r = {0};
    r.status = SCH_STATUS_OOM;
    set_stderr(&r, "Traceback...\n");
    ASSERT_EQ(sch_result_explain(&r, 30000, 512), 0);
    ASSERT_STR_EQ(r.stderr_buf, "Traceback...\nOut of memory (limit 512 MB)\n");
    sch_result_release(&r);
}

TEST(silent_exit_line)
{
    struct sch_result r = {0};
    r.status = SCH_STATUS_FAILED;
    r.exit_code = 3;
    ASSERT_EQ(sch_result_explain(&r, 30000, 512), 0);
    ASSERT_STR_EQ(r.stderr_buf, "Process exited with code 3\n");
    /* a program that said something already: untouched */
    set_stderr(&r, "ValueError: x\n");
    ASSERT_EQ(sch_result_explain(&r, 30000, 512), 0);
    ASSERT_STR_EQ(r.stderr_buf, "ValueError: x\n");
    /* only whitespace counts as silent */
    set_stderr(&r, " \n");
    ASSERT_EQ(sch_result_explain(&r, 30000, 512), 0);
    ASSERT_STR_EQ(r.stderr_buf, " \nProcess exited with code 3\n");
    sch_result_release(&r);
}

TEST(other_outcomes_untouched)
{
    struct sch_result r = {0};
    char line[64];
    r.status = SCH_STATUS_COMPLETED;
    ASSERT_EQ(sch_result_explain(&r, 30000, 512), 0);
    ASSERT_NULL(r.stderr_buf);
    r.status = SCH_STATUS_FAILED;
    r.exit_code = 0; /* failed without an exit code: an infrastructure text */
    ASSERT_EQ(sch_explain_line(&r, 30000, 512, line, sizeof line), 0);
    r.status = SCH_STATUS_CANCELLED;
    r.exit_code = 137;
    ASSERT_EQ(sch_explain_line(&r, 30000, 512, line, sizeof line), 0);
    ASSERT_STR_EQ(line, "");
    sch_result_release(&r);
}

TEST_MAIN(timeout_line, oom_line, silent_exit_line, other_outcomes_untouched)
