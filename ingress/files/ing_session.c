#include "ing_files.h"

#include "ci_util.h"
#include "ing_config.h"
#include "q_keys.h"
#include "sch_validate.h"
#include "st_access.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int reply_failed(redisReply *r)
{
    return !r || r->type == REDIS_REPLY_ERROR;
}

/* Copies a string reply into buf (cut to fit), "" for anything else. */
static void copy_str(const redisReply *r, char *buf, size_t bufsz)
{
    buf[0] = '\0';
    if (r->type == REDIS_REPLY_STRING && r->len < bufsz)
        memcpy(buf, r->str, r->len + 1);
}

int ing_session_record(redisContext *c, const char *session_id, struct ing_sess_rec *rec)
{
    memset(rec, 0, sizeof *rec);
    if (!sch_valid_id(session_id, SCH_SESSION_ID_MAX))
        return 0;
    redisReply *r =
        redisCommand(c, "HMGET " Q_SESS_PREFIX "%s owner user_id kind rid ver ro", session_id);
    int rc = -EIO;
    if (reply_failed(r) || r->type != REDIS_REPLY_ARRAY || r->elements != 6)
        goto out;
    copy_str(r->element[0], rec->owner, sizeof rec->owner);
    copy_str(r->element[1], rec->user_id, sizeof rec->user_id);
    copy_str(r->element[2], rec->kind, sizeof rec->kind);
    copy_str(r->element[3], rec->rid, sizeof rec->rid);
    copy_str(r->element[4], rec->ver, sizeof rec->ver);
    rec->ro = r->element[5]->type == REDIS_REPLY_STRING && strcmp(r->element[5]->str, "1") == 0;
    rc = rec->owner[0] ? 1 : 0;
out:
    freeReplyObject(r);
    return rc;
}

int ing_session_owned(redisContext *c, const char *session_id, const char *owner,
                      const char *user_id)
{
    struct ing_sess_rec rec;
    int rc = ing_session_record(c, session_id, &rec);
    if (rc <= 0)
        return rc;
    if (st_access_shared_kind(rec.kind))
        return 0; /* shared storage sessions are never execution sessions */
    return st_access_write(rec.owner, rec.user_id, rec.kind, owner, user_id) == ST_ACCESS_OK;
}

/* The entity pointer's key: per (owner, user, entity). */
static void entity_key(char *out, size_t outsz, const char *owner, const char *user_id,
                       const char *entity_id)
{
    char tag[CI_USER_TAG_LEN + 1];
    ci_user_tag(user_id, tag);
    snprintf(out, outsz, ING_ENTITY_PREFIX "%s:%s:%s", owner, tag[0] ? tag : "-", entity_id);
}

/* Appends the writes that mark `sid` used now (last_used unless `stamped`
 * already, TTL, the entity's pointer); returns how many, replies unread. */
static int append_touch(redisContext *c, const char *sid, const char *owner,
                        const char *user_id, const char *entity_id, int stamped)
{
    long long ttl = ing_cfg.session_ttl_s;
    int n = 0;
    if (!stamped) {
        redisAppendCommand(c, "HSET " Q_SESS_PREFIX "%s last_used %lld", sid,
                           (long long)ci_now_ms());
        n++;
    }
    redisAppendCommand(c, "EXPIRE " Q_SESS_PREFIX "%s %lld", sid, ttl);
    n++;
    if (entity_id) {
        char key[200];
        entity_key(key, sizeof key, owner, user_id, entity_id);
        redisAppendCommand(c, "SET %s %s EX %lld", key, sid, ttl);
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
                       "HSET " Q_SESS_PREFIX "%s owner %s user_id %s entity_id %s created_at %lld "
                       "last_used %lld",
                       out, owner, user_id ? user_id : "", entity_id ? entity_id : "", now, now);
    return 1 + append_touch(c, out, owner, user_id, entity_id, 1);
}

/* Picks as ing_session_choose() does; returns the count of appended,
 * unread writes (>= 0) or -EIO. */
/* Takes `sid` when it is the caller's: copies it to out and appends its
 * touch (the count of those writes, >= 0).  -ENOENT when it is not the
 * caller's, -EIO. */
static int take_if_owned(redisContext *c, const char *sid, const char *owner, const char *user_id,
                         const char *entity_id, char *out)
{
    int rc = ing_session_owned(c, sid, owner, user_id);
    if (rc != 1)
        return rc < 0 ? rc : -ENOENT;
    snprintf(out, 65, "%s", sid);
    return append_touch(c, out, owner, user_id, entity_id, 0);
}

static int choose(redisContext *c, const char *owner, const char *user_id,
                  const char *entity_id, const char *wanted, char *out)
{
    int rc;
    if (wanted && (rc = take_if_owned(c, wanted, owner, user_id, entity_id, out)) != -ENOENT)
        return rc;
    if (entity_id) {
        char key[200];
        entity_key(key, sizeof key, owner, user_id, entity_id);
        redisReply *r = redisCommand(c, "GET %s", key);
        if (reply_failed(r)) {
            freeReplyObject(r);
            return -EIO;
        }
        char sid[65] = "";
        if (r->type == REDIS_REPLY_STRING && r->len < sizeof sid)
            memcpy(sid, r->str, r->len + 1);
        freeReplyObject(r);
        if (sid[0] && (rc = take_if_owned(c, sid, owner, user_id, entity_id, out)) != -ENOENT)
            return rc;
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
