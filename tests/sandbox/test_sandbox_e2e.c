/*
 * E2E tests of wk_sandbox against the real dockerd and a runner image
 * (CI_TEST_IMAGE, default code-interpreter/py:latest).  Exit code 77 (skip)
 * when that image is missing.  Each case uses a private RUN_DIR/DATA_DIR
 * under /tmp and a fresh session id.
 */
#include "ci_log.h"
#include "ci_test.h"
#include "ci_util.h"
#include "wk_sandbox.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

static struct {
    uv_loop_t loop;
    struct wk_docker *d;
    struct wk_sandbox *sb;
    const char *image;
    char image_buf[160];
    char root[64], run_root[96], data_root[96];
    char session[33];
    int ready, ready_status;
    int64_t open_ms;
    /* last run */
    int done, rc, status, exit_code;
    char *out, *err;
    int64_t duration_ms, elapsed_ms, state_size;
} E;

/* ---- helpers ------------------------------------------------------------ */

/* Sets a completion flag and makes spin()'s uv_run return. */
static void flag_set(int *flag)
{
    *flag = 1;
    uv_stop(&E.loop);
}

struct http {
    int done, status;
    json_t *json;
};

static void on_http(void *arg, int status, const char *body, size_t len)
{
    struct http *h = arg;
    h->status = status;
    h->json = json_loadb(body, len, 0, NULL);
    flag_set(&h->done);
}

static void spin(int *flag)
{
    while (!*flag)
        if (uv_run(&E.loop, UV_RUN_DEFAULT) == 0 && !*flag)
            CI_FAIL_("loop ran dry before the awaited callback");
}

/* Synchronous Docker API call for assertions; caller decrefs h.json. */
static struct http api(const char *method, const char *path)
{
    struct http h = {0};
    ASSERT_EQ(wk_docker_request(E.d, method, path, NULL, on_http, &h), 0);
    spin(&h.done);
    return h;
}

static void setup(void)
{
    memset(&E, 0, sizeof E);
    ci_log_init("sandbox-test");
    uv_loop_init(&E.loop);
    ASSERT_EQ(wk_docker_new(&E.loop, &E.d), 0);
    E.image = getenv("CI_TEST_IMAGE");
    if (!E.image || !*E.image) {
        const char *tag = getenv("IMAGE_TAG");
        snprintf(E.image_buf, sizeof E.image_buf, "code-interpreter/py:%s",
                 tag && *tag ? tag : "latest");
        E.image = E.image_buf;
    }
    char path[256];
    snprintf(path, sizeof path, "/images/%s/json", E.image);
    struct http h = api("GET", path);
    json_decref(h.json);
    if (h.status == 404) {
        fprintf(stderr, "SKIP: image %s not found (set CI_TEST_IMAGE or build ops/images)\n",
                E.image);
        exit(77);
    }
    ASSERT_EQ(h.status, 200);
    snprintf(E.root, sizeof E.root, "/tmp/ci-sbtest-XXXXXX");
    ASSERT_NOT_NULL(mkdtemp(E.root));
    snprintf(E.run_root, sizeof E.run_root, "%s/run", E.root);
    snprintf(E.data_root, sizeof E.data_root, "%s/data", E.root);
    ASSERT_EQ(ci_random_hex(E.session, 16), 0);
}

static void on_ready(void *arg, struct wk_sandbox *sb, int status)
{
    ASSERT(sb == E.sb);
    E.ready_status = status;
    flag_set(&E.ready);
}

static int open_sb(int64_t memory_mb, const char *image)
{
    struct wk_sandbox_spec spec;
    wk_sandbox_spec_init(&spec);
    spec.image = image ? image : E.image;
    spec.lang = "py";
    spec.session_id = E.session;
    spec.memory_mb = memory_mb;
    spec.run_root = E.run_root;
    spec.data_root = E.data_root;
    E.ready = 0;
    int64_t t0 = ci_mono_us();
    ASSERT_EQ(wk_sandbox_open(&E.loop, E.d, &spec, on_ready, NULL, &E.sb), 0);
    ASSERT_EQ(E.ready, 0);
    spin(&E.ready);
    E.open_ms = (ci_mono_us() - t0) / 1000;
    return E.ready_status;
}

static void on_result(void *arg, struct wk_sandbox *sb, int rc, struct wk_run_result *r)
{
    flag_set(&E.done);
    E.rc = rc;
    E.status = r->res.status;
    E.exit_code = r->res.exit_code;
    E.duration_ms = r->res.duration_ms;
    E.state_size = r->res.state_size;
    free(E.out);
    free(E.err);
    E.out = r->res.stdout_buf; /* take them over */
    E.err = r->res.stderr_buf;
    r->res.stdout_buf = r->res.stderr_buf = NULL;
}

