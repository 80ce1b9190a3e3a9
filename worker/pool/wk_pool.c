/*
 * wk_pool.c - sandbox supply (see wk_pool.h): acquire from the session's
 * kept container, else a warm one, else a fresh one; release keeps or
 * destroys; close destroys what the pool holds.  Warming, sweeping and the
 * figures are in wk_pool_fill.c, start-up reaping in wk_pool_reap.c.
 */
#include "wk_pool_int.h"

#include "ci_log.h"
#include "ci_util.h"
#include "wk_config.h"
#include "wk_wan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define rlog_debug(rid, ...) CI_LOG_(CI_LOG_DEBUG, (rid), __VA_ARGS__)

/* ---- entries ------------------------------------------------------------ */

static int *counter_of(struct wk_pool_entry *e, enum wk_pe_state st)
{
    struct wk_pool_lang_stats *s = &e->p->lang[e->lang].st;
    switch (st) {
    case WK_PE_WARMING:
        return &s->warming;
    case WK_PE_IDLE:
        return &s->idle;
    case WK_PE_KEPT:
        return &s->kept;
    case WK_PE_HANDOFF:
    case WK_PE_OPENING:
    case WK_PE_IN_USE:
    case WK_PE_WIPING:
        return &s->in_use;
    case WK_PE_GONE:
        break;
    }
    return NULL;
}

void wk_pool__set_state(struct wk_pool_entry *e, enum wk_pe_state st)
{
    int *from = counter_of(e, e->state), *to = counter_of(e, st);
    if (from)
        (*from)--;
    if (to)
        (*to)++;
    if (e->state == WK_PE_WARMING && st != WK_PE_WARMING)
        e->p->filling--;
    if (st == WK_PE_WARMING && e->state != WK_PE_WARMING)
        e->p->filling++;
    e->state = st;
    e->finishing = 0;
    e->since_ms = ci_mono_us() / 1000;
    wk_pool__publish(e->p);
}

struct wk_pool_entry *wk_pool__entry_new(struct wk_pool *p, enum sch_lang lang)
{
    struct wk_pool_entry *e = ci_xcalloc(1, sizeof *e);
    e->p = p;
    e->lang = lang;
    e->state = WK_PE_GONE; /* counted from the first wk_pool__set_state */
    e->next = p->entries;
    if (p->entries)
        p->entries->prev = e;
    p->entries = e;
    return e;
}

static void entry_free(struct wk_pool_entry *e)
{
    struct wk_pool *p = e->p;
    if (e->state != WK_PE_GONE)
        wk_pool__set_state(e, WK_PE_GONE);
    if (e->prev)
        e->prev->next = e->next;
    else
        p->entries = e->next;
    if (e->next)
        e->next->prev = e->prev;
    free(e->session);
    free(e->owner);
    free(e);
    wk_pool__maybe_closed(p);
}

static void entry_destroyed(void *arg)
{
    entry_free(arg);
}

void wk_pool__destroy_entry(struct wk_pool_entry *e)
{
    if (e->state == WK_PE_GONE && e->sb == NULL)
        return;
    wk_pool__set_state(e, WK_PE_GONE);
    struct wk_sandbox *sb = e->sb;
    e->sb = NULL;
    if (sb)
        wk_sandbox_destroy_then(sb, entry_destroyed, e);
    else
        entry_free(e);
}

void wk_pool__spec(struct wk_pool *p, enum sch_lang lang, const char *session, char *image,
                   size_t imagesz, struct wk_sandbox_spec *spec)
{
    (void)p;
    wk_sandbox_spec_init(spec);
    wk_image_of(lang, image, imagesz);
    spec->image = image;
    spec->lang = sch_lang_name(lang);
    spec->session_id = session ? session : "unassigned";
    spec->memory_mb = wk_cfg.limits.max_memory_mb;
    spec->pids_limit = wk_cfg.limits.max_pids;
    spec->nano_cpus = wk_cfg.cpus_nano;
    spec->hostname = wk_cfg.hostname;
    spec->run_root = wk_cfg.run_dir;
    spec->data_root = wk_cfg.data_dir;
    wk_wan_apply(spec); /* WAN mode: network, DNS, resolv.conf */
}

