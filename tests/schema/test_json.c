/*
 * test_json.c - the JSON shape of an /exec result and of an error body.
 */
#include "ci_test.h"
#include "sch_json.h"

#include <stdlib.h>

static const char *str_of(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    ASSERT(json_is_string(v));
    return json_string_value(v);
}

TEST(result_shape)
{
    struct sch_result r = {0};
    r.status = SCH_STATUS_TIMEOUT;
    r.exit_code = 137;
    r.stdout_buf = malloc(8);
    memcpy(r.stdout_buf, "hi\x00\xff\r\nyo", 8); /* NUL, bad byte, CRLF, no final newline */
    r.stdout_len = 8;
    r.duration_ms = 30001;
    r.has_state = 1;
    r.state_size = 2048;
    r.nfiles = 2;
    r.files = calloc(2, sizeof *r.files);
    r.files[0].id = strdup("f1");
    r.files[0].name = strdup("out.png");
    r.files[1].id = strdup("f2");
    r.files[1].name = strdup("b.csv");
    r.files[1].path = strdup("/mnt/data/b.csv");
    r.files[1].session_id = strdup("other");
    ASSERT_EQ(sch_result_add_warning(&r, "x not picklable"), 0);

    json_t *j = sch_result_to_json(&r, "sess1");
    ASSERT_NOT_NULL(j);
    ASSERT_STR_EQ(str_of(j, "session_id"), "sess1");
    ASSERT_STR_EQ(str_of(j, "stdout"), "hi\xef\xbf\xbd\nyo\n");
    ASSERT_STR_EQ(str_of(j, "stderr"), "");
    ASSERT_STR_EQ(str_of(j, "status"), "timeout");
    ASSERT_EQ(json_integer_value(json_object_get(j, "exit_code")), 137);
    ASSERT_EQ(json_integer_value(json_object_get(j, "duration_ms")), 30001);
    ASSERT(json_is_true(json_object_get(j, "has_state")));
    ASSERT_EQ(json_integer_value(json_object_get(j, "state_size")), 2048);
    json_t *files = json_object_get(j, "files");
    ASSERT_EQ(json_array_size(files), 2);
    json_t *f0 = json_array_get(files, 0), *f1 = json_array_get(files, 1);
    ASSERT_EQ(json_object_size(f0), 5); /* no "inherited" unless set */
    ASSERT_STR_EQ(str_of(f0, "storage_session_id"), "sess1");
    ASSERT_STR_EQ(str_of(f1, "storage_session_id"), "other");
    ASSERT_STR_EQ(str_of(f0, "id"), "f1");
    ASSERT_STR_EQ(str_of(f0, "name"), "out.png");
    ASSERT_STR_EQ(str_of(f0, "path"), "/mnt/data/out.png");
    ASSERT_STR_EQ(str_of(f0, "session_id"), "sess1");
    ASSERT_STR_EQ(str_of(f1, "session_id"), "other");
    ASSERT_STR_EQ(str_of(f1, "path"), "/mnt/data/b.csv");
    json_t *w = json_object_get(j, "warnings");
    ASSERT_EQ(json_array_size(w), 1);
    ASSERT_STR_EQ(json_string_value(json_array_get(w, 0)), "x not picklable");
    ASSERT_NULL(json_object_get(j, "error"));
    ASSERT_NULL(json_object_get(j, "deleted_files"));
    ASSERT_NULL(json_object_get(j, "artifact_delivery"));
    /* the whole thing serializes (valid UTF-8 everywhere) */
    char *text = json_dumps(j, 0);
    ASSERT_NOT_NULL(text);
    free(text);
    json_decref(j);
    sch_result_release(&r);
}

TEST(result_minimal_and_error_field)
{
    struct sch_result r = {0};
    r.status = SCH_STATUS_DEAD;
    r.error = strdup("docker unavailable \xff");
    json_t *j = sch_result_to_json(&r, NULL);
    ASSERT_NOT_NULL(j);
    ASSERT(json_is_null(json_object_get(j, "session_id")));
    ASSERT_STR_EQ(str_of(j, "stdout"), "");
    ASSERT_STR_EQ(str_of(j, "status"), "dead");
    ASSERT_EQ(json_array_size(json_object_get(j, "files")), 0);
    ASSERT_EQ(json_array_size(json_object_get(j, "warnings")), 0);
    ASSERT(json_is_false(json_object_get(j, "has_state")));
    ASSERT_STR_EQ(str_of(j, "error"), "docker unavailable \xef\xbf\xbd");
    json_decref(j);
    sch_result_release(&r);
}

/* LibreChat's fields: inherited inputs, deleted_files, artifact_delivery
 * (the client drops an artifact_delivery whose counts do not add up). */
