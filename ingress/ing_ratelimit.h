/*
 * ing_ratelimit.h - limits kept in Redis, shared by every ingress process.
 *
 * Failed authentication per client IP (fixed window):
 *   ci:authfail:<ip>   counter, expires AUTH_FAIL_WINDOW_SECONDS after the
 *                      first failure of the window
 *   ci:authfail:ips    sorted set ip -> window end (unix ms), for the
 *                      monitoring route (entries past their end are pruned)
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

#include "ing_keys.h"

#define ING_AUTHFAIL_PREFIX "ci:authfail:"
#define ING_AUTHFAIL_IPS "ci:authfail:ips"

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

/* Counts one failure of `ip`; *count gets the window's count. */
int ing_authfail_record(const char *ip, long window_s, long *count);

/* Counts one request of key `id` against `rate` (ING_RL_COUNT periods, 0 =
 * unlimited) and fills st.  Returns 0 (st->exceeded tells) or -EIO. */
int ing_rate_count(const char *id, const long *rate, struct ing_rl_state *st);

/* Current lock-outs as a JSON array [{client_ip, failures, retry_after}] and
 * the failure count of live windows; NULL on Redis failure. */
json_t *ing_authfail_status_json(long limit);

#endif
