/*
 * test_validate.c - the request validation matrix: for each rule one body
 * that is refused (status and field path checked) and one that passes.
 */
#include "ci_test.h"
#include "sch_validate.h"

#include <errno.h>
#include <stdlib.h>

static struct sch_limits lim;

static void setup(void)
{
    sch_limits_default(&lim);
}

/* Validate `text`; on success the job is kept in *job (caller releases). */
static int run(const char *text, struct sch_job *job, struct sch_errors *e, int *st)
{
    json_error_t jerr;
    json_t *body = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!body)
        CI_FAIL_("bad test JSON %s: %s", text, jerr.text);
    int rc = sch_job_from_json(body, &lim, job, e, st);
    json_decref(body);
    return rc;
}

static int has_field(const struct sch_errors *e, const char *field)
{
    for (size_t i = 0; i < e->n; i++)
        if (strcmp(e->item[i].field, field) == 0)
            return 1;
    return 0;
}

static void expect_err(const char *text, int status, const char *field)
{
    struct sch_job job;
    struct sch_errors e;
    int st = 0;
    int rc = run(text, &job, &e, &st);
    if (rc != -EINVAL || st != status || !has_field(&e, field)) {
        fprintf(stderr, "body %s: rc %d status %d, errors:\n", text, rc, st);
        for (size_t i = 0; i < e.n; i++)
            fprintf(stderr, "  %s: %s\n", e.item[i].field, e.item[i].message);
        CI_FAIL_("expected %d on field %s", status, field);
    }
    ASSERT_NULL(job.code); /* released */
    ASSERT_NULL(job.args);
}

/* Must pass; returns the job for further checks. */
static struct sch_job expect_ok(const char *text)
{
    struct sch_job job;
    struct sch_errors e;
    int st = 0;
    int rc = run(text, &job, &e, &st);
    if (rc != 0) {
        for (size_t i = 0; i < e.n; i++)
            fprintf(stderr, "  %s: %s\n", e.item[i].field, e.item[i].message);
        CI_FAIL_("body %s refused with %d", text, st);
    }
    ASSERT_EQ(st, 200);
    ASSERT_EQ(e.n, 0);
    return job;
}

static void ok_release(const char *text)
{
    struct sch_job j = expect_ok(text);
    sch_job_release(&j);
}

static char *repeat(char c, size_t n, const char *pre, const char *post)
{
    size_t a = strlen(pre), b = strlen(post);
    char *s = malloc(a + n + b + 1);
    memcpy(s, pre, a);
    memset(s + a, c, n);
    memcpy(s + a + n, post, b + 1);
    return s;
}

TEST(body_must_be_object)
{
    setup();
    expect_err("[]", 400, "body");
    expect_err("\"code\"", 400, "body");
    expect_err("null", 400, "body");
    ok_release("{\"code\":\"1\",\"lang\":\"py\"}");
}

TEST(code_required_and_not_blank)
{
    setup();
    expect_err("{\"lang\":\"py\"}", 400, "code");
    expect_err("{\"lang\":\"py\",\"code\":null}", 400, "code");
    expect_err("{\"lang\":\"py\",\"code\":\"\"}", 400, "code");
    expect_err("{\"lang\":\"py\",\"code\":\" \\n\\t\\r \"}", 400, "code");
    expect_err("{\"lang\":\"py\",\"code\":5}", 422, "code");
    struct sch_job j = expect_ok("{\"lang\":\"py\",\"code\":\" x \"}");
    ASSERT_STR_EQ(j.code, " x ");
    ASSERT_EQ(j.code_len, 3);
    sch_job_release(&j);
}

TEST(code_size_limit)
{
    setup();
    lim.max_code_bytes = 16;
    char *big = repeat('a', 17, "{\"lang\":\"py\",\"code\":\"", "\"}");
    char *fit = repeat('a', 16, "{\"lang\":\"py\",\"code\":\"", "\"}");
    expect_err(big, 413, "code");
    ok_release(fit);
    free(big);
    free(fit);
}

