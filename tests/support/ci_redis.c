/*
 * ci_redis.c - private redis-server fixture for tests (see ci_redis.h).
 */
#include "ci_redis.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CI_REDIS_MAX 8

static pid_t s_pids[CI_REDIS_MAX];
static int s_atexit_done;

static void ci_redis_atexit(void)
{
    for (int i = 0; i < CI_REDIS_MAX; i++) {
        if (s_pids[i] > 0) {
            kill(s_pids[i], SIGKILL);
            waitpid(s_pids[i], NULL, 0);
            s_pids[i] = 0;
        }
    }
}

static void ci_redis_track(pid_t pid, pid_t old)
{
    for (int i = 0; i < CI_REDIS_MAX; i++) {
        if (s_pids[i] == old) {
            s_pids[i] = pid;
            return;
        }
    }
}

static void ci_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int ci_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    socklen_t alen = sizeof a;
    int port = -1;
    if (fd < 0)
        return -errno;
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &alen) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port > 0 ? port : -EADDRNOTAVAIL;
}

redisContext *ci_redis_connect(const struct ci_redis *r)
{
    struct timeval tv = {1, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", r->port, tv);
    if (c && c->err) {
        redisFree(c);
        return NULL;
    }
    return c;
}

/* PONG within 15 s (AOF loading answers LOADING meanwhile). */
static int ci_redis_wait_ready(struct ci_redis *r)
{
    for (int i = 0; i < 1500; i++) {
        int status;
        if (waitpid(r->pid, &status, WNOHANG) == r->pid) {
            ci_redis_track(0, r->pid);
            r->pid = 0;
            return -ECHILD;
        }
        redisContext *c = ci_redis_connect(r);
        if (c) {
            redisReply *rep = redisCommand(c, "PING");
            int ok = rep && rep->type == REDIS_REPLY_STATUS && strcmp(rep->str, "PONG") == 0;
            freeReplyObject(rep);
            redisFree(c);
            if (ok)
                return 0;
        }
        ci_sleep_ms(10);
    }
    return -ETIMEDOUT;
}

static int ci_redis_spawn(struct ci_redis *r)
{
    char conf[PATH_MAX + 16];
    snprintf(conf, sizeof conf, "%s/redis.conf", r->dir);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        execlp("redis-server", "redis-server", conf, (char *)NULL);
        _exit(127);
    }
    r->pid = pid;
    ci_redis_track(pid, 0);
    int rc = ci_redis_wait_ready(r);
    if (rc < 0) {
        char log[PATH_MAX + 16];
        snprintf(log, sizeof log, "%s/redis.log", r->dir);
        fprintf(stderr, "ci_redis: redis-server on port %d not ready (%s); log %s\n", r->port,
                strerror(-rc), log);
        ci_redis_kill9(r);
    }
    return rc;
}

static int ci_redis_write_conf(struct ci_redis *r)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/redis.conf", r->dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return -errno;
    fprintf(f,
            "port %d\nbind 127.0.0.1\ndir %s\nappendonly yes\nsave \"\"\ndaemonize no\n"
            "logfile %s/redis.log\nprotected-mode yes\n%s\n",
            r->port, r->dir, r->dir, r->extra);
    return fclose(f) == 0 ? 0 : -errno;
}

int ci_redis_start(struct ci_redis *r, const char *extra_conf)
{
    int rc = -EIO;
    memset(r, 0, sizeof *r);
    if (!s_atexit_done) {
        atexit(ci_redis_atexit);
        s_atexit_done = 1;
    }
    if (extra_conf)
        snprintf(r->extra, sizeof r->extra, "%s", extra_conf);
    const char *tmp = getenv("TMPDIR");
    snprintf(r->dir, sizeof r->dir, "%s/ci-redis-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(r->dir))
        return -errno;
    for (int attempt = 0; attempt < 5; attempt++) { /* the free port may be taken meanwhile */
        if ((r->port = ci_free_port()) < 0)
            return r->port;
        if ((rc = ci_redis_write_conf(r)) < 0)
            return rc;
        if ((rc = ci_redis_spawn(r)) == 0)
            return 0;
    }
    return rc;
}

static int ci_redis_signal_wait(struct ci_redis *r, int sig, int wait_ms)
{
    if (r->pid <= 0)
        return 0;
    kill(r->pid, sig);
    for (int waited = 0; waited < wait_ms; waited += 10) {
        if (waitpid(r->pid, NULL, WNOHANG) == r->pid)
            goto gone;
        ci_sleep_ms(10);
    }
    kill(r->pid, SIGKILL);
    waitpid(r->pid, NULL, 0);
gone:
    ci_redis_track(0, r->pid);
    r->pid = 0;
    return 0;
}

int ci_redis_stop(struct ci_redis *r)
{
    return ci_redis_signal_wait(r, SIGTERM, 10000);
}

int ci_redis_kill9(struct ci_redis *r)
{
    return ci_redis_signal_wait(r, SIGKILL, 10000);
}

int ci_redis_restart(struct ci_redis *r)
{
    if (r->pid > 0)
        ci_redis_stop(r);
    /* the old socket may linger briefly; retry a few times */
    int rc = -EIO;
    for (int attempt = 0; attempt < 5 && rc < 0; attempt++) {
        rc = ci_redis_spawn(r);
        if (rc < 0)
            ci_sleep_ms(200);
    }
    return rc;
}

static int ci_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

void ci_redis_cleanup(struct ci_redis *r)
{
    ci_redis_stop(r);
    if (r->dir[0] && getenv("CI_KEEP_REDIS_DIR") == NULL)
        nftw(r->dir, ci_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    r->dir[0] = '\0';
}
