/*
 * test_queue_link.c - q_link (queue/q_link.h) against a real private
 * redis-server: a command that gets no reply (the server SIGSTOPped) fails
 * its callback within the command timeout and the link reconnects once the
 * server answers again; a name is resolved (off the loop) and connected; the
 * socket has TCP keepalive; the link comes back after a restart; closing
 * releases every handle.  One redis per case.
 */
#include "ci_test.h"
#include "qt_util.h"

#include "ci_util.h"
#include "q_link.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>

static struct qt_case s_case;

struct probe {
    int ups, downs, replies, nulls, closed;
    char last[64];
};

static void on_up(struct q_link *l, void *arg)
{
    (void)l;
    ((struct probe *)arg)->ups++;
}

static void on_down(struct q_link *l, void *arg)
{
    (void)l;
    ((struct probe *)arg)->downs++;
}

static void on_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    struct probe *p = priv;
    redisReply *r = reply;
    (void)ac;
    p->replies++;
    if (!r)
        p->nulls++;
    else if (r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_STRING)
        snprintf(p->last, sizeof p->last, "%s", r->str);
}

static void on_closed(void *arg)
{
    ((struct probe *)arg)->closed = 1;
}

static struct q_link *open_link(struct probe *p, const char *host, int64_t timeout_ms)
{
    static const struct q_link_cb cb = {on_up, on_down};
    struct q_link_config cfg = {.host = host, .port = s_case.redis.port, .name = "test",
                                .command_timeout_ms = timeout_ms};
    struct q_link *l = NULL;
    memset(p, 0, sizeof *p);
    ASSERT_EQ(q_link_open(&s_case.loop, &cfg, &cb, p, &l), 0);
    ASSERT(qt_run_until(&s_case.loop, &p->ups, 1, 5000));
    return l;
}

static void close_link(struct q_link *l, struct probe *p)
{
    q_link_close(l, 0, on_closed, p);
    ASSERT(qt_run_until(&s_case.loop, &p->closed, 1, 5000));
}

/* The server stops answering (SIGSTOP, the process frozen, its sockets
 * open): the command's callback gets NULL after the command timeout, not
 * after the kernel's retransmission time; commands fail fast meanwhile; the
 * link is up again once the server runs. */
TEST(command_timeout_then_reconnect)
{
    redisContext *c = qt_case_up(&s_case);
    struct probe p;
    struct q_link *l = open_link(&p, "127.0.0.1", 400);
    ASSERT_EQ(q_link_command(l, on_reply, &p, "SET k v"), 0);
    ASSERT(qt_run_until(&s_case.loop, &p.replies, 1, 5000));
    ASSERT_STR_EQ(p.last, "OK");

    ASSERT_EQ(kill(s_case.redis.pid, SIGSTOP), 0);
    int64_t t0 = ci_mono_us();
    ASSERT_EQ(q_link_command(l, on_reply, &p, "GET k"), 0);
    ASSERT(qt_run_until(&s_case.loop, &p.nulls, 1, 5000));
    int64_t waited_ms = (ci_mono_us() - t0) / 1000;
    ASSERT_GE(waited_ms, 400); /* not before the timeout */
    ASSERT_EQ(p.downs, 1);
    ASSERT(!q_link_is_up(l));
    qt_run_for(&s_case.loop, 1500); /* reconnects time out meanwhile */
    ASSERT_EQ(p.ups, 1);

    ASSERT_EQ(kill(s_case.redis.pid, SIGCONT), 0);
    ASSERT(qt_run_until(&s_case.loop, &p.ups, 2, 10000));
    p.last[0] = '\0';
    ASSERT_EQ(q_link_command(l, on_reply, &p, "GET k"), 0);
    int want = p.replies + 1;
    ASSERT(qt_run_until(&s_case.loop, &p.replies, want, 5000));
    ASSERT_STR_EQ(p.last, "v");
    close_link(l, &p);
    qt_case_down(&s_case, c);
}

/* A blocking command within its slack is not a timeout. */
TEST(slack_for_blocking_commands)
{
    redisContext *c = qt_case_up(&s_case);
    struct probe p;
    struct q_link *l = open_link(&p, "127.0.0.1", 300);
    q_link_set_slack(l, 1000);
    ASSERT_EQ(q_link_command(l, on_reply, &p, "BLPOP nothing 0.8"), 0);
    ASSERT(qt_run_until(&s_case.loop, &p.replies, 1, 5000));
    ASSERT_EQ(p.nulls, 0); /* the nil array of BLPOP, not a dropped link */
    ASSERT_EQ(p.downs, 0);
    close_link(l, &p);
    qt_case_down(&s_case, c);
}

/* REDIS_HOST as a name: resolved with uv_getaddrinfo, then connected; the
 * socket has keepalive on, with the documented probe timing. */
TEST(name_and_keepalive)
{
    redisContext *c = qt_case_up(&s_case);
    struct probe p;
    struct q_link *l = open_link(&p, "localhost", 0);
    redisAsyncContext *ac = q_link_ac(l);
    ASSERT_NOT_NULL(ac);
    int on = 0, idle = 0;
    socklen_t len = sizeof on;
    ASSERT_EQ(getsockopt(ac->c.fd, SOL_SOCKET, SO_KEEPALIVE, &on, &len), 0);
    ASSERT_EQ(on, 1);
    len = sizeof idle;
    ASSERT_EQ(getsockopt(ac->c.fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, &len), 0);
    ASSERT_EQ(idle, 10);
    ASSERT_EQ(q_link_command(l, on_reply, &p, "PING"), 0);
    ASSERT(qt_run_until(&s_case.loop, &p.replies, 1, 5000));
    ASSERT_STR_EQ(p.last, "PONG");
    close_link(l, &p);
    qt_case_down(&s_case, c);
}

/* Redis killed and restarted on its port: pending callbacks get NULL, the
 * link reconnects by itself (backoff) and commands work again. */
TEST(reconnect_after_restart)
{
    redisContext *c = qt_case_up(&s_case);
    struct probe p;
    struct q_link *l = open_link(&p, "127.0.0.1", 0);
    ASSERT_EQ(ci_redis_kill9(&s_case.redis), 0);
    ASSERT(qt_run_until(&s_case.loop, &p.downs, 1, 5000));
    ASSERT_EQ(q_link_command(l, on_reply, &p, "PING"), -EIO); /* down: fails at once */
    qt_run_for(&s_case.loop, 500);
    ASSERT_EQ(ci_redis_restart(&s_case.redis), 0);
    ASSERT(qt_run_until(&s_case.loop, &p.ups, 2, 10000));
    ASSERT_EQ(q_link_command(l, on_reply, &p, "PING"), 0);
    ASSERT(qt_run_until(&s_case.loop, &p.replies, 1, 5000));
    ASSERT_STR_EQ(p.last, "PONG");
    redisFree(c);
    c = ci_redis_connect(&s_case.redis);
    close_link(l, &p);
    qt_case_down(&s_case, c);
}

TEST_MAIN(command_timeout_then_reconnect, slack_for_blocking_commands, name_and_keepalive,
          reconnect_after_restart)