TEST(lang_rules)
{
    setup();
    struct sch_job j;
    struct sch_errors e;
    int st;
    ASSERT_EQ(run("{\"code\":\"1\",\"lang\":\"cobol\"}", &j, &e, &st), -EINVAL);
    ASSERT_EQ(st, 400);
    ASSERT_EQ(e.n, 1);
    ASSERT_STR_EQ(e.item[0].field, "lang");
    ASSERT_NOT_NULL(
        strstr(e.item[0].message, "py, js, ts, go, java, c, cpp, php, rs, r, f90, d, bash"));
    expect_err("{\"code\":\"1\"}", 400, "lang");
    expect_err("{\"code\":\"1\",\"lang\":[\"py\"]}", 422, "lang");
    j = expect_ok("{\"code\":\"1\",\"lang\":\"PY\"}");
    ASSERT_EQ(j.lang, SCH_LANG_PY);
    sch_job_release(&j);
    j = expect_ok("{\"code\":\"1\",\"lang\":\"F90\"}");
    ASSERT_EQ(j.lang, SCH_LANG_F90);
    sch_job_release(&j);
}

TEST(args_rules)
{
    setup();
    lim.max_args = 2;
    lim.max_arg_bytes = 4;
    struct sch_job j = expect_ok("{\"code\":\"1\",\"lang\":\"py\",\"args\":\"a b\"}");
    ASSERT_EQ(j.nargs, 1);
    ASSERT_STR_EQ(j.args[0], "a b");
    sch_job_release(&j);
    j = expect_ok("{\"code\":\"1\",\"lang\":\"py\",\"args\":[\"a\",\"bcde\"]}");
    ASSERT_EQ(j.nargs, 2);
    ASSERT_STR_EQ(j.args[1], "bcde");
    sch_job_release(&j);
    expect_err("{\"code\":\"1\",\"lang\":\"py\",\"args\":[\"a\",2]}", 422, "args[1]");
    expect_err("{\"code\":\"1\",\"lang\":\"py\",\"args\":{\"a\":1}}", 422, "args");
    expect_err("{\"code\":\"1\",\"lang\":\"py\",\"args\":[\"a\",\"b\",\"c\"]}", 422, "args");
    expect_err("{\"code\":\"1\",\"lang\":\"py\",\"args\":[\"a\",\"bcdef\"]}", 413, "args[1]");
    expect_err("{\"code\":\"1\",\"lang\":\"py\",\"args\":\"abcdef\"}", 413, "args");
    expect_err("{\"code\":\"1\",\"lang\":\"py\",\"args\":[\"a\\u0000b\"]}", 422, "args[0]");
}

TEST(user_id_rules)
{
    setup();
    char *ok = repeat('u', 128, "{\"code\":\"1\",\"lang\":\"py\",\"user_id\":\"", "\"}");
    char *bad = repeat('u', 129, "{\"code\":\"1\",\"lang\":\"py\",\"user_id\":\"", "\"}");
    ok_release(ok);
    expect_err(bad, 422, "user_id");
    expect_err("{\"code\":\"1\",\"lang\":\"py\",\"user_id\":7}", 422, "user_id");
    /* 128 two-byte characters are 128 characters */
    char *body = repeat('x', 256, "{\"code\":\"1\",\"lang\":\"py\",\"user_id\":\"", "\"}");
    char *p = strchr(body + 30, 'x');
    for (int i = 0; i < 128; i++) {
        p[2 * i] = (char)0xc3;
        p[2 * i + 1] = (char)0xa9;
    }
    struct sch_job j = expect_ok(body);
    free(body);
    ASSERT_EQ(strlen(j.user_id), 256);
    sch_job_release(&j);
    free(ok);
    free(bad);
}

