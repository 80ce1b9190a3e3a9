/*
 * wk_ptc.c - paused programs and their continuations (wk_ptc.h).
 */
#include "wk_ptc.h"

#include "ci_env.h"
#include "ci_log.h"
#include "ci_stats.h"
#include "ci_util.h"
#include "q_keys.h"
#include "q_link.h"
#include "q_webhook.h"
#include "wk_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLPOP_S 2
#define RECORD_SLACK_S 3600

struct paused {
    struct paused *next;
    char job_id[72];
    int round;
    int64_t since_ms;
    wk_ptc_resume_cb resume;
    void *arg;
};

static struct {
    struct q_link *in;  /* BLPOP ci:ptc:in:<worker id> */
    struct q_link *cmd; /* records and notices */
    char in_key[sizeof Q_PTC_IN_PREFIX + 128];
    int popping, stopping, nclosed, npaused;
    struct paused *list;
    void (*done)(void *arg);
    void *done_arg;
    struct wk_ptc_config cfg;
} P;

void wk_ptc_config_load(struct wk_ptc_config *cfg)
{
    cfg->pause_ms = (uint32_t)ci_env_int("PTC_PAUSE_TTL_SECONDS", 300, 1, 86400) * 1000u;
    cfg->max_rounds = (int)ci_env_int("PTC_MAX_ROUNDS", 50, 1, 10000);
    cfg->max_paused = (int)ci_env_int("PTC_MAX_PAUSED", 32, 0, 4096);
}

static struct paused *find(const char *job_id)
{
    for (struct paused *p = P.list; p; p = p->next)
        if (strcmp(p->job_id, job_id) == 0)
            return p;
    return NULL;
}

static void pop(void);

static void deliver(const char *text, size_t len)
{
    json_t *m = json_loadb(text, len, 0, NULL);
    const char *job = json_string_value(json_object_get(m, "job"));
    json_t *round = json_object_get(m, "round");
    json_t *results = json_object_get(m, "results");
    struct paused *p = job ? find(job) : NULL;
    if (!p || !json_is_integer(round) || json_integer_value(round) != p->round ||
        !json_is_array(results)) {
        log_warn("ptc: a continuation for %s (round %lld) that no paused program here awaits",
                 job ? job : "?",
                 json_is_integer(round) ? (long long)json_integer_value(round) : -1LL);
        json_decref(m);
        return;
    }
    wk_ptc_resume_cb cb = p->resume;
    void *arg = p->arg;
    wk_ptc_forget(job, 0);
    cb(arg, results);
    json_decref(m);
}

static void on_popped(redisAsyncContext *ac, void *r, void *priv)
{
    redisReply *reply = r;
    (void)ac;
    (void)priv;
    P.popping = 0;
    if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
        reply->element[1]->type == REDIS_REPLY_STRING)
        deliver(reply->element[1]->str, reply->element[1]->len);
    pop();
}

static void pop(void)
{
    if (P.stopping || P.popping || !q_link_is_up(P.in))
        return;
    if (q_link_command(P.in, on_popped, NULL, "BLPOP %s %d", P.in_key, BLPOP_S) == 0)
        P.popping = 1;
}

static void on_in_up(struct q_link *l, void *arg)
{
    (void)l;
    (void)arg;
    pop();
}

int wk_ptc_start(uv_loop_t *loop)
{
    wk_ptc_config_load(&P.cfg);
    snprintf(P.in_key, sizeof P.in_key, "%s%s", Q_PTC_IN_PREFIX, wk_cfg.worker_id);
    struct q_link_config lc = {
        .host = wk_cfg.redis_host,
        .port = wk_cfg.redis_port,
        .password = wk_cfg.redis_password[0] ? wk_cfg.redis_password : NULL,
        .name = "ptc-in",
    };
    static const struct q_link_cb in_cb = {.up = on_in_up};
    int rc = q_link_open(loop, &lc, &in_cb, NULL, &P.in);
    if (rc < 0)
        return rc;
    q_link_set_slack(P.in, BLPOP_S * 1000);
    lc.name = "ptc";
    static const struct q_link_cb cmd_cb = {0};
    rc = q_link_open(loop, &lc, &cmd_cb, NULL, &P.cmd);
    if (rc < 0) {
        q_link_close(P.in, 0, NULL, NULL);
        P.in = NULL;
    }
    return rc;
}

