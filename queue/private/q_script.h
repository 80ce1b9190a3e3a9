/*
 * q_script.h - the Lua scripts behind every multi-step queue transition
 * (internal to ci_queue).
 *
 * Each script is called with EVALSHA; a NOSCRIPT reply is answered by
 * sending the same arguments again with EVAL (which also loads it): q_lua.h.
 * The texts are queue/lua/<name>.lua, embedded at build time; KEYS and ARGV
 * of each are documented at the top of its file.
 */
#ifndef Q_SCRIPT_H
#define Q_SCRIPT_H

#include <hiredis/hiredis.h>
#include <stddef.h>

enum q_script_id {
    Q_SCRIPT_ENQUEUE = 0,
    Q_SCRIPT_START,
    Q_SCRIPT_COMPLETE,
    Q_SCRIPT_FAIL,
    Q_SCRIPT_HEARTBEAT,
    Q_SCRIPT_CANCEL,
    Q_SCRIPT_TURN_DUE,
    Q_SCRIPT_COUNT
};

/* Script text and its 40-hex-digit SHA1 (static storage). */
const char *q_script_text(enum q_script_id id);
const char *q_script_sha(enum q_script_id id);

/* argv[0..2] of an EVALSHA (eval = 0) or EVAL (eval = 1) command for `id`
 * with `nkeys` keys: fills argv/lens[0..2]; numbuf (>= 16 bytes) holds the
 * key count.  The caller appends the keys and arguments from index 3. */
void q_script_head(enum q_script_id id, int eval, int nkeys, char *numbuf, const char **argv,
                   size_t *lens);

/* 1 when `r` is the NOSCRIPT error reply. */
int q_script_is_noscript(const redisReply *r);

/* Synchronous call on a blocking context: argv/lens hold the keys followed
 * by the arguments (n in all).  Returns the reply (freeReplyObject() it) or
 * NULL on a connection error (c->err set). */
redisReply *q_script_call(redisContext *c, enum q_script_id id, int nkeys, int n, const char **argv,
                          const size_t *lens);

#endif
