/* Unit tests for loading the sandbox seccomp profile (wk_sandbox_seccomp.c)
 * and passing it in the create body. */
#include "ci_test.h"
#include "wk_sandbox.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

static char dir[64];

static const char *write_file(const char *name, const char *text)
{
    static char path[128];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/ci-seccomp-XXXXXX");
        ASSERT_NOT_NULL(mkdtemp(dir));
    }
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    ASSERT_NOT_NULL(f);
    fputs(text, f);
    fclose(f);
    return path;
}

TEST(loads_the_projects_profile)
{
    char *p = NULL;
    ASSERT_EQ(wk_sandbox_seccomp_load(CI_SOURCE_DIR "/ops/sandbox/seccomp.json", &p), 0);
    json_t *j = json_loads(p, 0, NULL);
    ASSERT_NOT_NULL(j);
    ASSERT_STR_EQ(json_string_value(json_object_get(j, "defaultAction")), "SCMP_ACT_ERRNO");
    /* the denials of docs/sandbox.md: no rule allows them */
    const char *denied[] = {
        "ptrace", "io_uring_setup", "io_uring_enter", "userfaultfd", "perf_event_open", "bpf",
        "keyctl", "add_key",        "request_key",    "kexec_load",  "socketcall"};
    size_t i, k;
    json_t *r, *n;
    json_array_foreach(json_object_get(j, "syscalls"), i, r)
    {
        json_array_foreach(json_object_get(r, "names"), k, n)
        {
            for (size_t d = 0; d < sizeof denied / sizeof *denied; d++)
                ASSERT(strcmp(json_string_value(n), denied[d]) != 0);
            /* socket() only with an argument condition (the family) */
            if (strcmp(json_string_value(n), "socket") == 0)
                ASSERT_EQ(json_array_size(json_object_get(r, "args")), 1);
        }
    }
    json_decref(j);
    free(p);
}

TEST(refuses_bad_profiles)
{
    char *p = NULL;
    ASSERT_EQ(wk_sandbox_seccomp_load(write_file("allow.json", "{\"defaultAction\":"
                                                               "\"SCMP_ACT_ALLOW\",\"syscalls\":"
                                                               "[{\"names\":[\"read\"],\"action\":"
                                                               "\"SCMP_ACT_ERRNO\"}]}"),
                                      &p),
              -EINVAL);
    ASSERT_EQ(wk_sandbox_seccomp_load(write_file("bad.json", "{\"defaultAction\":"), &p), -EINVAL);
    ASSERT_EQ(
        wk_sandbox_seccomp_load(write_file("empty.json", "{\"defaultAction\":\"SCMP_ACT_ERRNO\","
                                                         "\"syscalls\":[]}"),
                                &p),
        -EINVAL);
    ASSERT_EQ(wk_sandbox_seccomp_load("/nonexistent/seccomp.json", &p), -ENOENT);
    /* bounded read: a file over WK_SECCOMP_MAX_BYTES is refused unread */
    const char *big = write_file("big.json", "");
    ASSERT_EQ(truncate(big, WK_SECCOMP_MAX_BYTES + 1), 0);
    ASSERT_EQ(wk_sandbox_seccomp_load(big, &p), -EFBIG);
    /* never through a symlink */
    char link[160];
    snprintf(link, sizeof link, "%s/link.json", dir);
    ASSERT_EQ(symlink(CI_SOURCE_DIR "/ops/sandbox/seccomp.json", link), 0);
    ASSERT_EQ(wk_sandbox_seccomp_load(link, &p), -ELOOP);
    ASSERT_NULL(p);
}

TEST(profile_goes_inline_in_security_opt)
{
    struct wk_sandbox_spec spec;
    wk_sandbox_spec_init(&spec);
    spec.image = "img";
    spec.seccomp = "{\"defaultAction\":\"SCMP_ACT_ERRNO\"}";
    json_t *cfg = wk_sandbox_container_config(&spec, "/r", "/d");
    json_t *so = json_object_get(json_object_get(cfg, "HostConfig"), "SecurityOpt");
    ASSERT_EQ(json_array_size(so), 2);
    ASSERT_STR_EQ(json_string_value(json_array_get(so, 0)), "no-new-privileges");
    ASSERT_STR_EQ(json_string_value(json_array_get(so, 1)),
                  "seccomp={\"defaultAction\":\"SCMP_ACT_ERRNO\"}");
    json_decref(cfg);
}

TEST_MAIN(loads_the_projects_profile, refuses_bad_profiles, profile_goes_inline_in_security_opt)
