/*
 * q_script.c - Lua texts of the queue transitions, their SHA1s, and the
 * EVALSHA-with-EVAL-fallback call for blocking contexts.
 *
 * Conventions inside the scripts: a missing hash field reads as false; a
 * status other than queued/running is terminal; an entry is XDELed right
 * after it is XACKed (so stream length = undelivered + pending).
 */
#include "q_script.h"

#include "ci_util.h"
#include "q_lua_hooks.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* Enqueue a batch.  KEYS: ci:jobs:high, ci:jobs, hash_1..hash_n.
 * ARGV: ttl, then per job: id, owner, session_id, created_at, stream index
 * (1|2), job bytes, callback_url ('' = none), batch id ('' = none), turn
 * deadline (ms; '' = no line: batch items), user tag ('' = the anonymous
 * user; ingress/ing_user.h).  A job with a session and a deadline takes the
 * next ticket of its session's line (q_lua_turn.h) in this same call.
 * Returns per job 1, or 0 when the id already exists (nothing written for
 * it). */
static const char s_enqueue[] =
    "local ttl, out = ARGV[1], {}\n"
    "for i = 1, #KEYS - 2 do\n"
    "  local b, h = 1 + 10 * (i - 1), KEYS[2 + i]\n"
    "  if redis.call('EXISTS', h) == 1 then\n"
    "    out[i] = 0\n"
    "  else\n"
    "    local hf = {'status', 'queued', 'owner', ARGV[b + 2], 'session_id', ARGV[b + 3],\n"
    "      'created_at', ARGV[b + 4], 'attempts', 0}\n"
    "    if ARGV[b + 7] ~= '' then hf[#hf + 1] = 'callback_url'; hf[#hf + 1] = ARGV[b + 7] end\n"
    "    if ARGV[b + 8] ~= '' then hf[#hf + 1] = 'batch'; hf[#hf + 1] = ARGV[b + 8] end\n"
    "    if ARGV[b + 10] ~= '' then hf[#hf + 1] = 'user'; hf[#hf + 1] = ARGV[b + 10] end\n"
    "    if ARGV[b + 3] ~= '' and ARGV[b + 9] ~= '' then\n"
    "      local z = 'ci:turn:' .. ARGV[b + 3]\n"
    "      local last = redis.call('ZRANGE', z, -1, -1, 'WITHSCORES')\n"
    "      local t = 1\n"
    "      if #last > 0 then t = tonumber(last[2]) + 1 end\n"
    "      redis.call('ZADD', z, t, ARGV[b + 1])\n"
    "      if t == 1 then redis.call('EXPIRE', z, ttl) end\n"
    "      hf[#hf + 1] = 'ticket'; hf[#hf + 1] = t\n"
    "      hf[#hf + 1] = 'turn_deadline'; hf[#hf + 1] = ARGV[b + 9]\n"
    "    end\n"
    "    redis.call('HSET', h, unpack(hf))\n"
    "    redis.call('EXPIRE', h, ttl)\n"
    "    redis.call('XADD', KEYS[tonumber(ARGV[b + 5])], '*', 'id', ARGV[b + 1], 'job', "
    "ARGV[b + 6])\n"
    "    out[i] = 1\n"
    "  end\n"
    "end\n"
    "return out\n";

/* Shared by scripts that dead-letter: the job bytes of a stream entry. */
#define Q_LUA_JOB_OF                                                                               \
    "local function job_of(stream, entry)\n"                                                       \
    "  local e = redis.call('XRANGE', stream, entry, entry)\n"                                     \
    "  if #e == 0 then return nil end\n"                                                           \
    "  local f = e[1][2]\n"                                                                        \
    "  for j = 1, #f, 2 do if f[j] == 'job' then return f[j + 1] end end\n"                        \
    "  return ''\n"                                                                                \
    "end\n"

/* Start a batch of entries read from one stream.
 * KEYS: stream, ci:dead, hash_1..hash_n.
 * ARGV: group, worker, now, max_attempts, ttl, dead_max (ci:dead is trimmed
 * to about that many entries), then entry_i, id_i pairs.
 * Returns one integer per entry: attempts (> 0, run it), 0 (skipped: gone,
 * terminal or cancel requested; XACKed), -1 (dead: too many attempts), -2
 * (it waited for its session's turn past its deadline: answer a timeout, do
 * not run it; status running, entry still pending) or -3 (parked: an
 * earlier call of its session has the turn; XACKed, woken by turn_done). */
