/*
 * wk_sandbox_int.h - private state shared by wk_sandbox.c (open, channel,
 * destroy) and wk_sandbox_run.c (runs, deadline, kill, death).  Not for use
 * outside the sandbox module.
 *
 * Lifetime rule: `sb` is freed only when destroying, with no docker request
 * in flight (ndocker == 0), every uv handle closed (nhandles == 0) and the
 * dir removal done.  Every docker callback therefore starts with
 * wk_sb__docker_done(sb), which returns non-zero when the sandbox is being
 * destroyed (the callback then only does teardown work).
 */
#ifndef WK_SANDBOX_INT_H
#define WK_SANDBOX_INT_H

#include "wk_frame.h"
#include "wk_sandbox.h"

enum wk_sb_state { WK_SB_OPENING, WK_SB_READY, WK_SB_RUNNING, WK_SB_DEAD };

/* Why a run ended without a result frame. */
enum wk_sb_end { WK_SB_END_NONE = 0, WK_SB_END_TIMEOUT, WK_SB_END_CANCEL };

struct wk_sandbox {
    uv_loop_t *loop;
    struct wk_docker *docker;
    enum wk_sb_state state;
    char token[25];
    char *run_dir, *data_dir, *sock_path, *name;
    char *session_id;
    char *container_id;
    uid_t uid;
    gid_t gid;
    int start_timeout_ms;
    int run_dir_made, data_dir_made;
    /* the bounded /mnt/data (wk_sandbox_disk.c): image path, size, state */
    char *disk_img;
    int64_t disk_mb, disk_inodes;
    int disk_rc; /* result of the disk work */
    uv_work_t disk_work;
    json_t *create_cfg; /* held while the disk is made, then sent */

    uv_pipe_t server;
    uv_pipe_t conn;
    uv_timer_t timer; /* start deadline, run deadline, death-inspect retries */
    int server_open, conn_open, timer_open, conn_reading;
    struct wk_frame_decoder dec;

    /* opening */
    int started, hello, cancelled;
    wk_sandbox_ready_cb ready_cb;
    void *ready_arg;
    int64_t open_us;

    /* running */
    wk_sandbox_result_cb run_cb;
    void *run_arg;
    char *job_id;
    size_t max_output;          /* of the run in flight: bounds its result */
    wk_sandbox_tool_cb tool_cb; /* programmatic tool calling (wk_sandbox_ptc.c) */
    uint32_t run_timeout_ms, pause_ms;
    int paused, round;
    enum wk_sb_end end;
    int inspect_tries;

    /* wiping (state RUNNING, job_id = the wipe's id) */
    int wiping;
    wk_sandbox_wipe_cb wipe_cb;
    void *wipe_arg;
    int64_t wipe_us; /* sent at (ci_mono_us) */

    /* teardown */
    unsigned ndocker, nhandles;
    int destroying, remove_issued, removed, rm_queued;
    void (*destroy_done)(void *arg);
    void *destroy_arg;
    uv_work_t rm_work;
};

/* The run in flight got a `tool_calls` frame (wk_sandbox_ptc.c). */
void wk_sb__on_tool_calls(struct wk_sandbox *sb, json_t *msg);
/* Ends the run in flight as the caller's failure (wk_sandbox_run.c). */
void wk_sb__protocol_violation(struct wk_sandbox *sb, const char *why);
/* The host deadline of the run in flight (wk_sandbox_run.c). */
void wk_sb__arm_deadline(struct wk_sandbox *sb, uint64_t ms);

/* Bookkeeping for docker requests issued by the sandbox. */
int wk_sb__docker_issued(struct wk_sandbox *sb, int rc);
int wk_sb__docker_done(struct wk_sandbox *sb);
/* Continues a destroy once nothing is in flight. */
void wk_sb__maybe_finish(struct wk_sandbox *sb);
/* uv_close()s `h` once if *open_flag, counting it in nhandles. */
void wk_sb__close_handle(struct wk_sandbox *sb, uv_handle_t *h, int *open_flag);
/* Closes the runner channel (idempotent). */
void wk_sb__close_conn(struct wk_sandbox *sb);

/* Ends OPENING with `err`: the ready callback runs once (if still set). */
void wk_sb__fail_open(struct wk_sandbox *sb, int err);
/* wk_sandbox_kill() while OPENING: fails the open from the loop. */
void wk_sb__cancel_open(struct wk_sandbox *sb);

/* wk_sandbox_run.c: a frame arrived while RUNNING; the channel broke. */
int wk_sb__on_run_frame(struct wk_sandbox *sb, json_t *msg, const char *type);
void wk_sb__on_channel_lost(struct wk_sandbox *sb, int err);
/* Finishes the run in flight: calls the result callback exactly once. */
void wk_sb__finish_run(struct wk_sandbox *sb, int rc, struct wk_run_result *r);

/* wk_sandbox_wipe.c: a frame arrived during a wipe; the channel broke. */
int wk_sb__on_wipe_frame(struct wk_sandbox *sb, json_t *msg, const char *type);
void wk_sb__wipe_channel_lost(struct wk_sandbox *sb);

#endif