TEST(entity_id_rules)
{
    setup();
    char *ok = repeat('e', 40, "{\"code\":\"1\",\"lang\":\"py\",\"entity_id\":\"", "\"}");
    char *bad = repeat('e', 41, "{\"code\":\"1\",\"lang\":\"py\",\"entity_id\":\"", "\"}");
    struct sch_job j = expect_ok(ok);
    ASSERT_EQ(strlen(j.entity_id), 40);
    sch_job_release(&j);
    expect_err(bad, 422, "entity_id");
    expect_err("{\"code\":\"1\",\"lang\":\"py\",\"entity_id\":\"asst 1\"}", 422, "entity_id");
    expect_err("{\"code\":\"1\",\"lang\":\"py\",\"entity_id\":[]}", 422, "entity_id");
    j = expect_ok("{\"code\":\"1\",\"lang\":\"py\",\"entity_id\":\"\"}");
    ASSERT_NULL(j.entity_id);
    sch_job_release(&j);
    j = expect_ok("{\"code\":\"1\",\"lang\":\"py\",\"entity_id\":\"asst_A-9\"}");
    ASSERT_STR_EQ(j.entity_id, "asst_A-9");
    sch_job_release(&j);
    free(ok);
    free(bad);
}

TEST(session_id_rules)
{
    setup();
    char *ok = repeat('s', 64, "{\"code\":\"1\",\"lang\":\"py\",\"session_id\":\"", "\"}");
    char *bad = repeat('s', 65, "{\"code\":\"1\",\"lang\":\"py\",\"session_id\":\"", "\"}");
    ok_release(ok);
    expect_err(bad, 422, "session_id");
    expect_err("{\"code\":\"1\",\"lang\":\"py\",\"session_id\":\"\"}", 422, "session_id");
    expect_err("{\"code\":\"1\",\"lang\":\"py\",\"session_id\":\"../x\"}", 422, "session_id");
    struct sch_job j = expect_ok("{\"code\":\"1\",\"lang\":\"py\",\"session_id\":null}");
    ASSERT_NULL(j.session_id);
    sch_job_release(&j);
    free(ok);
    free(bad);
}

#define FILEJ(x) "{\"code\":\"1\",\"lang\":\"py\",\"files\":" x "}"

TEST(files_rules)
{
    setup();
    lim.max_files_per_session = 2;
    struct sch_job j =
        expect_ok(FILEJ("[{\"id\":\"f1\",\"session_id\":\"s1\",\"name\":\"a b.csv\","
                        "\"restore_state\":true},"
                        "{\"id\":\"f2\",\"session_id\":\"s2\",\"name\":\"\xc3\xa9.txt\"}]"));
    ASSERT_EQ(j.nfiles, 2);
    ASSERT_STR_EQ(j.files[0].id, "f1");
    ASSERT_STR_EQ(j.files[0].session_id, "s1");
    ASSERT_STR_EQ(j.files[0].name, "a b.csv");
    ASSERT_EQ(j.files[0].restore_state, 1);
    ASSERT_EQ(j.files[1].restore_state, 0);
    sch_job_release(&j);
    expect_err(FILEJ("{}"), 422, "files");
    expect_err(FILEJ("[1]"), 422, "files[0]");
    expect_err(FILEJ("[{},{},{}]"), 422, "files");
    expect_err(FILEJ("[{\"session_id\":\"s\",\"name\":\"n\"}]"), 422, "files[0].id");
    expect_err(FILEJ("[{\"id\":\"f\",\"name\":\"n\"}]"), 422, "files[0].session_id");
    expect_err(FILEJ("[{\"id\":\"f\",\"session_id\":\"s\"}]"), 422, "files[0].name");
    expect_err(FILEJ("[{\"id\":\"f/\",\"session_id\":\"s\",\"name\":\"n\"}]"), 422, "files[0].id");
    expect_err(FILEJ("[{\"id\":\"f\",\"session_id\":\"s\",\"name\":\"n\"},"
                     "{\"id\":\"f\",\"session_id\":\"s\",\"name\":\"../etc\"}]"),
               422, "files[1].name");
    expect_err(FILEJ("[{\"id\":\"f\",\"session_id\":\"s\",\"name\":\"..\"}]"), 422,
               "files[0].name");
    expect_err(FILEJ("[{\"id\":\"f\",\"session_id\":\"s\",\"name\":\"a\\\\b\"}]"), 422,
               "files[0].name");
    expect_err(FILEJ("[{\"id\":\"f\",\"session_id\":\"s\",\"name\":\"a\\u0001\"}]"), 422,
               "files[0].name");
    expect_err(FILEJ("[{\"id\":\"f\",\"session_id\":\"s\",\"name\":\"a\\u0000b\"}]"), 422,
               "files[0].name");
    expect_err(FILEJ("[{\"id\":\"f\",\"session_id\":\"s\",\"name\":7}]"), 422, "files[0].name");
    expect_err(
        FILEJ("[{\"id\":\"f\",\"session_id\":\"s\",\"name\":\"n\",\"restore_state\":\"yes\"}]"),
        422, "files[0].restore_state");
    char *longname = repeat('n', 256,
                            "{\"code\":\"1\",\"lang\":\"py\",\"files\":[{\"id\":\"f\","
                            "\"session_id\":\"s\",\"name\":\"",
                            "\"}]}");
    expect_err(longname, 422, "files[0].name");
    free(longname);
}

