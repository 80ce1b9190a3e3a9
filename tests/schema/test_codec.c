/*
 * test_codec.c - msgpack round trips of jobs and results, the type tables,
 * limits from the environment.
 */
#include "ci_test.h"
#include "sch_codec.h"
#include "sch_limits.h"

#include <errno.h>
#include <msgpack.h>
#include <stdlib.h>

static char *dup_(const char *s)
{
    return strdup(s);
}

static void fill_job(struct sch_job *j)
{
    memset(j, 0, sizeof *j);
    j->id = dup_("0123456789abcdef0123456789abcdef");
    j->session_id = dup_("sess_1-A");
    j->lang = SCH_LANG_CPP;
    j->code = malloc(9);
    memcpy(j->code, "int\0main", 9); /* code may hold NUL */
    j->code_len = 8;
    j->nargs = 3;
    j->args = calloc(3, sizeof *j->args);
    j->args[0] = dup_("a");
    j->args[1] = dup_("");
    j->args[2] = dup_("h\xc3\xa9llo world");
    j->user_id = dup_("user@example");
    j->entity_id = dup_("asst_123");
    j->owner = dup_("k1a2b3");
    j->request_id = dup_("req-9");
    j->callback_url = dup_("https://hooks.test/x?y=1");
    j->nfiles = 2;
    j->files = calloc(2, sizeof *j->files);
    j->files[0].id = dup_("f1");
    j->files[0].session_id = dup_("s1");
    j->files[0].name = dup_("data.csv");
    j->files[0].restore_state = 1;
    j->files[1].id = dup_("f2");
    j->files[1].session_id = dup_("s2");
    j->files[1].name = dup_("x.txt");
    j->files[1].path = dup_("/mnt/data/x.txt");
    j->files[1].kind = SCH_FILE_KIND_SKILL;
    j->files[1].resource_id = dup_("skill_9");
    j->files[1].version = dup_("3");
    j->timeout_ms = 4000000000u;
    j->priority = 1;
    j->created_ms = 1790000000123;
}

TEST(roundtrip_job_all_fields)
{
    struct sch_job a, b;
    char *buf;
    size_t len;
    fill_job(&a);
    ASSERT_EQ(sch_job_encode(&a, &buf, &len), 0);
    ASSERT_GT(len, 0);
    ASSERT_EQ(sch_job_decode(buf, len, &b), 0);
    ASSERT_STR_EQ(b.id, a.id);
    ASSERT_STR_EQ(b.session_id, a.session_id);
    ASSERT_EQ(b.lang, SCH_LANG_CPP);
    ASSERT_EQ(b.code_len, 8);
    ASSERT(memcmp(b.code, "int\0main", 9) == 0);
    ASSERT_EQ(b.nargs, 3);
    ASSERT_STR_EQ(b.args[0], "a");
    ASSERT_STR_EQ(b.args[1], "");
    ASSERT_STR_EQ(b.args[2], "h\xc3\xa9llo world");
    ASSERT_STR_EQ(b.user_id, a.user_id);
    ASSERT_STR_EQ(b.entity_id, a.entity_id);
    ASSERT_STR_EQ(b.owner, a.owner);
    ASSERT_STR_EQ(b.request_id, a.request_id);
    ASSERT_STR_EQ(b.callback_url, a.callback_url);
    ASSERT_EQ(b.nfiles, 2);
    ASSERT_STR_EQ(b.files[0].id, "f1");
    ASSERT_STR_EQ(b.files[0].session_id, "s1");
    ASSERT_STR_EQ(b.files[0].name, "data.csv");
    ASSERT_NULL(b.files[0].path);
    ASSERT_EQ(b.files[0].restore_state, 1);
    ASSERT_STR_EQ(b.files[1].path, "/mnt/data/x.txt");
    ASSERT_EQ(b.files[1].restore_state, 0);
    ASSERT_EQ(b.files[0].kind, SCH_FILE_KIND_USER);
    ASSERT_NULL(b.files[0].resource_id);
    ASSERT_NULL(b.files[0].version);
    ASSERT_EQ(b.files[1].kind, SCH_FILE_KIND_SKILL);
    ASSERT_STR_EQ(b.files[1].resource_id, "skill_9");
    ASSERT_STR_EQ(b.files[1].version, "3");
    ASSERT_EQ(b.timeout_ms, 4000000000u);
    ASSERT_EQ(b.priority, 1);
    ASSERT_EQ(b.created_ms, 1790000000123);
    free(buf);
    sch_job_release(&a);
    sch_job_release(&b);
    ASSERT_NULL(b.id);
    ASSERT_EQ(b.nargs, 0);
}