/* ---- acquire ------------------------------------------------------------ */

/* Deferred ready callbacks of pool hits (never from inside acquire). */
static void on_handoff(uv_timer_t *t)
{
    struct wk_pool *p = t->data;
    for (;;) {
        struct wk_pool_entry *e = p->entries;
        while (e && e->state != WK_PE_HANDOFF)
            e = e->next;
        if (!e)
            return;
        wk_pool__set_state(e, WK_PE_IN_USE);
        /* killed meanwhile (wk_sandbox_kill), or the runner went away */
        int status = wk_sandbox_is_ready(e->sb) ? 0 : -ECANCELED;
        e->cb(e->arg, e->sb, status); /* may release: rescan from the head */
    }
}

static void on_fresh_ready(void *arg, struct wk_sandbox *sb, int status)
{
    struct wk_pool_entry *e = arg;
    struct wk_pool_lang *l = &e->p->lang[e->lang];
    if (status == 0 && l->image_missing) {
        log_info("pool %s: image is back; warming resumes", sch_lang_name(e->lang));
        l->image_missing = 0;
        l->st.image_missing = 0;
        wk_pool__fill(e->p);
    }
    wk_pool__set_state(e, WK_PE_IN_USE);
    e->cb(e->arg, sb, status);
}

/* The caller a container may serve: "<owner>\n<user_id>" (caller frees);
 * NULL when the job names no owner (no reuse across its sessions then). */
static char *owner_of(const struct sch_job *job)
{
    if (!job->owner || !job->owner[0])
        return NULL;
    const char *u = job->user_id ? job->user_id : "";
    size_t n = strlen(job->owner) + strlen(u) + 2;
    char *k = ci_xmalloc(n);
    snprintf(k, n, "%s\n%s", job->owner, u);
    return k;
}

