/*
 * wk_pool_reap.c - at start, removes the containers an earlier run of this
 * worker left behind (labels com.code-interpreter.managed=true and
 * com.code-interpreter.worker=<WORKER_ID>), with their host dirs
 * ($RUN_DIR/<token>, $DATA_DIR/<token> for a container named ci-<token>),
 * then lets the pools fill.  Only containers named ci-<token> whose /run/ci
 * is $RUN_DIR/<token> are taken: a worker id alone is not proof (parallel
 * test stacks all call themselves worker-1).  Containers the pool itself
 * opened meanwhile (pool misses of early jobs) are recognised by their
 * token and kept.
 *
 * Also at start, every *exited* sandbox container of any worker on this
 * dockerd (and every one created over 5 minutes ago but never started) is
 * removed (only the container; host dirs only when they are in
 * our own RUN_DIR): a sandbox serves one runner connection for its life, so
 * an exited one is garbage that a killed worker (kill -9, a dockerd restart)
 * left behind and that nobody else would ever collect.
 */
#include "wk_pool_int.h"

#include "ci_log.h"
#include "wk_rmtree.h"
#include "ci_util.h"
#include "wk_config.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct reap_item {
    struct wk_pool *p;
    char token[64];
    uv_work_t work;
};

static void reap_done(struct wk_pool *p)
{
    if (p->reap_inflight > 0 || !p->reaping)
        return;
    p->reaping = 0;
    wk_pool__maybe_closed(p);
    if (!p->closing)
        wk_pool__fill(p);
}

static void rm_dirs_work(uv_work_t *w)
{
    struct reap_item *it = w->data;
    char path[4200];
    /* a data dir may be the mount point of the sandbox's disk image */
    snprintf(path, sizeof path, "%s/%s", wk_cfg.data_dir, it->token);
    char img[4300];
    snprintf(img, sizeof img, "%s/%s/%s.img", wk_cfg.data_dir, WK_SANDBOX_DISK_DIR, it->token);
    wk_sandbox_disk_remove(img, path);
    const char *roots[2] = {wk_cfg.run_dir, wk_cfg.data_dir};
    for (int i = 0; i < 2; i++) { /* any depth: wk_rmtree works by descriptor */
        snprintf(path, sizeof path, "%s/%s", roots[i], it->token);
        int rc = wk_rmtree(path);
        if (rc < 0)
            log_warn("reap: cannot remove %s: %s", path, strerror(-rc));
    }
}

static void rm_dirs_done(uv_work_t *w, int status)
{
    struct reap_item *it = w->data;
    struct wk_pool *p = it->p;
    (void)status;
    free(it);
    p->reap_inflight--;
    reap_done(p);
}

static void on_removed(void *arg, int status, const char *body, size_t len)
{
    struct reap_item *it = arg;
    struct wk_pool *p = it->p;
    if (status == 204 || status == 404) {
        if (it->token[0] && uv_queue_work(p->loop, &it->work, rm_dirs_work, rm_dirs_done) == 0)
            return;
    } else {
        log_warn("reap: removing ci-%s answered %d: %.*s", it->token, status, (int)len, body);
    }
    free(it);
    p->reap_inflight--;
    reap_done(p);
}

/* Is `token` one of the sandboxes this pool opened? */
static int ours(struct wk_pool *p, const char *token)
{
    for (struct wk_pool_entry *e = p->entries; e; e = e->next) {
        if (!e->sb)
            continue;
        const char *rd = wk_sandbox_run_dir(e->sb);
        const char *base = rd ? strrchr(rd, '/') : NULL;
        if (base && strcmp(base + 1, token) == 0)
            return 1;
    }
    return 0;
}

/* Token of a container named "/ci-<token>" ("" when the name differs). */
static void token_of(json_t *c, char *out, size_t outsz)
{
    const char *name = json_string_value(json_array_get(json_object_get(c, "Names"), 0));
    out[0] = '\0';
    if (name && strncmp(name, "/ci-", 4) == 0 && strlen(name + 4) < outsz &&
        !strchr(name + 4, '/') && name[4] != '.')
        snprintf(out, outsz, "%s", name + 4);
}

/* An item for container c, with the token of its name ("/ci-<token>"). */
static struct reap_item *reap_item_new(struct wk_pool *p, json_t *c)
{
    struct reap_item *it = ci_xcalloc(1, sizeof *it);
    it->p = p;
    it->work.data = it;
    token_of(c, it->token, sizeof it->token);
    return it;
}

/* Is /run/ci bind-mounted from $RUN_DIR/<token>?  Workers that share an id
 * but not a RUN_DIR (e.g. parallel test stacks) never reap each other. */
