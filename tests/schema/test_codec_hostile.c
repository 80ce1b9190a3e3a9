/*
 * test_codec_hostile.c - the decoders against malformed and malicious
 * msgpack: every truncation, wrong types, huge declared sizes, deep
 * nesting, random bytes.  Each must return -EINVAL without crashing or
 * leaking (ASan/LSan watch the leaks in sanitizer builds).
 */
#include "ci_test.h"
#include "sch_codec.h"

#include <errno.h>
#include <msgpack.h>
#include <stdlib.h>

struct mp {
    msgpack_sbuffer sb;
    msgpack_packer pk;
};

static void mp_init(struct mp *m)
{
    msgpack_sbuffer_init(&m->sb);
    msgpack_packer_init(&m->pk, &m->sb, msgpack_sbuffer_write);
}

static void mp_str(struct mp *m, const char *s)
{
    msgpack_pack_str_with_body(&m->pk, s, strlen(s));
}

static int job_rc(const char *buf, size_t len)
{
    struct sch_job j;
    int rc = sch_job_decode(buf, len, &j);
    if (rc == 0)
        sch_job_release(&j);
    else
        ASSERT_NULL(j.id); /* released on failure */
    return rc;
}

static int result_rc(const char *buf, size_t len)
{
    struct sch_result r;
    int rc = sch_result_decode(buf, len, &r);
    if (rc == 0)
        sch_result_release(&r);
    else
        ASSERT_NULL(r.stdout_buf);
    return rc;
}

static void full_job(char **buf, size_t *len)
{
    struct sch_job j = {0};
    j.id = strdup("abc");
    j.session_id = strdup("s");
    j.lang = SCH_LANG_PY;
    j.code = strdup("print(1)");
    j.code_len = 8;
    j.nargs = 2;
    j.args = calloc(2, sizeof *j.args);
    j.args[0] = strdup("x");
    j.args[1] = strdup("y");
    j.nfiles = 1;
    j.files = calloc(1, sizeof *j.files);
    j.files[0].id = strdup("f");
    j.files[0].name = strdup("n.txt");
    j.user_id = strdup("u");
    j.callback_url = strdup("http://x");
    j.timeout_ms = 1000;
    ASSERT_EQ(sch_job_encode(&j, buf, len), 0);
    sch_job_release(&j);
}

TEST(truncated_job_every_offset)
{
    char *buf;
    size_t len;
    full_job(&buf, &len);
    ASSERT_EQ(job_rc(buf, len), 0);
    for (size_t cut = 0; cut < len; cut++) {
        char *copy = malloc(cut ? cut : 1); /* exact size so ASan sees overreads */
        memcpy(copy, buf, cut);
        ASSERT_EQ(job_rc(copy, cut), -EINVAL);
        free(copy);
    }
    free(buf);
}

TEST(truncated_result_every_offset)
{
    struct sch_result r = {0};
    char *buf;
    size_t len;
    r.status = SCH_STATUS_FAILED;
    r.stdout_buf = strdup("out\n");
    r.stdout_len = 4;
    r.nfiles = 1;
    r.files = calloc(1, sizeof *r.files);
    r.files[0].name = strdup("a");
    sch_result_add_warning(&r, "w");
    ASSERT_EQ(sch_result_encode(&r, &buf, &len), 0);
    sch_result_release(&r);
    ASSERT_EQ(result_rc(buf, len), 0);
    for (size_t cut = 0; cut < len; cut++) {
        char *copy = malloc(cut ? cut : 1);
        memcpy(copy, buf, cut);
        ASSERT_EQ(result_rc(copy, cut), -EINVAL);
        free(copy);
    }
    free(buf);
}

/* Kinds of wrong value to put under a key. */
enum bad { BAD_INT, BAD_STR, BAD_ARR, BAD_MAP, BAD_NIL, BAD_BOOL, BAD_FLOAT, BAD_NEG, BAD_COUNT };

