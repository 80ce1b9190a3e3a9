/*
 * wk_stats.c - process-global atomic counters (see wk_stats.h).
 */
#include "wk_stats.h"

#include <stdatomic.h>
#include <string.h>

static _Atomic int64_t stats[WK_STAT_COUNT];
static _Atomic int64_t jobs[SCH_LANG_COUNT][SCH_STATUS_COUNT];

static const char *const stat_names[WK_STAT_COUNT] = {
    [WK_STAT_CONTAINERS_STARTED] = "containers_started",
    [WK_STAT_CONTAINER_FAILURES] = "container_failures",
    [WK_STAT_WEBHOOK_DELIVERED] = "webhook_delivered",
    [WK_STAT_WEBHOOK_FAILED] = "webhook_failed",
    [WK_STAT_WEBHOOK_GAVE_UP] = "webhook_gave_up",
    [WK_STAT_STATE_BYTES_SAVED] = "state_bytes_saved",
    [WK_STAT_STATE_BYTES_RESTORED] = "state_bytes_restored",
};

const char *wk_stat_name(enum wk_stat s)
{
    return (unsigned)s < WK_STAT_COUNT ? stat_names[s] : NULL;
}

void wk_stats_incr(enum wk_stat s, int64_t n)
{
    if ((unsigned)s < WK_STAT_COUNT)
        atomic_fetch_add(&stats[s], n);
}

void wk_stats_job(enum sch_lang lang, enum sch_status status)
{
    if ((unsigned)lang < SCH_LANG_COUNT && (unsigned)status < SCH_STATUS_COUNT)
        atomic_fetch_add(&jobs[lang][status], 1);
}

int wk_stats_take(struct wk_stats_delta *out)
{
    int n = 0;
    memset(out, 0, sizeof *out);
    for (int i = 0; i < WK_STAT_COUNT; i++)
        n += (out->stat[i] = atomic_exchange(&stats[i], 0)) != 0;
    for (int l = 0; l < SCH_LANG_COUNT; l++)
        for (int s = 0; s < SCH_STATUS_COUNT; s++)
            n += (out->job[l][s] = atomic_exchange(&jobs[l][s], 0)) != 0;
    return n;
}

void wk_stats_give_back(const struct wk_stats_delta *d)
{
    for (int i = 0; i < WK_STAT_COUNT; i++)
        if (d->stat[i])
            atomic_fetch_add(&stats[i], d->stat[i]);
    for (int l = 0; l < SCH_LANG_COUNT; l++)
        for (int s = 0; s < SCH_STATUS_COUNT; s++)
            if (d->job[l][s])
                atomic_fetch_add(&jobs[l][s], d->job[l][s]);
}
