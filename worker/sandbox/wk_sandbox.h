/*
 * wk_sandbox.h - one sandbox container and its runner channel.
 *
 * Life of a sandbox (docs/runner-protocol.md):
 *
 *   OPENING  wk_sandbox_open(): makes $RUN_DIR/<token>/ (root's, 0755) and
 *            listens on its ctl.sock (0600: the runner is container root;
 *            programs, uid 1000, cannot connect) *before* the container exists, makes
 *            $DATA_DIR/<token>/ owned by the sandbox uid/gid, then creates and
 *            starts the container (name "ci-<token>").  The runner inside
 *            connects to /run/ci/ctl.sock and sends `hello`.
 *   READY    the ready callback ran with status 0: runs may be sent, one at
 *            a time.
 *   RUNNING  wk_sandbox_run() sent a `run` frame; the result callback runs
 *            once, then the sandbox is READY again (or DEAD, see below).
 *   DEAD     the container was killed (host deadline, wk_sandbox_kill) or
 *            died, or the channel broke: only wk_sandbox_destroy() is left.
 *
 * Host-side deadline: a run that has no result after timeout_ms + 2000 ms
 * kills the container and completes as SCH_STATUS_TIMEOUT, exit code 137.
 * If the channel closes mid-run the container is inspected: OOMKilled gives
 * SCH_STATUS_OOM, anything else rc < 0 (an infrastructure failure).
 *
 * Loop affinity: everything happens on the uv loop passed to
 * wk_sandbox_open() (the same loop as the wk_docker client); call every
 * function from that loop's thread.  Callbacks run there, never from inside
 * the call that started the operation.
 *
 * Ownership: the handle returned by wk_sandbox_open() stays valid until the
 * caller calls wk_sandbox_destroy() (also required after a failed open).
 * After wk_sandbox_destroy() no ready/result callback runs any more.  The
 * wk_docker client must outlive every sandbox using it (close it after the
 * destroy callbacks).  Spec and request strings are copied.
 *
 * Host files: the data dir (the container's /mnt/data) and run dir are
 * writable from inside the container (the data dir is owned by the sandbox
 * uid).  Read anything from them with O_NOFOLLOW and check it is a regular
 * file: the program may plant symlinks.
 */
#ifndef WK_SANDBOX_H
#define WK_SANDBOX_H

#include "sch_types.h"
#include "wk_docker.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#define WK_SANDBOX_DEADLINE_SLACK_MS 2000
/* The runner's uid inside the container (container root, few capabilities;
 * docs/sandbox.md).  Programs run as spec.uid, never as this. */
#define WK_SANDBOX_RUNNER_UID 0

struct wk_sandbox;

struct wk_sandbox_spec {
    const char *image;      /* required, e.g. "code-interpreter/py:latest" */
    const char *lang;       /* label value, e.g. "py" */
    const char *session_id; /* label value; a container serves one session */
    int64_t memory_mb;      /* Memory == MemorySwap (no swap); 0 = no limit */
    int64_t pids_limit;     /* 0 = no limit */
    int64_t nano_cpus;      /* 1e9 = one CPU; 0 = no limit */
    const char *hostname;   /* "sandbox" */
    const char *run_root;   /* RUN_DIR, default /var/lib/code-interpreter/run */
    const char *data_root;  /* DATA_DIR, default /var/lib/code-interpreter/data */
    uid_t uid;              /* 1000: the programs' uid (the runner drops to it) and
                             * owner of the data dir; never 0 */
    gid_t gid;              /* 1000 */
    int start_timeout_ms;   /* 15000: open fails past it without a hello */
    const char *network;    /* NULL: no network at all (NetworkMode "none");
                             * else the network to join and wan-access=true */
    /* Hardening (docs/sandbox.md), filled by wk_sandbox_spec_init(): */
    int64_t nofile;          /* MAX_OPEN_FILES: RLIMIT_NOFILE soft = hard, 1024 */
    int64_t tmp_mb;          /* SANDBOX_TMP_MB: size of the noexec /tmp, 64 */
    int mask_host_info;      /* CONTAINER_MASK_HOST_INFO (1): generic hostname,
                              * empty domain, no DNS search list, no host resolver */
    const char *dns_servers; /* with network: comma-separated IPv4 servers (Dns) */
    const char *resolv_conf; /* host file bound read-only at /etc/resolv.conf, or NULL */
    const char *seccomp;     /* compact JSON profile sent inline, or NULL for Docker's
                              * default (spec_init: wk_sandbox_seccomp_profile()) */
    int64_t disk_mb;         /* SANDBOX_DISK_MB (512): /mnt/data is an ext4 image of this
                              * size loop-mounted at the data dir; 0 = a plain host dir */
    int64_t disk_inodes;     /* SANDBOX_DISK_INODES (disk_mb * 128): its inode count */
    int64_t work_mb;         /* /run/ci/work (HOME, build dirs): tmpfs, SANDBOX_WORK_MB (256) */
};