static int state_in, state_out; /* flags for the next start_run */

static void start_run(const char *code, uint32_t timeout_ms)
{
    char id[33];
    ci_random_hex(id, 16);
    struct wk_run_request req = {.job_id = id,
                                 .lang = "py",
                                 .code = code,
                                 .code_len = strlen(code),
                                 .timeout_ms = timeout_ms,
                                 .max_output = 65536,
                                 .state_in = state_in,
                                 .state_out = state_out};
    E.done = 0;
    ASSERT_EQ(wk_sandbox_run(E.sb, &req, on_result, NULL), 0);
    ASSERT_EQ(wk_sandbox_run(E.sb, &req, on_result, NULL), -EBUSY);
}

static int run(const char *code, uint32_t timeout_ms)
{
    int64_t t0 = ci_mono_us();
    start_run(code, timeout_ms);
    spin(&E.done);
    E.elapsed_ms = (ci_mono_us() - t0) / 1000;
    return E.rc;
}

static void on_destroyed(void *arg)
{
    flag_set(arg);
}

static void destroy_wait(void)
{
    int done = 0;
    wk_sandbox_destroy_then(E.sb, on_destroyed, &done);
    spin(&done);
    E.sb = NULL;
}

static int container_status(const char *id)
{
    char path[160];
    snprintf(path, sizeof path, "/containers/%s/json", id);
    struct http h = api("GET", path);
    json_decref(h.json);
    return h.status;
}

static void teardown(void)
{
    if (E.sb)
        destroy_wait();
    wk_docker_close(E.d, NULL, NULL);
    for (int i = 0; i < 100 && uv_run(&E.loop, UV_RUN_DEFAULT) != 0; i++)
        ;                                 /* callbacks may have called uv_stop */
    ASSERT_EQ(uv_loop_close(&E.loop), 0); /* no handle left open */
    rmdir(E.run_root);
    rmdir(E.data_root);
    rmdir(E.root);
    free(E.out);
    free(E.err);
}

static int path_exists(const char *p)
{
    struct stat st;
    return lstat(p, &st) == 0;
}

/* ---- cases -------------------------------------------------------------- */

TEST(print_and_second_run)
{
    setup();
    ASSERT_EQ(open_sb(512, NULL), 0);
    ASSERT(wk_sandbox_is_ready(E.sb));
    ASSERT_EQ(run("print(6*7)", 10000), 0);
    ASSERT_EQ(E.status, SCH_STATUS_COMPLETED);
    ASSERT_EQ(E.exit_code, 0);
    ASSERT_STR_EQ(E.out, "42\n");
    ASSERT_STR_EQ(E.err, "");
    /* The same sandbox serves a second run. */
    ASSERT_EQ(run("import sys\nprint('again', sys.argv[0])", 10000), 0);
    ASSERT_EQ(E.status, SCH_STATUS_COMPLETED);
    ASSERT_STR_EQ(E.out, "again main.py\n");
    /* Figures (not asserted): open->ready, and print(1) on a ready sandbox
     * (the first runs may still wait for the runner's warm-up imports). */
    int64_t ms[10];
    for (int i = 0; i < 10; i++) {
        ASSERT_EQ(run("print(1)", 10000), 0);
        ASSERT_STR_EQ(E.out, "1\n");
        ms[i] = E.elapsed_ms;
    }
    fprintf(stderr, "TIMING open_to_ready_ms=%lld run_print1_ms:", (long long)E.open_ms);
    for (int i = 0; i < 10; i++)
        fprintf(stderr, " %lld", (long long)ms[i]);
    fputc('\n', stderr);
    teardown();
}

TEST(nonzero_exit)
{
    setup();
    ASSERT_EQ(open_sb(512, NULL), 0);
    ASSERT_EQ(run("import sys\nsys.stderr.write('bad things\\n')\nsys.exit(3)", 10000), 0);
    ASSERT_EQ(E.status, SCH_STATUS_FAILED);
    ASSERT_EQ(E.exit_code, 3);
    ASSERT_STR_EQ(E.err, "bad things\n");
    ASSERT_STR_EQ(E.out, "");
    teardown();
}

