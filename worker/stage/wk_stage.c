/*
 * wk_stage.c - chains the stage steps (see wk_stage.h).
 */
#include "wk_stage.h"

#include "ci_util.h"

#include <stdio.h>
#include <stdlib.h>

struct chain {
    struct wk_job_ctx *ctx;
    void (*second)(struct wk_job_ctx *, wk_stage_cb, void *);
    wk_stage_cb cb;
    void *arg;
};

static void chain_last(void *arg, int rc, const char *msg)
{
    struct chain *ch = arg;
    wk_stage_cb cb = ch->cb;
    void *cbarg = ch->arg;
    free(ch);
    cb(cbarg, rc, msg);
}

static void chain_first(void *arg, int rc, const char *msg)
{
    struct chain *ch = arg;
    if (rc != 0) {
        chain_last(ch, rc, msg);
        return;
    }
    ch->second(ch->ctx, chain_last, ch);
}

static void run_chain(struct wk_job_ctx *ctx,
                      void (*first)(struct wk_job_ctx *, wk_stage_cb, void *),
                      void (*second)(struct wk_job_ctx *, wk_stage_cb, void *), wk_stage_cb cb,
                      void *arg)
{
    struct chain *ch = ci_xcalloc(1, sizeof *ch);
    ch->ctx = ctx;
    ch->second = second;
    ch->cb = cb;
    ch->arg = arg;
    first(ctx, chain_first, ch);
}

void wk_stage_in(struct wk_job_ctx *ctx, wk_stage_cb cb, void *arg)
{
    run_chain(ctx, wk_files_stage_in, wk_state_stage_in, cb, arg);
}

void wk_stage_out(struct wk_job_ctx *ctx, wk_stage_cb cb, void *arg)
{
    run_chain(ctx, wk_files_stage_out, wk_state_stage_out, cb, arg);
}

void wk_stage_release(struct wk_job_ctx *ctx)
{
    wk_files_release(ctx);
    wk_state_release(ctx);
}

void wk_stage_end(void *op, wk_stage_cb cb, void *arg, int rc, const char *msg)
{
    char copy[512];
    snprintf(copy, sizeof copy, "%s", msg ? msg : "");
    free(op);
    cb(arg, rc, copy[0] ? copy : NULL);
}