/* ---- the bounded /mnt/data (wk_sandbox_disk.c; threadpool only) ----------
 *
 * The image of a sandbox is $DATA_DIR/.disk/<token>.img (WK_SANDBOX_DISK_DIR
 * below the data root), never visible in a container. */
#define WK_SANDBOX_DISK_DIR ".disk"
/* Creates the sparse image `img`, makes an ext4 of `inodes` inodes on it
 * whose root is uid:gid 0700, and loop-mounts it (nosuid, nodev) at `mnt`
 * (an existing empty dir).  Returns 0 or a negative errno (nothing left). */
int wk_sandbox_disk_make(const char *img, const char *mnt, int64_t mb, int64_t inodes, uid_t uid,
                         gid_t gid);
/* Unmounts `mnt` (lazily; not mounted is fine) and unlinks `img`. */
void wk_sandbox_disk_remove(const char *img, const char *mnt);
/* The loop mounts are made in the worker's mount namespace: it must be
 * dockerd's (a worker started with `ip netns exec` or in a unit with a
 * private mount namespace mounts where dockerd never looks, and its sandboxes
 * would see the plain directory beneath; use `nsenter --net=` for a network
 * namespace, or SANDBOX_DISK_MB=0).  README: SANDBOX_DISK_MB. */

/* ---- the seccomp profile (wk_sandbox_seccomp.c) --------------------------
 *
 * The project's own profile (ops/sandbox/seccomp.json: Docker's default plus
 * denials, docs/sandbox.md "Kernel surface").  wk_sandbox_seccomp_init()
 * runs once at worker start, on the main thread, before any sandbox:
 * it reads $SANDBOX_SECCOMP_PROFILE (default: the file in the source tree)
 * with a bound, checks it is a refusing allowlist, and keeps it for the
 * process lifetime.  Returns 0 or a negative errno (logged): the worker
 * must not start without it. */
#define WK_SECCOMP_MAX_BYTES (1 << 20)
int wk_sandbox_seccomp_init(void);
/* The loaded profile (compact JSON), or NULL before a successful init. */
const char *wk_sandbox_seccomp_profile(void);
/* Reads and validates the profile at `path` into *out (compact JSON,
 * caller frees).  Exposed for tests. */
int wk_sandbox_seccomp_load(const char *path, char **out);

/* Fills the defaults above (from the environment where named).  image,
 * lang and session_id are left NULL. */
void wk_sandbox_spec_init(struct wk_sandbox_spec *spec);

/* The Docker create body for `spec` with the given host dirs (new
 * reference, caller decrefs).  Exposed for tests. */
json_t *wk_sandbox_container_config(const struct wk_sandbox_spec *spec, const char *run_dir,
                                    const char *data_dir);

/* status 0: READY.  Else a negative errno: -ETIMEDOUT (no hello within
 * start_timeout_ms), -EIO/-ENOENT... (docker refused: e.g. missing image),
 * -EAGAIN (the engine answered 5xx: its own failure, e.g. while restarting),
 * -EPIPE (runner went away), -ECANCELED (wk_sandbox_kill). */
typedef void (*wk_sandbox_ready_cb)(void *arg, struct wk_sandbox *sb, int status);

/* Starts opening a sandbox.  Returns 0 and sets *out (the callback will run),
 * or a negative errno when the host dirs or the socket could not be made
 * (no callback, nothing to destroy). */
