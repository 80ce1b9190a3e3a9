/*
 * q_keys.h - the Redis layout of the job queue.  A contract: the ingress,
 * the workers and the admin tools all read and write these keys, so a change
 * here is a wire change (see docs/queue.md).
 *
 * Keys
 *
 *   ci:jobs:high   stream, priority 1 jobs.  Consumer group "workers".
 *   ci:jobs        stream, priority 0 jobs.  Consumer group "workers".
 *                  Entry fields: id = job id, job = msgpack sch_job bytes.
 *                  Groups are created with MKSTREAM at id 0 (BUSYGROUP is
 *                  ignored), so jobs added before the first worker are seen.
 *                  An entry is XDELed when it is XACKed, so XLEN counts only
 *                  undelivered + pending entries; nothing else trims.
 *   ci:job:<id>    hash, the job record:
 *                    status       queued|running|completed|failed|timeout|
 *                                 oom|cancelled|dead (sch_status_name())
 *                    owner        key id of the caller
 *                    session_id
 *                    created_at, started_at, finished_at   ms since epoch
 *                    attempts     starts so far (HINCRBY at each start)
 *                    worker       consumer name of the last starter
 *                    result       msgpack sch_result (terminal states)
 *                    error        infrastructure error text
 *                    cancel_requested  "1" once DELETE hit a running job
 *                  TTL JOB_TTL_SECONDS (default 86400), set at enqueue and
 *                  refreshed when the job reaches a terminal state.
 *   ci:dead        stream, dead letters: id, job, error, attempts; trimmed
 *                  (XADD MAXLEN ~) to about DEAD_LETTER_MAX entries.
 *   ci:turn:<sid>, ci:turn:due   a session's line of unfinished calls and
 *                  the deadlines of parked ones (lua/turn.lua); job hash
 *                  extras ticket, turn_deadline, parked, parked_job,
 *                  turn_waited, turn_expired.
 *   ci:done        channel, message = job id, published after the terminal
 *                  state (and result) is stored.
 *   ci:cancel      channel, message = job id of a running job to kill.
 *   Job hash extras: callback_url, batch (batch id), webhook_id,
 *                  webhook_status, webhook_attempts, webhook_error.
 *   ci:batch:<id>, ci:batch:<id>:jobs, ci:batch:<id>:done   batches
 *                  (q_batch.h).
 *   ci:webhooks:due, ci:webhook:<wid>, ci:webhook_secret:<owner>   webhook
 *                  deliveries and signing secrets (q_webhook.h).  Every
 *                  terminal transition also runs on_terminal
 *                  (lua/on_terminal.lua): batch counting and delivery creation are
 *                  atomic with the terminal write.
 *
 * Job lifecycle (every transition is one Lua script, hence atomic):
 *
 *   QUEUED     hash written and entry XADDed by q_enqueue(); waits in a stream.
 *              A job whose session has an earlier unfinished call is parked
 *              at start (entry acked, bytes kept in the hash) until that
 *              call's terminal transition puts it back in its stream, or
 *              its deadline passes (then it is answered TIMEOUT, not run).
 *   RUNNING    a consumer read the entry and the start script ran: attempts+1,
 *              started_at, worker.  The entry is pending (PEL) for that consumer.
 *   COMPLETED  \
 *   FAILED      |  the worker posted a result: status from the result, result,
 *   TIMEOUT     |  finished_at; entry XACKed; ci:done published.  A user's
 *   OOM        /   failing code is a result, never a retry.
 *   CANCELLED  DELETE before start (never runs), or a running job killed on
 *              ci:cancel; a reclaimed job with cancel_requested is cancelled.
 *   DEAD       infrastructure failed max_attempts times (or a lease expired
 *              that often, or the job bytes cannot be decoded); the job is
 *              copied to ci:dead.
 *
 * Leases: a consumer holds every entry it has read.  Each lease_ms/3 it
 * re-claims its own entries (XCLAIM JUSTID resets the idle time: the
 * heartbeat).  Each lease_ms/2 it runs XAUTOCLAIM with min-idle lease_ms
 * (COUNT = free slots: Redis scans at most 10 x COUNT pending entries per
 * call), continuing from the cursor the previous call returned, so a pass
 * covers the whole pending list however long; the entries of a consumer that
 * stopped heart-beating move to a live one and are started again (attempts
 * counts up; past max_attempts they go DEAD).
 * An infrastructure failure (q_consumer_fail) waits a backoff, then moves the
 * job back to QUEUED with a fresh entry, or to DEAD; a deferral
 * (q_consumer_defer: the engine, not the job, failed) moves it back to
 * QUEUED at once and gives the attempt back.  Delivery is therefore
 * at-least-once; the result write is first-write-wins, so a job never gets
 * two results.
 */