static void pack_bad(struct mp *m, enum bad b)
{
    switch (b) {
    case BAD_INT:
        msgpack_pack_int(&m->pk, 5);
        break;
    case BAD_STR:
        mp_str(m, "zz");
        break;
    case BAD_ARR:
        msgpack_pack_array(&m->pk, 1);
        msgpack_pack_int(&m->pk, 1);
        break;
    case BAD_MAP:
        msgpack_pack_map(&m->pk, 0);
        break;
    case BAD_NIL:
        msgpack_pack_nil(&m->pk);
        break;
    case BAD_BOOL:
        msgpack_pack_true(&m->pk);
        break;
    case BAD_FLOAT:
        msgpack_pack_double(&m->pk, 1.5);
        break;
    case BAD_NEG:
        msgpack_pack_int(&m->pk, -1);
        break;
    default:
        break;
    }
}

/* A job with every key valid except `key`, which gets value `b`. */
static void job_with(struct mp *m, const char *key, enum bad b)
{
    static const char *keys[] = {"v",   "id", "lang", "code", "sid", "args", "files", "to",
                                 "pri", "ct", "uid",  "eid",  "own", "rid",  "cb"};
    size_t n = sizeof keys / sizeof keys[0];
    mp_init(m);
    msgpack_pack_map(&m->pk, n);
    for (size_t i = 0; i < n; i++) {
        mp_str(m, keys[i]);
        if (strcmp(keys[i], key) == 0) {
            pack_bad(m, b);
        } else if (!strcmp(keys[i], "v")) {
            msgpack_pack_int(&m->pk, 1);
        } else if (!strcmp(keys[i], "lang")) {
            mp_str(m, "js");
        } else if (!strcmp(keys[i], "args") || !strcmp(keys[i], "files")) {
            msgpack_pack_array(&m->pk, 0);
        } else if (!strcmp(keys[i], "to") || !strcmp(keys[i], "pri") || !strcmp(keys[i], "ct")) {
            msgpack_pack_int(&m->pk, 1);
        } else {
            mp_str(m, "ok");
        }
    }
}

TEST(wrong_types_every_job_key)
{
    static const char *strkeys = " id code sid uid eid own rid cb ";
    static const char *keys[] = {"v",   "id", "lang", "code", "sid", "args", "files", "to",
                                 "pri", "ct", "uid",  "eid",  "own", "rid",  "cb"};
    struct mp m;
    job_with(&m, "none", BAD_INT);
    ASSERT_EQ(job_rc(m.sb.data, m.sb.size), 0); /* the baseline is valid */
    msgpack_sbuffer_destroy(&m.sb);
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        char pat[16];
        snprintf(pat, sizeof pat, " %s ", keys[k]);
        int is_str = strstr(strkeys, pat) != NULL;
        int is_int = !strcmp(keys[k], "to") || !strcmp(keys[k], "ct");
        for (int b = 0; b < BAD_COUNT; b++) {
            if ((is_str && b == BAD_STR) || (is_int && b == BAD_INT))
                continue; /* that one is the right type */
            job_with(&m, keys[k], (enum bad)b);
            int rc = job_rc(m.sb.data, m.sb.size);
            if (rc != -EINVAL)
                CI_FAIL_("key %s kind %d accepted (rc %d)", keys[k], b, rc);
            msgpack_sbuffer_destroy(&m.sb);
        }
    }
}