static int same(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

enum take_kind { TAKE_IDLE, TAKE_SESSION, TAKE_CALLER };

/* Takes a READY container of `lang`: an unbound warm one (TAKE_IDLE), the
 * one kept for this session of this caller (TAKE_SESSION), or the most
 * recently kept one of this caller (TAKE_CALLER).  Dead ones found on the
 * way go. */
static struct wk_pool_entry *take(struct wk_pool *p, enum sch_lang lang, enum take_kind kind,
                                  const char *session, const char *owner)
{
    struct wk_pool_entry *e = p->entries, *next, *best = NULL;
    for (; e; e = next) {
        next = e->next;
        if (e->lang != lang || e->state != (kind == TAKE_IDLE ? WK_PE_IDLE : WK_PE_KEPT))
            continue;
        /* never another caller's (a job without an owner, which the
         * ingress no longer makes, keeps only its own session's) */
        if (kind == TAKE_CALLER && !same(e->owner, owner))
            continue;
        if (kind == TAKE_SESSION && !same(e->owner, owner) && (e->owner || owner))
            continue;
        if (kind == TAKE_SESSION && !same(e->session, session))
            continue;
        if (!wk_sandbox_is_ready(e->sb)) {
            p->lang[lang].st.discarded++;
            wk_pool__destroy_entry(e); /* next is unaffected: freeing is later */
            continue;
        }
        if (kind != TAKE_CALLER)
            return e;
        if (!best || e->since_ms > best->since_ms)
            best = e;
    }
    return best;
}

static void hand_off(struct wk_pool *p, struct wk_pool_entry *e, wk_sandbox_ready_cb cb, void *arg)
{
    e->cb = cb;
    e->arg = arg;
    wk_pool__set_state(e, WK_PE_HANDOFF);
    uv_timer_start(&p->handoff, on_handoff, 0, 0);
}

/* A warm container, else a fresh one, bound to the job's caller and session.
 * Takes `owner` over (freed with the entry, also on failure). */
static int acquire_unbound(struct wk_pool *p, const struct sch_job *job, char *owner,
                           wk_sandbox_ready_cb cb, void *arg, struct wk_sandbox **out)
{
    struct wk_pool_lang *l = &p->lang[job->lang];
    l->takes++; /* the demand the warm pool follows (wk_pool_fill.c) */
    struct wk_pool_entry *e = take(p, job->lang, TAKE_IDLE, NULL, NULL);
    if (e) {
        l->st.hits++;
        e->session = ci_xstrdup(job->session_id);
        e->owner = owner;
        const char *cid = wk_sandbox_container_id(e->sb);
        /* The session label of a warm container says "unassigned": this line
         * is the record of its binding (docs/pool.md). */
        rlog_info(job->request_id, "pool %s: container %.12s bound to session %s",
                  sch_lang_name(job->lang), cid ? cid : "?", job->session_id);
        hand_off(p, e, cb, arg);
        *out = e->sb;
        /* Refill at once only when this took the last warm one; else on the
         * next tick (<= 500 ms): creating a container costs the engine and
         * the new runner's imports far more CPU than the call now starting,
         * which on a small machine would wait for them (docs/pool.md). */
        if (l->st.idle == 0)
            wk_pool__fill(p);
        return 0;
    }

    char image[256];
    struct wk_sandbox_spec spec;
    wk_pool__spec(p, job->lang, job->session_id, image, sizeof image, &spec);
    e = wk_pool__entry_new(p, job->lang);
    e->session = ci_xstrdup(job->session_id);
    e->owner = owner;
    e->cb = cb;
    e->arg = arg;
    wk_pool__set_state(e, WK_PE_OPENING);
    int rc = wk_sandbox_open(p->loop, p->docker, &spec, on_fresh_ready, e, &e->sb);
    if (rc < 0) {
        e->sb = NULL; /* the sandbox cleans itself up */
        wk_pool__destroy_entry(e);
        return rc;
    }
    l->st.misses++;
    rlog_debug(job->request_id, "pool %s: miss; opening a fresh container for session %s",
               sch_lang_name(job->lang), job->session_id);
    *out = e->sb;
    return 0;
}

static void on_wiped(void *arg, struct wk_sandbox *sb, int status, const char *why)
{
    struct wk_pool_entry *e = arg;
    struct wk_pool *p = e->p;
    const struct sch_job *job = e->job;
    wk_sandbox_ready_cb cb = e->cb;
    void *cb_arg = e->arg;
    const char *cid = wk_sandbox_container_id(sb);
    e->job = NULL;
    if (status == 0) {
        p->lang[e->lang].st.wipes++;
        /* The record of the rebinding (docs/pool.md; tests read it). */
        rlog_info(job->request_id,
                  "pool %s: container %.12s wiped and checked; bound to session %s of the "
                  "same caller",
                  sch_lang_name(e->lang), cid ? cid : "?", e->session);
        wk_pool__set_state(e, WK_PE_IN_USE);
        cb(cb_arg, sb, 0);
        return;
    }
    p->lang[e->lang].st.wipe_failures++;
    rlog_warn(job->request_id, "pool %s: container %.12s failed its wipe (%s); destroyed",
              sch_lang_name(e->lang), cid ? cid : "?", why ? why : strerror(-status));
    wk_pool__destroy_entry(e);
    struct wk_sandbox *fresh = NULL;
    int rc = p->closing ? -ESHUTDOWN : acquire_unbound(p, job, owner_of(job), cb, cb_arg, &fresh);
    if (rc < 0)
        cb(cb_arg, NULL, rc);
}

/* Starts the wipe of `e` (KEPT, the job's caller's) for a new session of
 * that caller; the job gets it from on_wiped.  Returns 0, or -1 when the
 * wipe could not start (`e` is then destroyed). */
static int wipe_for(struct wk_pool *p, struct wk_pool_entry *e, const struct sch_job *job,
                    wk_sandbox_ready_cb cb, void *arg)
{
    if (wk_sandbox_wipe(e->sb, on_wiped, e) < 0) {
        p->lang[e->lang].st.wipe_failures++;
        wk_pool__destroy_entry(e);
        return -1;
    }
    free(e->session);
    e->session = ci_xstrdup(job->session_id);
    e->job = job;
    e->cb = cb;
    e->arg = arg;
    wk_pool__set_state(e, WK_PE_WIPING);
    return 0;
}

/* ---- callers: at most POOL_CALLER_MAX containers each ------------------- */

/* 1 while `e` is someone's: being handed, opened, wiped or used. */
static int held(const struct wk_pool_entry *e)
{
    return e->state == WK_PE_HANDOFF || e->state == WK_PE_OPENING || e->state == WK_PE_IN_USE ||
           e->state == WK_PE_WIPING;
}

/* Containers of `lang` that the caller `owner` holds now. */
static int caller_busy(const struct wk_pool *p, enum sch_lang lang, const char *owner)
{
    int n = 0;
    for (const struct wk_pool_entry *e = p->entries; e; e = e->next)
        if (e->lang == lang && same(e->owner, owner) && held(e))
            n++;
    return n;
}

/* 1 when the session's own container is busy (its previous job still
 * storing its state after the result went out, or a job of the same
 * session on this worker): it comes back within milliseconds, with the
 * session's files already in place. */
static int session_busy(const struct wk_pool *p, enum sch_lang lang, const char *session,
                        const char *owner)
{
    for (const struct wk_pool_entry *e = p->entries; e; e = e->next)
        if (e->lang == lang && same(e->session, session) &&
            (same(e->owner, owner) || (!e->owner && !owner)) && held(e))
            return 1;
    return 0;
}

/* 1 when the caller has a container of `lang` whose job is over and which
 * comes back within milliseconds (wk_pool_finishing). */
static int caller_finishing(const struct wk_pool *p, enum sch_lang lang, const char *owner)
{
    for (const struct wk_pool_entry *e = p->entries; e; e = e->next)
        if (e->lang == lang && e->state == WK_PE_IN_USE && e->finishing && same(e->owner, owner))
            return 1;
    return 0;
}

void wk_pool_finishing(struct wk_pool *p, struct wk_sandbox *sb)
{
    for (struct wk_pool_entry *e = p->entries; e; e = e->next)
        if (e->sb == sb && e->state == WK_PE_IN_USE)
            e->finishing = 1;
}

/* The one order every acquire follows, at once (wk_pool_acquire) or when a
 * parked one is looked at again (serve_waiter): the session's kept
 * container; wait while the session's own one is busy; the caller's kept
 * one, wiped; wait while one of the caller's is finishing or the caller
 * holds POOL_CALLER_MAX; a warm or fresh one.  `may_wait` 0 skips the
 * waits (POOL_CALLER_WAIT_MS is 0 or has passed).  Returns 1 when started
 * (`owner` taken over; *out as for wk_pool_acquire), 0 to wait (*why set,
 * nothing taken), or a negative errno (`owner` freed, no callback). */
static int place(struct wk_pool *p, const struct sch_job *job, char *owner, wk_sandbox_ready_cb cb,
                 void *arg, int may_wait, struct wk_sandbox **out, const char **why)
{
    struct wk_pool_entry *e = take(p, job->lang, TAKE_SESSION, job->session_id, owner);
    if (e) {
        free(owner);
        p->lang[job->lang].st.reuses++;
        const char *cid = wk_sandbox_container_id(e->sb);
        rlog_debug(job->request_id, "pool %s: session %s reuses its container %.12s",
                   sch_lang_name(job->lang), job->session_id, cid ? cid : "?");
        hand_off(p, e, cb, arg);
        *out = e->sb;
        return 1;
    }
    if (may_wait && session_busy(p, job->lang, job->session_id, owner)) {
        *why = "the session's container is finishing its previous job";
        return 0;
    }
    /* A new session of a caller with a kept container: wipe it, then reuse. */
    e = owner ? take(p, job->lang, TAKE_CALLER, NULL, owner) : NULL;
    if (e && wipe_for(p, e, job, cb, arg) == 0) {
        free(owner);
        *out = NULL; /* known from cb only: a failed wipe hands another */
        return 1;
    }
    /* a wipe costs milliseconds, another container seconds of CPU */
    if (may_wait && owner && caller_finishing(p, job->lang, owner)) {
        *why = "the caller's container is finishing its previous job";
        return 0;
    }
    if (may_wait && owner && p->caller_max > 0 &&
        caller_busy(p, job->lang, owner) >= p->caller_max) {
        *why = "the caller holds POOL_CALLER_MAX containers";
        return 0;
    }
    int rc = acquire_unbound(p, job, owner, cb, arg, out); /* owns `owner` */
    return rc < 0 ? rc : 1;
}

/* Tries to serve the parked acquire `w` now (place()).  Returns 1 when `w`
 * is served (its callback will run or ran; `w` is freed), 0 to keep
 * waiting. */
static int serve_waiter(struct wk_pool *p, struct wk_pool_waiter *w, int64_t now)
{
    struct wk_sandbox *sb = NULL;
    const char *why = NULL;
    int may_wait = now - w->since_ms < p->caller_wait_ms;
    int rc = place(p, w->job, w->owner, w->cb, w->arg, may_wait, &sb, &why);
    if (rc == 0)
        return 0;
    if (rc < 0)
        w->cb(w->arg, NULL, rc);
    free(w);
    return 1;
}

void wk_pool__serve_waiters(struct wk_pool *p)
{
    int64_t now = ci_mono_us() / 1000;
    /* Unlinked before it is served: a callback may acquire again. */
    for (int served = 1; served && !p->closing;) {
        served = 0;
        for (struct wk_pool_waiter **pw = &p->waiters; *pw; pw = &(*pw)->next) {
            struct wk_pool_waiter *w = *pw;
            *pw = w->next;
            if (serve_waiter(p, w, now)) {
                served = 1;
                break; /* the list may have changed: from the start again */
            }
            *pw = w; /* keeps waiting, in its place */
        }
    }
}

/* Parks an acquire (takes `owner` over); `why` is for the log. */
static void park(struct wk_pool *p, const struct sch_job *job, char *owner, wk_sandbox_ready_cb cb,
                 void *arg, const char *why)
{
    struct wk_pool_waiter *w = ci_xcalloc(1, sizeof *w), **pw = &p->waiters;
    w->job = job;
    w->owner = owner;
    w->cb = cb;
    w->arg = arg;
    w->since_ms = ci_mono_us() / 1000;
    while (*pw)
        pw = &(*pw)->next;
    *pw = w;
    rlog_debug(job->request_id, "pool %s: %s; waiting for one", sch_lang_name(job->lang), why);
}

int wk_pool_acquire(struct wk_pool *p, const struct sch_job *job, wk_sandbox_ready_cb cb, void *arg,
                    struct wk_sandbox **out)
{
    if (p->closing)
        return -ESHUTDOWN;
    if (job->lang < 0 || job->lang >= SCH_LANG_COUNT || !job->session_id || !cb)
        return -EINVAL;
    char *owner = owner_of(job);
    const char *why = NULL;
    int rc = place(p, job, owner, cb, arg, p->caller_wait_ms > 0, out, &why);
    if (rc == 0) {
        park(p, job, owner, cb, arg, why); /* takes `owner` */
        *out = NULL;
    }
    return rc < 0 ? rc : 0;
}

/* ---- release ------------------------------------------------------------ */

/* Makes room for one more kept container of `lang`: the oldest kept ones
 * go while there are POOL_KEEP_MAX or the memory budget has no room.
 * Returns 0 when there is room. */
static int room_to_keep(struct wk_pool *p, enum sch_lang lang)
{
    for (;;) {
        struct wk_pool_entry *old = NULL;
        int n = 0;
        for (struct wk_pool_entry *e = p->entries; e; e = e->next)
            if (e->state == WK_PE_KEPT) {
                n++;
                if (!old || e->since_ms < old->since_ms)
                    old = e;
            }
        int full = wk_pool__held_mb(p) + p->lang[lang].est_mb > p->memory_mb;
        if (n < p->keep_max && !full)
            return 0;
        if (!old)
            return -1;
        wk_pool__destroy_entry(old); /* GONE at once: no longer counted */
    }
}

void wk_pool_release(struct wk_pool *p, struct wk_sandbox *sb, int reusable)
{
    struct wk_pool_entry *e = p->entries;
    while (e && e->sb != sb)
        e = e->next;
    if (!e) {
        log_error("pool: release of a sandbox the pool does not know; destroying it");
        wk_sandbox_destroy(sb);
        return;
    }
    if (reusable && !p->closing && p->keep_idle_ms > 0 && p->keep_max > 0 && e->session &&
        e->state == WK_PE_IN_USE && wk_sandbox_is_ready(sb) && room_to_keep(p, e->lang) == 0)
        wk_pool__set_state(e, WK_PE_KEPT);
    else
        wk_pool__destroy_entry(e);
    if (p->waiters)
        wk_pool__serve_waiters(p); /* a caller's container came back or went */
}

/* ---- life of the pool --------------------------------------------------- */

int wk_pool_new(uv_loop_t *loop, struct wk_docker *docker, struct wk_pool **out)
{
    struct wk_pool *p = ci_xcalloc(1, sizeof *p);
    p->loop = loop;
    p->docker = docker;
    wk_pool__config(p);
    uv_timer_init(loop, &p->tick);
    uv_timer_init(loop, &p->handoff);
    p->tick.data = p;
    p->handoff.data = p;
    p->handles_open = 2;
    uv_timer_start(&p->tick, wk_pool__tick, 500, 500);
    p->last_stats_log_ms = ci_mono_us() / 1000;
    wk_pool__publish(p);
    p->reaping = 1;
    wk_pool__reap(p); /* then fills */
    *out = p;
    return 0;
}

void wk_pool__maybe_closed(struct wk_pool *p)
{
    if (!p->closing || p->entries || p->handles_open > 0 || p->reap_inflight > 0)
        return;
    void (*done)(void *) = p->close_done;
    void *arg = p->close_arg;
    wk_pool__unpublish();
    free(p);
    if (done)
        done(arg);
}

static void on_handle_closed(uv_handle_t *h)
{
    struct wk_pool *p = h->data;
    p->handles_open--;
    wk_pool__maybe_closed(p);
}

void wk_pool_close(struct wk_pool *p, void (*done)(void *arg), void *arg)
{
    p->closing = 1;
    p->close_done = done;
    p->close_arg = arg;
    struct wk_pool_entry *e = p->entries, *next;
    int n = 0;
    for (; e; e = next) {
        next = e->next;
        if (e->state == WK_PE_WARMING || e->state == WK_PE_IDLE || e->state == WK_PE_KEPT) {
            n++;
            wk_pool__destroy_entry(e);
        }
    }
    while (p->waiters) {
        struct wk_pool_waiter *w = p->waiters;
        p->waiters = w->next;
        free(w->owner);
        w->cb(w->arg, NULL, -ESHUTDOWN);
        free(w);
    }
    log_info("pool: closing; destroying %d pooled container(s)", n);
    uv_close((uv_handle_t *)&p->tick, on_handle_closed);
    uv_close((uv_handle_t *)&p->handoff, on_handle_closed);
}