TEST(roundtrip_job_minimal)
{
    struct sch_job a = {0}, b;
    char *buf;
    size_t len;
    a.id = dup_("j1");
    a.lang = SCH_LANG_BASH;
    a.code = dup_("echo hi");
    a.code_len = 7;
    ASSERT_EQ(sch_job_encode(&a, &buf, &len), 0);
    ASSERT_EQ(sch_job_decode(buf, len, &b), 0);
    ASSERT_EQ(b.lang, SCH_LANG_BASH);
    ASSERT_STR_EQ(b.code, "echo hi");
    ASSERT_NULL(b.session_id);
    ASSERT_NULL(b.args);
    ASSERT_NULL(b.files);
    ASSERT_NULL(b.callback_url);
    ASSERT_EQ(b.timeout_ms, 0);
    free(buf);
    sch_job_release(&a);
    sch_job_release(&b);
}

/* A job written before file kinds existed (no "kind"/"rid"/"ver" keys)
 * still decodes: its files are user-kind.  A kind this build does not know
 * is refused. */
static void pack_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

static void pack_old_job(msgpack_sbuffer *sb, const char *kind)
{
    msgpack_packer pk;
    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 5);
    pack_str(&pk, "v");
    msgpack_pack_int(&pk, 1);
    pack_str(&pk, "id");
    pack_str(&pk, "j1");
    pack_str(&pk, "lang");
    pack_str(&pk, "py");
    pack_str(&pk, "code");
    pack_str(&pk, "1");
    pack_str(&pk, "files");
    msgpack_pack_array(&pk, 1);
    msgpack_pack_map(&pk, kind ? 4 : 3);
    pack_str(&pk, "id");
    pack_str(&pk, "f1");
    pack_str(&pk, "sid");
    pack_str(&pk, "s1");
    pack_str(&pk, "name");
    pack_str(&pk, "dir/a.csv");
    if (kind) {
        pack_str(&pk, "kind");
        pack_str(&pk, kind);
    }
}

TEST(file_kinds_on_the_wire)
{
    msgpack_sbuffer sb;
    struct sch_job b;
    pack_old_job(&sb, NULL);
    ASSERT_EQ(sch_job_decode(sb.data, sb.size, &b), 0);
    ASSERT_EQ(b.nfiles, 1);
    ASSERT_EQ(b.files[0].kind, SCH_FILE_KIND_USER);
    ASSERT_STR_EQ(b.files[0].name, "dir/a.csv");
    sch_job_release(&b);
    msgpack_sbuffer_destroy(&sb);
    pack_old_job(&sb, "agent");
    ASSERT_EQ(sch_job_decode(sb.data, sb.size, &b), 0);
    ASSERT_EQ(b.files[0].kind, SCH_FILE_KIND_AGENT);
    sch_job_release(&b);
    msgpack_sbuffer_destroy(&sb);
    pack_old_job(&sb, "tenant");
    ASSERT_EQ(sch_job_decode(sb.data, sb.size, &b), -EINVAL);
    msgpack_sbuffer_destroy(&sb);
    ASSERT_STR_EQ(sch_file_kind_name(SCH_FILE_KIND_AGENT), "agent");
    ASSERT_NULL(sch_file_kind_name(SCH_FILE_KIND_COUNT));
    ASSERT_EQ(sch_file_kind_from_name("skill"), SCH_FILE_KIND_SKILL);
    ASSERT_EQ(sch_file_kind_from_name("Skill"), SCH_FILE_KIND_COUNT);
}