TEST(missing_required_and_bad_values)
{
    struct mp m;
    /* each required key missing */
    static const char *req[] = {"v", "id", "lang", "code"};
    for (size_t r = 0; r < 4; r++) {
        mp_init(&m);
        msgpack_pack_map(&m.pk, 3);
        for (size_t i = 0; i < 4; i++) {
            if (i == r)
                continue;
            mp_str(&m, req[i]);
            if (i == 0)
                msgpack_pack_int(&m.pk, 1);
            else
                mp_str(&m, i == 2 ? "py" : "x");
        }
        ASSERT_EQ(job_rc(m.sb.data, m.sb.size), -EINVAL);
        msgpack_sbuffer_destroy(&m.sb);
    }
    /* version 2, pri 2, to 2^32, NUL inside id, unknown lang, unknown status */
    struct {
        const char *key;
        int kind; /* 0 int, 1 raw str */
        int64_t i;
        const char *s;
        size_t slen;
    } cases[] = {{"v", 0, 2, NULL, 0},
                 {"pri", 0, 2, NULL, 0},
                 {"to", 0, 4294967296LL, NULL, 0},
                 {"ct", 0, -5, NULL, 0},
                 {"sid", 1, 0, "a\0b", 3},
                 {"lang", 1, 0, "cobol", 5},
                 {"lang", 1, 0, "averyveryverylonglanguagename", 29}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        static const char *base[] = {"v", "id", "lang", "code"};
        int replaced = 0;
        for (size_t i = 0; i < 4; i++)
            replaced |= !strcmp(base[i], cases[c].key);
        mp_init(&m);
        msgpack_pack_map(&m.pk, replaced ? 4 : 5);
        for (size_t i = 0; i < 4; i++) {
            if (!strcmp(base[i], cases[c].key))
                continue;
            mp_str(&m, base[i]);
            if (i == 0)
                msgpack_pack_int(&m.pk, 1);
            else
                mp_str(&m, i == 2 ? "py" : "x");
        }
        mp_str(&m, cases[c].key);
        if (cases[c].kind == 0)
            msgpack_pack_int64(&m.pk, cases[c].i);
        else
            msgpack_pack_str_with_body(&m.pk, cases[c].s, cases[c].slen);
        ASSERT_EQ(job_rc(m.sb.data, m.sb.size), -EINVAL);
        msgpack_sbuffer_destroy(&m.sb);
    }
}

TEST(duplicate_key_rejected)
{
    struct mp m;
    mp_init(&m);
    msgpack_pack_map(&m.pk, 5);
    mp_str(&m, "v");
    msgpack_pack_int(&m.pk, 1);
    mp_str(&m, "id");
    mp_str(&m, "x");
    mp_str(&m, "lang");
    mp_str(&m, "py");
    mp_str(&m, "code");
    mp_str(&m, "1");
    mp_str(&m, "code");
    mp_str(&m, "2");
    ASSERT_EQ(job_rc(m.sb.data, m.sb.size), -EINVAL);
    msgpack_sbuffer_destroy(&m.sb);
}

TEST(huge_declared_lengths)
{
    static const struct {
        const char *bytes;
        size_t len;
    } cases[] = {
        {"\xdd\xff\xff\xff\xff", 5},              /* array32 of 4G */
        {"\xdf\xff\xff\xff\xff", 5},              /* map32 of 4G */
        {"\xdf\x0f\xff\xff\xff\xa1v\x01", 8},     /* map32 of 268M, one entry present */
        {"\x81\xa1v\xdb\xff\xff\xff\xff", 8},     /* str32 of 4G */
        {"\x81\xa1v\xc6\xff\xff\xff\xf0", 8},     /* bin32 */
        {"\x81\xa1v\xc9\xff\xff\xff\xff\x01", 9}, /* ext32 */
        {"\xdc\xff\xff", 3},                      /* array16 of 65535, nothing present */
        {"\x81\xa4"
         "args\xdd\x00\x01\x86\xa1",
         11},            /* array of 100001 entries */
        {"\xc1", 1},     /* reserved byte */
        {"\x80\x00", 2}, /* trailing byte */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *copy = malloc(cases[i].len);
        memcpy(copy, cases[i].bytes, cases[i].len);
        ASSERT_EQ(sch_msgpack_check(copy, cases[i].len), -EINVAL);
        ASSERT_EQ(job_rc(copy, cases[i].len), -EINVAL);
        ASSERT_EQ(result_rc(copy, cases[i].len), -EINVAL);
        free(copy);
    }
}