static void on_closed(void *arg)
{
    (void)arg;
    if (++P.nclosed == 2 && P.done)
        P.done(P.done_arg);
}

void wk_ptc_stop(void (*done)(void *arg), void *arg)
{
    P.stopping = 1;
    P.done = done;
    P.done_arg = arg;
    if (!P.in) {
        if (done)
            done(arg);
        return;
    }
    q_link_close(P.in, 0, on_closed, NULL);
    q_link_close(P.cmd, 500, on_closed, NULL);
}

static void webhook(const struct sch_job *job, int round)
{
    char wid[128], key[sizeof Q_WEBHOOK_KEY_PREFIX + 128], now[24];
    snprintf(wid, sizeof wid, "job_%s_r%d", job->id, round);
    snprintf(key, sizeof key, "%s%s", Q_WEBHOOK_KEY_PREFIX, wid);
    snprintf(now, sizeof now, "%lld", (long long)ci_now_ms());
    const char *argv[] = {
        key, Q_WEBHOOK_DUE, wid, job->id, job->owner ? job->owner : "", job->callback_url, now};
    q_lua_link_call(P.cmd, &q_webhook_round_lua, NULL, NULL, 2, 7, argv, NULL);
}

void wk_ptc_paused(const struct sch_job *job, int round, json_t *calls, wk_ptc_resume_cb resume,
                   void *arg)
{
    const char *job_id = job->id;
    struct paused *p = find(job_id);
    if (!p) {
        p = ci_xcalloc(1, sizeof *p);
        snprintf(p->job_id, sizeof p->job_id, "%s", job_id);
        p->next = P.list;
        P.list = p;
        P.npaused++;
    }
    p->round = round;
    p->since_ms = ci_now_ms();
    p->resume = resume;
    p->arg = arg;
    char *text = json_dumps(calls, JSON_COMPACT);
    char key[sizeof Q_PTC_JOB_PREFIX + 80], rbuf[16], tbuf[24], ttl[24];
    snprintf(key, sizeof key, "%s%s", Q_PTC_JOB_PREFIX, job_id);
    snprintf(rbuf, sizeof rbuf, "%d", round);
    snprintf(tbuf, sizeof tbuf, "%lld", (long long)p->since_ms);
    snprintf(ttl, sizeof ttl, "%u", P.cfg.pause_ms / 1000u + RECORD_SLACK_S);
    const char *argv[] = {"HSET",  key,      "worker", wk_cfg.worker_id,   "round",     rbuf,
                          "state", "paused", "calls",  text ? text : "[]", "paused_at", tbuf};
    q_link_command_argv(P.cmd, NULL, NULL, 12, argv, NULL);
    q_link_command(P.cmd, NULL, NULL, "EXPIRE %s %s", key, ttl);
    q_link_command(P.cmd, NULL, NULL, "HINCRBY %s ptc_rounds 1", CI_STATS_KEY);
    q_link_command(P.cmd, NULL, NULL, "PUBLISH %s %s", Q_CHAN_DONE, job_id);
    free(text);
    if (job->callback_url && *job->callback_url)
        webhook(job, round);
}

void wk_ptc_forget(const char *job_id, int ended)
{
    for (struct paused **pp = &P.list; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->job_id, job_id) != 0)
            continue;
        struct paused *p = *pp;
        *pp = p->next;
        P.npaused--;
        int64_t ms = ci_now_ms() - p->since_ms;
        q_link_command(P.cmd, NULL, NULL, "HINCRBY %s ptc_paused_ms %lld", CI_STATS_KEY,
                       (long long)(ms > 0 ? ms : 0));
        free(p);
        break;
    }
    char key[sizeof Q_PTC_JOB_PREFIX + 80];
    snprintf(key, sizeof key, "%s%s", Q_PTC_JOB_PREFIX, job_id);
    if (ended)
        q_link_command(P.cmd, NULL, NULL, "DEL %s", key);
    else
        q_link_command(P.cmd, NULL, NULL, "HSET %s state running", key);
}

int wk_ptc_paused_now(void)
{
    return P.npaused;
}

const struct wk_ptc_config *wk_ptc_cfg(void)
{
    return &P.cfg;
}
