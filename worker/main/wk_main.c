/*
 * wk_main.c - the worker process: one libuv loop running the Docker client,
 * the queue consumer and the job slots (wk_exec.h).
 *
 * SIGTERM/SIGINT: stop taking jobs, let the jobs in hand finish and post
 * their results, close everything, exit 0.  A second signal exits at once;
 * the jobs still in hand are then handed to another worker by the lease.
 */
#include "ci_log.h"
#include "ci_file.h"
#include "ci_util.h"
#include "wk_config.h"
#include "wk_docker.h"
#include "wk_exec.h"
#include "wk_sandbox.h"
#include "wk_heartbeat.h"
#include "wk_state.h"
#include "wk_webhook.h"
#include "wk_wan.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

static struct {
    uv_loop_t *loop;
    struct wk_docker *docker;
    struct wk_exec *exec;
    struct wk_webhook *webhook; /* delivery loop, apart from the job slots */
    uv_signal_t sigterm, sigint;
    int signals;
} M;

static void on_docker_closed(void *arg)
{
    uv_close((uv_handle_t *)&M.sigterm, NULL);
    uv_close((uv_handle_t *)&M.sigint, NULL);
}

static void close_docker(void *arg)
{
    wk_docker_close(M.docker, on_docker_closed, NULL);
}

static void on_heartbeat_stopped(void *arg)
{
    if (wk_wan_stop(M.docker, close_docker, NULL) != 0) /* WAN mode: chains go first */
        close_docker(NULL);
}

static void on_exec_stopped(void *arg)
{
    M.exec = NULL;
    wk_state_shutdown();
    wk_heartbeat_stop(on_heartbeat_stopped, NULL);
}

static void on_signal(uv_signal_t *h, int signum)
{
    if (++M.signals > 1) {
        log_warn("second signal: exiting now; leases hand unfinished jobs to other workers");
        exit(1);
    }
    log_info("signal %d: finishing the jobs in hand, then exiting", signum);
    wk_heartbeat_draining();
    wk_webhook_stop(M.webhook, NULL, NULL); /* in-flight deliveries end and are recorded */
    M.webhook = NULL;
    wk_exec_stop(M.exec, on_exec_stopped, NULL);
}

static void on_ping(void *arg, int status, const char *body, size_t len)
{
    if (status == 200)
        log_info("docker engine answers");
    else
        log_warn("docker engine does not answer yet (%d); jobs retry until it does", status);
}

int main(void)
{
    ci_log_init("worker");
    if (wk_config_load() != 0)
        return 2;
    if (wk_sandbox_seccomp_init() != 0) /* the sandboxes' seccomp profile: required */
        return 2;
    signal(SIGPIPE, SIG_IGN);
    if (ci_mkdir_p(wk_cfg.run_dir, 0755) < 0 || ci_mkdir_p(wk_cfg.data_dir, 0755) < 0) {
        log_error("cannot create RUN_DIR %s or DATA_DIR %s", wk_cfg.run_dir, wk_cfg.data_dir);
        return 1;
    }
    M.loop = uv_default_loop();
    if (wk_docker_new(M.loop, &M.docker) != 0) {
        log_error("cannot set up the docker client");
        return 1;
    }
    wk_docker_ping(M.docker, on_ping, NULL);
    if (wk_wan_setup(M.loop, M.docker, wk_cfg.run_dir) != 0) {
        log_error("WAN mode is on but its network or firewall could not be set up");
        return 1;
    }
    int rc = wk_exec_start(M.loop, M.docker, &M.exec);
    if (rc != 0) {
        log_error("cannot start the job loop (%d)", rc);
        return 1;
    }
    rc = wk_webhook_start(M.loop, &M.webhook);
    if (rc != 0) {
        log_error("cannot start webhook delivery (%d)", rc);
        return 1;
    }
    if (wk_heartbeat_start(M.loop, M.docker, M.exec) != 0)
        log_warn("cannot start the heartbeat");
    uv_signal_init(M.loop, &M.sigterm);
    uv_signal_init(M.loop, &M.sigint);
    uv_signal_start(&M.sigterm, on_signal, SIGTERM);
    uv_signal_start(&M.sigint, on_signal, SIGINT);
    log_info("worker %s ready: %d slot(s), images %s<lang>:%s", wk_cfg.worker_id,
             wk_cfg.concurrency, wk_cfg.image_prefix, wk_cfg.image_tag);
    uv_run(M.loop, UV_RUN_DEFAULT);
    uv_loop_close(M.loop);
    log_info("stopped");
    return 0;
}