int wk_sandbox_open(uv_loop_t *loop, struct wk_docker *d, const struct wk_sandbox_spec *spec,
                    wk_sandbox_ready_cb cb, void *arg, struct wk_sandbox **out);

/* Programmatic tool calling: the runner paused the program at a round of
 * tool calls (docs/runner-protocol.md, "Tool calls").  `calls` is the
 * validated array [{id, name, input}] (borrowed for the call: incref to
 * keep).  The run stays in flight: answer with wk_sandbox_tool_results()
 * (or kill/destroy the sandbox); meanwhile the host deadline is the pause
 * TTL (ptc_pause_ms + slack), not the run's timeout. */
typedef void (*wk_sandbox_tool_cb)(void *arg, struct wk_sandbox *sb, int round, json_t *calls);

struct wk_run_request {
    const char *job_id;
    const char *lang;
    const char *code;
    size_t code_len;
    const char *const *args;
    size_t nargs;
    uint32_t timeout_ms; /* program wall clock, enforced by the runner */
    size_t max_output;   /* per stream */
    int state_in;        /* restore globals from <run dir>/state.in */
    int state_out;       /* write picklable globals to <run dir>/state.out */
    /* programmatic tool calling (py, bash); tools NULL: a plain run */
    const char *tools;                /* JSON array text [{name, ...}], validated by the ingress */
    uint32_t ptc_pause_ms;            /* PTC_PAUSE_TTL_SECONDS * 1000 */
    int ptc_max_rounds;               /* PTC_MAX_ROUNDS */
    wk_sandbox_tool_cb on_tool_calls; /* required with tools; gets the run's arg */
};

/* Limits of a tool_calls frame (the runner keeps the same ones). */
#define WK_SANDBOX_PTC_MAX_CALLS 64

/* Resumes a paused program with `results` ([{call_id, result, is_error,
 * error_message?}], borrowed; the ingress validated them against the
 * round's calls).  0, -EPIPE (not paused, or the channel is gone),
 * -ENOMEM. */
int wk_sandbox_tool_results(struct wk_sandbox *sb, json_t *results);

struct wk_run_result {
    struct sch_result res; /* status, exit_code, stdout/stderr as received,
                              duration_ms, warnings, has_state/state_size */
    int stdout_truncated;
    int stderr_truncated;
};

/* rc 0: `r->res` holds the outcome (completed, failed, timeout, oom,
 * cancelled).  The caller's failures are rc 0 too, status failed with a
 * one-line stderr "sandbox error: ...": a protocol violation by the runner
 * (bad id, malformed/oversized/unexpected frame; the container is killed
 * and the sandbox DEAD), a runner that exited on its own mid-run, or a
 * runner `error` for the run (the sandbox stays READY).  rc < 0: an
 * infrastructure failure (-EPIPE: the container was killed from outside or
 * the engine did not answer the inspect); the sandbox is then DEAD.
 * `r` is owned by the sandbox and released after the callback returns; the
 * callback may take members over by copying them and setting them to NULL
 * (or `mine = r->res; memset(&r->res, 0, sizeof r->res)`).  The callback may
 * call wk_sandbox_run() again or wk_sandbox_destroy(). */
typedef void (*wk_sandbox_result_cb)(void *arg, struct wk_sandbox *sb, int rc,
                                     struct wk_run_result *r);

/* Sends one run.  Returns 0 (cb will run), -EBUSY (a run is in flight),
 * -EPIPE (not READY), -EINVAL (code not UTF-8, missing fields). */
int wk_sandbox_run(struct wk_sandbox *sb, const struct wk_run_request *req, wk_sandbox_result_cb cb,
                   void *arg);

/* ---- the result frame, validated (wk_sandbox_result.c) ----------------
 *
 * Limits a result must respect whatever the runner says; the runner keeps
 * the same ones (ops/runner/ci_runner/config.py). */
#define WK_SANDBOX_MAX_WARNINGS 100
#define WK_SANDBOX_WARNING_MAX 1024 /* bytes per warning; longer ones are cut */

/* The largest frame the worker reads while a run with `max_output` bytes
 * per stream is in flight (larger declared lengths are refused at the
 * header, before any byte is buffered). */
