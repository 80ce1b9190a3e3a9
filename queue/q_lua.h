/*
 * q_lua.h - calling a Lua script by its SHA1 (EVALSHA), and sending its text
 * (EVAL) only when Redis answers NOSCRIPT: after SCRIPT FLUSH, a restart or
 * a fail-over to a replica that never saw it.  The one way every component
 * (queue, ingress, worker) calls a script.
 *
 * A script lives in a .lua file next to its owner, embedded at build time
 * (ci_embed() in the top CMakeLists.txt gives `const char <symbol>[]`), and
 * is described by a `struct q_lua` of static storage:
 *
 *     extern const char ing_lua_authfail[];
 *     static struct q_lua authfail = Q_LUA_INIT(ing_lua_authfail);
 *
 * Its SHA1 is computed once, on first use (thread-safe).  The exception:
 * scripts inside MULTI/EXEC are sent with EVAL (q_lua_text()), because a
 * NOSCRIPT there would fail one command of the transaction while the others
 * ran (the batch record, q_enqueue.c).
 */
#ifndef Q_LUA_H
#define Q_LUA_H

#include "q_link.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdatomic.h>
#include <stddef.h>

struct q_lua {
    const char *text; /* NUL-terminated, static */
    char sha[41];     /* 40 lowercase hex digits once ready */
    atomic_int ready;
};
#define Q_LUA_INIT(text_)                                                                          \
    {                                                                                              \
        .text = (text_), .sha = "", .ready = 0                                                     \
    }

/* The script's text and its SHA1 (static storage; any thread). */
const char *q_lua_text(const struct q_lua *s);
const char *q_lua_sha(struct q_lua *s);

/* Blocking call: EVALSHA, then EVAL when that answered NOSCRIPT.  argv holds
 * the nkeys keys followed by the arguments, n in all; lens may be NULL
 * (strlen of each).  Returns the reply (freeReplyObject() it; an error
 * reply is the script's or Redis's) or NULL on a connection error (c->err
 * set). */
redisReply *q_lua_call(redisContext *c, struct q_lua *s, int nkeys, int n, const char **argv,
                       const size_t *lens);

/* The same on a link (its loop's thread): fn (may be NULL) gets the reply
 * of the EVALSHA, or of the EVAL sent after a NOSCRIPT, or NULL when the
 * connection went away.  The arguments are copied.  0, or -EIO when the
 * link refused (fn then not called). */
int q_lua_link_call(struct q_link *l, struct q_lua *s, redisCallbackFn *fn, void *priv, int nkeys,
                    int n, const char **argv, const size_t *lens);

/* 1 when r is Redis's NOSCRIPT error reply. */
int q_lua_is_noscript(const redisReply *r);

#endif