static const char s_start[] = Q_LUA_JOB_OF Q_LUA_ON_TERMINAL
    "local s, g, now, ttl = KEYS[1], ARGV[1], ARGV[3], ARGV[5]\n"
    "local out, ack = {}, {}\n"
    "for i = 1, #KEYS - 2 do\n"
    "  local h, entry, id = KEYS[2 + i], ARGV[5 + 2 * i], ARGV[6 + 2 * i]\n"
    "  local f = redis.call('HMGET', h, 'status', 'cancel_requested', 'attempts',\n"
    "    'session_id', 'ticket', 'turn_deadline', 'turn_waited', 'turn_expired')\n"
    "  local st = f[1]\n"
    "  local gate = 0\n"
    "  out[i] = 0\n"
    "  if (st == 'queued' or st == 'running') and f[2] ~= '1' then\n"
    "    gate = turn_gate(h, id, s, entry, now, {f[4], f[5], f[6], f[7], f[8]})\n"
    "  end\n"
    "  if st ~= 'queued' and st ~= 'running' then\n"
    "    ack[#ack + 1] = entry\n"
    "  elseif gate == 1 then\n"
    "    ack[#ack + 1] = entry\n"
    "    out[i] = -3\n"
    "  elseif gate == 2 then\n"
    "    redis.call('HSET', h, 'status', 'running', 'started_at', now, 'worker', ARGV[2])\n"
    "    out[i] = -2\n"
    "  elseif f[2] == '1' then\n"
    "    redis.call('HSET', h, 'status', 'cancelled', 'finished_at', now)\n"
    "    redis.call('EXPIRE', h, ttl)\n"
    "    on_terminal(h, id, 'cancelled', now, ttl)\n"
    "    ack[#ack + 1] = entry\n"
    "    redis.call('PUBLISH', 'ci:done', id)\n"
    "  else\n"
    "    local a = tonumber(f[3] or '0') + 1\n"
    "    if a > tonumber(ARGV[4]) then\n"
    "      local err = 'lease expired ' .. (a - 1) .. ' times'\n"
    "      redis.call('HSET', h, 'status', 'dead', 'attempts', a - 1, 'error', err,\n"
    "        'finished_at', now)\n"
    "      redis.call('EXPIRE', h, ttl)\n"
    "      on_terminal(h, id, 'dead', now, ttl)\n"
    "      redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], '*', 'id', id,\n"
    "        'job', job_of(s, entry) or '', 'error', err, 'attempts', a - 1)\n"
    "      ack[#ack + 1] = entry\n"
    "      redis.call('PUBLISH', 'ci:done', id)\n"
    "      out[i] = -1\n"
    "    else\n"
    "      redis.call('HSET', h, 'status', 'running', 'started_at', now, 'worker', ARGV[2],\n"
    "        'attempts', a)\n"
    "      out[i] = a\n"
    "    end\n"
    "  end\n"
    "end\n"
    "if #ack > 0 then\n"
    "  redis.call('XACK', s, g, unpack(ack))\n"
    "  redis.call('XDEL', s, unpack(ack))\n"
    "end\n"
    "return out\n";

/* Store results of a batch (first write wins).
 * KEYS: ci:jobs:high, ci:jobs, hash_1..hash_n.
 * ARGV: group, now, ttl, then per job: stream index (1|2), entry, id,
 * status, result, error ('' = none).
 * Returns per job: 0 stored, 1 duplicate (already terminal), 2 hash gone. */