static int in_our_run_dir(json_t *c, const char *token)
{
    char want[4200];
    size_t i;
    json_t *m;
    snprintf(want, sizeof want, "%s/%s", wk_cfg.run_dir, token);
    json_array_foreach(json_object_get(c, "Mounts"), i, m)
    {
        const char *dst = json_string_value(json_object_get(m, "Destination"));
        const char *src = json_string_value(json_object_get(m, "Source"));
        if (dst && src && strcmp(dst, "/run/ci") == 0 && strcmp(src, want) == 0)
            return 1;
    }
    return 0;
}

/* Starts removing container `id` (NULL: none), `it` going to on_removed;
 * returns 1 when started, 0 when not (`it` is freed then). */
static size_t start_remove(struct wk_pool *p, const char *id, struct reap_item *it)
{
    if (!id || wk_docker_remove(p->docker, id, on_removed, it) != 0) {
        free(it);
        return 0;
    }
    p->reap_inflight++;
    return 1;
}

static void on_listed(void *arg, int status, const char *body, size_t len)
{
    struct wk_pool *p = arg;
    json_t *list = status == 200 ? json_loadb(body, len, 0, NULL) : NULL;
    size_t i, n = 0;
    json_t *c;
    p->reap_inflight--;
    if (!json_is_array(list))
        log_warn("reap: cannot list this worker's old containers (%d); filling anyway", status);
    json_array_foreach(list, i, c)
    {
        const char *id = json_string_value(json_object_get(c, "Id"));
        struct reap_item *it = reap_item_new(p, c);
        if (it->token[0] && in_our_run_dir(c, it->token) && !ours(p, it->token))
            n += start_remove(p, id, it);
        else
            free(it);
    }
    json_decref(list);
    if (n)
        log_info("reap: removing %zu stale container(s) of worker %s", n, wk_cfg.worker_id);
    reap_done(p);
}

/* The exited sandboxes of any worker: remove the containers; their dirs
 * too when they are ours. */
static void on_listed_exited(void *arg, int status, const char *body, size_t len)
{
    struct wk_pool *p = arg;
    json_t *list = status == 200 ? json_loadb(body, len, 0, NULL) : NULL;
    size_t i, n = 0;
    json_t *c;
    p->reap_inflight--;
    json_array_foreach(list, i, c)
    {
        const char *id = json_string_value(json_object_get(c, "Id"));
        const char *state = json_string_value(json_object_get(c, "State"));
        json_int_t created = json_integer_value(json_object_get(c, "Created"));
        /* created but never started: a worker killed between create and
         * start; leave young ones to the worker that may be starting them */
        if (state && strcmp(state, "created") == 0 && ci_now_ms() / 1000 - created < 300)
            continue;
        struct reap_item *it = reap_item_new(p, c);
        if (it->token[0] && (!in_our_run_dir(c, it->token) || ours(p, it->token)))
            it->token[0] = '\0'; /* not our dirs: leave them alone */
        n += start_remove(p, id, it);
    }
    json_decref(list);
    if (n)
        log_info("reap: removing %zu exited sandbox container(s)", n);
    reap_done(p);
}

static void reap_exited(struct wk_pool *p)
{
    char path[512];
    char *esc = curl_easy_escape(
        NULL, "{\"label\":[\"com.code-interpreter.managed=true\"],\"status\":[\"exited\",\"dead\",\"created\"]}",
        0);
    if (!esc)
        return;
    snprintf(path, sizeof path, "/containers/json?all=1&filters=%s", esc);
    curl_free(esc);
    if (wk_docker_request(p->docker, "GET", path, NULL, on_listed_exited, p) == 0)
        p->reap_inflight++;
}

void wk_pool__reap(struct wk_pool *p)
{
    char path[1024];
    json_t *filters = json_pack("{s:[s,s+]}", "label", "com.code-interpreter.managed=true",
                                "com.code-interpreter.worker=", wk_cfg.worker_id);
    char *fs = filters ? json_dumps(filters, JSON_COMPACT) : NULL;
    char *esc = fs ? curl_easy_escape(NULL, fs, 0) : NULL;
    int rc = -ENOMEM;
    /* Only the worker label identifies our containers: without a worker id
     * nothing is reaped. */
    if (esc && wk_cfg.worker_id[0]) {
        snprintf(path, sizeof path, "/containers/json?all=1&filters=%s", esc);
        rc = wk_docker_request(p->docker, "GET", path, NULL, on_listed, p);
    }
    if (rc == 0)
        p->reap_inflight++;
    else
        log_warn("reap: cannot ask docker for old containers (%d)", rc);
    reap_exited(p);
    curl_free(esc);
    free(fs);
    json_decref(filters);
    reap_done(p);
}
