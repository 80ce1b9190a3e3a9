/*
 * wk_pool_int.h - private state shared by wk_pool.c (acquire, release,
 * close), wk_pool_fill.c (warming, sweeping, figures) and wk_pool_reap.c
 * (start-up reaping).  Not for use outside the pool module.
 *
 * Every entry is on p->entries from wk_sandbox_open() until its destroy
 * callback ran; `p` is freed only when the list is empty, the handles are
 * closed and no reap request is in flight.
 */
#ifndef WK_POOL_INT_H
#define WK_POOL_INT_H

#include "wk_pool.h"

enum wk_pe_state {
    WK_PE_WARMING,
    WK_PE_IDLE,
    WK_PE_HANDOFF,
    WK_PE_OPENING,
    WK_PE_IN_USE,
    WK_PE_KEPT,
    WK_PE_WIPING,
    WK_PE_GONE
};

struct wk_pool_entry {
    struct wk_pool *p;
    struct wk_sandbox *sb;
    enum sch_lang lang;
    enum wk_pe_state state;
    char *session;             /* bound session; NULL while unbound */
    char *owner;               /* its caller, "<owner>\n<user_id>"; NULL while unbound */
    const struct sch_job *job; /* the acquirer's job while WIPING (valid until cb) */
    int64_t since_ms;          /* entered the current state (ci_mono_us() / 1000) */
    int finishing;             /* IN_USE, its result posted: released within ms
                                  (wk_pool_finishing); cleared by a state change */
    wk_sandbox_ready_cb cb;    /* the acquirer's, while HANDOFF/OPENING */
    void *arg;
    struct wk_pool_entry *prev, *next;
};

/* An acquire parked because its caller already holds POOL_CALLER_MAX
 * containers of the language (wk_pool.c, "callers"): served when one of
 * them comes back, or by a warm/fresh one after POOL_CALLER_WAIT_MS. */
struct wk_pool_waiter {
    const struct sch_job *job; /* the acquirer's (valid until cb) */
    char *owner;               /* owned: "<owner>\n<user_id>" */
    wk_sandbox_ready_cb cb;
    void *arg;
    int64_t since_ms;
    struct wk_pool_waiter *next;
};

struct wk_pool_lang {
    int target;     /* POOL_SIZE_<LANG>: the minimum of warm containers */
    int est_mb;     /* memory estimate of one pooled container */
    unsigned takes; /* unbound containers taken since the last tick */
    double rate;    /* new sessions per second needing one (EWMA) */
    double warm_s;  /* seconds a warm container takes to be READY (EWMA) */
    int image_missing;
    int64_t backoff_ms;   /* 0 = none; else delay before the next fill */
    int64_t next_fill_ms; /* no fill before this time */
    struct wk_pool_lang_stats st;
};

struct wk_pool {
    uv_loop_t *loop;
    struct wk_docker *docker;
    struct wk_pool_entry *entries;
    struct wk_pool_lang lang[SCH_LANG_COUNT];
    int keep_idle_ms, keep_max, fill_concurrency, stats_log_ms;
    int caller_max;                 /* POOL_CALLER_MAX: containers one caller holds at once */
    int caller_wait_ms;             /* POOL_CALLER_WAIT_MS: longest a parked acquire waits */
    struct wk_pool_waiter *waiters; /* parked acquires, oldest first */
    int64_t memory_mb;              /* POOL_MEMORY_MB: budget of WARMING + IDLE + KEPT */
    int64_t last_tick_ms;
    int filling;        /* pool opens in flight, all languages */
    int reaping;        /* start-up reap not finished: no fill yet */
    int reap_inflight;  /* docker requests of the reap */
    uv_timer_t tick;    /* sweep, fill retries, stats log */
    uv_timer_t handoff; /* deferred ready callbacks of pool hits */
    int handles_open;
    int64_t last_stats_log_ms;
    int closing;
    void (*close_done)(void *);
    void *close_arg;
};

/* wk_pool.c */
struct wk_pool_entry *wk_pool__entry_new(struct wk_pool *p, enum sch_lang lang);
void wk_pool__set_state(struct wk_pool_entry *e, enum wk_pe_state st);
void wk_pool__destroy_entry(struct wk_pool_entry *e);
void wk_pool__spec(struct wk_pool *p, enum sch_lang lang, const char *session, char *image,
                   size_t imagesz, struct wk_sandbox_spec *spec);
void wk_pool__maybe_closed(struct wk_pool *p);

/* wk_pool_fill.c */
void wk_pool__config(struct wk_pool *p);
void wk_pool__fill(struct wk_pool *p);
void wk_pool__tick(uv_timer_t *t);
/* MB the pool holds now (WARMING, IDLE, KEPT by their estimates). */
int64_t wk_pool__held_mb(const struct wk_pool *p);
void wk_pool__publish(struct wk_pool *p);
void wk_pool__unpublish(void);

/* wk_pool_reap.c: lists and removes stale containers of this worker, then
 * sets p->reaping = 0 and fills. */
void wk_pool__reap(struct wk_pool *p);
void wk_pool__serve_waiters(struct wk_pool *p);

#endif