/* LibreChat's CodeEnvFile {id, resource_id, name, storage_session_id, kind,
 * version?} next to the older shape. */
TEST(files_librechat_shape)
{
    setup();
    struct sch_job j = expect_ok(
        FILEJ("[{\"id\":\"f1\",\"resource_id\":\"agent_x\",\"name\":\"dir/sub/a.csv\","
              "\"storage_session_id\":\"S1\",\"kind\":\"agent\"},"
              "{\"id\":\"f2\",\"resource_id\":\"64ab\",\"name\":\"s.md\","
              "\"storage_session_id\":\"S2\",\"kind\":\"skill\",\"version\":7},"
              "{\"id\":\"f3\",\"name\":\"u.txt\",\"storage_session_id\":\"S3\"},"
              "{\"id\":\"f4\",\"name\":\"o.txt\",\"session_id\":\"S4\"}]"));
    ASSERT_EQ(j.nfiles, 4);
    ASSERT_STR_EQ(j.files[0].session_id, "S1");
    ASSERT_EQ(j.files[0].kind, SCH_FILE_KIND_AGENT);
    ASSERT_STR_EQ(j.files[0].resource_id, "agent_x");
    ASSERT_STR_EQ(j.files[0].name, "dir/sub/a.csv");
    ASSERT_NULL(j.files[0].version);
    ASSERT_EQ(j.files[1].kind, SCH_FILE_KIND_SKILL);
    ASSERT_STR_EQ(j.files[1].version, "7");
    ASSERT_EQ(j.files[2].kind, SCH_FILE_KIND_USER); /* kind absent: user */
    ASSERT_STR_EQ(j.files[2].session_id, "S3");
    ASSERT_EQ(j.files[3].kind, SCH_FILE_KIND_USER); /* the older shape */
    ASSERT_STR_EQ(j.files[3].session_id, "S4");
    sch_job_release(&j);
    j = expect_ok(FILEJ("[{\"id\":\"f\",\"name\":\"n\",\"storage_session_id\":\"S\","
                        "\"session_id\":\"S\",\"kind\":\"user\",\"version\":\"12\"}]"));
    ASSERT_STR_EQ(j.files[0].version, "12");
    sch_job_release(&j);
    expect_err(FILEJ("[{\"id\":\"f\",\"name\":\"n\",\"kind\":\"user\"}]"), 422,
               "files[0].storage_session_id");
    expect_err(FILEJ("[{\"id\":\"f\",\"name\":\"n\",\"storage_session_id\":\"S\","
                     "\"kind\":\"tenant\"}]"),
               422, "files[0].kind");
    expect_err(FILEJ("[{\"id\":\"f\",\"name\":\"n\",\"storage_session_id\":\"S\","
                     "\"kind\":3}]"),
               422, "files[0].kind");
    expect_err(FILEJ("[{\"id\":\"f\",\"name\":\"n\",\"storage_session_id\":\"S\","
                     "\"session_id\":\"T\"}]"),
               422, "files[0].session_id");
    expect_err(FILEJ("[{\"id\":\"f\",\"name\":\"n\",\"storage_session_id\":\"S/x\"}]"), 422,
               "files[0].storage_session_id");
    expect_err(FILEJ("[{\"id\":\"f\",\"name\":\"n\",\"storage_session_id\":\"S\","
                     "\"version\":-1}]"),
               422, "files[0].version");
    expect_err(FILEJ("[{\"id\":\"f\",\"name\":\"n\",\"storage_session_id\":\"S\","
                     "\"version\":\"1.2\"}]"),
               422, "files[0].version");
    expect_err(FILEJ("[{\"id\":\"f\",\"name\":\"n\",\"storage_session_id\":\"S\","
                     "\"resource_id\":\"a\\u0001\"}]"),
               422, "files[0].resource_id");
    expect_err(FILEJ("[{\"id\":\"f\",\"name\":\"a/../b\",\"storage_session_id\":\"S\"}]"),
               422, "files[0].name");
    expect_err(FILEJ("[{\"id\":\"f\",\"name\":\"/etc/passwd\",\"storage_session_id\":\"S\"}]"),
               422, "files[0].name");
}

