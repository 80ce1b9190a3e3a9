/*
 * ing_main.c - the ingress process: configuration, the notifier, the HTTP
 * server, and an orderly stop on SIGTERM/SIGINT (stop accepting, answer the
 * requests still waiting, exit).
 */
#include "ci_log.h"
#include "ing_config.h"
#include "ing_files.h"
#include "ing_http.h"
#include "ing_redis.h"
#include "ing_sec.h"
#include "ing_wait.h"
#include "q_job.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

/* Raises the descriptor limit to its hard maximum and keeps the connection
 * limit below it: every held /exec is one descriptor, and MHD refuses
 * connections past the limit it was given instead of failing accept(). */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            (void)getrlimit(RLIMIT_NOFILE, &rl);
    }
    /* reserve: Redis connections, storage files, logs, the listen sockets */
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur > 256 &&
        (rlim_t)ing_cfg.max_connections > rl.rlim_cur - 256) {
        log_warn("INGRESS_MAX_CONNECTIONS %d lowered to %lu (open-file limit %lu)",
                 ing_cfg.max_connections, (unsigned long)(rl.rlim_cur - 256),
                 (unsigned long)rl.rlim_cur);
        ing_cfg.max_connections = (int)(rl.rlim_cur - 256);
    }
}

static void setup_queue(void)
{
    redisContext *c = ing_redis_connect();
    if (!c)
        return; /* workers create the groups too; /health/detailed shows the outage */
    if (q_setup(c) != 0)
        log_warn("cannot create the queue's consumer groups yet");
    redisFree(c);
}

int main(void)
{
    sigset_t set;
    int sig = 0;

    ci_log_init("ingress");
    if (ing_config_load() != 0 || ing_auth_init() != 0 || ing_sec_init() != 0)
        return 2;
    raise_fd_limit();
    signal(SIGPIPE, SIG_IGN);
    /* Block the stop signals in every thread; main waits for them below. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    setup_queue();
    if (ing_files_start() != 0 || ing_wait_start() != 0 || ing_server_start() != 0)
        return 1;
    sigwait(&set, &sig);
    log_info("signal %d: stopping", sig);
    ing_server_quiesce();
    ing_wait_stop();
    ing_server_stop();
    log_info("stopped");
    return 0;
}
