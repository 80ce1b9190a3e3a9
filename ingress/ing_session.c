#include "ing_session.h"

#include "ci_util.h"
#include "ing_config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int reply_failed(redisReply *r)
{
    return !r || r->type == REDIS_REPLY_ERROR;
}

int ing_session_owned(redisContext *c, const char *session_id, const char *owner,
                      const char *user_id)
{
    redisReply *r = redisCommand(c, "HMGET ci:sess:%s owner user_id", session_id);
    int rc = 0;
    if (reply_failed(r) || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
        rc = -EIO;
        goto out;
    }
    const redisReply *o = r->element[0], *u = r->element[1];
    if (o->type != REDIS_REPLY_STRING || strcmp(o->str, owner) != 0)
        goto out;
    if (u->type == REDIS_REPLY_STRING && u->len > 0 && user_id && strcmp(u->str, user_id) != 0)
        goto out;
    rc = 1;
out:
    freeReplyObject(r);
    return rc;
}

/* Appends the writes that mark `sid` used now (last_used unless `stamped`
 * already, TTL, the entity's pointer); returns how many, replies unread. */
static int append_touch(redisContext *c, const char *sid, const char *owner,
                        const char *entity_id, int stamped)
{
    long long ttl = ing_cfg.session_ttl_s;
    int n = 0;
    if (!stamped) {
        redisAppendCommand(c, "HSET ci:sess:%s last_used %lld", sid, (long long)ci_now_ms());
        n++;
    }
    redisAppendCommand(c, "EXPIRE ci:sess:%s %lld", sid, ttl);
    n++;
    if (entity_id) {
        redisAppendCommand(c, "SET ci:ent:%s:%s %s EX %lld", owner, entity_id, sid, ttl);
        n++;
    }
    return n;
}

/* Appends the writes recording a new session into out; count or -EIO. */
static int append_create(redisContext *c, const char *owner, const char *user_id,
                         const char *entity_id, char *out)
{
    if (ci_random_id(out, ING_SESSION_ID_LEN) != 0)
        return -EIO;
    long long now = (long long)ci_now_ms();
    redisAppendCommand(c,
                       "HSET ci:sess:%s owner %s user_id %s entity_id %s created_at %lld "
                       "last_used %lld",
                       out, owner, user_id ? user_id : "", entity_id ? entity_id : "", now, now);
    return 1 + append_touch(c, out, owner, entity_id, 1);
}

/* Picks as ing_session_choose() does; returns the count of appended,
 * unread writes (>= 0) or -EIO. */
static int choose(redisContext *c, const char *owner, const char *user_id,
                  const char *entity_id, const char *wanted, char *out)
{
    int rc;
    if (wanted) {
        rc = ing_session_owned(c, wanted, owner, user_id);
        if (rc < 0)
            return rc;
        if (rc == 1) {
            snprintf(out, 65, "%s", wanted);
            return append_touch(c, out, owner, entity_id, 0);
        }
    }
    if (entity_id) {
        redisReply *r = redisCommand(c, "GET ci:ent:%s:%s", owner, entity_id);
        if (reply_failed(r)) {
            freeReplyObject(r);
            return -EIO;
        }
        char sid[65] = "";
        if (r->type == REDIS_REPLY_STRING && r->len < sizeof sid)
            memcpy(sid, r->str, r->len + 1);
        freeReplyObject(r);
        if (sid[0]) {
            rc = ing_session_owned(c, sid, owner, user_id);
            if (rc < 0)
                return rc;
            if (rc == 1) {
                snprintf(out, 65, "%s", sid);
                return append_touch(c, out, owner, entity_id, 0);
            }
        }
    }
    return append_create(c, owner, user_id, entity_id, out);
}

int ing_session_choose_piped(redisContext *c, const char *owner, const char *user_id,
                             const char *entity_id, const char *wanted, char *out,
                             int *pending)
{
    int n = choose(c, owner, user_id, entity_id, wanted, out);
    *pending = n > 0 ? n : 0;
    return n < 0 ? n : 0;
}

int ing_session_choose(redisContext *c, const char *owner, const char *user_id,
                       const char *entity_id, const char *wanted, char *out)
{
    int n = choose(c, owner, user_id, entity_id, wanted, out);
    int rc = n < 0 ? n : 0;
    for (int i = 0; i < n; i++) {
        redisReply *r = NULL;
        if (redisGetReply(c, (void **)&r) != REDIS_OK || reply_failed(r))
            rc = -EIO;
        freeReplyObject(r);
    }
    return rc;
}