TEST(valid_relpath)
{
    const char *why = NULL;
    ASSERT(sch_valid_relpath("a.csv", &why));
    ASSERT_NULL(why);
    ASSERT(sch_valid_relpath("dir/sub/a b.csv", NULL));
    ASSERT(sch_valid_relpath("a/b/c/d/e/f/g/h", NULL)); /* 8 components */
    ASSERT(!sch_valid_relpath("a/b/c/d/e/f/g/h/i", &why));
    ASSERT_STR_EQ(why, "must have at most 8 path components");
    ASSERT(!sch_valid_relpath("", NULL));
    ASSERT(!sch_valid_relpath("/a", NULL));
    ASSERT(!sch_valid_relpath("a/", NULL));
    ASSERT(!sch_valid_relpath("a//b", &why));
    ASSERT_STR_EQ(why, "must not have empty path components");
    ASSERT(!sch_valid_relpath("a/./b", NULL));
    ASSERT(!sch_valid_relpath("a/../b", NULL));
    ASSERT(!sch_valid_relpath("..", NULL));
    ASSERT(!sch_valid_relpath("a\\b/c", NULL));
    ASSERT(!sch_valid_relpath("a/b\nc", NULL));
    char name[300];
    memset(name, 'x', sizeof name);
    name[3] = '/';
    name[255] = '\0';
    ASSERT(sch_valid_relpath(name, NULL));
    name[255] = 'x';
    name[256] = '\0';
    ASSERT(!sch_valid_relpath(name, NULL));
}

#define JOBX(x) "{\"code\":\"1\",\"lang\":\"py\"," x "}"

TEST(callback_url_rules)
{
    setup();
    struct sch_job j = expect_ok(JOBX("\"callback_url\":\"https://hooks.test/a\""));
    ASSERT_STR_EQ(j.callback_url, "https://hooks.test/a");
    sch_job_release(&j);
    ok_release(JOBX("\"callback_url\":\"http://127.0.0.1:9/\""));
    expect_err(JOBX("\"callback_url\":\"ftp://x\""), 422, "callback_url");
    expect_err(JOBX("\"callback_url\":\"javascript:alert(1)\""), 422, "callback_url");
    expect_err(JOBX("\"callback_url\":1"), 422, "callback_url");
    char *big =
        repeat('a', 2049 - 8, "{\"code\":\"1\",\"lang\":\"py\",\"callback_url\":\"https://", "\"}");
    expect_err(big, 422, "callback_url");
    free(big);
}