TEST(entry_and_depth_limits)
{
    struct mp m;
    /* 100000 entries is allowed structurally, 100001 is not */
    for (int extra = 0; extra <= 1; extra++) {
        mp_init(&m);
        msgpack_pack_array(&m.pk, SCH_WIRE_MAX_ENTRIES + extra);
        for (unsigned i = 0; i < SCH_WIRE_MAX_ENTRIES + extra; i++)
            msgpack_pack_nil(&m.pk);
        ASSERT_EQ(sch_msgpack_check(m.sb.data, m.sb.size), extra ? -EINVAL : 0);
        ASSERT_EQ(job_rc(m.sb.data, m.sb.size), -EINVAL); /* not a map anyway */
        msgpack_sbuffer_destroy(&m.sb);
    }
    /* nesting */
    for (int depth = SCH_WIRE_MAX_DEPTH; depth <= SCH_WIRE_MAX_DEPTH + 1; depth++) {
        mp_init(&m);
        for (int i = 0; i < depth; i++)
            msgpack_pack_array(&m.pk, 1);
        msgpack_pack_nil(&m.pk);
        ASSERT_EQ(sch_msgpack_check(m.sb.data, m.sb.size),
                  depth > SCH_WIRE_MAX_DEPTH ? -EINVAL : 0);
        msgpack_sbuffer_destroy(&m.sb);
    }
    /* a 100k-deep nest is refused without recursion */
    size_t n = 100000;
    char *deep = malloc(n);
    memset(deep, 0x91, n);
    deep[n - 1] = (char)0xc0;
    ASSERT_EQ(job_rc(deep, n), -EINVAL);
    free(deep);
}

TEST(oversize_input_rejected)
{
    size_t n = SCH_WIRE_MAX_BYTES + 1;
    char *big = calloc(1, n);
    ASSERT_NOT_NULL(big);
    big[0] = (char)0xc6; /* bin32 covering the rest: structurally fine */
    uint32_t body = (uint32_t)(n - 5);
    big[1] = (char)(body >> 24);
    big[2] = (char)(body >> 16);
    big[3] = (char)(body >> 8);
    big[4] = (char)body;
    ASSERT_EQ(job_rc(big, n), -EINVAL);
    ASSERT_EQ(sch_msgpack_check(big, n), -EINVAL);
    ASSERT_EQ(job_rc(NULL, 0), -EINVAL);
    free(big);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)rng_state;
}

TEST(random_bytes_and_mutations)
{
    char *valid;
    size_t vlen;
    full_job(&valid, &vlen);
    int accepted = 0;
    for (int iter = 0; iter < 20000; iter++) {
        size_t len;
        char *buf;
        if (iter % 2) {
            len = rnd() % 64;
            buf = malloc(len ? len : 1);
            for (size_t i = 0; i < len; i++)
                buf[i] = (char)rnd();
        } else {
            len = vlen;
            buf = malloc(len);
            memcpy(buf, valid, len);
            for (int k = 0; k < 1 + (int)(rnd() % 4); k++)
                buf[rnd() % len] = (char)rnd();
        }
        int rj = job_rc(buf, len), rr = result_rc(buf, len);
        ASSERT(rj == 0 || rj == -EINVAL);
        ASSERT(rr == 0 || rr == -EINVAL);
        accepted += rj == 0;
        free(buf);
    }
    ASSERT_GT(accepted, 0); /* some mutations (inside strings) stay valid */
    free(valid);
}

TEST_MAIN(truncated_job_every_offset, truncated_result_every_offset, wrong_types_every_job_key,
          missing_required_and_bad_values, duplicate_key_rejected, huge_declared_lengths,
          entry_and_depth_limits, oversize_input_rejected, random_bytes_and_mutations)
