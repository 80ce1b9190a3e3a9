/*
 * ci_redis.h - a private redis-server for one test process.
 *
 * ci_redis_start() picks a free loopback port, writes a config into a fresh
 * mkdtemp() directory (appendonly yes, no RDB snapshots, bind 127.0.0.1),
 * starts `redis-server` from PATH and waits until PING answers PONG.  The
 * child gets PR_SET_PDEATHSIG(SIGKILL), and an atexit handler kills every
 * instance still running, so an aborted test leaves no process behind.
 * ci_redis_cleanup() stops the server and removes the directory.
 *
 * For durability tests: ci_redis_kill9() (SIGKILL, no shutdown save) and
 * ci_redis_restart() (same port, same dir, so the AOF is replayed; waits
 * until the data is loaded).
 *
 * Not thread-safe: call from the test's main thread.  The struct is the
 * caller's (usually static or on main's stack).
 */
#ifndef CI_REDIS_H
#define CI_REDIS_H

#include <hiredis/hiredis.h>
#include <limits.h>
#include <sys/types.h>

struct ci_redis {
    pid_t pid; /* 0 when not running */
    int port;
    char dir[PATH_MAX];
    char extra[1024]; /* extra config lines given at start, kept for restarts */
};

/* extra_conf: more redis.conf lines ("appendfsync always\n"), or NULL.
 * Returns 0 or a negative errno; on failure the log is on stderr. */
int ci_redis_start(struct ci_redis *r, const char *extra_conf);
/* SIGTERM and wait (up to 10 s, then SIGKILL).  Returns 0 or -errno. */
int ci_redis_stop(struct ci_redis *r);
/* SIGKILL and wait. */
int ci_redis_kill9(struct ci_redis *r);
/* Start again on the same port and dir; waits until PING answers PONG. */
int ci_redis_restart(struct ci_redis *r);
/* Stop if running and remove the directory. */
void ci_redis_cleanup(struct ci_redis *r);

/* A blocking connection (1 s connect timeout) or NULL. */
redisContext *ci_redis_connect(const struct ci_redis *r);

#endif
