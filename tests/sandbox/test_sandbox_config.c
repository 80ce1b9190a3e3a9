/* Unit tests for the sandbox container config (wk_sandbox_container_config). */
#include "ci_test.h"
#include "wk_sandbox.h"

static json_t *make(const char *network)
{
    struct wk_sandbox_spec spec;
    wk_sandbox_spec_init(&spec);
    spec.image = "code-interpreter/py:latest";
    spec.lang = "py";
    spec.session_id = "sess-1";
    spec.memory_mb = 64;
    spec.pids_limit = 100;
    spec.nano_cpus = 500000000;
    spec.network = network;
    json_t *cfg = wk_sandbox_container_config(&spec, "/r/tok", "/d/tok");
    ASSERT_NOT_NULL(cfg);
    return cfg;
}

static const char *str_at(json_t *obj, const char *k)
{
    return json_string_value(json_object_get(obj, k));
}

TEST(top_level)
{
    json_t *cfg = make(NULL);
    ASSERT_STR_EQ(str_at(cfg, "Image"), "code-interpreter/py:latest");
    /* the runner is container root; it runs programs as 1000:1000 */
    ASSERT_STR_EQ(str_at(cfg, "User"), "0:0");
    json_t *env = json_object_get(cfg, "Env");
    ASSERT_STR_EQ(json_string_value(json_array_get(env, 0)), "CI_SANDBOX_UID=1000");
    ASSERT_STR_EQ(json_string_value(json_array_get(env, 1)), "CI_SANDBOX_GID=1000");
    ASSERT_STR_EQ(str_at(cfg, "WorkingDir"), "/mnt/data");
    ASSERT_STR_EQ(str_at(cfg, "Hostname"), "sandbox");
    ASSERT_STR_EQ(str_at(cfg, "Domainname"), "");
    ASSERT(json_is_true(json_object_get(cfg, "NetworkDisabled")));
    ASSERT_NULL(json_object_get(cfg, "Cmd")); /* the image's CMD starts the runner */
    ASSERT_NULL(json_object_get(cfg, "Entrypoint"));
    json_t *l = json_object_get(cfg, "Labels");
    ASSERT_STR_EQ(str_at(l, "com.code-interpreter.managed"), "true");
    ASSERT_STR_EQ(str_at(l, "com.code-interpreter.session"), "sess-1");
    ASSERT_STR_EQ(str_at(l, "com.code-interpreter.language"), "py");
    ASSERT_STR_EQ(str_at(l, "com.code-interpreter.wan-access"), "false");
    json_decref(cfg);
}

TEST(host_config)
{
    json_t *cfg = make(NULL);
    json_t *hc = json_object_get(cfg, "HostConfig");
    ASSERT_STR_EQ(json_string_value(json_array_get(json_object_get(hc, "Binds"), 0)),
                  "/r/tok:/run/ci:rw");
    ASSERT_STR_EQ(json_string_value(json_array_get(json_object_get(hc, "Binds"), 1)),
                  "/d/tok:/mnt/data:rw");
    ASSERT_STR_EQ(str_at(hc, "NetworkMode"), "none");
    ASSERT_EQ(json_integer_value(json_object_get(hc, "Memory")), 64 * 1024 * 1024);
    ASSERT_EQ(json_integer_value(json_object_get(hc, "MemorySwap")), 64 * 1024 * 1024);
    ASSERT_EQ(json_integer_value(json_object_get(hc, "PidsLimit")), 100);
    ASSERT_EQ(json_integer_value(json_object_get(hc, "NanoCpus")), 500000000);
    ASSERT_STR_EQ(json_string_value(json_array_get(json_object_get(hc, "CapDrop"), 0)), "ALL");
    /* exactly the runner's seven: hand out the sandbox uid, kill, clean up */
    json_t *add = json_object_get(hc, "CapAdd");
    ASSERT_EQ(json_array_size(add), 7);
    const char *want[] = {"CAP_SETUID", "CAP_SETGID",       "CAP_SETPCAP", "CAP_KILL",
                          "CAP_CHOWN",  "CAP_DAC_OVERRIDE", "CAP_FOWNER"};
    for (size_t i = 0; i < 7; i++)
        ASSERT_STR_EQ(json_string_value(json_array_get(add, i)), want[i]);
    ASSERT_STR_EQ(json_string_value(json_array_get(json_object_get(hc, "SecurityOpt"), 0)),
                  "no-new-privileges");
    ASSERT(json_is_true(json_object_get(hc, "ReadonlyRootfs")));
    ASSERT(json_is_false(json_object_get(hc, "Init")));
    /* every writable tmpfs bounded in bytes and inodes */
    json_t *tmpfs = json_object_get(hc, "Tmpfs");
    ASSERT_STR_EQ(str_at(tmpfs, "/tmp"), "rw,noexec,nosuid,nodev,size=64m,nr_inodes=16384");
    ASSERT_STR_EQ(str_at(tmpfs, "/dev/shm"),
                  "rw,noexec,nosuid,nodev,size=64m,nr_inodes=4096,mode=1777");
    ASSERT_STR_EQ(str_at(tmpfs, "/run/ci/work"),
                  "rw,exec,nosuid,nodev,size=256m,nr_inodes=65536,mode=755");
    json_t *ul = json_array_get(json_object_get(hc, "Ulimits"), 0);
    ASSERT_STR_EQ(str_at(ul, "Name"), "nofile");
    ASSERT_EQ(json_integer_value(json_object_get(ul, "Soft")), 1024);
    ASSERT_EQ(json_integer_value(json_object_get(ul, "Hard")), 1024);
    ul = json_array_get(json_object_get(hc, "Ulimits"), 1); /* no file above the disk */
    ASSERT_STR_EQ(str_at(ul, "Name"), "fsize");
    ASSERT_EQ(json_integer_value(json_object_get(ul, "Soft")), (json_int_t)512 << 20);
    /* "." is Docker's "no search list"; [] would inherit the host's */
    ASSERT_EQ(json_array_size(json_object_get(hc, "DnsSearch")), 1);
    ASSERT_STR_EQ(json_string_value(json_array_get(json_object_get(hc, "DnsSearch"), 0)), ".");
    json_decref(cfg);
}

TEST(network_opt_in)
{
    json_t *cfg = make("ci-wan");
    ASSERT(json_is_false(json_object_get(cfg, "NetworkDisabled")));
    ASSERT_STR_EQ(str_at(json_object_get(cfg, "HostConfig"), "NetworkMode"), "ci-wan");
    ASSERT_STR_EQ(str_at(json_object_get(cfg, "Labels"), "com.code-interpreter.wan-access"),
                  "true");
    json_decref(cfg);
}

TEST(image_required)
{
    struct wk_sandbox_spec spec;
    wk_sandbox_spec_init(&spec);
    ASSERT_NULL(wk_sandbox_container_config(&spec, "/r", "/d"));
}

TEST_MAIN(top_level, host_config, network_opt_in, image_required)
