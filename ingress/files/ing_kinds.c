/*
 * ing_kinds.c - storage sessions derived from (tenant, kind, key) (see
 * ing_kinds.h).
 */
#include "ing_kinds.h"

#include "ci_util.h"
#include "ing_config.h"
#include "q_keys.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void feed(EVP_MD_CTX *md, const char *s)
{
    s = s ? s : "";
    EVP_DigestUpdate(md, s, strlen(s) + 1); /* with the NUL: parts never run together */
}

void ing_kind_session_id(const char *owner, enum sch_file_kind kind, const char *user,
                         const char *rid, const char *version, char sid[22])
{
    unsigned char d[EVP_MAX_MD_SIZE], b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
    unsigned int dl = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md)
        abort(); /* out of memory: as ci_xmalloc does */
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    feed(md, "ci-storage-v1");
    feed(md, owner);
    feed(md, sch_file_kind_name(kind));
    if (kind == SCH_FILE_KIND_USER) {
        feed(md, user);
    } else {
        feed(md, rid);
        feed(md, kind == SCH_FILE_KIND_SKILL ? version : "");
    }
    EVP_DigestFinal_ex(md, d, &dl);
    EVP_MD_CTX_free(md);
    EVP_EncodeBlock(b64, d, (int)dl);
    for (int i = 0; i < 21; i++) /* base64 -> base64url: [A-Za-z0-9_-] */
        sid[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : (char)b64[i];
    sid[21] = '\0';
}

int ing_kind_session(redisContext *c, const char *owner, enum sch_file_kind kind, const char *user,
                     const char *rid, const char *version, int read_only, char sid[65])
{
    const char *kname = sch_file_kind_name(kind);
    const char *u = kind == SCH_FILE_KIND_USER && user ? user : "";
    long long now = (long long)ci_now_ms(), ttl = ing_cfg.session_ttl_s;
    char id[22];
    int rc = -EIO;
    ing_kind_session_id(owner, kind, user, rid, version, id);
    snprintf(sid, 65, "%s", id);
    redisReply *r = redisCommand(c, "HMGET " Q_SESS_PREFIX "%s owner user_id kind", id);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 3)
        goto out;
    const redisReply *o = r->element[0], *ru = r->element[1], *k = r->element[2];
    if (o->type == REDIS_REPLY_STRING) {
        rc = strcmp(o->str, owner) == 0 && k->type == REDIS_REPLY_STRING &&
                     strcmp(k->str, kname) == 0 &&
                     strcmp(ru->type == REDIS_REPLY_STRING ? ru->str : "", u) == 0
                 ? 0
                 : -EEXIST;
        freeReplyObject(r);
        r = NULL;
        if (rc != 0)
            goto out;
        r = redisCommand(c, "HSET " Q_SESS_PREFIX "%s last_used %lld%s", id, now,
                         read_only ? " ro 1" : "");
        freeReplyObject(r);
        r = redisCommand(c, "EXPIRE " Q_SESS_PREFIX "%s %lld", id, ttl);
        rc = r && r->type == REDIS_REPLY_INTEGER ? 0 : -EIO;
        goto out;
    }
    freeReplyObject(r);
    r = redisCommand(c,
                     "HSET " Q_SESS_PREFIX "%s owner %s user_id %s entity_id %s kind %s "
                     "rid %s ver %s ro %s created_at %lld last_used %lld",
                     id, owner, u, "", kname, kind == SCH_FILE_KIND_USER ? "" : (rid ? rid : ""),
                     kind == SCH_FILE_KIND_SKILL && version ? version : "",
                     read_only || kind == SCH_FILE_KIND_SKILL ? "1" : "0", now, now);
    if (!r || r->type != REDIS_REPLY_INTEGER)
        goto out;
    freeReplyObject(r);
    r = redisCommand(c, "EXPIRE " Q_SESS_PREFIX "%s %lld", id, ttl);
    rc = r && r->type == REDIS_REPLY_INTEGER ? 0 : -EIO;
out:
    freeReplyObject(r);
    return rc;
}