TEST(encode_rejects_incomplete)
{
    struct sch_job a = {0};
    char *buf = (char *)1;
    size_t len = 7;
    a.id = dup_("j1");
    a.lang = SCH_LANG_PY; /* no code */
    ASSERT_EQ(sch_job_encode(&a, &buf, &len), -EINVAL);
    ASSERT_NULL(buf);
    a.code = dup_("x");
    a.code_len = 1;
    a.lang = (enum sch_lang)99;
    ASSERT_EQ(sch_job_encode(&a, &buf, &len), -EINVAL);
    a.lang = SCH_LANG_PY;
    ASSERT_EQ(sch_job_encode(&a, &buf, &len), 0);
    free(buf);
    sch_job_release(&a);
}

TEST(roundtrip_result_all_fields)
{
    struct sch_result a = {0}, b;
    char *buf;
    size_t len;
    static const char out[] = "bin\0ary\xff\n";
    a.status = SCH_STATUS_OOM;
    a.exit_code = -137;
    a.stdout_buf = malloc(sizeof out);
    memcpy(a.stdout_buf, out, sizeof out);
    a.stdout_len = sizeof out - 1;
    a.stderr_buf = dup_("oops\n");
    a.stderr_len = 5;
    a.duration_ms = 1234;
    a.nfiles = 1;
    a.files = calloc(1, sizeof *a.files);
    a.files[0].id = dup_("out1");
    a.files[0].name = dup_("plot.png");
    a.files[0].path = dup_("/mnt/data/plot.png");
    a.files[0].session_id = dup_("s9");
    a.files[0].inherited = 1;
    a.ndeleted_files = 2;
    a.deleted_files = calloc(2, sizeof(char *));
    a.deleted_files[0] = dup_("gone.csv");
    a.deleted_files[1] = dup_("dir/x.txt");
    a.outputs_attempted = 12;
    a.outputs_delivered = 10;
    a.has_state = 1;
    a.state_size = 77777;
    ASSERT_EQ(sch_result_add_warning(&a, "w1"), 0);
    ASSERT_EQ(sch_result_add_warning(&a, "w2: unpicklable"), 0);
    a.error = dup_("infra broke");
    ASSERT_EQ(sch_result_encode(&a, &buf, &len), 0);
    ASSERT_EQ(sch_result_decode(buf, len, &b), 0);
    ASSERT_EQ(b.status, SCH_STATUS_OOM);
    ASSERT_EQ(b.exit_code, -137);
    ASSERT_EQ(b.stdout_len, sizeof out - 1);
    ASSERT(memcmp(b.stdout_buf, out, sizeof out) == 0);
    ASSERT_STR_EQ(b.stderr_buf, "oops\n");
    ASSERT_EQ(b.stderr_len, 5);
    ASSERT_EQ(b.duration_ms, 1234);
    ASSERT_EQ(b.nfiles, 1);
    ASSERT_STR_EQ(b.files[0].id, "out1");
    ASSERT_STR_EQ(b.files[0].name, "plot.png");
    ASSERT_STR_EQ(b.files[0].path, "/mnt/data/plot.png");
    ASSERT_STR_EQ(b.files[0].session_id, "s9");
    ASSERT_EQ(b.files[0].inherited, 1);
    ASSERT_EQ(b.ndeleted_files, 2);
    ASSERT_STR_EQ(b.deleted_files[0], "gone.csv");
    ASSERT_STR_EQ(b.deleted_files[1], "dir/x.txt");
    ASSERT_EQ(b.outputs_attempted, 12);
    ASSERT_EQ(b.outputs_delivered, 10);
    ASSERT_EQ(b.has_state, 1);
    ASSERT_EQ(b.state_size, 77777);
    ASSERT_EQ(b.nwarnings, 2);
    ASSERT_STR_EQ(b.warnings[0], "w1");
    ASSERT_STR_EQ(b.warnings[1], "w2: unpicklable");
    ASSERT_STR_EQ(b.error, "infra broke");
    free(buf);
    sch_result_release(&a);
    sch_result_release(&b);
}