TEST(runner_timeout)
{
    setup();
    ASSERT_EQ(open_sb(512, NULL), 0);
    char *id = ci_xstrdup(wk_sandbox_container_id(E.sb));
    ASSERT_EQ(run("while True: pass", 1000), 0);
    ASSERT_EQ(E.status, SCH_STATUS_TIMEOUT);
    ASSERT_EQ(E.exit_code, 137);
    ASSERT_GE(E.elapsed_ms, 950);
    ASSERT_LT(E.elapsed_ms, 1000 + WK_SANDBOX_DEADLINE_SLACK_MS);
    /* The runner killed only the program: the sandbox still works. */
    ASSERT_EQ(run("print(1)", 5000), 0);
    ASSERT_STR_EQ(E.out, "1\n");
    ASSERT_EQ(container_status(id), 200);
    destroy_wait();
    ASSERT_EQ(container_status(id), 404);
    free(id);
    teardown();
}

TEST(host_deadline_kills_container)
{
    setup();
    ASSERT_EQ(open_sb(512, NULL), 0);
    char *id = ci_xstrdup(wk_sandbox_container_id(E.sb));
    char path[160];
    /* A frozen container: the runner cannot answer, only the host deadline
     * can end the run. */
    snprintf(path, sizeof path, "/containers/%s/pause", id);
    struct http h = api("POST", path);
    ASSERT_EQ(h.status, 204);
    json_decref(h.json);
    ASSERT_EQ(run("print(1)", 500), 0);
    ASSERT_EQ(E.status, SCH_STATUS_TIMEOUT);
    ASSERT_EQ(E.exit_code, 137);
    ASSERT_GE(E.elapsed_ms, 500 + WK_SANDBOX_DEADLINE_SLACK_MS - 50);
    ASSERT(!wk_sandbox_is_ready(E.sb));
    snprintf(path, sizeof path, "/containers/%s/json", id);
    h = api("GET", path);
    ASSERT_EQ(h.status, 200);
    ASSERT(json_is_false(json_object_get(json_object_get(h.json, "State"), "Running")));
    json_decref(h.json);
    destroy_wait();
    ASSERT_EQ(container_status(id), 404);
    free(id);
    teardown();
}

TEST(container_config_and_isolation)
{
    setup();
    ASSERT_EQ(open_sb(256, NULL), 0);
    char path[160];
    snprintf(path, sizeof path, "/containers/%s/json", wk_sandbox_container_id(E.sb));
    struct http h = api("GET", path);
    ASSERT_EQ(h.status, 200);
    json_t *cfg = json_object_get(h.json, "Config"), *hc = json_object_get(h.json, "HostConfig");
    json_t *labels = json_object_get(cfg, "Labels");
    ASSERT_STR_EQ(json_string_value(json_object_get(labels, "com.code-interpreter.managed")),
                  "true");
    ASSERT_STR_EQ(json_string_value(json_object_get(labels, "com.code-interpreter.session")),
                  E.session);
    ASSERT_STR_EQ(json_string_value(json_object_get(labels, "com.code-interpreter.language")),
                  "py");
    ASSERT_STR_EQ(json_string_value(json_object_get(labels, "com.code-interpreter.wan-access")),
                  "false");
    ASSERT_STR_EQ(json_string_value(json_object_get(cfg, "Hostname")), "sandbox");
    /* the runner is container root; the program (below) is uid 1000 */
    ASSERT_STR_EQ(json_string_value(json_object_get(cfg, "User")), "0:0");
    ASSERT_STR_EQ(json_string_value(json_object_get(hc, "NetworkMode")), "none");
    ASSERT(json_is_true(json_object_get(hc, "ReadonlyRootfs")));
    ASSERT_EQ(json_integer_value(json_object_get(hc, "Memory")), 256 << 20);
    ASSERT_EQ(json_integer_value(json_object_get(hc, "MemorySwap")), 256 << 20);
    const char *key;
    json_t *net;
    json_object_foreach(json_object_get(json_object_get(h.json, "NetworkSettings"), "Networks"),
                        key, net)
    {
        ASSERT_STR_EQ(key, "none");
        ASSERT_STR_EQ(json_string_value(json_object_get(net, "IPAddress")), "");
    }
    json_decref(h.json);

    /* From inside: hostname, uid, cwd, only loopback, read-only root. */
    ASSERT_EQ(run("import os, socket\n"
                  "print(socket.gethostname(), os.getuid(), os.getgid(), os.getcwd())\n"
                  "print(sorted(os.listdir('/sys/class/net')))\n"
                  "try:\n    open('/etc/x', 'w')\nexcept OSError as e:\n    print('ro', e.errno)\n"
                  "open('out.txt', 'w').write('hi')\n",
                  10000),
              0);
    ASSERT_EQ(E.status, SCH_STATUS_COMPLETED);
    ASSERT_STR_EQ(E.out, "sandbox 1000 1000 /mnt/data\n['lo']\nro 30\n");
    /* /mnt/data is the host data dir. */
    char file[512];
    snprintf(file, sizeof file, "%s/out.txt", wk_sandbox_data_dir(E.sb));
    ASSERT(path_exists(file));
    teardown();
}