static const char s_complete[] = Q_LUA_ON_TERMINAL
    "local g, now, ttl = ARGV[1], ARGV[2], ARGV[3]\n"
    "local out, ack = {}, {{}, {}}\n"
    "for i = 1, #KEYS - 2 do\n"
    "  local b = 3 + 6 * (i - 1)\n"
    "  local si, h, entry, id = tonumber(ARGV[b + 1]), KEYS[2 + i], ARGV[b + 2], ARGV[b + 3]\n"
    "  local st = redis.call('HGET', h, 'status')\n"
    "  if st == 'queued' or st == 'running' then\n"
    "    if ARGV[b + 6] ~= '' then\n"
    "      redis.call('HSET', h, 'status', ARGV[b + 4], 'result', ARGV[b + 5], 'finished_at', "
    "now,\n"
    "        'error', ARGV[b + 6])\n"
    "    else\n"
    "      redis.call('HSET', h, 'status', ARGV[b + 4], 'result', ARGV[b + 5], 'finished_at', "
    "now)\n"
    "    end\n"
    "    redis.call('EXPIRE', h, ttl)\n"
    "    on_terminal(h, id, ARGV[b + 4], now, ttl)\n"
    "    redis.call('PUBLISH', 'ci:done', id)\n"
    "    out[i] = 0\n"
    "  elseif st then out[i] = 1 else out[i] = 2 end\n"
    "  ack[si][#ack[si] + 1] = entry\n"
    "end\n"
    "for si = 1, 2 do\n"
    "  if #ack[si] > 0 then\n"
    "    redis.call('XACK', KEYS[si], g, unpack(ack[si]))\n"
    "    redis.call('XDEL', KEYS[si], unpack(ack[si]))\n"
    "  end\n"
    "end\n"
    "return out\n";

/* Infrastructure failure of one delivery: retry, dead-letter or defer.
 * KEYS: stream, ci:dead, hash.
 * ARGV: group, worker, entry, id, error, max_attempts, now, ttl, mode
 * (0 retry until max_attempts then dead, 1 dead now, 2 defer: requeue and
 * give the attempt back - the failure was not the job's), dead_max (ci:dead
 * is trimmed to about that many entries).
 * Returns 1 requeued, 2 dead, 0 nothing to do (terminal, or already
 * handled: idempotent on replay), -2 lease lost (another worker runs it). */
static const char s_fail[] = Q_LUA_JOB_OF Q_LUA_ON_TERMINAL
    "local s, h, g, entry, id = KEYS[1], KEYS[3], ARGV[1], ARGV[3], ARGV[4]\n"
    "local st = redis.call('HGET', h, 'status')\n"
    "if st ~= 'queued' and st ~= 'running' then\n"
    "  redis.call('XACK', s, g, entry)\n"
    "  redis.call('XDEL', s, entry)\n"
    "  return 0\n"
    "end\n"
    "if ARGV[9] ~= '1' and redis.call('HGET', h, 'worker') ~= ARGV[2] then return -2 end\n"
    "local job = job_of(s, entry)\n"
    "if not job then return 0 end\n"
    "local a = tonumber(redis.call('HGET', h, 'attempts') or '0')\n"
    "redis.call('XACK', s, g, entry)\n"
    "redis.call('XDEL', s, entry)\n"
    "if ARGV[9] == '2' and a > 0 then\n"
    "  a = a - 1\n"
    "  redis.call('HSET', h, 'attempts', a)\n"
    "end\n"
    "if ARGV[9] == '2' or (ARGV[9] ~= '1' and a < tonumber(ARGV[6])) then\n"
    "  redis.call('HSET', h, 'status', 'queued', 'error', ARGV[5])\n"
    "  redis.call('XADD', s, '*', 'id', id, 'job', job)\n"
    "  return 1\n"
    "end\n"
    "redis.call('HSET', h, 'status', 'dead', 'error', ARGV[5], 'finished_at', ARGV[7])\n"
    "redis.call('EXPIRE', h, ARGV[8])\n"
    "on_terminal(h, id, 'dead', ARGV[7], ARGV[8])\n"
    "redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[10], '*', 'id', id, 'job', job,\n"
    "  'error', ARGV[5], 'attempts', a)\n"
    "redis.call('PUBLISH', 'ci:done', id)\n"
    "return 2\n";

/* Heartbeat: reset the idle time of the entries still pending for us.
 * KEYS: stream.  ARGV: group, worker, entry ids...
 * Returns the ids no longer pending for this worker (lease lost). */
static const char s_heartbeat[] =
    "local lost = {}\n"
    "for i = 3, #ARGV do\n"
    "  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)\n"
    "  if p[1] and p[1][2] == ARGV[2] then\n"
    "    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')\n"
    "  else\n"
    "    lost[#lost + 1] = ARGV[i]\n"
    "  end\n"
    "end\n"
    "return lost\n";

