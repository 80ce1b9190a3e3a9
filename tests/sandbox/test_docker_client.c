/*
 * Unit tests for wk_curl_uv + wk_docker against a small fake HTTP server on a
 * unix socket, on the same uv loop (curl-style fake server): request shape,
 * connection reuse, bounded bodies, timeouts, cancellation on close.
 * The real dockerd is exercised by tests/sandbox/test_sandbox_e2e.c.
 */
#include "ci_test.h"
#include "wk_docker.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

enum mode { MODE_CREATED, MODE_BIG, MODE_HANG };

struct fconn {
    uv_pipe_t pipe;
    char *buf;
    size_t len;
    int answered;
};

static struct {
    uv_loop_t *loop;
    uv_pipe_t server;
    enum mode mode;
    int nconns;
    struct fconn *conns[16];
    char last_req[8192];
    char dir[64];
    char path[128];
} fk;

static void on_wdone(uv_write_t *w, int status)
{
    free(w->data);
    free(w);
}

static void respond(struct fconn *c, const char *status_line, const char *body, size_t blen)
{
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %s\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n",
                     status_line, blen);
    char *out = malloc((size_t)n + blen);
    memcpy(out, head, (size_t)n);
    memcpy(out + n, body, blen);
    uv_write_t *w = malloc(sizeof *w);
    w->data = out;
    uv_buf_t b = uv_buf_init(out, (unsigned)(n + blen));
    uv_write(w, (uv_stream_t *)&c->pipe, &b, 1, on_wdone);
}

/* Answers once a whole request (headers + Content-Length body) is buffered. */
static void maybe_answer(struct fconn *c)
{
    char *end = c->buf ? strstr(c->buf, "\r\n\r\n") : NULL;
    if (!end)
        return;
    size_t hlen = (size_t)(end - c->buf) + 4, clen = 0;
    char *cl = strcasestr(c->buf, "Content-Length:");
    if (cl && cl < end)
        clen = strtoul(cl + 15, NULL, 10);
    if (c->len < hlen + clen)
        return;
    snprintf(fk.last_req, sizeof fk.last_req, "%.*s", (int)(hlen + clen), c->buf);
    memmove(c->buf, c->buf + hlen + clen, c->len - hlen - clen + 1);
    c->len -= hlen + clen;
    if (fk.mode == MODE_CREATED) {
        const char *body = "{\"Id\":\"abc123\",\"Warnings\":[]}";
        respond(c, "201 Created", body, strlen(body));
    } else if (fk.mode == MODE_BIG) {
        size_t n = WK_DOCKER_MAX_BODY + 1024;
        char *big = malloc(n);
        memset(big, 'x', n);
        respond(c, "200 OK", big, n);
        free(big);
    }
}

static void fk_alloc(uv_handle_t *h, size_t s, uv_buf_t *b)
{
    b->base = malloc(65536);
    b->len = 65536;
}

static void fk_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct fconn *c = s->data;
    if (n > 0) {
        c->buf = realloc(c->buf, c->len + (size_t)n + 1);
        memcpy(c->buf + c->len, b->base, (size_t)n);
        c->len += (size_t)n;
        c->buf[c->len] = '\0';
        maybe_answer(c);
    } else if (n < 0) {
        uv_read_stop(s);
    }
    free(b->base);
}

static void fk_conn(uv_stream_t *srv, int status)
{
    struct fconn *c = calloc(1, sizeof *c);
    uv_pipe_init(fk.loop, &c->pipe, 0);
    c->pipe.data = c;
    ASSERT_EQ(uv_accept(srv, (uv_stream_t *)&c->pipe), 0);
    ASSERT_LT(fk.nconns, 16);
    fk.conns[fk.nconns++] = c;
    uv_read_start((uv_stream_t *)&c->pipe, fk_alloc, fk_read);
}

static void fk_start(uv_loop_t *loop, enum mode mode)
{
    memset(&fk, 0, sizeof fk);
    fk.loop = loop;
    fk.mode = mode;
    snprintf(fk.dir, sizeof fk.dir, "/tmp/ci-fakedocker-XXXXXX");
    ASSERT_NOT_NULL(mkdtemp(fk.dir));
    snprintf(fk.path, sizeof fk.path, "%s/docker.sock", fk.dir);
    uv_pipe_init(loop, &fk.server, 0);
    ASSERT_EQ(uv_pipe_bind(&fk.server, fk.path), 0);
    ASSERT_EQ(uv_listen((uv_stream_t *)&fk.server, 8, fk_conn), 0);
    setenv("DOCKER_SOCKET", fk.path, 1);
}

static void fk_free_conn(uv_handle_t *h)
{
    struct fconn *c = h->data;
    free(c->buf);
    free(c);
}

static void fk_stop(void)
{
    for (int i = 0; i < fk.nconns; i++)
        uv_close((uv_handle_t *)&fk.conns[i]->pipe, fk_free_conn);
    uv_close((uv_handle_t *)&fk.server, NULL);
    unlink(fk.path);
    rmdir(fk.dir);
}

struct reply {
    uv_loop_t *loop;
    int done;
    int status;
    size_t len;
    char *body;
};

static void on_reply(void *arg, int status, const char *body, size_t len)
{
    struct reply *r = arg;
    r->done++;
    uv_stop(fk.loop ? fk.loop : r->loop);
    r->status = status;
    r->len = len;
    ASSERT_NOT_NULL(body);
    ASSERT_EQ(body[len], '\0');
    r->body = strdup(body);
}

static void run_until(uv_loop_t *loop, int *flag)
{
    while (!*flag)
        if (uv_run(loop, UV_RUN_DEFAULT) == 0 && !*flag)
            CI_FAIL_("loop ran dry before the awaited callback");
}

