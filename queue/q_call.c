/*
 * q_call.c - script calls on the consumer's cmd connection: EVALSHA with
 * EVAL fallback on NOSCRIPT, and a replay list for calls that must reach
 * Redis (completions, failures) across a lost connection.
 *
 * A call is freed right after its on_reply ran.  on_reply gets NULL when
 * the call is dropped: the consumer is stopping, or a non-replay call met a
 * lost connection.
 */
#include "q_consumer_int.h"

#include "ci_log.h"
#include "ci_util.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

struct q_call *q_call_new(struct q_consumer *c, enum q_script_id script, int nkeys,
                          void (*on_reply)(struct q_call *, redisReply *))
{
    struct q_call *call = ci_xcalloc(1, sizeof *call);
    call->c = c;
    call->script = script;
    call->nkeys = nkeys;
    call->on_reply = on_reply;
    call->cap = 16;
    call->argv = ci_xcalloc((size_t)call->cap, sizeof *call->argv);
    call->lens = ci_xcalloc((size_t)call->cap, sizeof *call->lens);
    call->n = 3; /* EVALSHA sha nkeys */
    return call;
}

void q_call_add(struct q_call *call, const char *s, size_t len)
{
    if (call->n == call->cap) {
        call->cap *= 2;
        call->argv = ci_xrealloc(call->argv, (size_t)call->cap * sizeof *call->argv);
        call->lens = ci_xrealloc(call->lens, (size_t)call->cap * sizeof *call->lens);
    }
    char *copy = ci_xmalloc(len + 1);
    memcpy(copy, s, len);
    copy[len] = '\0';
    call->argv[call->n] = copy;
    call->lens[call->n] = len;
    call->n++;
}

void q_call_take(struct q_call *call, char *buf, size_t len)
{
    q_call_add(call, "", 0);
    free(call->argv[call->n - 1]);
    call->argv[call->n - 1] = buf;
    call->lens[call->n - 1] = len;
}

void q_call_addstr(struct q_call *call, const char *s)
{
    q_call_add(call, s, strlen(s));
}

void q_call_addint(struct q_call *call, int64_t v)
{
    char buf[24];
    int len = snprintf(buf, sizeof buf, "%" PRId64, v);
    q_call_add(call, buf, (size_t)len);
}

static void q_call_free(struct q_call *call)
{
    for (int i = 3; i < call->n; i++)
        free(call->argv[i]);
    free(call->argv);
    free(call->lens);
    free(call);
}

static void q_call_finish(struct q_call *call, redisReply *r)
{
    call->on_reply(call, r);
    q_call_free(call);
}

static void q_call_park(struct q_call *call)
{
    struct q_consumer *c = call->c;
    call->next = NULL;
    if (c->replay_tail)
        c->replay_tail->next = call;
    else
        c->replay = call;
    c->replay_tail = call;
}

static void q_call_reply_cb(redisAsyncContext *ac, void *reply, void *priv)
{
    struct q_call *call = priv;
    redisReply *r = reply;
    (void)ac;
    if (call->c->stopping) {
        q_call_finish(call, NULL);
        return;
    }
    if (!r) {
        if (call->replay)
            q_call_park(call); /* resent when the cmd connection is back */
        else
            q_call_finish(call, NULL);
        return;
    }
    if (q_script_is_noscript(r) && !call->eval) {
        call->eval = 1;
        q_call_send(call);
        return;
    }
    q_call_finish(call, r);
}

void q_call_send(struct q_call *call)
{
    struct q_consumer *c = call->c;
    struct q_conn *conn = &c->conn[Q_CONN_CMD];
    char num[16];
    if (c->stopping) {
        q_call_finish(call, NULL);
        return;
    }
    if (!conn->up) {
        if (call->replay)
            q_call_park(call);
        else
            q_call_finish(call, NULL);
        return;
    }
    const char *head[3];
    size_t hl[3];
    q_script_head(call->script, call->eval, call->nkeys, num, head, hl);
    call->argv[0] = (char *)head[0];
    call->argv[1] = (char *)head[1];
    call->argv[2] = num;
    for (int i = 0; i < 3; i++)
        call->lens[i] = hl[i];
    int rc = redisAsyncCommandArgv(conn->ac, q_call_reply_cb, call, call->n,
                                   (const char **)call->argv, call->lens);
    call->argv[2] = NULL; /* num is on this stack frame; hiredis copied it */
    if (rc != REDIS_OK) {
        /* hiredis refuses commands only while the connection goes down: treat
         * it as down now, so that callbacks reacting to this failure do not
         * send again (and recurse) before the disconnect callback runs; the
         * reconnect pumps again (q_consumer_conn_up). */
        log_warn("queue: cannot send script call; command connection going down");
        conn->up = 0;
        if (call->replay)
            q_call_park(call);
        else
            q_call_finish(call, NULL);
    }
}

void q_call_flush_replay(struct q_consumer *c)
{
    struct q_call *list = c->replay;
    c->replay = c->replay_tail = NULL;
    while (list) {
        struct q_call *next = list->next;
        q_call_send(list);
        list = next;
    }
}