TEST(result_librechat_fields)
{
    struct sch_result r = {0};
    r.status = SCH_STATUS_COMPLETED;
    r.nfiles = 2;
    r.files = calloc(2, sizeof *r.files);
    r.files[0].id = strdup("in1");
    r.files[0].name = strdup("dir/data.csv");
    r.files[0].path = strdup("/mnt/data/dir/data.csv");
    r.files[0].session_id = strdup("store1");
    r.files[0].inherited = 1;
    r.files[1].id = strdup("out1");
    r.files[1].name = strdup("plots/a.png");
    r.ndeleted_files = 1;
    r.deleted_files = calloc(1, sizeof(char *));
    r.deleted_files[0] = strdup("old.txt");
    r.outputs_attempted = 5;
    r.outputs_delivered = 1;
    json_t *j = sch_result_to_json(&r, "exec1");
    ASSERT_NOT_NULL(j);
    json_t *f0 = json_array_get(json_object_get(j, "files"), 0);
    json_t *f1 = json_array_get(json_object_get(j, "files"), 1);
    ASSERT(json_is_true(json_object_get(f0, "inherited")));
    ASSERT_STR_EQ(str_of(f0, "storage_session_id"), "store1");
    ASSERT_STR_EQ(str_of(f0, "name"), "dir/data.csv");
    ASSERT_NULL(json_object_get(f1, "inherited"));
    ASSERT_STR_EQ(str_of(f1, "path"), "/mnt/data/plots/a.png");
    ASSERT_STR_EQ(str_of(f1, "storage_session_id"), "exec1");
    json_t *del = json_object_get(j, "deleted_files");
    ASSERT_EQ(json_array_size(del), 1);
    ASSERT_STR_EQ(json_string_value(json_array_get(del, 0)), "old.txt");
    json_t *ad = json_object_get(j, "artifact_delivery");
    ASSERT_STR_EQ(str_of(ad, "code"), "artifact_delivery_failed");
    ASSERT_STR_EQ(str_of(ad, "status"), "partial");
    ASSERT_EQ(json_integer_value(json_object_get(ad, "attempted")), 5);
    ASSERT_EQ(json_integer_value(json_object_get(ad, "delivered")), 1);
    ASSERT_EQ(json_integer_value(json_object_get(ad, "failed")), 4);
    json_decref(j);
    /* none delivered: "failed" */
    r.outputs_delivered = 0;
    j = sch_result_to_json(&r, "exec1");
    ASSERT_STR_EQ(str_of(json_object_get(j, "artifact_delivery"), "status"), "failed");
    json_decref(j);
    /* all delivered: absent */
    r.outputs_delivered = 5;
    j = sch_result_to_json(&r, "exec1");
    ASSERT_NULL(json_object_get(j, "artifact_delivery"));
    json_decref(j);
    sch_result_release(&r);
}

TEST(error_shape)
{
    struct sch_errors e;
    sch_errors_init(&e);
    sch_errors_add(&e, "files[1].name", "must not contain '%c'", '/');
    sch_errors_add(&e, "lang", "unsupported language");
    json_t *j = sch_error_json("invalid request", "validation_error", &e, "req-42");
    ASSERT_NOT_NULL(j);
    ASSERT_EQ(json_object_size(j), 5);
    ASSERT_STR_EQ(str_of(j, "error"), "invalid request");
    ASSERT_STR_EQ(str_of(j, "error_type"), "validation_error");
    ASSERT_STR_EQ(str_of(j, "request_id"), "req-42");
    json_t *d = json_object_get(j, "details");
    ASSERT_EQ(json_array_size(d), 2);
    ASSERT_STR_EQ(str_of(json_array_get(d, 0), "field"), "files[1].name");
    ASSERT_STR_EQ(str_of(json_array_get(d, 0), "message"), "must not contain '/'");
    ASSERT_STR_EQ(str_of(json_array_get(d, 1), "field"), "lang");
    const char *ts = str_of(j, "timestamp");
    /* 2026-11-27T22:50:01.123Z */
    ASSERT_EQ(strlen(ts), 24);
    ASSERT(ts[4] == '-' && ts[7] == '-' && ts[10] == 'T' && ts[13] == ':' && ts[19] == '.');
    ASSERT(ts[23] == 'Z');
    ASSERT(strncmp(ts, "20", 2) == 0);
    json_decref(j);
}

TEST(error_without_details)
{
    json_t *j = sch_error_json("not found", "not_found", NULL, NULL);
    ASSERT_NOT_NULL(j);
    ASSERT(json_is_array(json_object_get(j, "details")));
    ASSERT_EQ(json_array_size(json_object_get(j, "details")), 0);
    ASSERT(json_is_null(json_object_get(j, "request_id")));
    json_decref(j);
}

TEST_MAIN(result_shape, result_librechat_fields, result_minimal_and_error_field, error_shape, error_without_details)
