/*
 * q_turn.c - the consumer's part of the per-session line (lua/turn.lua):
 * the deadline sweep.
 *
 * Parked jobs (an earlier call of their session holds the turn) are woken
 * inside Redis by turn_done when that call ends; nothing in a worker waits
 * for them.  Only a parked job whose own deadline passes first needs a
 * clock: every Q_TURN_SWEEP_MS each consumer runs the turn-due script,
 * which puts such jobs back into their stream marked turn_expired (one
 * script call, so two consumers never wake the same job twice).  The start
 * script then hands them over with d->turn_expired and the worker answers
 * them a timeout without running them.  An empty due set costs one
 * EVALSHA a second per consumer.
 */
#include "q_consumer_int.h"

#include "ci_log.h"
#include "ci_util.h"

#define Q_TURN_SWEEP_BATCH 64

static void q_turn_sweep_reply(struct q_call *call, redisReply *r)
{
    struct q_consumer *c = call->c;
    if (!r || c->stopping)
        return;
    if (r->type == REDIS_REPLY_INTEGER && r->integer > 0)
        log_info("queue: %lld job(s) waited past their deadline for their session's turn",
                 r->integer);
    else if (r->type == REDIS_REPLY_ERROR)
        log_warn("queue: turn sweep: %s", r->str);
}

void q_turn_sweep_cb(uv_timer_t *t)
{
    struct q_consumer *c = t->data;
    if (c->stopping || !c->conn[Q_CONN_CMD].up)
        return;
    struct q_call *call = q_call_new(c, Q_SCRIPT_TURN_DUE, 1, q_turn_sweep_reply);
    q_call_addstr(call, Q_TURN_DUE);
    q_call_addint(call, ci_now_ms());
    q_call_addint(call, Q_TURN_SWEEP_BATCH);
    q_call_send(call);
}
