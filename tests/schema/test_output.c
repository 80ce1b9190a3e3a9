/*
 * test_output.c - output sanitizing: control characters, CR handling,
 * invalid UTF-8, caps on character boundaries, truncation markers, the
 * trailing newline.
 */
#include "ci_test.h"
#include "sch_output.h"

#include <errno.h>
#include <stdlib.h>

static char *san(const char *in, size_t len, size_t cap, int upstream, size_t *outlen)
{
    char *out = NULL;
    size_t n = 0;
    ASSERT_EQ(sch_output_sanitize(in, len, cap, upstream, &out, &n), 0);
    ASSERT_NOT_NULL(out);
    ASSERT_EQ(strlen(out), n);
    ASSERT(sch_utf8_valid(out, n));
    if (outlen)
        *outlen = n;
    return out;
}

#define EXPECT_SAN(in, cap, upstream, want)                                                        \
    do {                                                                                           \
        char *o_ = san((in), sizeof(in) - 1, (cap), (upstream), NULL);                             \
        ASSERT_STR_EQ(o_, (want));                                                                 \
        free(o_);                                                                                  \
    } while (0)

TEST(plain_text_kept_and_newline_added)
{
    EXPECT_SAN("hello\n", SCH_OUTPUT_NO_CAP, 0, "hello\n");
    EXPECT_SAN("hello", SCH_OUTPUT_NO_CAP, 0, "hello\n");
    EXPECT_SAN("a\tb\nc", SCH_OUTPUT_NO_CAP, 0, "a\tb\nc\n");
    EXPECT_SAN("", SCH_OUTPUT_NO_CAP, 0, "");
    EXPECT_SAN("\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80\n", SCH_OUTPUT_NO_CAP, 0,
               "\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80\n");
}

TEST(control_characters_stripped)
{
    EXPECT_SAN("a\x00"
               "b\x07"
               "c\x1b[31md\x7f"
               "e\n",
               SCH_OUTPUT_NO_CAP, 0, "abc[31mde\n");
    EXPECT_SAN("x\xc2\x85y\xc2\x9fz", SCH_OUTPUT_NO_CAP, 0, "xyz\n"); /* C1 controls */
    EXPECT_SAN("\x01\x02\x03", SCH_OUTPUT_NO_CAP, 0, "");             /* all gone -> empty */
}

TEST(carriage_returns)
{
    EXPECT_SAN("a\r\nb\r\n", SCH_OUTPUT_NO_CAP, 0, "a\nb\n");
    EXPECT_SAN("10%\r50%\r100%\n", SCH_OUTPUT_NO_CAP, 0, "10%50%100%\n");
    EXPECT_SAN("\r", SCH_OUTPUT_NO_CAP, 0, "");
}

