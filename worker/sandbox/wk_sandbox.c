/*
 * wk_sandbox.c - opening a sandbox (host dirs, listening socket, container
 * create/start, hello) and the runner channel.  Runs and their outcomes are
 * in wk_sandbox_run.c, teardown in wk_sandbox_destroy.c.
 */
#include "wk_sandbox_int.h"

#include "ci_file.h"
#include "ci_log.h"
#include "ci_util.h"
#include "wk_stats.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* The largest frame before the first run: a hello. */
#define WK_SANDBOX_HELLO_MAX (64u << 10)

/* ---- small helpers ------------------------------------------------------ */

static char *path_join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = ci_xmalloc(n);
    snprintf(p, n, "%s/%s", a, b);
    return p;
}

int wk_sb__docker_issued(struct wk_sandbox *sb, int rc)
{
    if (rc == 0)
        sb->ndocker++;
    return rc;
}

int wk_sb__docker_done(struct wk_sandbox *sb)
{
    sb->ndocker--;
    if (!sb->destroying)
        return 0;
    wk_sb__maybe_finish(sb); /* may free sb */
    return 1;
}

static void on_handle_closed(uv_handle_t *h)
{
    struct wk_sandbox *sb = h->data;
    sb->nhandles--;
    wk_sb__maybe_finish(sb);
}

void wk_sb__close_handle(struct wk_sandbox *sb, uv_handle_t *h, int *open_flag)
{
    if (!*open_flag)
        return;
    *open_flag = 0;
    sb->nhandles++;
    uv_close(h, on_handle_closed);
}

void wk_sb__close_conn(struct wk_sandbox *sb)
{
    wk_sb__close_handle(sb, (uv_handle_t *)&sb->conn, &sb->conn_open);
}

/* ---- opening ------------------------------------------------------------ */

void wk_sb__fail_open(struct wk_sandbox *sb, int err)
{
    if (sb->state != WK_SB_OPENING)
        return;
    sb->state = WK_SB_DEAD;
    if (sb->timer_open)
        uv_timer_stop(&sb->timer);
    wk_sb__close_conn(sb);
    wk_sandbox_ready_cb cb = sb->ready_cb;
    sb->ready_cb = NULL;
    log_warn("sandbox %s: open failed: %s", sb->name, strerror(-err));
    if (err != -ECANCELED)
        wk_stats_incr(WK_STAT_CONTAINER_FAILURES, 1); /* /metrics */
    if (cb)
        cb(sb->ready_arg, sb, err);
}

static void maybe_ready(struct wk_sandbox *sb)
{
    if (sb->state != WK_SB_OPENING || sb->cancelled || !sb->started || !sb->hello)
        return;
    sb->state = WK_SB_READY;
    uv_timer_stop(&sb->timer);
    log_debug("sandbox %s ready in %lld us", sb->name, (long long)(ci_mono_us() - sb->open_us));
    wk_stats_incr(WK_STAT_CONTAINERS_STARTED, 1); /* /metrics */
    wk_sandbox_ready_cb cb = sb->ready_cb;
    sb->ready_cb = NULL;
    cb(sb->ready_arg, sb, 0);
}

static int docker_err(int status)
{
    if (status < 0)
        return status;
    if (status >= 500)
        return -EAGAIN; /* the engine failed, not the request (e.g. containerd away) */
    return status == 404 ? -ENOENT : status == 409 ? -EEXIST : -EIO;
}

static void on_started(void *arg, int status, const char *body, size_t len)
{
    struct wk_sandbox *sb = arg;
    if (wk_sb__docker_done(sb))
        return;
    if (status != 204 && status != 304) {
        log_error("sandbox %s: start failed (%d): %.*s", sb->name, status, (int)len, body);
        wk_sb__fail_open(sb, docker_err(status));
        return;
    }
    sb->started = 1;
    log_debug("sandbox %s: started at +%lld us", sb->name, (long long)(ci_mono_us() - sb->open_us));
    maybe_ready(sb);
}

