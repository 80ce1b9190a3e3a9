/*
 * wk_sandbox_wipe.c - the wipe between two sessions of one caller
 * (wk_sandbox.h, docs/pool.md "Reuse within one caller"): the `wipe`
 * frame, the runner's `wiped` answer checked field by field, then the
 * host-side check of the dirs the worker can see itself.
 */
#include "wk_sandbox_int.h"

#include "ci_log.h"
#include "ci_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The largest `wiped` frame (a reason of at most 512 bytes and four counts). */
#define WIPED_FRAME_MAX (16u << 10)

static unsigned long long wipe_seq;

static void finish_wipe(struct wk_sandbox *sb, int status, const char *why)
{
    wk_sandbox_wipe_cb cb = sb->wipe_cb;
    void *arg = sb->wipe_arg;
    sb->wipe_cb = NULL;
    sb->wiping = 0;
    if (sb->state == WK_SB_RUNNING)
        sb->state = status == 0 && sb->conn_open ? WK_SB_READY : WK_SB_DEAD;
    if (sb->timer_open)
        uv_timer_stop(&sb->timer);
    free(sb->job_id);
    sb->job_id = NULL;
    if (cb && !sb->destroying)
        cb(arg, sb, status, why);
}

/* Counts the entries of `dir` (relative to `dfd`, no symlink followed)
 * other than the names in `allowed` (NULL-terminated); -1 if it cannot be
 * read.  A missing dir counts as empty when `may_miss`. */
static int count_extra(int dfd, const char *dir, const char *const *allowed, int may_miss,
                       char *first, size_t firstsz)
{
    int fd = openat(dfd, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT && may_miss ? 0 : -1;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -1;
    }
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        int ok = 0;
        for (size_t i = 0; allowed && allowed[i]; i++)
            ok |= strcmp(de->d_name, allowed[i]) == 0;
        if (ok)
            continue;
        if (n++ == 0)
            snprintf(first, firstsz, "%s/%s", dir, de->d_name);
    }
    closedir(d);
    return n;
}

int wk_sandbox_host_check(const struct wk_sandbox *sb, char *why, size_t whysz)
{
    char first[512] = "";
    int n = count_extra(AT_FDCWD, sb->data_dir, NULL, 0, first, sizeof first);
    if (n != 0) {
        snprintf(why, whysz, "host check: %s", n < 0 ? "data dir unreadable" : first);
        return -1;
    }
    int rfd = open(sb->run_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (rfd < 0) {
        snprintf(why, whysz, "host check: run dir unreadable");
        return -1;
    }
    /* /run/ci itself is root's (programs write nothing there).  HOME and
     * the build dirs live in /run/ci/work, a tmpfs of the container's that
     * the host does not see (the runner checks them); older layouts kept
     * them in the run dir itself: checked when present. */
    n = count_extra(rfd, "home", NULL, 1, first, sizeof first);
    if (n == 0)
        n = count_extra(rfd, "build", NULL, 1, first, sizeof first);
    close(rfd);
    if (n != 0) {
        snprintf(why, whysz, "host check: %s", n < 0 ? "run dir unreadable" : first);
        return -1;
    }
    return 0;
}

/* Reads the runner's verification: ok true, every count 0. */
static int wiped_ok(json_t *msg, const char *id, char *why, size_t whysz)
{
    const char *got = json_string_value(json_object_get(msg, "id"));
    if (!got || strcmp(got, id) != 0) {
        snprintf(why, whysz, "a wipe answer for another id");
        return -EPROTO;
    }
    json_t *checks = json_object_get(msg, "checks");
    static const char *const names[] = {"processes", "ipc", "files", "env"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        json_t *v = json_object_get(checks, names[i]);
        if (!json_is_integer(v) || json_integer_value(v) != 0) {
            const char *r = json_string_value(json_object_get(msg, "reason"));
            snprintf(why, whysz, "runner check: %s left (%s)", names[i], r ? r : "");
            return -EIO;
        }
    }
    if (!json_is_true(json_object_get(msg, "ok"))) {
        const char *r = json_string_value(json_object_get(msg, "reason"));
        snprintf(why, whysz, "runner: %.200s", r ? r : "wipe refused");
        return -EIO;
    }
    return 0;
}

int wk_sb__on_wipe_frame(struct wk_sandbox *sb, json_t *msg, const char *type)
{
    char why[600];
    int rc;
    if (strcmp(type, "wiped") != 0) {
        snprintf(why, sizeof why, "an unexpected '%.40s' frame during the wipe", type);
        rc = -EPROTO;
    } else {
        rc = wiped_ok(msg, sb->job_id, why, sizeof why);
    }
    if (rc == 0 && wk_sandbox_host_check(sb, why, sizeof why) != 0)
        rc = -EIO;
    if (rc != 0)
        sb->state = WK_SB_DEAD; /* never handed out again: the pool destroys it */
    else
        log_debug("sandbox %s: wiped in %lld us (runner %lld ms)", sb->name,
                  (long long)(ci_mono_us() - sb->wipe_us),
                  (long long)json_integer_value(json_object_get(msg, "duration_ms")));
    finish_wipe(sb, rc, rc == 0 ? NULL : why);
    return 0;
}

void wk_sb__wipe_channel_lost(struct wk_sandbox *sb)
{
    sb->state = WK_SB_DEAD;
    finish_wipe(sb, -EPIPE, "the runner channel closed during the wipe");
}

static void on_wipe_deadline(uv_timer_t *t)
{
    struct wk_sandbox *sb = t->data;
    if (!sb->wiping)
        return;
    wk_sb__close_conn(sb);
    sb->state = WK_SB_DEAD;
    finish_wipe(sb, -ETIMEDOUT, "no wipe answer in time");
}

static void on_wipe_written(uv_write_t *w, int status)
{
    (void)status;
    free(w->data);
    free(w);
}

int wk_sandbox_wipe(struct wk_sandbox *sb, wk_sandbox_wipe_cb cb, void *arg)
{
    char id[48], *frame = NULL;
    size_t frame_len = 0;
    if (sb->destroying || sb->state != WK_SB_READY || !sb->conn_open)
        return -EPIPE;
    if (!cb)
        return -EINVAL;
    snprintf(id, sizeof id, "wipe-%llu", ++wipe_seq);
    json_t *msg = json_pack("{s:s, s:s}", "type", "wipe", "id", id);
    int rc = msg ? wk_frame_encode(msg, &frame, &frame_len) : -ENOMEM;
    json_decref(msg);
    if (rc < 0)
        return rc;
    uv_write_t *w = ci_xmalloc(sizeof *w);
    w->data = frame;
    uv_buf_t buf = uv_buf_init(frame, (unsigned)frame_len);
    rc = uv_write(w, (uv_stream_t *)&sb->conn, &buf, 1, on_wipe_written);
    if (rc < 0) {
        free(w);
        free(frame);
        return rc;
    }
    sb->state = WK_SB_RUNNING;
    sb->end = WK_SB_END_NONE;
    sb->wiping = 1;
    sb->wipe_cb = cb;
    sb->wipe_arg = arg;
    sb->wipe_us = ci_mono_us();
    sb->job_id = ci_xstrdup(id);
    wk_frame_decoder_set_max(&sb->dec, WIPED_FRAME_MAX);
    uv_timer_start(&sb->timer, on_wipe_deadline, WK_SANDBOX_WIPE_TIMEOUT_MS, 0);
    return 0;
}