TEST(timeout_rules)
{
    setup();
    struct sch_job j = expect_ok(JOBX("\"timeout\":15000")); /* LibreChat's 15 s */
    ASSERT_EQ(j.timeout_ms, 15000);
    sch_job_release(&j);
    j = expect_ok(JOBX("\"timeout\":1.5"));
    ASSERT_EQ(j.timeout_ms, 2); /* milliseconds, rounded up */
    sch_job_release(&j);
    j = expect_ok(JOBX("\"timeout\":30000"));
    ASSERT_EQ(j.timeout_ms, 30000);
    sch_job_release(&j);
    j = expect_ok(JOBX("\"timeout\":600000")); /* over MAX_EXECUTION_TIME: clamped */
    ASSERT_EQ(j.timeout_ms, 30000);
    sch_job_release(&j);
    j = expect_ok(JOBX("\"timeout\":1e300"));
    ASSERT_EQ(j.timeout_ms, 30000);
    sch_job_release(&j);
    j = expect_ok("{\"code\":\"1\",\"lang\":\"py\"}");
    ASSERT_EQ(j.timeout_ms, 30000);
    sch_job_release(&j);
    expect_err(JOBX("\"timeout\":0"), 422, "timeout");
    expect_err(JOBX("\"timeout\":-1"), 422, "timeout");
    expect_err(JOBX("\"timeout\":\"5\""), 422, "timeout");
}

TEST(priority_rules)
{
    setup();
    struct sch_job j = expect_ok(JOBX("\"priority\":\"high\""));
    ASSERT_EQ(j.priority, 1);
    sch_job_release(&j);
    j = expect_ok(JOBX("\"priority\":\"Normal\""));
    ASSERT_EQ(j.priority, 0);
    sch_job_release(&j);
    j = expect_ok(JOBX("\"priority\":1"));
    ASSERT_EQ(j.priority, 1);
    sch_job_release(&j);
    expect_err(JOBX("\"priority\":2"), 422, "priority");
    expect_err(JOBX("\"priority\":\"urgent\""), 422, "priority");
    expect_err(JOBX("\"priority\":true"), 422, "priority");
}

TEST(unknown_and_null_fields_ignored)
{
    setup();
    struct sch_job j = expect_ok(JOBX("\"foo\":[1,{\"x\":null}],\"user_id\":null,\"args\":null,"
                                      "\"files\":null,\"timeout\":null"));
    ASSERT_NULL(j.user_id);
    ASSERT_EQ(j.nargs, 0);
    ASSERT_EQ(j.nfiles, 0);
    sch_job_release(&j);
}

TEST(all_errors_collected_and_status_order)
{
    setup();
    struct sch_job j;
    struct sch_errors e;
    int st;
    ASSERT_EQ(run("{\"code\":\"  \",\"lang\":\"cobol\",\"args\":[1],\"files\":[{\"name\":\"..\"}],"
                  "\"priority\":9}",
                  &j, &e, &st),
              -EINVAL);
    ASSERT_EQ(st, 400);
    ASSERT(has_field(&e, "code"));
    ASSERT(has_field(&e, "lang"));
    ASSERT(has_field(&e, "args[0]"));
    ASSERT(has_field(&e, "files[0].id"));
    ASSERT(has_field(&e, "files[0].session_id"));
    ASSERT(has_field(&e, "files[0].name"));
    ASSERT(has_field(&e, "priority"));
    ASSERT_EQ(e.n, 7);
    /* 413 beats 422 */
    lim.max_code_bytes = 2;
    ASSERT_EQ(run("{\"code\":\"abc\",\"lang\":\"py\",\"args\":5}", &j, &e, &st), -EINVAL);
    ASSERT_EQ(st, 413);
    ASSERT_EQ(e.n, 2);
    /* only schema problems -> 422 */
    ASSERT_EQ(run("{\"code\":\"ab\",\"lang\":\"py\",\"args\":5}", &j, &e, &st), -EINVAL);
    ASSERT_EQ(st, 422);
}

TEST(errors_overflow_and_merge)
{
    setup();
    struct sch_job j;
    struct sch_errors e, all;
    int st;
    ASSERT_EQ(run("{\"code\":\"1\",\"lang\":\"py\",\"args\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,"
                  "16,17,18,19,20]}",
                  &j, &e, &st),
              -EINVAL);
    ASSERT_EQ(e.n, SCH_ERRORS_MAX);
    ASSERT_EQ(e.truncated, 1);
    ASSERT_STR_EQ(e.item[15].field, "args[15]");
    sch_errors_init(&all);
    ASSERT_EQ(run("{\"lang\":\"py\"}", &j, &e, &st), -EINVAL);
    sch_errors_merge(&all, &e, "jobs[3]");
    ASSERT_EQ(run("[]", &j, &e, &st), -EINVAL);
    sch_errors_merge(&all, &e, "jobs[4]");
    ASSERT_EQ(all.n, 2);
    ASSERT_STR_EQ(all.item[0].field, "jobs[3].code");
    ASSERT_STR_EQ(all.item[0].message, "is required");
    ASSERT_STR_EQ(all.item[1].field, "jobs[4].body");
}

