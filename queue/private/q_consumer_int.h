/*
 * q_consumer_int.h - internals of the async consumer, shared by
 * q_conn.c (connections, over q_link.h), q_call.c (script calls), q_consumer.c (lifecycle),
 * q_consumer_read.c (reading, starting), q_consumer_ops.c (complete, fail,
 * leases).
 *
 * Invariants:
 * - every struct q_held is on c->held from creation to q_held_free(); a
 *   PREFETCHED one is also on c->prefetched[sidx] (FIFO);
 * - c->starting counts STARTING helds; want - starting is what may still be
 *   read or started;
 * - every uv handle of the consumer (and of its helds) is counted in
 *   c->open_handles until its close callback; c is freed when it is stopping
 *   and the count reaches 0.
 */
#ifndef Q_CONSUMER_INT_H
#define Q_CONSUMER_INT_H

#include "q_consumer.h"
#include "q_keys.h"
#include "q_link.h"
#include "q_script.h"

#include <hiredis/async.h>
#include <stddef.h>

enum q_conn_kind { Q_CONN_READ = 0, Q_CONN_CMD, Q_CONN_SUB, Q_CONN_COUNT };

struct q_conn {
    struct q_consumer *c;
    enum q_conn_kind kind;
    struct q_link *link;   /* q_link.h: reconnects, times out, keeps alive */
    redisAsyncContext *ac; /* the link's context while up, else NULL */
    int up;                /* connected, authenticated, PING answered */
};

enum q_held_state {
    Q_HELD_PREFETCHED, /* read, waiting for a free slot */
    Q_HELD_STARTING,   /* start script in flight */
    Q_HELD_IN_HAND,    /* given to on_job */
    Q_HELD_FINISHING,  /* complete/fail script queued or in flight */
    Q_HELD_BACKOFF,    /* fail() waiting out its delay */
};

struct q_held {
    struct q_delivery d; /* first member */
    struct q_consumer *c;
    struct q_held *prev, *next; /* c->held */
    struct q_held *pnext;       /* c->prefetched[sidx] */
    enum q_held_state state;
    int sidx;    /* 0 = high, 1 = normal */
    int bad_job; /* job bytes did not decode: dead-letter it */
    int lost;    /* heartbeat found it pending for someone else */
    char job_id[Q_JOB_ID_MAX + 1];
    /* fail() */
    uv_timer_t timer;
    int timer_init;
    char *fail_error;
    void (*done)(void *arg, int rc);
    void *done_arg;
};

/* One script call on the cmd connection; arguments are owned copies. */
struct q_call {
    struct q_consumer *c;
    struct q_call *next; /* c->replay */
    enum q_script_id script;
    int eval;
    int nkeys, n, cap;
    char **argv;
    size_t *lens;
    int replay; /* resent after a reconnect instead of being dropped */
    /* r == NULL: dropped (connection lost on a non-replay call, or stopping) */
    void (*on_reply)(struct q_call *call, redisReply *r);
    void *priv;
    size_t npriv;
};

struct q_complete_item {
    struct q_held *h;
    char *result;
    size_t result_len;
    const char *status;
    char *error;
    void (*done)(void *arg, int rc);
    void *arg;
};

struct q_consumer {
    uv_loop_t *loop;
    struct q_consumer_config cfg; /* strings below are owned copies */
    char *host, *password, *name;
    struct q_consumer_cb cb;
    void *arg;

    struct q_conn conn[Q_CONN_COUNT];
    int want, starting, reading, stopping;
    int read_phase; /* 0: ci:jobs:high alone, no BLOCK; 1: both, BLOCK */
    int read_asked; /* COUNT of the outstanding read */
    struct q_held *held;
    int nheld;
    struct q_held *prefetched[2], *prefetched_tail[2];
    int nprefetched;
    struct q_call *replay, *replay_tail;
    /* XAUTOCLAIM cursor per stream: where the next scan of the pending list
     * starts ("0-0" after a full pass), so entries behind a long list of
     * live ones are reached in later rounds */
    char claim_from[2][48];

    struct q_complete_item *batch; /* completions waiting for the idle flush */
    size_t nbatch, batch_cap;

    uv_timer_t heartbeat, autoclaim, read_retry;
    uv_timer_t turn_sweep; /* q_turn.c: parked jobs past their deadline */
    uv_idle_t flush;
    int open_handles;
    void (*closed)(void *arg);
    void *closed_arg;
};

extern const char *const q_streams[2];

/* q_conn.c */
void q_conn_init(struct q_consumer *c, struct q_conn *conn, enum q_conn_kind kind);
void q_conn_connect(struct q_conn *conn);
void q_conn_close(struct q_conn *conn);
/* Called when a connection is up / went down (q_consumer.c). */
void q_consumer_conn_up(struct q_conn *conn);
void q_consumer_conn_down(struct q_conn *conn);
/* Close callback counting c->open_handles down (q_consumer.c); its
 * handle's data is the consumer. */
void q_consumer_handle_closed(uv_handle_t *h);
/* One handle fewer; frees c when stopping and none is left. */
void q_consumer_unref(struct q_consumer *c);

/* q_call.c */
struct q_call *q_call_new(struct q_consumer *c, enum q_script_id script, int nkeys,
                          void (*on_reply)(struct q_call *, redisReply *));
void q_call_add(struct q_call *call, const char *s, size_t len);
void q_call_addstr(struct q_call *call, const char *s);
/* Adopts malloc'd buf (freed with the call). */
void q_call_take(struct q_call *call, char *buf, size_t len);
void q_call_addint(struct q_call *call, int64_t v);
void q_call_send(struct q_call *call);
void q_call_flush_replay(struct q_consumer *c);

/* q_consumer_read.c */
void q_create_groups(struct q_conn *conn);
void q_held_free(struct q_held *h);
struct q_held *q_held_find(struct q_consumer *c, int sidx, const char *entry_id);
/* Parses one stream entry [id, [k, v, ...]] into a new PREFETCHED held
 * (front of the FIFO when `front`); NULL when malformed or already held. */
struct q_held *q_held_from_entry(struct q_consumer *c, int sidx, const redisReply *e, int front);
void q_pump(struct q_consumer *c);
void q_read_maybe(struct q_consumer *c);

/* q_consumer_ops.c */
/* What the fail script does (its ARGV mode). */
enum q_fail_mode { Q_FAIL_RETRY = 0, Q_FAIL_DEAD = 1, Q_FAIL_DEFER = 2 };
/* Sends the fail script for h now (state FINISHING); done/arg from h. */
void q_fail_send(struct q_held *h, enum q_fail_mode mode);
void q_complete_flush(struct q_consumer *c);
void q_heartbeat_cb(uv_timer_t *t);
void q_autoclaim_cb(uv_timer_t *t);

/* q_turn.c: every Q_TURN_SWEEP_MS, parked jobs whose deadline passed go
 * back to their stream (the start script then answers them a timeout). */
#define Q_TURN_SWEEP_MS 1000
void q_turn_sweep_cb(uv_timer_t *t);

#endif
