/*
 * wk_state_local.c - which stored state version a sandbox's state.in holds.
 *
 * A sandbox serves one session and the pool hands it back to the same
 * session's next job on this worker.  After a save, stage-out renames
 * state.out to state.in and records (run dir, session, saved_ms, comp_size)
 * here; the next stage-in on that sandbox then reads only the 64-byte header
 * from Redis (GETRANGE) and skips the full GET, decompression and write when
 * Redis still holds that very version (no other worker saved since).
 *
 * Bounded table, oldest entry replaced; run dirs are unique per sandbox, so
 * an entry of a destroyed sandbox never matches again.  Loop thread only.
 */
#include "wk_state_int.h"
#include "wk_state_blob.h"

#include <stdio.h>
#include <string.h>

#define WK_STATE_LOCAL_SLOTS 128

struct wk_state_local {
    char run_dir[256];
    char sid[128];
    struct wk_state_hdr h;
};

static struct wk_state_local slots[WK_STATE_LOCAL_SLOTS];
static unsigned next_slot;

static struct wk_state_local *find(const char *run_dir)
{
    for (int i = 0; i < WK_STATE_LOCAL_SLOTS; i++)
        if (slots[i].run_dir[0] && strcmp(slots[i].run_dir, run_dir) == 0)
            return &slots[i];
    return NULL;
}

void wk_state_local_set(const char *run_dir, const char *sid, const struct wk_state_hdr *h)
{
    struct wk_state_local *e = find(run_dir);
    if (!e)
        e = &slots[next_slot++ % WK_STATE_LOCAL_SLOTS];
    snprintf(e->run_dir, sizeof e->run_dir, "%s", run_dir);
    snprintf(e->sid, sizeof e->sid, "%s", sid);
    e->h = *h;
}

int wk_state_local_get(const char *run_dir, const char *sid, struct wk_state_hdr *h)
{
    struct wk_state_local *e = find(run_dir);
    if (!e || strcmp(e->sid, sid) != 0)
        return -1;
    *h = e->h;
    return 0;
}

void wk_state_local_forget(const char *run_dir)
{
    struct wk_state_local *e = find(run_dir);
    if (e)
        memset(e, 0, sizeof *e);
}
