/*
 * wk_sandbox_destroy.c - teardown of a sandbox at any stage: close the
 * channel, wait for docker requests in flight, remove the container, then
 * remove the host dirs in the uv threadpool and free.
 */
#include "wk_sandbox_int.h"

#include "ci_log.h"
#include "wk_rmtree.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void rm_tree(const char *path)
{
    int rc = wk_rmtree(path);
    if (rc < 0)
        log_warn("cannot remove %s: %s", path, strerror(-rc));
}

/* Threadpool: the container is gone, so nothing changes under our feet;
 * wk_rmtree follows no symlink and has no depth limit. */
static void rm_work(uv_work_t *w)
{
    struct wk_sandbox *sb = w->data;
    if (sb->run_dir_made)
        rm_tree(sb->run_dir);
    if (sb->data_dir_made && (sb->removed || !sb->container_id)) {
        if (sb->disk_img) /* unmount first: the tree is then the empty mount point */
            wk_sandbox_disk_remove(sb->disk_img, sb->data_dir);
        rm_tree(sb->data_dir);
    } else if (sb->data_dir_made)
        log_error("sandbox %s: container not removed; keeping %s", sb->name, sb->data_dir);
}

static void rm_done(uv_work_t *w, int status)
{
    struct wk_sandbox *sb = w->data;
    void (*done)(void *) = sb->destroy_done;
    void *arg = sb->destroy_arg;
    wk_frame_decoder_release(&sb->dec);
    free(sb->run_dir);
    free(sb->data_dir);
    free(sb->disk_img);
    json_decref(sb->create_cfg);
    free(sb->sock_path);
    free(sb->name);
    free(sb->session_id);
    free(sb->container_id);
    free(sb->job_id);
    free(sb);
    if (done)
        done(arg);
}

static void on_removed(void *arg, int status, const char *body, size_t len)
{
    struct wk_sandbox *sb = arg;
    log_debug("sandbox %s: remove answered %d", sb->name, status);
    if (status == 204 || status == 404)
        sb->removed = 1;
    else
        log_error("sandbox %s: remove failed (%d): %.*s", sb->name, status, (int)len, body);
    wk_sb__docker_done(sb);
}

void wk_sb__maybe_finish(struct wk_sandbox *sb)
{
    if (!sb->destroying || sb->ndocker > 0)
        return;
    if (sb->container_id && !sb->remove_issued) {
        sb->remove_issued = 1;
        if (wk_sb__docker_issued(
                sb, wk_docker_remove(sb->docker, sb->container_id, on_removed, sb)) == 0)
            return;
        log_error("sandbox %s: cannot request removal", sb->name);
    }
    if (sb->nhandles > 0 || sb->rm_queued)
        return;
    sb->rm_queued = 1;
    sb->rm_work.data = sb;
    if (uv_queue_work(sb->loop, &sb->rm_work, rm_work, rm_done) != 0) {
        rm_work(&sb->rm_work);
        rm_done(&sb->rm_work, 0);
    }
}

void wk_sandbox_destroy_then(struct wk_sandbox *sb, void (*done)(void *arg), void *arg)
{
    if (sb->destroying)
        return;
    sb->destroying = 1;
    sb->destroy_done = done;
    sb->destroy_arg = arg;
    sb->ready_cb = NULL;
    sb->run_cb = NULL;
    sb->wipe_cb = NULL;
    wk_sb__close_conn(sb);
    wk_sb__close_handle(sb, (uv_handle_t *)&sb->server, &sb->server_open);
    wk_sb__close_handle(sb, (uv_handle_t *)&sb->timer, &sb->timer_open);
    wk_sb__maybe_finish(sb);
}

void wk_sandbox_destroy(struct wk_sandbox *sb)
{
    wk_sandbox_destroy_then(sb, NULL, NULL);
}