#ifndef Q_KEYS_H
#define Q_KEYS_H

#define Q_STREAM_HIGH "ci:jobs:high"
#define Q_STREAM_NORMAL "ci:jobs"
#define Q_GROUP "workers"
#define Q_JOB_KEY_PREFIX "ci:job:"
#define Q_DEAD_STREAM "ci:dead"
#define Q_CHAN_DONE "ci:done"
#define Q_CHAN_CANCEL "ci:cancel"

/* Programmatic tool calling (docs/ptc.md):
 *   ci:ptc:in:<worker id>   list: continuations for that worker's paused
 *                           programs, JSON {job, round, results}; the worker
 *                           BLPOPs it (worker/ptc/wk_ptc.c), the ingress RPUSHes.
 *   ci:ptc:job:<job id>     hash: worker, round, state (paused|running),
 *                           calls (JSON of the round), paused_at (ms); TTL
 *                           the pause TTL + the job TTL.  A round's notice is a
 *                           ci:done publish of the job id (the job not terminal).
 *   ci:ptc:tok:<sha256 hex> hash: job, worker, owner, user, round, calls
 *                           ({call id: tool name}), claimed (HSETNX: one
 *                           continuation per token); TTL the pause TTL.  Only
 *                           the token's hash is stored.
 *   ci:ptc:req:<owner>:<user>:<request id>  string: the job of a first call
 *                           (X-LibreChat-Code-Request-ID), for cancel.
 */
#define Q_PTC_IN_PREFIX "ci:ptc:in:"
#define Q_PTC_JOB_PREFIX "ci:ptc:job:"
#define Q_PTC_TOKEN_PREFIX "ci:ptc:tok:"
#define Q_PTC_REQ_PREFIX "ci:ptc:req:"

/* Session records: ci:sess:<session id>, a hash written by the ingress
 * (fields and rules: ingress/files/ing_files.h, docs/files.md) and read by the
 * ingress, the workers (wk_files.c) and the storage sweep.  A key of the
 * wire contract, so it is named here, below both. */
#define Q_SESS_PREFIX "ci:sess:"

/* Sessions' lines (lua/turn.lua): ci:turn:<session id> and the deadline
 * set of parked jobs. */
#define Q_TURN_PREFIX "ci:turn:"
#define Q_TURN_DUE "ci:turn:due"
/* How long a job without a timeout waits for its session's turn at most. */
#define Q_TURN_WAIT_DEFAULT_MS 30000
/* ci:dead is trimmed (XADD MAXLEN ~) to about this many entries; env
 * DEAD_LETTER_MAX overrides. */
#define Q_DEAD_MAX_DEFAULT 10000

/* Default TTL of ci:job:<id>; env JOB_TTL_SECONDS overrides. */
#define Q_JOB_TTL_DEFAULT 86400
/* ci:job:<id> for a 32-char id fits easily; ids are bounded by Q_JOB_ID_MAX. */
#define Q_JOB_ID_MAX 64
#define Q_JOB_KEY_MAX (sizeof Q_JOB_KEY_PREFIX + Q_JOB_ID_MAX)

/* Stream of a priority: 1 -> ci:jobs:high, anything else -> ci:jobs. */
static inline const char *q_stream_of_priority(int priority)
{
    return priority >= 1 ? Q_STREAM_HIGH : Q_STREAM_NORMAL;
}

#endif
