/*
 * q_script.c - the queue transitions' Lua scripts (queue/lua/<name>.lua, embedded
 * at build time) and the EVALSHA-with-EVAL-fallback call for blocking
 * contexts (q_lua.h does the work).
 *
 * Conventions inside the scripts: a missing hash field reads as false; a
 * status other than queued/running is terminal; an entry is XDELed right
 * after it is XACKed (so stream length = undelivered + pending).  KEYS and
 * ARGV of each are documented at the top of its .lua file.
 */
#include "q_script.h"

#include "q_lua.h"

#include <string.h>

extern const char q_lua_enqueue[], q_lua_start[], q_lua_complete[], q_lua_fail[], q_lua_heartbeat[],
    q_lua_cancel[], q_lua_turn_due[];

static struct q_lua s_scripts[Q_SCRIPT_COUNT] = {
    [Q_SCRIPT_ENQUEUE] = Q_LUA_INIT(q_lua_enqueue),
    [Q_SCRIPT_START] = Q_LUA_INIT(q_lua_start),
    [Q_SCRIPT_COMPLETE] = Q_LUA_INIT(q_lua_complete),
    [Q_SCRIPT_FAIL] = Q_LUA_INIT(q_lua_fail),
    [Q_SCRIPT_HEARTBEAT] = Q_LUA_INIT(q_lua_heartbeat),
    [Q_SCRIPT_CANCEL] = Q_LUA_INIT(q_lua_cancel),
    [Q_SCRIPT_TURN_DUE] = Q_LUA_INIT(q_lua_turn_due),
};

const char *q_script_text(enum q_script_id id)
{
    return q_lua_text(&s_scripts[id]);
}

const char *q_script_sha(enum q_script_id id)
{
    return q_lua_sha(&s_scripts[id]);
}

void q_script_head(enum q_script_id id, int eval, int nkeys, char *numbuf, const char **argv,
                   size_t *lens)
{
    argv[0] = eval ? "EVAL" : "EVALSHA";
    argv[1] = eval ? q_script_text(id) : q_script_sha(id);
    snprintf(numbuf, 16, "%d", nkeys);
    argv[2] = numbuf;
    for (int i = 0; i < 3; i++)
        lens[i] = strlen(argv[i]);
}

int q_script_is_noscript(const redisReply *r)
{
    return q_lua_is_noscript(r);
}

redisReply *q_script_call(redisContext *c, enum q_script_id id, int nkeys, int n, const char **argv,
                          const size_t *lens)
{
    return q_lua_call(c, &s_scripts[id], nkeys, n, argv, lens);
}