/* Runs until nothing is active (callbacks may have called uv_stop). */
static void drain(uv_loop_t *loop)
{
    for (int i = 0; i < 100 && uv_run(loop, UV_RUN_DEFAULT) != 0; i++)
        ;
}

static void finish(uv_loop_t *loop, struct wk_docker *d)
{
    wk_docker_close(d, NULL, NULL);
    fk_stop();
    drain(loop);
    ASSERT_EQ(uv_loop_close(loop), 0); /* every handle was closed */
}

TEST(create_request_and_reuse)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    fk_start(&loop, MODE_CREATED);
    struct wk_docker *d;
    ASSERT_EQ(wk_docker_new(&loop, &d), 0);
    json_t *cfg = json_pack("{s:s}", "Image", "img:1");
    struct reply r1 = {0}, r2 = {0};
    ASSERT_EQ(wk_docker_create(d, "ci-abc", cfg, on_reply, &r1), 0);
    ASSERT_EQ(r1.done, 0); /* never from inside the call */
    run_until(&loop, &r1.done);
    ASSERT_EQ(r1.status, 201);
    ASSERT(strncmp(fk.last_req, "POST /v1.41/containers/create?name=ci-abc HTTP/1.1\r\n", 52) == 0);
    ASSERT_NOT_NULL(strcasestr(fk.last_req, "Content-Type: application/json"));
    ASSERT_NOT_NULL(strstr(fk.last_req, "\r\n\r\n{\"Image\":\"img:1\"}"));
    char *id = wk_docker_parse_id(r1.body, r1.len);
    ASSERT_STR_EQ(id, "abc123");
    free(id);

    /* Second request: same keep-alive connection, DELETE with the query. */
    ASSERT_EQ(wk_docker_remove(d, "abc123", on_reply, &r2), 0);
    run_until(&loop, &r2.done);
    ASSERT(strncmp(fk.last_req, "DELETE /v1.41/containers/abc123?force=true", 42) == 0);
    ASSERT_EQ(fk.nconns, 1);
    json_decref(cfg);
    free(r1.body);
    free(r2.body);
    finish(&loop, d);
}

TEST(rejects_unsafe_ids)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    fk_start(&loop, MODE_CREATED);
    struct wk_docker *d;
    ASSERT_EQ(wk_docker_new(&loop, &d), 0);
    struct reply r = {0};
    ASSERT_EQ(wk_docker_start(d, "../../images", on_reply, &r), -EINVAL);
    ASSERT_EQ(wk_docker_inspect(d, "a b", on_reply, &r), -EINVAL);
    ASSERT_EQ(wk_docker_request(d, "GET", "no-slash", NULL, on_reply, &r), -EINVAL);
    finish(&loop, d);
    ASSERT_EQ(r.done, 0);
}

TEST(body_is_bounded)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    fk_start(&loop, MODE_BIG);
    struct wk_docker *d;
    ASSERT_EQ(wk_docker_new(&loop, &d), 0);
    struct reply r = {0};
    ASSERT_EQ(wk_docker_inspect(d, "abc", on_reply, &r), 0);
    run_until(&loop, &r.done);
    ASSERT_EQ(r.status, -EMSGSIZE);
    free(r.body);
    finish(&loop, d);
}

TEST(request_times_out)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    fk_start(&loop, MODE_HANG);
    setenv("DOCKER_TIMEOUT_MS", "300", 1);
    struct wk_docker *d;
    ASSERT_EQ(wk_docker_new(&loop, &d), 0);
    struct reply r = {0};
    uint64_t t0 = uv_hrtime();
    ASSERT_EQ(wk_docker_ping(d, on_reply, &r), 0);
    run_until(&loop, &r.done);
    uint64_t ms = (uv_hrtime() - t0) / 1000000;
    ASSERT_EQ(r.status, -ETIMEDOUT);
    ASSERT_GE(ms, 250);
    ASSERT_LT(ms, 5000);
    free(r.body);
    finish(&loop, d);
}

TEST(close_cancels_pending)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    fk_start(&loop, MODE_HANG);
    struct wk_docker *d;
    ASSERT_EQ(wk_docker_new(&loop, &d), 0);
    struct reply r1 = {0}, r2 = {0};
    ASSERT_EQ(wk_docker_ping(d, on_reply, &r1), 0);
    ASSERT_EQ(wk_docker_inspect(d, "x", on_reply, &r2), 0);
    for (int i = 0; i < 20 && fk.nconns < 2; i++)
        uv_run(&loop, UV_RUN_NOWAIT); /* let them connect */
    wk_docker_close(d, NULL, NULL);
    ASSERT_EQ(r1.done, 1);
    ASSERT_EQ(r1.status, -ECANCELED);
    ASSERT_EQ(r2.done, 1);
    ASSERT_EQ(r2.status, -ECANCELED);
    free(r1.body);
    free(r2.body);
    fk_stop();
    drain(&loop);
    ASSERT_EQ(uv_loop_close(&loop), 0);
}

TEST(no_daemon)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    setenv("DOCKER_SOCKET", "/nonexistent/docker.sock", 1);
    memset(&fk, 0, sizeof fk);
    struct wk_docker *d;
    ASSERT_EQ(wk_docker_new(&loop, &d), 0);
    struct reply r = {.loop = &loop};
    ASSERT_EQ(wk_docker_ping(d, on_reply, &r), 0);
    run_until(&loop, &r.done);
    ASSERT_LT(r.status, 0);
    free(r.body);
    wk_docker_close(d, NULL, NULL);
    drain(&loop);
    ASSERT_EQ(uv_loop_close(&loop), 0);
}

TEST_MAIN(create_request_and_reuse, rejects_unsafe_ids, body_is_bounded, request_times_out,
          close_cancels_pending, no_daemon)