TEST(destroy_removes_everything)
{
    setup();
    ASSERT_EQ(open_sb(512, NULL), 0);
    char *id = ci_xstrdup(wk_sandbox_container_id(E.sb));
    char *run_dir = ci_xstrdup(wk_sandbox_run_dir(E.sb));
    char *data_dir = ci_xstrdup(wk_sandbox_data_dir(E.sb));
    ASSERT_EQ(run("import os\nos.makedirs('a/b')\nopen('a/b/f','w').write('x')\n"
                  "os.symlink('/etc/passwd', 'link')\n",
                  10000),
              0);
    ASSERT_EQ(E.status, SCH_STATUS_COMPLETED);
    ASSERT(path_exists(run_dir));
    ASSERT(path_exists(data_dir));
    destroy_wait();
    ASSERT_EQ(container_status(id), 404);
    ASSERT(!path_exists(run_dir));
    ASSERT(!path_exists(data_dir));
    ASSERT(path_exists("/etc/passwd")); /* the symlink was removed, not followed */
    free(id);
    free(run_dir);
    free(data_dir);
    teardown();
}

TEST(oom)
{
    setup();
    ASSERT_EQ(open_sb(64, NULL), 0);
    ASSERT_EQ(run("a = []\nwhile True:\n    a.append(b'x' * (8 << 20))\n", 20000), 0);
    ASSERT_EQ(E.status, SCH_STATUS_OOM);
    teardown();
}

TEST(destroy_mid_open)
{
    setup();
    struct wk_sandbox_spec spec;
    wk_sandbox_spec_init(&spec);
    spec.image = E.image;
    spec.lang = "py";
    spec.session_id = E.session;
    spec.run_root = E.run_root;
    spec.data_root = E.data_root;
    ASSERT_EQ(wk_sandbox_open(&E.loop, E.d, &spec, on_ready, NULL, &E.sb), 0);
    char *run_dir = ci_xstrdup(wk_sandbox_run_dir(E.sb));
    char *data_dir = ci_xstrdup(wk_sandbox_data_dir(E.sb));
    destroy_wait();        /* the create is still in flight */
    ASSERT_EQ(E.ready, 0); /* no callback after destroy */
    char path[256];
    snprintf(path, sizeof path,
             "/containers/json?all=true&filters=%%7B%%22label%%22%%3A%%5B%%22"
             "com.code-interpreter.session%%3D%s%%22%%5D%%7D",
             E.session);
    struct http h = api("GET", path);
    ASSERT_EQ(h.status, 200);
    ASSERT(json_is_array(h.json));
    ASSERT_EQ(json_array_size(h.json), 0);
    json_decref(h.json);
    ASSERT(!path_exists(run_dir));
    ASSERT(!path_exists(data_dir));
    free(run_dir);
    free(data_dir);
    teardown();
}

static struct http kill_reply;

static void on_kill_timer(uv_timer_t *t)
{
    int mode = *(int *)t->data;
    if (mode == 0)
        ASSERT_EQ(wk_sandbox_kill(E.sb), 0);
    else /* behind the sandbox's back */
        ASSERT_EQ(wk_docker_kill(E.d, wk_sandbox_container_id(E.sb), NULL, on_http, &kill_reply),
                  0);
    uv_close((uv_handle_t *)t, NULL);
}

/* mode 0: wk_sandbox_kill (cancel); mode 1: the container dies under us. */
static void interrupted_run(int mode)
{
    uv_timer_t t;
    uv_timer_init(&E.loop, &t);
    t.data = &mode;
    uv_timer_start(&t, on_kill_timer, 300, 0);
    run("import time\ntime.sleep(30)", 60000);
    ASSERT_LT(E.elapsed_ms, 10000);
    ASSERT(!wk_sandbox_is_ready(E.sb));
    ASSERT_EQ(wk_sandbox_run(E.sb,
                             &(struct wk_run_request){
                                 .job_id = "x", .lang = "py", .code = "", .timeout_ms = 1},
                             on_result, NULL),
              -EPIPE);
}

