/*
 * q_stats.c - queue statistics in one pipelined round trip.
 *
 * depth: the group's `lag` from XINFO GROUPS when Redis can tell it (7.0+,
 * no deletions in the way), else XLEN - pending (exact here because entries
 * are XDELed when acknowledged).  oldest_pending_age_ms: server time minus
 * the timestamp of the smallest pending entry id, i.e. how long the oldest
 * job still in flight has been in its stream.
 */
#include "q_job.h"

#include "ci_log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The "lag" of group Q_GROUP in an XINFO GROUPS reply, or -1. */
static int64_t q_group_lag(const redisReply *r)
{
    if (!r || r->type != REDIS_REPLY_ARRAY)
        return -1;
    for (size_t g = 0; g < r->elements; g++) {
        const redisReply *grp = r->element[g];
        int mine = 0;
        int64_t lag = -1;
        if (grp->type != REDIS_REPLY_ARRAY)
            continue;
        for (size_t i = 0; i + 1 < grp->elements; i += 2) {
            const redisReply *k = grp->element[i], *v = grp->element[i + 1];
            if (k->type != REDIS_REPLY_STRING)
                continue;
            if (strcmp(k->str, "name") == 0 && v->type == REDIS_REPLY_STRING)
                mine = strcmp(v->str, Q_GROUP) == 0;
            else if (strcmp(k->str, "lag") == 0 && v->type == REDIS_REPLY_INTEGER)
                lag = v->integer;
        }
        if (mine)
            return lag;
    }
    return -1;
}

/* From an XPENDING summary: the count, and the ms part of the smallest id
 * into *oldest_ms (unchanged when none). */
static int64_t q_pending_summary(const redisReply *r, int64_t *oldest_ms)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
        r->element[0]->type != REDIS_REPLY_INTEGER)
        return 0;
    int64_t n = r->element[0]->integer;
    if (n > 0 && r->element[1]->type == REDIS_REPLY_STRING) {
        int64_t ms = strtoll(r->element[1]->str, NULL, 10);
        if (*oldest_ms == 0 || ms < *oldest_ms)
            *oldest_ms = ms;
    }
    return n;
}

static int64_t q_int_reply(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
}

int q_stats(redisContext *c, struct q_stats *out)
{
    static const char *const streams[2] = {Q_STREAM_HIGH, Q_STREAM_NORMAL};
    enum { NCMD = 8 };
    redisReply *r[NCMD] = {0};
    int rc = 0;
    memset(out, 0, sizeof *out);
    for (int s = 0; s < 2; s++) {
        redisAppendCommand(c, "XINFO GROUPS %s", streams[s]);
        redisAppendCommand(c, "XLEN %s", streams[s]);
        redisAppendCommand(c, "XPENDING %s %s", streams[s], Q_GROUP);
    }
    redisAppendCommand(c, "XLEN %s", Q_DEAD_STREAM);
    redisAppendCommand(c, "TIME");
    for (int i = 0; i < NCMD; i++) {
        if (redisGetReply(c, (void **)&r[i]) != REDIS_OK) {
            rc = -EIO;
            goto out;
        }
    }
    int64_t oldest_ms = 0;
    for (int s = 0; s < 2; s++) {
        int64_t lag = q_group_lag(r[3 * s]);
        int64_t len = q_int_reply(r[3 * s + 1]);
        int64_t pend = q_pending_summary(r[3 * s + 2], &oldest_ms);
        int64_t depth = lag >= 0 ? lag : (len > pend ? len - pend : 0);
        out->depth += depth;
        if (s == 0)
            out->depth_high = depth;
        out->pending += pend;
    }
    out->dead = q_int_reply(r[6]);
    if (oldest_ms > 0 && r[7] && r[7]->type == REDIS_REPLY_ARRAY && r[7]->elements == 2) {
        int64_t now_ms = strtoll(r[7]->element[0]->str, NULL, 10) * 1000 +
                         strtoll(r[7]->element[1]->str, NULL, 10) / 1000;
        out->oldest_pending_age_ms = now_ms > oldest_ms ? now_ms - oldest_ms : 0;
    }
out:
    for (int i = 0; i < NCMD; i++)
        freeReplyObject(r[i]);
    return rc;
}