/* Cancel.  KEYS: hash.  ARGV: id, now, ttl.
 * Returns the status after the call ('' when the job does not exist). */
static const char s_cancel[] = Q_LUA_ON_TERMINAL
    "local st = redis.call('HGET', KEYS[1], 'status')\n"
    "if not st then return '' end\n"
    "if st == 'queued' then\n"
    "  redis.call('HSET', KEYS[1], 'status', 'cancelled', 'finished_at', ARGV[2])\n"
    "  redis.call('EXPIRE', KEYS[1], ARGV[3])\n"
    "  on_terminal(KEYS[1], ARGV[1], 'cancelled', ARGV[2], ARGV[3])\n"
    "  redis.call('PUBLISH', 'ci:done', ARGV[1])\n"
    "  return 'cancelled'\n"
    "end\n"
    "if st == 'running' then\n"
    "  redis.call('HSET', KEYS[1], 'cancel_requested', '1')\n"
    "  redis.call('PUBLISH', 'ci:cancel', ARGV[1])\n"
    "end\n"
    "return st\n";

/* Deadline sweep of parked jobs.  KEYS: ci:turn:due.  ARGV: now, max.
 * Parked jobs whose deadline passed go back to their stream marked
 * turn_expired (the start script then answers them a timeout instead of
 * running them).  Returns how many were woken. */
static const char s_turn_due[] = Q_LUA_TURN
    "local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0,\n"
    "  tonumber(ARGV[2]))\n"
    "for i = 1, #ids do\n"
    "  redis.call('ZREM', KEYS[1], ids[i])\n"
    "  turn_wake(ids[i], true)\n"
    "end\n"
    "return #ids\n";

static const char *const s_texts[Q_SCRIPT_COUNT] = {
    [Q_SCRIPT_ENQUEUE] = s_enqueue,     [Q_SCRIPT_START] = s_start,
    [Q_SCRIPT_COMPLETE] = s_complete,   [Q_SCRIPT_FAIL] = s_fail,
    [Q_SCRIPT_HEARTBEAT] = s_heartbeat, [Q_SCRIPT_CANCEL] = s_cancel,
    [Q_SCRIPT_TURN_DUE] = s_turn_due,
};

static char s_shas[Q_SCRIPT_COUNT][41];
static pthread_once_t s_sha_once = PTHREAD_ONCE_INIT;

static void q_script_init_shas(void)
{
    for (int i = 0; i < Q_SCRIPT_COUNT; i++) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;
        if (EVP_Digest(s_texts[i], strlen(s_texts[i]), md, &mdlen, EVP_sha1(), NULL) != 1 ||
            mdlen != 20) {
            memset(s_shas[i], '0', 40); /* EVALSHA then fails with NOSCRIPT -> EVAL */
            continue;
        }
        ci_hex_encode(md, 20, s_shas[i]);
    }
}

const char *q_script_text(enum q_script_id id)
{
    return s_texts[id];
}

const char *q_script_sha(enum q_script_id id)
{
    pthread_once(&s_sha_once, q_script_init_shas);
    return s_shas[id];
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
    return r && r->type == REDIS_REPLY_ERROR && r->str && strncmp(r->str, "NOSCRIPT", 8) == 0;
}

redisReply *q_script_call(redisContext *c, enum q_script_id id, int nkeys, int n, const char **argv,
                          const size_t *lens)
{
    const char **av = ci_xcalloc((size_t)n + 3, sizeof *av);
    size_t *al = ci_xcalloc((size_t)n + 3, sizeof *al);
    char num[16];
    redisReply *r = NULL;
    memcpy(av + 3, argv, (size_t)n * sizeof *av);
    memcpy(al + 3, lens, (size_t)n * sizeof *al);
    for (int eval = 0; eval < 2; eval++) {
        q_script_head(id, eval, nkeys, num, av, al);
        r = redisCommandArgv(c, n + 3, av, al);
        if (!q_script_is_noscript(r))
            break;
        freeReplyObject(r);
        r = NULL;
    }
    free(av);
    free(al);
    return r;
}
