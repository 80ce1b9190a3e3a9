/*
 * wk_pool.c - sandbox supply (see wk_pool.h): a fresh sandbox per job.
 */
#include "wk_pool.h"

#include "ci_util.h"
#include "wk_config.h"

#include <stdlib.h>

struct wk_pool {
    uv_loop_t *loop;
    struct wk_docker *docker;
    int live; /* sandboxes handed out or being destroyed */
    void (*close_done)(void *);
    void *close_arg;
    int closing;
};

int wk_pool_new(uv_loop_t *loop, struct wk_docker *docker, struct wk_pool **out)
{
    struct wk_pool *p = ci_xcalloc(1, sizeof *p);
    p->loop = loop;
    p->docker = docker;
    *out = p;
    return 0;
}

static void spec_for(const struct sch_job *job, char *image, size_t imagesz,
                     struct wk_sandbox_spec *spec)
{
    wk_sandbox_spec_init(spec);
    wk_image_of(job->lang, image, imagesz);
    spec->image = image;
    spec->lang = sch_lang_name(job->lang);
    spec->session_id = job->session_id;
    spec->memory_mb = wk_cfg.limits.max_memory_mb;
    spec->pids_limit = wk_cfg.limits.max_pids;
    spec->nano_cpus = wk_cfg.cpus_nano;
    spec->hostname = wk_cfg.hostname;
    spec->run_root = wk_cfg.run_dir;
    spec->data_root = wk_cfg.data_dir;
}

int wk_pool_acquire(struct wk_pool *p, const struct sch_job *job, wk_sandbox_ready_cb cb,
                    void *arg, struct wk_sandbox **out)
{
    char image[256];
    struct wk_sandbox_spec spec;
    spec_for(job, image, sizeof image, &spec);
    int rc = wk_sandbox_open(p->loop, p->docker, &spec, cb, arg, out);
    if (rc == 0)
        p->live++;
    return rc;
}

static void maybe_closed(struct wk_pool *p)
{
    if (!p->closing || p->live > 0)
        return;
    void (*done)(void *) = p->close_done;
    void *arg = p->close_arg;
    free(p);
    if (done)
        done(arg);
}

static void destroyed(void *arg)
{
    struct wk_pool *p = arg;
    p->live--;
    maybe_closed(p);
}

void wk_pool_release(struct wk_pool *p, struct wk_sandbox *sb, int reusable)
{
    wk_sandbox_destroy_then(sb, destroyed, p);
}

void wk_pool_close(struct wk_pool *p, void (*done)(void *arg), void *arg)
{
    p->closing = 1;
    p->close_done = done;
    p->close_arg = arg;
    maybe_closed(p);
}
