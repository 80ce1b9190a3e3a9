/*
 * fuzz_job_msgpack.c - hostile wire records: sch_job_decode and
 * sch_result_decode.  Anything accepted must re-encode and decode to the
 * same values; anything the structural check refuses must be refused.
 */
#include "sch_codec.h"
#include "sch_json.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

const char *const ci_fuzz_dict[] = {
    "\xa1v",
    "\xa2id",
    "\xa4lang",
    "\xa4"
    "code",
    "\xa4"
    "args",
    "\xa5"
    "files",
    "\xa2to",
    "\xa3pri",
    "\xa2"
    "ct",
    "\xa2st",
    "\xa3out",
    "\xa3"
    "err",
    "\xa4warn",
    "\xa2py",
    "\xa9"
    "completed",
    "\xdd\xff\xff\xff\xff",
    "\xdf\x00\x01\x86\xa1",
    "\xdb\x7f\xff\xff\xff",
    "\xc6\x00\x00\x10\x00",
    "\xc1",
    "\xc0",
    "\xc2",
    "\xc3",
    "\xcf\xff\xff\xff\xff\xff\xff\xff\xff",
    NULL,
};

static void check(int cond)
{
    if (!cond)
        abort();
}

static void job_case(const char *buf, size_t len)
{
    struct sch_job a, b;
    char *enc;
    size_t elen;
    int rc = sch_job_decode(buf, len, &a);
    check(rc == 0 || rc == -EINVAL);
    if (rc < 0) {
        check(a.id == NULL && a.code == NULL);
        return;
    }
    check(sch_msgpack_check(buf, len) == 0);
    check(a.id && a.code && a.lang > SCH_LANG_NONE && a.lang < SCH_LANG_COUNT);
    check(sch_job_encode(&a, &enc, &elen) == 0);
    check(sch_job_decode(enc, elen, &b) == 0);
    check(strcmp(a.id, b.id) == 0 && a.code_len == b.code_len);
    check(memcmp(a.code, b.code, a.code_len) == 0);
    check(a.nargs == b.nargs && a.nfiles == b.nfiles && a.timeout_ms == b.timeout_ms);
    check(a.created_ms == b.created_ms && a.priority == b.priority);
    free(enc);
    sch_job_release(&a);
    sch_job_release(&b);
}

static void result_case(const char *buf, size_t len)
{
    struct sch_result a, b;
    char *enc;
    size_t elen;
    int rc = sch_result_decode(buf, len, &a);
    check(rc == 0 || rc == -EINVAL);
    if (rc < 0)
        return;
    check(sch_result_encode(&a, &enc, &elen) == 0);
    check(sch_result_decode(enc, elen, &b) == 0);
    check(a.status == b.status && a.exit_code == b.exit_code);
    check(a.stdout_len == b.stdout_len && a.nwarnings == b.nwarnings && a.nfiles == b.nfiles);
    check(a.stdout_len == 0 || memcmp(a.stdout_buf, b.stdout_buf, a.stdout_len) == 0);
    /* and the HTTP edge can always render it */
    json_t *j = sch_result_to_json(&a, "s");
    check(j != NULL);
    char *text = json_dumps(j, 0);
    check(text != NULL);
    free(text);
    json_decref(j);
    free(enc);
    sch_result_release(&a);
    sch_result_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    if (sch_msgpack_check(buf, size) < 0) {
        struct sch_job j;
        struct sch_result r;
        check(sch_job_decode(buf, size, &j) == -EINVAL);
        check(sch_result_decode(buf, size, &r) == -EINVAL);
        return -1;
    }
    job_case(buf, size);
    result_case(buf, size);
    return 0;
}