TEST(result_every_status_roundtrips)
{
    for (int s = 0; s < SCH_STATUS_COUNT; s++) {
        struct sch_result a = {0}, b;
        char *buf;
        size_t len;
        a.status = (enum sch_status)s;
        ASSERT_EQ(sch_result_encode(&a, &buf, &len), 0);
        ASSERT_EQ(sch_result_decode(buf, len, &b), 0);
        ASSERT_EQ(b.status, s);
        ASSERT_NULL(b.stdout_buf);
        free(buf);
        sch_result_release(&b);
    }
}

/* Stdout sent as str (not bin) by another encoder is accepted too; unknown
 * keys, including non-string ones, are ignored. */
TEST(decode_accepts_str_output_and_unknown_keys)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    struct sch_result r;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 5);
    msgpack_pack_str_with_body(&pk, "v", 1);
    msgpack_pack_int(&pk, 1);
    msgpack_pack_str_with_body(&pk, "st", 2);
    msgpack_pack_str_with_body(&pk, "completed", 9);
    msgpack_pack_str_with_body(&pk, "out", 3);
    msgpack_pack_str_with_body(&pk, "hi\n", 3);
    msgpack_pack_str_with_body(&pk, "future_field", 12);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_int(&pk, 1);
    msgpack_pack_array(&pk, 0);
    msgpack_pack_int(&pk, 42);
    msgpack_pack_str_with_body(&pk, "x", 1);
    ASSERT_EQ(sch_result_decode(sb.data, sb.size, &r), 0);
    ASSERT_EQ(r.status, SCH_STATUS_COMPLETED);
    ASSERT_STR_EQ(r.stdout_buf, "hi\n");
    ASSERT_EQ(r.stdout_len, 3);
    sch_result_release(&r);
    msgpack_sbuffer_destroy(&sb);
}

TEST(lang_table)
{
    static const char *names[] = {"py",  "js", "ts", "go",  "java", "c",   "cpp",
                                  "php", "rs", "r",  "f90", "d",    "bash"};
    ASSERT_EQ(SCH_LANG_COUNT, 13);
    for (int i = 0; i < SCH_LANG_COUNT; i++) {
        ASSERT_STR_EQ(sch_lang_name((enum sch_lang)i), names[i]);
        ASSERT_EQ(sch_lang_from_name(names[i]), i);
    }
    ASSERT_EQ(sch_lang_from_name("PY"), SCH_LANG_PY);
    ASSERT_EQ(sch_lang_from_name("Bash"), SCH_LANG_BASH);
    ASSERT_EQ(sch_lang_from_name("CPP"), SCH_LANG_CPP);
    ASSERT_EQ(sch_lang_from_name("python"), SCH_LANG_NONE);
    ASSERT_EQ(sch_lang_from_name(""), SCH_LANG_NONE);
    ASSERT_EQ(sch_lang_from_name(NULL), SCH_LANG_NONE);
    ASSERT_NULL(sch_lang_name(SCH_LANG_NONE));
    ASSERT_NULL(sch_lang_name(SCH_LANG_COUNT));
}

