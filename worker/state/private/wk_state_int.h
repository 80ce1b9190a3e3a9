/*
 * wk_state_int.h - internals shared by the state files (docs/state.md):
 *
 *   wk_state.c          stage-in (restore) and stage-out (save) steps
 *   wk_state_redis.c    the module's own async Redis connection (a q_link)
 *   wk_state_archive.c  archive sweep to object storage, archive expiry,
 *                       audit lines
 *   wk_state_blob.c     the stored blob format (pure)
 *   wk_state_local.c    which version a sandbox's state.in already holds
 *   wk_state_io.c       bounded, symlink-safe run dir file I/O
 *
 * Redis keys (besides the queue's, queue/q_keys.h):
 *   ci:state:<session_id>  string, the blob (wk_state_blob.h), EX STATE_TTL_SECONDS
 *   ci:state:<session_id>:saving  string, a save's token, PX STATE_FENCE_MS:
 *                          set before the result of a job that saves state
 *                          is posted, deleted (if still its token) once the
 *                          blob is stored; a restore waits while it exists
 *   ci:state:due           zset, member session_id, score = ms of the first
 *                          save not yet archived (ZADD NX); the sweep archives
 *                          members older than STATE_ARCHIVE_AFTER_SECONDS and
 *                          claims each with ZREM (one worker wins)
 *   ci:state:expiry_lock   string, NX EX 3600: one worker per hour deletes
 *                          archive objects older than STATE_ARCHIVE_TTL_DAYS
 * Object storage: state/<session_id> holds the same blob.
 *
 * Thread: everything here runs on the worker's loop thread, except the
 * functions documented as "work" (run by uv_queue_work in the threadpool),
 * which only touch their own op struct, the store (thread-safe) and files.
 */
#ifndef WK_STATE_INT_H
#define WK_STATE_INT_H

#include "wk_stage.h"

#include "q_lua.h"
#include "wk_state_blob.h"

#include <hiredis/async.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define WK_STATE_KEY_PREFIX "ci:state:"
#define WK_STATE_FENCE_SUFFIX ":saving"
#define WK_STATE_DUE_KEY "ci:state:due"
#define WK_STATE_EXPIRY_LOCK "ci:state:expiry_lock"
#define WK_STATE_ARCHIVE_PREFIX "state/"

struct st_store;

struct wk_state_cfg {
    int enabled;              /* STATE_PERSISTENCE_ENABLED, default 1 */
    int64_t ttl_s;            /* STATE_TTL_SECONDS, default 7200 */
    size_t max_raw;           /* STATE_MAX_SIZE_MB (default 10) in bytes */
    int64_t max_mb;           /* the same, as configured */
    int save_on_error;        /* STATE_SAVE_ON_ERROR, default 0 */
    int64_t archive_after_s;  /* STATE_ARCHIVE_AFTER_SECONDS, default 600; 0 = never */
    int64_t archive_ttl_days; /* STATE_ARCHIVE_TTL_DAYS, default 7 */
    int64_t fence_ms;         /* STATE_FENCE_MS, default 30000: a save's fence lifetime */
};

/* Module globals, owned by wk_state.c, loop thread only. */
struct wk_state_g {
    int inited;
    int closing;
    uv_loop_t *loop;
    struct wk_state_cfg cfg;
    struct st_store *store; /* NULL: no archive (open failed) */
    int works;              /* uv_queue_work requests in flight */
    uv_timer_t sweep_timer;
    int sweeping;
    int64_t next_expiry_ms;
};
extern struct wk_state_g wk_state_g;

/* One stage step in flight (wk_state.c restore, wk_state_save.c save);
 * freed by wk_state_op_finish() right before the stage callback. */
