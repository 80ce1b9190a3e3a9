/*
 * wk_files.c - staging session files in and out of /mnt/data.
 *
 * Not implemented yet: inputs are not staged and outputs are not collected
 * (tracked in the LibreChat API issue).  Each step succeeds at once.
 */
#include "wk_stage.h"

void wk_files_stage_in(struct wk_job_ctx *ctx, wk_stage_cb cb, void *arg)
{
    cb(arg, 0, NULL);
}

void wk_files_stage_out(struct wk_job_ctx *ctx, wk_stage_cb cb, void *arg)
{
    cb(arg, 0, NULL);
}

void wk_files_release(struct wk_job_ctx *ctx)
{
}
