/*
 * ci_test.h - a minimal test harness: one process per case.
 *
 * A test file defines its cases with TEST(name) and ends with
 * TEST_MAIN(case, case, ...).  The binary runs the one case named in argv[1]
 * (ctest registers each case separately, see ci_add_cases() in
 * tests/CMakeLists.txt), or every case in turn when run without arguments.
 * The ASSERT_* macros print both sides and the location, then abort the case
 * with exit status 1.
 */
#ifndef CI_TEST_H
#define CI_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEST(name) static void test_##name(void)

#define CI_FAIL_(...)                                                                              \
    do {                                                                                           \
        fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                                           \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        exit(1);                                                                                   \
    } while (0)

#define ASSERT(cond)                                                                               \
    do {                                                                                           \
        if (!(cond))                                                                               \
            CI_FAIL_("assertion failed: %s", #cond);                                               \
    } while (0)

#define ASSERT_INT_OP_(a, op, b)                                                                   \
    do {                                                                                           \
        intmax_t a_ = (intmax_t)(a), b_ = (intmax_t)(b);                                           \
        if (!(a_ op b_))                                                                           \
            CI_FAIL_("%s %s %s: %jd vs %jd", #a, #op, #b, a_, b_);                                 \
    } while (0)

#define ASSERT_EQ(a, b) ASSERT_INT_OP_(a, ==, b)
#define ASSERT_NE(a, b) ASSERT_INT_OP_(a, !=, b)
#define ASSERT_LT(a, b) ASSERT_INT_OP_(a, <, b)
#define ASSERT_LE(a, b) ASSERT_INT_OP_(a, <=, b)
#define ASSERT_GT(a, b) ASSERT_INT_OP_(a, >, b)
#define ASSERT_GE(a, b) ASSERT_INT_OP_(a, >=, b)

#define ASSERT_STR_EQ(a, b)                                                                        \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (!a_ || !b_ || strcmp(a_, b_) != 0)                                                     \
            CI_FAIL_("%s == %s: \"%s\" vs \"%s\"", #a, #b, a_ ? a_ : "(null)",                     \
                     b_ ? b_ : "(null)");                                                          \
    } while (0)

#define ASSERT_NULL(a) ASSERT((a) == NULL)
#define ASSERT_NOT_NULL(a) ASSERT((a) != NULL)

struct ci_test_case {
    const char *name;
    void (*fn)(void);
};

#define CI_CASE_(name) {#name, test_##name},
#define CI_MAP1_(m, x) m(x)
/* TEST_MAIN takes the case names; up to 64 are supported by the expansion below. */
#define TEST_MAIN(...)                                                                             \
    static const char *ci_case_names_ = #__VA_ARGS__;                                              \
    static void (*ci_case_fns_[])(void) = {CI_FNS_(__VA_ARGS__)};                                  \
    int main(int argc, char **argv)                                                                \
    {                                                                                              \
        return ci_test_run_(ci_case_names_, ci_case_fns_,                                          \
                            sizeof ci_case_fns_ / sizeof ci_case_fns_[0], argc, argv);             \
    }

/* Expand a list of names into test_<name> function pointers. */
#define CI_FNS_(...) CI_FE_(CI_TESTFN_, __VA_ARGS__)
#define CI_TESTFN_(x) test_##x,
#define CI_FE_1(m, x) m(x)
#define CI_FE_2(m, x, ...) m(x) CI_FE_1(m, __VA_ARGS__)
#define CI_FE_3(m, x, ...) m(x) CI_FE_2(m, __VA_ARGS__)
#define CI_FE_4(m, x, ...) m(x) CI_FE_3(m, __VA_ARGS__)
#define CI_FE_5(m, x, ...) m(x) CI_FE_4(m, __VA_ARGS__)
#define CI_FE_6(m, x, ...) m(x) CI_FE_5(m, __VA_ARGS__)
#define CI_FE_7(m, x, ...) m(x) CI_FE_6(m, __VA_ARGS__)
#define CI_FE_8(m, x, ...) m(x) CI_FE_7(m, __VA_ARGS__)
#define CI_FE_9(m, x, ...) m(x) CI_FE_8(m, __VA_ARGS__)
#define CI_FE_10(m, x, ...) m(x) CI_FE_9(m, __VA_ARGS__)
#define CI_FE_11(m, x, ...) m(x) CI_FE_10(m, __VA_ARGS__)
#define CI_FE_12(m, x, ...) m(x) CI_FE_11(m, __VA_ARGS__)
#define CI_FE_13(m, x, ...) m(x) CI_FE_12(m, __VA_ARGS__)
#define CI_FE_14(m, x, ...) m(x) CI_FE_13(m, __VA_ARGS__)
#define CI_FE_15(m, x, ...) m(x) CI_FE_14(m, __VA_ARGS__)
#define CI_FE_16(m, x, ...) m(x) CI_FE_15(m, __VA_ARGS__)
#define CI_FE_17(m, x, ...) m(x) CI_FE_16(m, __VA_ARGS__)
#define CI_FE_18(m, x, ...) m(x) CI_FE_17(m, __VA_ARGS__)
#define CI_FE_19(m, x, ...) m(x) CI_FE_18(m, __VA_ARGS__)
#define CI_FE_20(m, x, ...) m(x) CI_FE_19(m, __VA_ARGS__)
#define CI_FE_21(m, x, ...) m(x) CI_FE_20(m, __VA_ARGS__)
#define CI_FE_22(m, x, ...) m(x) CI_FE_21(m, __VA_ARGS__)
#define CI_FE_23(m, x, ...) m(x) CI_FE_22(m, __VA_ARGS__)
#define CI_FE_24(m, x, ...) m(x) CI_FE_23(m, __VA_ARGS__)
#define CI_FE_25(m, x, ...) m(x) CI_FE_24(m, __VA_ARGS__)
#define CI_FE_26(m, x, ...) m(x) CI_FE_25(m, __VA_ARGS__)
#define CI_FE_27(m, x, ...) m(x) CI_FE_26(m, __VA_ARGS__)
#define CI_FE_28(m, x, ...) m(x) CI_FE_27(m, __VA_ARGS__)
#define CI_FE_29(m, x, ...) m(x) CI_FE_28(m, __VA_ARGS__)
#define CI_FE_30(m, x, ...) m(x) CI_FE_29(m, __VA_ARGS__)
#define CI_FE_31(m, x, ...) m(x) CI_FE_30(m, __VA_ARGS__)
#define CI_FE_32(m, x, ...) m(x) CI_FE_31(m, __VA_ARGS__)
#define CI_GET_FE_(_1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, _13, _14, _15, _16, _17,     \
                   _18, _19, _20, _21, _22, _23, _24, _25, _26, _27, _28, _29, _30, _31, _32,      \
                   NAME, ...)                                                                      \
    NAME