static void on_created(void *arg, int status, const char *body, size_t len)
{
    struct wk_sandbox *sb = arg;
    if (status == 201)
        sb->container_id = wk_docker_parse_id(body, len);
    log_debug("sandbox %s: created %s at +%lld us", sb->name,
              sb->container_id ? sb->container_id : "(none)",
              (long long)(ci_mono_us() - sb->open_us));
    if (wk_sb__docker_done(sb))
        return; /* destroying: the id (if any) is removed by the teardown */
    if (sb->state != WK_SB_OPENING)
        return; /* killed meanwhile */
    if (status != 201 || !sb->container_id) {
        log_error("sandbox %s: create failed (%d): %.*s", sb->name, status, (int)len, body);
        wk_sb__fail_open(sb, docker_err(status));
        return;
    }
    int rc =
        wk_sb__docker_issued(sb, wk_docker_start(sb->docker, sb->container_id, on_started, sb));
    if (rc < 0)
        wk_sb__fail_open(sb, rc);
}

static void on_start_deadline(uv_timer_t *t)
{
    wk_sb__fail_open(t->data, -ETIMEDOUT);
}

static void on_open_cancelled(uv_timer_t *t)
{
    wk_sb__fail_open(t->data, -ECANCELED);
}

void wk_sb__cancel_open(struct wk_sandbox *sb)
{
    /* The ready callback must not run from inside wk_sandbox_kill(). */
    sb->cancelled = 1;
    uv_timer_start(&sb->timer, on_open_cancelled, 0, 0);
}

/* ---- channel ------------------------------------------------------------ */

static int on_frame(void *arg, const char *payload, size_t len)
{
    struct wk_sandbox *sb = arg;
    json_error_t jerr;
    /* NUL (\u0000) is allowed: program output may hold it; the output
     * sanitizer drops it (docs/runner-protocol.md). */
    json_t *msg = json_loadb(payload, len, JSON_ALLOW_NUL, &jerr);
    const char *type = json_string_value(json_object_get(msg, "type"));

    if (sb->destroying || sb->state == WK_SB_DEAD)
        goto out;
    if (!type) {
        log_warn("sandbox %s: bad frame from runner: %s", sb->name, msg ? "no type" : jerr.text);
        wk_sb__on_channel_lost(sb, -EPROTO);
    } else if (sb->state == WK_SB_OPENING && strcmp(type, "hello") == 0) {
        if (json_integer_value(json_object_get(msg, "version")) != 1) {
            wk_sb__fail_open(sb, -EPROTO);
            goto out;
        }
        sb->hello = 1;
        log_debug("sandbox %s: hello at +%lld us", sb->name,
                  (long long)(ci_mono_us() - sb->open_us));
        maybe_ready(sb);
    } else if (sb->state == WK_SB_RUNNING && sb->wiping) {
        wk_sb__on_wipe_frame(sb, msg, type);
    } else if (sb->state == WK_SB_RUNNING) {
        wk_sb__on_run_frame(sb, msg, type);
    } else {
        log_warn("sandbox %s: unexpected '%s' frame", sb->name, type);
        wk_sb__on_channel_lost(sb, -EPROTO);
    }
out:
    json_decref(msg);
    /* `sb` is alive here (freeing needs closed handles: a later loop turn). */
    return (sb->destroying || sb->state == WK_SB_DEAD) ? 1 : 0;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    buf->base = ci_xmalloc(64 * 1024);
    buf->len = 64 * 1024;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct wk_sandbox *sb = s->data;
    if (nread > 0) {
        int rc = wk_frame_decode(&sb->dec, buf->base, (size_t)nread, on_frame, sb);
        if (rc == -EMSGSIZE && !sb->destroying) {
            log_warn("sandbox %s: oversized frame from runner", sb->name);
            wk_sb__on_channel_lost(sb, -EPROTO);
        }
    } else if (nread < 0 && !sb->destroying) {
        wk_sb__on_channel_lost(sb, nread == UV_EOF ? -EPIPE : (int)nread);
    }
    free(buf->base);
}