TEST(valid_id_and_filename)
{
    const char *why = NULL;
    ASSERT(sch_valid_id("abc_-XYZ09", 64));
    ASSERT(!sch_valid_id("", 64));
    ASSERT(!sch_valid_id(NULL, 64));
    ASSERT(!sch_valid_id("abcd", 3));
    ASSERT(sch_valid_id("abc", 3));
    ASSERT(!sch_valid_id("a.b", 64));
    ASSERT(!sch_valid_id("a b", 64));
    ASSERT(sch_valid_filename("report 2024.pdf", &why));
    ASSERT_NULL(why);
    ASSERT(sch_valid_filename(".hidden", NULL));
    ASSERT(sch_valid_filename("\xe6\x97\xa5\xe6\x9c\xac.txt", NULL));
    ASSERT(!sch_valid_filename("", &why));
    ASSERT_NOT_NULL(why);
    ASSERT(!sch_valid_filename(".", NULL));
    ASSERT(!sch_valid_filename("..", NULL));
    ASSERT(!sch_valid_filename("a/b", NULL));
    ASSERT(!sch_valid_filename("a\\b", NULL));
    ASSERT(!sch_valid_filename("a\nb", NULL));
    ASSERT(!sch_valid_filename("a\x7f", NULL));
    ASSERT(!sch_valid_filename("\xff\xfe.txt", &why));
    ASSERT_STR_EQ(why, "must be valid UTF-8");
    char name[300];
    memset(name, 'x', sizeof name);
    name[255] = '\0';
    ASSERT(sch_valid_filename(name, NULL));
    name[255] = 'x';
    name[256] = '\0';
    ASSERT(!sch_valid_filename(name, NULL));
}

TEST(full_body_maps_every_field)
{
    setup();
    struct sch_job j = expect_ok("{\"code\":\"print(1)\",\"lang\":\"Py\",\"args\":[\"-v\"],"
                                 "\"user_id\":\"u1\",\"entity_id\":\"e1\",\"session_id\":\"s1\","
                                 "\"files\":[{\"id\":\"f\",\"session_id\":\"s0\",\"name\":\"n\"}],"
                                 "\"callback_url\":\"https://cb.test/\",\"timeout\":2000,"
                                 "\"priority\":\"high\"}");
    ASSERT_STR_EQ(j.code, "print(1)");
    ASSERT_EQ(j.code_len, 8);
    ASSERT_EQ(j.lang, SCH_LANG_PY);
    ASSERT_EQ(j.nargs, 1);
    ASSERT_STR_EQ(j.args[0], "-v");
    ASSERT_STR_EQ(j.user_id, "u1");
    ASSERT_STR_EQ(j.entity_id, "e1");
    ASSERT_STR_EQ(j.session_id, "s1");
    ASSERT_EQ(j.nfiles, 1);
    ASSERT_STR_EQ(j.callback_url, "https://cb.test/");
    ASSERT_EQ(j.timeout_ms, 2000);
    ASSERT_EQ(j.priority, 1);
    ASSERT_NULL(j.id); /* the ingress assigns it */
    sch_job_release(&j);
}

TEST_MAIN(body_must_be_object, code_required_and_not_blank, code_size_limit, lang_rules, args_rules,
          user_id_rules, entity_id_rules, session_id_rules, files_rules, files_librechat_shape,
          valid_relpath, callback_url_rules,
          timeout_rules, priority_rules, unknown_and_null_fields_ignored,
          all_errors_collected_and_status_order, errors_overflow_and_merge, valid_id_and_filename,
          full_body_maps_every_field)