TEST(cancel_mid_run)
{
    setup();
    ASSERT_EQ(open_sb(512, NULL), 0);
    interrupted_run(0);
    ASSERT_EQ(E.rc, 0);
    ASSERT_EQ(E.status, SCH_STATUS_CANCELLED);
    teardown();
}

TEST(container_dies_mid_run)
{
    setup();
    ASSERT_EQ(open_sb(512, NULL), 0);
    interrupted_run(1);
    ASSERT_LT(E.rc, 0); /* infrastructure failure, not a program outcome */
    spin(&kill_reply.done);
    ASSERT_EQ(kill_reply.status, 204);
    json_decref(kill_reply.json);
    teardown();
}

TEST(missing_image_fails_open)
{
    setup();
    ASSERT_LT(open_sb(512, "code-interpreter/does-not-exist:none"), 0);
    ASSERT(!wk_sandbox_is_ready(E.sb));
    teardown();
}

TEST(destroy_mid_run)
{
    setup();
    ASSERT_EQ(open_sb(512, NULL), 0);
    char *id = ci_xstrdup(wk_sandbox_container_id(E.sb));
    start_run("import time\ntime.sleep(30)", 60000);
    for (int i = 0; i < 5; i++)
        uv_run(&E.loop, UV_RUN_NOWAIT);
    int64_t t0 = ci_mono_us();
    destroy_wait();
    ASSERT_LT((ci_mono_us() - t0) / 1000, 10000);
    ASSERT_EQ(E.done, 0); /* no result callback after destroy */
    ASSERT_EQ(container_status(id), 404);
    free(id);
    teardown();
}

/* The run dir is writable by the runner: state.out appears there, and a
 * state.in placed by the host is read back. */
TEST(state_files_in_run_dir)
{
    setup();
    ASSERT_EQ(open_sb(512, NULL), 0);
    state_out = 1;
    ASSERT_EQ(run("x = 41", 10000), 0);
    state_out = 0;
    ASSERT_EQ(E.status, SCH_STATUS_COMPLETED);
    ASSERT_GT(E.state_size, 0);
    char out[512], in[512];
    snprintf(out, sizeof out, "%s/state.out", wk_sandbox_run_dir(E.sb));
    snprintf(in, sizeof in, "%s/state.in", wk_sandbox_run_dir(E.sb));
    struct stat st;
    ASSERT_EQ(lstat(out, &st), 0);
    ASSERT(S_ISREG(st.st_mode));
    ASSERT_EQ(st.st_size, E.state_size);
    ASSERT_EQ(rename(out, in), 0);
    ASSERT_EQ(chmod(in, 0644), 0);
    state_in = 1;
    ASSERT_EQ(run("print(x + 1)", 10000), 0);
    state_in = 0;
    ASSERT_STR_EQ(E.out, "42\n");
    teardown();
}

TEST(kill_mid_open)
{
    setup();
    struct wk_sandbox_spec spec;
    wk_sandbox_spec_init(&spec);
    spec.image = E.image;
    spec.session_id = E.session;
    spec.run_root = E.run_root;
    spec.data_root = E.data_root;
    ASSERT_EQ(wk_sandbox_open(&E.loop, E.d, &spec, on_ready, NULL, &E.sb), 0);
    ASSERT_EQ(wk_sandbox_kill(E.sb), 0);
    ASSERT_EQ(E.ready, 0); /* not from inside the call */
    spin(&E.ready);
    ASSERT_EQ(E.ready_status, -ECANCELED);
    ASSERT(!wk_sandbox_is_ready(E.sb));
    /* Root is refused outright. */
    struct wk_sandbox *sb2 = NULL;
    spec.uid = 0;
    ASSERT_EQ(wk_sandbox_open(&E.loop, E.d, &spec, on_ready, NULL, &sb2), -EINVAL);
    ASSERT_NULL(sb2);
    teardown();
}

TEST(ping)
{
    setup();
    struct http h = {0};
    ASSERT_EQ(wk_docker_ping(E.d, on_http, &h), 0);
    spin(&h.done);
    ASSERT_EQ(h.status, 200);
    teardown();
}

TEST_MAIN(print_and_second_run, nonzero_exit, runner_timeout, host_deadline_kills_container,
          container_config_and_isolation, destroy_removes_everything, oom, destroy_mid_open,
          cancel_mid_run, container_dies_mid_run, missing_image_fails_open, destroy_mid_run,
          state_files_in_run_dir, kill_mid_open, ping)