static int peer_uid_ok(struct wk_sandbox *sb)
{
    uv_os_fd_t fd;
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (uv_fileno((uv_handle_t *)&sb->conn, &fd) != 0 ||
        getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
        return 0;
    return cred.uid == WK_SANDBOX_RUNNER_UID; /* programs run as sb->uid: never them */
}

static void on_connection(uv_stream_t *server, int status)
{
    struct wk_sandbox *sb = server->data;
    if (status < 0 || sb->conn_open || sb->state != WK_SB_OPENING)
        return;
    uv_pipe_init(sb->loop, &sb->conn, 0);
    sb->conn.data = sb;
    sb->conn_open = 1;
    if (uv_accept(server, (uv_stream_t *)&sb->conn) != 0 || !peer_uid_ok(sb)) {
        log_warn("sandbox %s: rejected a connection on ctl.sock", sb->name);
        wk_sb__close_conn(sb);
        return;
    }
    log_debug("sandbox %s: runner connected at +%lld us", sb->name,
              (long long)(ci_mono_us() - sb->open_us));
    /* One connection per container: nobody else may connect afterwards. */
    wk_sb__close_handle(sb, (uv_handle_t *)&sb->server, &sb->server_open);
    uv_read_start((uv_stream_t *)&sb->conn, on_alloc, on_read);
}

static int make_host_side(struct wk_sandbox *sb, const struct wk_sandbox_spec *spec)
{
    int rc;
    if ((rc = ci_mkdir_p(spec->run_root, 0700)) < 0 || (rc = ci_mkdir_p(spec->data_root, 0700)) < 0)
        return rc;
    if (mkdir(sb->run_dir, 0755) != 0)
        return -errno;
    sb->run_dir_made = 1;
    /* Root's (the runner's): programs, which run as spec->uid, can read
     * state.in but write nothing here; the runner makes home/ and build/
     * in it and hands those to the sandbox uid. */
    if (chmod(sb->run_dir, 0755) != 0 || chown(sb->run_dir, WK_SANDBOX_RUNNER_UID, 0) != 0)
        return -errno;
    if (strlen(sb->sock_path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
        return -ENAMETOOLONG;
    uv_pipe_init(sb->loop, &sb->server, 0);
    sb->server.data = sb;
    sb->server_open = 1;
    if ((rc = uv_pipe_bind(&sb->server, sb->sock_path)) < 0 ||
        (rc = uv_listen((uv_stream_t *)&sb->server, 4, on_connection)) < 0)
        return rc;
    if (chmod(sb->sock_path, 0600) != 0) /* the runner (root) only */
        return -errno;
    if (mkdir(sb->data_dir, 0700) != 0)
        return -errno;
    sb->data_dir_made = 1;
    if (chown(sb->data_dir, spec->uid, spec->gid) != 0)
        return -errno;
    if (spec->disk_mb > 0) { /* the image dir: the worker's only */
        char *dir = path_join(spec->data_root, WK_SANDBOX_DISK_DIR);
        rc = mkdir(dir, 0700) == 0 || errno == EEXIST ? 0 : -errno;
        free(dir);
        if (rc < 0)
            return rc;
        char name[64];
        snprintf(name, sizeof name, "%s/%s.img", WK_SANDBOX_DISK_DIR, sb->token);
        sb->disk_img = path_join(spec->data_root, name);
        sb->disk_mb = spec->disk_mb;
        sb->disk_inodes = spec->disk_inodes;
    }
    return 0;
}

/* ---- the bounded /mnt/data: made off the loop, then the container ------- */

static void disk_work(uv_work_t *w)
{
    struct wk_sandbox *sb = w->data;
    sb->disk_rc = wk_sandbox_disk_make(sb->disk_img, sb->data_dir, sb->disk_mb, sb->disk_inodes,
                                       sb->uid, sb->gid);
}

static int issue_create(struct wk_sandbox *sb)
{
    json_t *cfg = sb->create_cfg;
    sb->create_cfg = NULL;
    int rc = wk_sb__docker_issued(sb, wk_docker_create(sb->docker, sb->name, cfg, on_created, sb));
    json_decref(cfg);
    return rc;
}

static void disk_done(uv_work_t *w, int status)
{
    struct wk_sandbox *sb = w->data;
    (void)status;
    if (wk_sb__docker_done(sb)) /* destroying: the teardown unmounts */
        return;
    if (sb->state != WK_SB_OPENING)
        return;
    if (sb->disk_rc < 0) {
        log_error("sandbox %s: cannot make its disk (%s)", sb->name, strerror(-sb->disk_rc));
        wk_sb__fail_open(sb, sb->disk_rc);
        return;
    }
    log_debug("sandbox %s: disk ready at +%lld us", sb->name,
              (long long)(ci_mono_us() - sb->open_us));
    int rc = issue_create(sb);
    if (rc < 0)
        wk_sb__fail_open(sb, rc);
}

int wk_sandbox_open(uv_loop_t *loop, struct wk_docker *d, const struct wk_sandbox_spec *spec,
                    wk_sandbox_ready_cb cb, void *arg, struct wk_sandbox **out)
{
    struct wk_sandbox *sb = NULL;
    json_t *cfg = NULL;
    int rc = 0;

    if (!spec->image || !spec->run_root || !spec->data_root || !cb)
        return -EINVAL;
    if (spec->uid == 0 || spec->gid == 0)
        return -EINVAL; /* never root in a sandbox (use wk_sandbox_spec_init) */
    sb = ci_xcalloc(1, sizeof *sb);
    sb->loop = loop;
    sb->docker = d;
    sb->open_us = ci_mono_us();
    sb->state = WK_SB_OPENING;
    sb->uid = spec->uid;
    sb->gid = spec->gid;
    sb->ready_cb = cb;
    sb->ready_arg = arg;
    sb->session_id = ci_xstrdup(spec->session_id ? spec->session_id : "");
    wk_frame_decoder_init(&sb->dec, WK_SANDBOX_HELLO_MAX); /* runs raise it */
    if (ci_random_hex(sb->token, 12) != 0) {
        rc = -EIO;
        goto out;
    }
    sb->name = path_join("ci", sb->token);
    sb->name[2] = '-';
    sb->run_dir = path_join(spec->run_root, sb->token);
    sb->data_dir = path_join(spec->data_root, sb->token);
    sb->sock_path = path_join(sb->run_dir, "ctl.sock");
    uv_timer_init(loop, &sb->timer);
    sb->timer.data = sb;
    sb->timer_open = 1;

    if ((rc = make_host_side(sb, spec)) < 0)
        goto out;
    cfg = wk_sandbox_container_config(spec, sb->run_dir, sb->data_dir);
    if (!cfg) {
        rc = -EINVAL;
        goto out;
    }
    sb->create_cfg = cfg;
    cfg = NULL;
    if (sb->disk_img) { /* the disk first (threadpool), then the create */
        sb->disk_work.data = sb;
        rc = wk_sb__docker_issued(sb, uv_queue_work(loop, &sb->disk_work, disk_work, disk_done));
    } else {
        rc = issue_create(sb);
    }
    if (rc < 0)
        goto out;
    uv_timer_start(&sb->timer, on_start_deadline,
                   (uint64_t)(spec->start_timeout_ms > 0 ? spec->start_timeout_ms : 15000), 0);
    *out = sb;
out:
    json_decref(cfg);
    if (rc < 0) {
        log_error("sandbox open failed: %s", strerror(-rc));
        sb->ready_cb = NULL;
        wk_sandbox_destroy(sb); /* async: closes what was opened */
    }
    return rc;
}

/* ---- accessors ---------------------------------------------------------- */

const char *wk_sandbox_data_dir(const struct wk_sandbox *sb)
{
    return sb->data_dir;
}

const char *wk_sandbox_run_dir(const struct wk_sandbox *sb)
{
    return sb->run_dir;
}

const char *wk_sandbox_container_id(const struct wk_sandbox *sb)
{
    return sb->container_id;
}

const char *wk_sandbox_session_id(const struct wk_sandbox *sb)
{
    return sb->session_id;
}

int wk_sandbox_is_ready(const struct wk_sandbox *sb)
{
    return sb->state == WK_SB_READY && !sb->destroying;
}