size_t wk_sandbox_frame_cap(size_t max_output);

/* Fills `r` from a `result` frame for the job `job_id`: id equal, status
 * one of completed/failed/timeout/oom, exit_code 0..255, duration_ms and
 * state_size non-negative integers, stdout/stderr strings of at most
 * 3 * `max_output` bytes (the runner keeps max_output bytes of a stream and
 * decodes them, an invalid byte becoming the 3-byte U+FFFD), warnings an array of at most
 * WK_SANDBOX_MAX_WARNINGS strings (each cut to WK_SANDBOX_WARNING_MAX).  Returns 0, or -EPROTO with
 * *why (static text) naming the first violation, or -ENOMEM; on failure
 * `r` may hold partial members (release with sch_result_release). */
int wk_sandbox_parse_result(json_t *msg, const char *job_id, size_t max_output,
                            struct wk_run_result *r, const char **why);

/* Cancellation: kills the container.  A run in flight completes with
 * SCH_STATUS_CANCELLED (exit code 137); an open in flight fails with
 * -ECANCELED.  The sandbox is DEAD afterwards.  Returns 0 or -EPIPE when
 * there is nothing to kill. */
int wk_sandbox_kill(struct wk_sandbox *sb);

/* ---- the wipe between two sessions of one caller (wk_sandbox_wipe.c) --
 *
 * Sends a `wipe` frame to a READY sandbox (no run in flight).  The runner
 * (container root) kills every other process of the container, removes
 * every SysV IPC object and POSIX message queue, empties every writable
 * place (/mnt/data, /tmp, /dev/shm, HOME, the build dirs, the state files),
 * then checks each from scratch and answers `wiped` with the counts it
 * found (docs/runner-protocol.md).  The worker accepts only ok true with
 * every count 0, then checks on the host what it can see itself
 * (wk_sandbox_host_check).  status 0: wiped and checked, READY again.
 * Else a negative errno and `why` (valid during the callback): the sandbox
 * is DEAD and must be destroyed (-EIO a check failed or the runner
 * refused, -EPROTO a bad answer, -EPIPE the channel closed, -ETIMEDOUT no
 * answer within WK_SANDBOX_WIPE_TIMEOUT_MS).  Returns 0 (cb will run) or a
 * negative errno (not READY: nothing sent, no callback). */
/* As long as a start: the runner answers between two of its idle-time
 * imports (ci_runner/server.py), which take seconds on a loaded machine. */
#define WK_SANDBOX_WIPE_TIMEOUT_MS 15000
typedef void (*wk_sandbox_wipe_cb)(void *arg, struct wk_sandbox *sb, int status, const char *why);
int wk_sandbox_wipe(struct wk_sandbox *sb, wk_sandbox_wipe_cb cb, void *arg);

/* The host side of the check: the data dir (/mnt/data, as the host sees
 * it) is empty, and so are home/ and build/ in the run dir when present
 * (HOME and the build dirs now live in the container's /run/ci/work tmpfs,
 * which only the runner sees).  Returns 0, or -1 with the first thing
 * found in `why`. */
int wk_sandbox_host_check(const struct wk_sandbox *sb, char *why, size_t whysz);

/* Host paths of the container's /mnt/data and /run/ci. */
const char *wk_sandbox_data_dir(const struct wk_sandbox *sb);
const char *wk_sandbox_run_dir(const struct wk_sandbox *sb);
/* Container id (NULL until created) and session id. */
const char *wk_sandbox_container_id(const struct wk_sandbox *sb);
const char *wk_sandbox_session_id(const struct wk_sandbox *sb);
int wk_sandbox_is_ready(const struct wk_sandbox *sb);

/* Asynchronous teardown, safe at any stage: closes the channel, waits for
 * docker requests in flight, removes the container (force), then removes
 * the run and data dirs (off-loop, in the uv threadpool) and frees `sb`.
 * `done` (may be NULL) runs at the very end.  Call once. */
void wk_sandbox_destroy_then(struct wk_sandbox *sb, void (*done)(void *arg), void *arg);
void wk_sandbox_destroy(struct wk_sandbox *sb);

#endif
