/*
 * ing_ratelimit.h - limits kept in Redis, shared by every ingress process.
 *
 * Failed authentication per client IP (fixed window):
 *   ci:authfail:<ip>   counter, expires AUTH_FAIL_WINDOW_SECONDS after the
 *                      first failure of the window
 *   ci:authfail:ips    sorted set ip -> window end (unix ms), for the
 *                      monitoring route; bounded: entries past their end
 *                      are pruned on every failure, at most
 *                      AUTH_FAIL_IPS_MAX (10000; the latest windows) are kept,
 *                      and the set expires one window after the last
 *                      failure of any IP
 * An IP whose counter reached the limit is refused (429 + Retry-After = the
 * window's remaining seconds) on every authenticated route, whatever key it
 * presents, until the window ends: otherwise a locked-out guesser would
 * still learn when a guess is right.
 *
 * Per-key request rates (fixed windows, one counter per configured period):
 *   ci:rl:<key id>:<period>:<window number>   expires with its window
 *
 * Functions take the calling thread's connection (ing_redis.h) and return
 * -EIO when Redis cannot answer; callers fail open (and log) then.
 */
#ifndef ING_RATELIMIT_H
#define ING_RATELIMIT_H

#include "ing_sec.h"

#define ING_AUTHFAIL_PREFIX "ci:authfail:"
#define ING_AUTHFAIL_IPS "ci:authfail:ips"
#define ING_RATE_PREFIX "ci:rl:"

struct ing_rl_state {
    long limit;       /* the binding period's limit; 0 = no limit applies */
    long remaining;   /* requests left in that window (>= 0) */
    long reset;       /* seconds until that window ends */
    const char *period;
    int exceeded;
};

/* 1 when `ip` is locked out (*retry_after = seconds left), 0 when not
 * (always 0 when limit <= 0).  `count_field` (may be NULL) is incremented in
 * ci:audit:stats in the same round trip. */
int ing_authfail_locked(const char *ip, long limit, const char *count_field, int *retry_after);

/* Counts one failed authentication of `ip`, atomically and BEFORE any
 * decision (parallel failures cannot all see "below the limit"): returns 1
 * when the IP is locked out (its window already holds `limit` failures;
 * this one is then not counted, *retry_after = seconds left), 0 when this
 * failure was counted (*count = the window's count, at most `limit`),
 * -EIO when Redis cannot answer.  limit <= 0: counted, never locked.
 * `ips_max` bounds ci:authfail:ips. */
int ing_authfail_count(const char *ip, long limit, long window_s, long ips_max, long *count,
                       int *retry_after);

/* Counts one request of key `id` against `rate` (ING_RL_COUNT periods, 0 =
 * unlimited) and fills st.  Returns 0 (st->exceeded tells) or -EIO. */
int ing_rate_count(const char *id, const long *rate, struct ing_rl_state *st);

/* Current lock-outs as a JSON array [{client_ip, failures, retry_after}] and
 * the failure count of live windows; NULL on Redis failure. */
json_t *ing_authfail_status_json(long limit);

#endif
