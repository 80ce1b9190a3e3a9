/*
 * test_queue_lua.c - scripts are called by SHA1 and survive SCRIPT FLUSH
 * (queue/q_lua.h), against a real private redis-server: the first call is
 * an EVALSHA (INFO commandstats: cmdstat_evalsha counts up, cmdstat_eval
 * does not); after SCRIPT FLUSH the next call still does its work (NOSCRIPT
 * answered by one EVAL), and the one after that is an EVALSHA again.
 * Blocking (q_cancel -> q_script_call, the enqueue pipeline) and on a link
 * (q_lua_link_call, as the worker's webhook loop uses it).
 */
#include "ci_test.h"
#include "qt_util.h"

#include "ci_util.h"
#include "q_keys.h"
#include "q_link.h"
#include "q_lua.h"
#include "q_webhook.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct qt_case s_case;

/* calls=<n> of `cmd` in INFO commandstats (0 when never called). */
static long long calls_of(redisContext *c, const char *cmd)
{
    redisReply *r = redisCommand(c, "INFO commandstats");
    char key[64];
    long long n = 0;
    ASSERT(r && r->type == REDIS_REPLY_STRING);
    snprintf(key, sizeof key, "\ncmdstat_%s:calls=", cmd);
    const char *p = strstr(r->str, key);
    if (p)
        n = strtoll(p + strlen(key), NULL, 10);
    freeReplyObject(r);
    return n;
}

static void flush_scripts(redisContext *c)
{
    redisReply *r = redisCommand(c, "SCRIPT FLUSH");
    ASSERT(r && r->type == REDIS_REPLY_STATUS);
    freeReplyObject(r);
}

static void cancel_one(redisContext *c)
{
    char id[65];
    enum sch_status st;
    qt_enqueue(c, 0, id);
    ASSERT_EQ(q_cancel(c, id, &st), 0);
    ASSERT_EQ(st, SCH_STATUS_CANCELLED);
    struct q_job_info info;
    ASSERT_EQ(q_job_get(c, id, &info), 0);
    ASSERT_EQ(info.status, SCH_STATUS_CANCELLED);
    q_job_info_release(&info);
}

/* Blocking calls: enqueue (pipelined) and cancel. */
TEST(blocking_call_survives_script_flush)
{
    redisContext *c = qt_case_up(&s_case);
    cancel_one(c); /* loads both scripts (first use on a fresh server: EVAL) */
    long long sha0 = calls_of(c, "evalsha"), eval0 = calls_of(c, "eval");
    cancel_one(c);
    ASSERT_EQ(calls_of(c, "evalsha"), sha0 + 2); /* enqueue + cancel, by SHA1 */
    ASSERT_EQ(calls_of(c, "eval"), eval0);       /* no text sent */

    flush_scripts(c);
    cancel_one(c); /* NOSCRIPT twice, answered by EVAL: the work is done */
    ASSERT_EQ(calls_of(c, "eval"), eval0 + 2);
    long long sha1 = calls_of(c, "evalsha");
    cancel_one(c);
    ASSERT_EQ(calls_of(c, "evalsha"), sha1 + 2); /* loaded again: by SHA1 */
    ASSERT_EQ(calls_of(c, "eval"), eval0 + 2);
    qt_case_down(&s_case, c);
}

struct probe {
    int ups, replies, ints, closed;
    long long last;
};

static void on_up(struct q_link *l, void *arg)
{
    (void)l;
    ((struct probe *)arg)->ups++;
}

static void on_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    struct probe *p = priv;
    redisReply *r = reply;
    (void)ac;
    p->replies++;
    if (r && r->type == REDIS_REPLY_INTEGER) {
        p->ints++;
        p->last = r->integer;
    }
}

static void on_closed(void *arg)
{
    ((struct probe *)arg)->closed = 1;
}

/* One job.tool_call_required delivery created through the link; asserts
 * the script's reply and its effect. */
static void round_webhook(redisContext *c, struct q_link *l, struct probe *p, int round)
{
    char wid[64], key[128], now[24];
    snprintf(wid, sizeof wid, "job_0123_r%d", round);
    snprintf(key, sizeof key, "%s%s", Q_WEBHOOK_KEY_PREFIX, wid);
    snprintf(now, sizeof now, "%lld", (long long)ci_now_ms());
    const char *argv[] = {key, Q_WEBHOOK_DUE, wid, "0123", "owner-1", "http://127.0.0.1:9/", now};
    int want = p->replies + 1;
    ASSERT_EQ(q_lua_link_call(l, &q_webhook_round_lua, on_reply, p, 2, 7, argv, NULL), 0);
    ASSERT(qt_run_until(&s_case.loop, &p->replies, want, 5000));
    ASSERT_EQ(p->last, 1); /* created */
    ASSERT_EQ(qt_int(c, "EXISTS %s", key), 1);
    ASSERT(qt_int(c, "ZRANK %s %s", Q_WEBHOOK_DUE, wid) >= 0); /* due for delivery */
}

/* Asynchronous calls on a q_link. */
TEST(link_call_survives_script_flush)
{
    redisContext *c = qt_case_up(&s_case);
    static const struct q_link_cb cb = {on_up, NULL};
    struct q_link_config cfg = {.port = s_case.redis.port, .name = "test"};
    struct q_link *l = NULL;
    struct probe p;
    memset(&p, 0, sizeof p);
    ASSERT_EQ(q_link_open(&s_case.loop, &cfg, &cb, &p, &l), 0);
    ASSERT(qt_run_until(&s_case.loop, &p.ups, 1, 5000));

    round_webhook(c, l, &p, 1); /* fresh server: NOSCRIPT, then EVAL */
    long long sha0 = calls_of(c, "evalsha"), eval0 = calls_of(c, "eval");
    round_webhook(c, l, &p, 2);
    ASSERT_EQ(calls_of(c, "evalsha"), sha0 + 1);
    ASSERT_EQ(calls_of(c, "eval"), eval0);

    flush_scripts(c);
    round_webhook(c, l, &p, 3); /* still done, by one EVAL */
    ASSERT_EQ(calls_of(c, "eval"), eval0 + 1);
    round_webhook(c, l, &p, 4);
    ASSERT_EQ(calls_of(c, "evalsha"), sha0 + 3); /* rounds 2, 3 (NOSCRIPT) and 4 */
    ASSERT_EQ(calls_of(c, "eval"), eval0 + 1);
    ASSERT_EQ(p.ints, 4);

    q_link_close(l, 0, on_closed, &p);
    ASSERT(qt_run_until(&s_case.loop, &p.closed, 1, 5000));
    qt_case_down(&s_case, c);
}

TEST_MAIN(blocking_call_survives_script_flush, link_call_survives_script_flush)