struct wk_state_op {
    uv_work_t work;
    struct wk_job_ctx *ctx;
    wk_stage_cb cb;
    void *arg;
    char key[160];             /* ci:state:<sid> */
    char fence[176];           /* ci:state:<sid>:saving */
    char token[33];            /* stage-out: this save's fence value */
    char sid[128];             /* copies: a tail outlives the job */
    char rid[72];
    char archive[160];         /* state/<sid> */
    char path[512];            /* state.in or state.out */
    unsigned char binding[32]; /* WK_STATE_BINDING_LEN */
    char *blob;                /* stored form */
    size_t bloblen;
    size_t rawlen;
    int from_archive;        /* stage-in: the blob came from storage */
    int loaded;              /* stage-in: state.in written */
    int oversize;            /* stage-out: state.out > max */
    int none;                /* stage-out: no state.out */
    int stored_sync;         /* stage-out tail: a large blob SET by the work thread */
    int store_failed;        /* stage-out tail: the blob did not reach Redis */
    int fenced;              /* stage-in: a save of this session is in flight */
    int64_t wait_until_ms;   /* stage-in: stop waiting for fences then */
    int rc;                  /* work outcome */
    char msg[256];           /* rc < 0: what failed; or a user warning */
    int warn;                /* msg is a warning for the response */
    int64_t t0_us;           /* when the step began (audit "ms") */
    struct wk_state_hdr hdr; /* of the blob loaded or saved */
};

struct wk_state_op *wk_state_op_new(struct wk_job_ctx *ctx, wk_stage_cb cb, void *arg,
                                    const char *file);
/* Frees op, then calls its stage callback with rc and msg (copied). */
void wk_state_op_finish(struct wk_state_op *op, int rc, const char *msg);
double wk_state_ms_of(const struct wk_state_op *op);
const char *wk_state_rid_of(const struct wk_state_op *op);
const char *wk_state_sid_of(const struct wk_state_op *op);

/* wk_state.c: reads the configuration and opens the store once (on the
 * first job); starts the sweep timer. */
void wk_state_init(uv_loop_t *loop);
/* Queues blocking work in the threadpool and counts it; after_work must
 * call wk_state_work_done(). */
void wk_state_queue_work(uv_work_t *req, uv_work_cb work, uv_after_work_cb after);
void wk_state_work_done(void);

/* wk_state_redis.c: one q_link (q_link.h).  wk_state_redis_open() opens
 * it (also done by the first command).  wk_state_redis_argv returns 0 (fn
 * runs exactly once, with a NULL reply when the connection fails, closes or
 * no reply came within the command timeout) or -EIO (the link is down; fn
 * never runs). */
void wk_state_redis_open(void);
int wk_state_redis_argv(redisCallbackFn *fn, void *priv, int argc, const char **argv,
                        const size_t *argvlen);
/* As wk_state_redis_argv, for a script (EVALSHA, EVAL after NOSCRIPT: q_lua.h); argv holds
 * the nkeys keys then the arguments, n in all. */
int wk_state_redis_lua(struct q_lua *s, redisCallbackFn *fn, void *priv, int nkeys, int n,
                       const char **argv);
/* Lets pending replies arrive (at most 5 s), then closes the link. */
void wk_state_redis_close(void);

/* wk_state_local.c: the version a sandbox's state.in holds (loop thread). */
struct wk_state_hdr;
void wk_state_local_set(const char *run_dir, const char *sid, const struct wk_state_hdr *h);
int wk_state_local_get(const char *run_dir, const char *sid, struct wk_state_hdr *h);
void wk_state_local_forget(const char *run_dir);

/* wk_state_archive.c */
void wk_state_sweep_start(void);
void wk_state_sweep_stop(void);
/* Writes one audit JSON line to stderr: {"ts","level":"info","component":
 * "worker","audit":true,"event_type":..,"session_id":..,<extra>} where
 * extra is a jansson pack format and its arguments (may be NULL).  Any
 * thread. */
void wk_state_audit(const char *event_type, const char *session_id, const char *request_id,
                    const char *fmt, ...);

#endif
