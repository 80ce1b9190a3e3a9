/*
 * test_ptc_names.c - the ingress names tools exactly as LibreChat's client
 * does (ing_ptc_normalise vs normalizeToPythonIdentifier and
 * normalizeToBashIdentifier of @librechat/agents 3.9.2; the expected
 * values were printed by the library itself).
 */
#include "ci_test.h"
#include "ing_ptc.h"

static const char *const cases[][3] = {
    {"get-weather", "get_weather", "get_weather"},
    {"fail.me", "failme", "fail_me"},
    {"class", "class_tool", "class"},
    {"3d-model", "_3d_model", "_3d_model"},
    {"a b\tc", "a_b_c", "a_b_c"},
    {"if", "if_tool", "if_tool"},
    {"time", "time", "time_tool"},
    {"d\xc3\xa9j\xc3\xa0-vu", "dj_vu", "dj_vu"},
    {"x.y-z w", "xy_z_w", "x_y_z_w"},
    {"None", "None_tool", "None"},
    {"_ok", "_ok", "_ok"},
    {"!!", "", ""},
    {"select", "select", "select_tool"},
    {"print", "print", "print"},
};

TEST(python_names)
{
    char out[300];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ing_ptc_normalise(cases[i][0], 0, out, sizeof out);
        ASSERT_STR_EQ(out, cases[i][1]);
    }
}

TEST(bash_names)
{
    char out[300];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ing_ptc_normalise(cases[i][0], 1, out, sizeof out);
        ASSERT_STR_EQ(out, cases[i][2]);
    }
}

TEST(bounded)
{
    char out[8];
    ing_ptc_normalise("abcdefghijklmnop", 0, out, sizeof out);
    ASSERT(out[sizeof out - 1] == '\0' || out[0] != '\0');
    ASSERT_LT(strlen(out), sizeof out);
}

TEST_MAIN(python_names, bash_names, bounded)