TEST(status_table)
{
    static const char *names[] = {"queued",  "running", "completed", "failed",
                                  "timeout", "oom",     "cancelled", "dead"};
    for (int i = 0; i < SCH_STATUS_COUNT; i++) {
        ASSERT_STR_EQ(sch_status_name((enum sch_status)i), names[i]);
        ASSERT_EQ(sch_status_from_name(names[i]), i);
    }
    ASSERT_EQ(sch_status_from_name("done"), SCH_STATUS_COUNT);
    ASSERT_NULL(sch_status_name(SCH_STATUS_COUNT));
    ASSERT(!sch_status_is_terminal(SCH_STATUS_QUEUED));
    ASSERT(!sch_status_is_terminal(SCH_STATUS_RUNNING));
    ASSERT(sch_status_is_terminal(SCH_STATUS_COMPLETED));
    ASSERT(sch_status_is_terminal(SCH_STATUS_DEAD));
    ASSERT(sch_status_is_terminal(SCH_STATUS_CANCELLED));
}

TEST(limits_defaults)
{
    struct sch_limits l;
    unsetenv("MAX_EXECUTION_TIME");
    unsetenv("MAX_CODE_BYTES");
    sch_limits_from_env(&l);
    ASSERT_EQ(l.max_execution_time_s, 30);
    ASSERT_EQ(l.max_memory_mb, 512);
    ASSERT_EQ(l.max_file_size_mb, 10);
    ASSERT_EQ(l.max_files_per_session, 50);
    ASSERT_EQ(l.max_output_files, 10);
    ASSERT_EQ(l.max_code_bytes, 1024 * 1024);
    ASSERT_EQ(l.max_output_bytes, 65536);
    ASSERT_EQ(l.max_pids, 128);
    ASSERT_EQ(l.max_args, 64);
    ASSERT_EQ(l.max_arg_bytes, 4096);
    ASSERT_EQ(l.max_body_bytes, 2 * 1024 * 1024);
    ASSERT_EQ(l.max_batch_jobs, 1000);
}

TEST(limits_from_env)
{
    struct sch_limits l;
    setenv("MAX_EXECUTION_TIME", "5", 1);
    setenv("MAX_OUTPUT_BYTES", "2048", 1);
    setenv("MAX_BATCH_JOBS", "999999999", 1); /* clamped */
    setenv("MAX_ARGS", "lots", 1);            /* not a number: default */
    sch_limits_from_env(&l);
    ASSERT_EQ(l.max_execution_time_s, 5);
    ASSERT_EQ(l.max_output_bytes, 2048);
    ASSERT_EQ(l.max_batch_jobs, 100000);
    ASSERT_EQ(l.max_args, 64);
}

/* code-scan warnings made at intake travel with the job (ingress -> worker) */
TEST(roundtrip_job_warnings)
{
    struct sch_job a, b;
    char *buf;
    size_t len;
    fill_job(&a);
    a.nwarnings = 2;
    a.warnings = calloc(2, sizeof *a.warnings);
    a.warnings[0] = dup_("potentially dangerous pattern: import os (system import)");
    a.warnings[1] = dup_("potentially dangerous pattern: eval() (dangerous function)");
    ASSERT_EQ(sch_job_encode(&a, &buf, &len), 0);
    ASSERT_EQ(sch_job_decode(buf, len, &b), 0);
    ASSERT_EQ(b.nwarnings, 2);
    ASSERT_STR_EQ(b.warnings[0], a.warnings[0]);
    ASSERT_STR_EQ(b.warnings[1], a.warnings[1]);
    free(buf);
    sch_job_release(&b);
    sch_job_release(&a); /* frees the warnings too (LeakSanitizer checks) */
    ASSERT_NULL(a.warnings);
    ASSERT_EQ(a.nwarnings, 0);
}

TEST_MAIN(roundtrip_job_warnings, roundtrip_job_all_fields, file_kinds_on_the_wire, roundtrip_job_minimal, encode_rejects_incomplete,
          roundtrip_result_all_fields, result_every_status_roundtrips,
          decode_accepts_str_output_and_unknown_keys, lang_table, status_table, limits_defaults,
          limits_from_env)