TEST(invalid_utf8_replaced)
{
    EXPECT_SAN("a\xff"
               "b",
               SCH_OUTPUT_NO_CAP, 0,
               "a\xef\xbf\xbd"
               "b\n");
    /* truncated 3-byte sequence: one U+FFFD for the maximal subpart */
    EXPECT_SAN("a\xe6\x97"
               "b",
               SCH_OUTPUT_NO_CAP, 0,
               "a\xef\xbf\xbd"
               "b\n");
    /* overlong '/' and a UTF-16 surrogate are ill-formed */
    EXPECT_SAN("\xc0\xaf", SCH_OUTPUT_NO_CAP, 0, "\xef\xbf\xbd\xef\xbf\xbd\n");
    EXPECT_SAN("\xed\xa0\x80", SCH_OUTPUT_NO_CAP, 0, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\n");
    /* beyond U+10FFFF */
    EXPECT_SAN("\xf4\x90\x80\x80", SCH_OUTPUT_NO_CAP, 0,
               "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\n");
    /* sequence cut at the very end of input */
    EXPECT_SAN("ok\xf0\x9f\x98", SCH_OUTPUT_NO_CAP, 0, "ok\xef\xbf\xbd\n");
}

TEST(cap_with_marker)
{
    EXPECT_SAN("0123456789", 4, 0, "0123\n[output truncated: 6 bytes omitted]\n");
    EXPECT_SAN("0123456789", 10, 0, "0123456789\n"); /* exactly fits: no marker */
    EXPECT_SAN("ab\n", 0, 0, "[output truncated: 3 bytes omitted]\n");
}

TEST(cap_never_splits_a_character)
{
    /* "aé€😀" = 1 + 2 + 3 + 4 bytes; caps inside each character */
    static const char in[] = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
    static const struct {
        size_t cap;
        const char *want;
    } cases[] = {
        {2, "a\n[output truncated: 9 bytes omitted]\n"},
        {3, "a\xc3\xa9\n[output truncated: 7 bytes omitted]\n"},
        {5, "a\xc3\xa9\n[output truncated: 7 bytes omitted]\n"},
        {6, "a\xc3\xa9\xe2\x82\xac\n[output truncated: 4 bytes omitted]\n"},
        {9, "a\xc3\xa9\xe2\x82\xac\n[output truncated: 4 bytes omitted]\n"},
        {10, "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *o = san(in, sizeof in - 1, cases[i].cap, 0, NULL);
        ASSERT_STR_EQ(o, cases[i].want);
        free(o);
    }
}

TEST(upstream_truncation_marker)
{
    EXPECT_SAN("partial", SCH_OUTPUT_NO_CAP, 1, "partial\n[output truncated]\n");
    EXPECT_SAN("0123456789", 4, 1, "0123\n[output truncated]\n");
    EXPECT_SAN("", SCH_OUTPUT_NO_CAP, 1, "[output truncated]\n");
}

TEST(idempotent_and_bounded)
{
    size_t n1, n2;
    static const char in[] = "x\xff\r\n\x01y\xe6\x97zzzzzzzzzzzzzzzzzzzzzzzzz";
    char *a = san(in, sizeof in - 1, 12, 0, &n1);
    ASSERT_LE(n1, 12 + SCH_OUTPUT_MARKER_MAX);
    char *b = san(a, n1, SCH_OUTPUT_NO_CAP, 0, &n2);
    ASSERT_EQ(n1, n2);
    ASSERT_STR_EQ(a, b);
    free(a);
    free(b);
    char *out = (char *)1;
    size_t len;
    ASSERT_EQ(sch_output_sanitize(NULL, 3, 10, 0, &out, &len), -EINVAL);
    ASSERT_EQ(sch_output_sanitize(NULL, 0, 10, 0, &out, &len), 0);
    ASSERT_STR_EQ(out, "");
    free(out);
}

TEST(utf8_validator)
{
    ASSERT(sch_utf8_valid("", 0));
    ASSERT(sch_utf8_valid("a\0b", 3));
    ASSERT(sch_utf8_valid("\xf4\x8f\xbf\xbf", 4));
    ASSERT(!sch_utf8_valid("\xf4\x90\x80\x80", 4));
    ASSERT(!sch_utf8_valid("\xe0\x80\x80", 3));
    ASSERT(!sch_utf8_valid("\xc3", 1));
    ASSERT(!sch_utf8_valid("\x80", 1));
    uint32_t cp = 0;
    ASSERT_EQ(sch_utf8_next((const unsigned char *)"\xe2\x82\xac", 3, &cp), 3);
    ASSERT_EQ(cp, 0x20ac);
    ASSERT_EQ(sch_utf8_next((const unsigned char *)"\xe2\x82", 2, &cp), 0);
}

TEST_MAIN(plain_text_kept_and_newline_added, control_characters_stripped, carriage_returns,
          invalid_utf8_replaced, cap_with_marker, cap_never_splits_a_character,
          upstream_truncation_marker, idempotent_and_bounded, utf8_validator)