#define CI_FE_(m, ...)                                                                             \
    CI_GET_FE_(__VA_ARGS__, CI_FE_32, CI_FE_31, CI_FE_30, CI_FE_29, CI_FE_28, CI_FE_27, CI_FE_26,  \
               CI_FE_25, CI_FE_24, CI_FE_23, CI_FE_22, CI_FE_21, CI_FE_20, CI_FE_19, CI_FE_18,     \
               CI_FE_17, CI_FE_16, CI_FE_15, CI_FE_14, CI_FE_13, CI_FE_12, CI_FE_11, CI_FE_10,     \
               CI_FE_9, CI_FE_8, CI_FE_7, CI_FE_6, CI_FE_5, CI_FE_4, CI_FE_3, CI_FE_2, CI_FE_1)    \
    (m, __VA_ARGS__)

/* Runs the case whose position in the comma-separated `names` matches argv[1]. */
static inline int ci_test_run_(const char *names, void (**fns)(void), size_t n, int argc,
                               char **argv)
{
    const char *p = names;
    for (size_t i = 0; i < n; i++) {
        while (*p == ' ' || *p == ',' || *p == '\n' || *p == '\t')
            p++;
        size_t len = strcspn(p, ", \n\t");
        if (argc < 2 || (strlen(argv[1]) == len && strncmp(argv[1], p, len) == 0)) {
            fprintf(stderr, "-- %.*s\n", (int)len, p);
            fns[i]();
            if (argc >= 2)
                return 0;
        }
        p += len;
    }
    if (argc >= 2) {
        fprintf(stderr, "no test case named %s\n", argv[1]);
        return 2;
    }
    return 0;
}

#endif
