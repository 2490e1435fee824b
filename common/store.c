/*
 * store.c - the Lua scripts that change worker and session state (store.h).
 *
 * Each script takes the key prefix as ARGV[1] and names every key through
 * the functions LUA_HEAD builds from the formats of keys.h.  Times come
 * from the Redis server's clock (TIME), so every host agrees on them.  A
 * script either makes its whole change or none of it: it checks first and
 * writes after.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "store.h"

/* A Lua function name(arg) that returns the key of the keys.h format fmt
 * for P (arg is ignored by formats that take none). */
#define LUA_KEY_FN(name, fmt)                                                  \
    "local function " name "(a) return string.format('" fmt "', P, a) end\n"

/* Shared head of every script: prefix, server clock in ms, one function
 * per key of keys.h. */
/* clang-format off */
#define LUA_HEAD                                                               \
    "local P = ARGV[1]\n"                                                      \
    "local t = redis.call('TIME')\n"                                           \
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"  \
    "local nows = string.format('%d', now)\n"                                  \
    LUA_KEY_FN("seq_worker_key", KEY_SEQ_WORKER)                               \
    LUA_KEY_FN("workers_key", KEY_WORKERS)                                     \
    LUA_KEY_FN("node_key", KEY_NODE)                                           \
    LUA_KEY_FN("worker_key", KEY_WORKER)                                       \
    LUA_KEY_FN("idle_key", KEY_IDLE)                                           \
    LUA_KEY_FN("session_key", KEY_SESSION)                                     \
    LUA_KEY_FN("sessions_key", KEY_SESSIONS)                                   \
    LUA_KEY_FN("waiters_key", KEY_WAITERS)                                     \
    LUA_KEY_FN("stats_key", KEY_STATS)                                         \
    LUA_KEY_FN("pool_key", KEY_POOL)                                           \
    LUA_KEY_FN("lock_key", KEY_LOCK)                                           \
    LUA_KEY_FN("idem_key", KEY_IDEM)
/* clang-format on */

/* Drops the session held by worker id if the session still maps to it.
 * Returns 1 when a session was dropped. */
#define LUA_DROP_SESSION                                                       \
    "local function drop_session(id, sid)\n"                                   \
    "  if sid == nil or sid == false or sid == '' then return 0 end\n"         \
    "  local sk = session_key(sid)\n"                                          \
    "  if redis.call('HGET', sk, 'worker') == id then\n"                       \
    "    redis.call('DEL', sk)\n"                                              \
    "    redis.call('ZREM', sessions_key(), sid)\n"                            \
    "    return 1\n"                                                           \
    "  end\n"                                                                  \
    "  redis.call('ZREM', sessions_key(), sid)\n"                              \
    "  return 0\n"                                                             \
    "end\n"

enum store_script {
    SCRIPT_WORKER_ADD,
    SCRIPT_WORKER_READY,
    SCRIPT_CLAIM,
    SCRIPT_BIND,
    SCRIPT_UNCLAIM,
    SCRIPT_TOUCH,
    SCRIPT_END,
    SCRIPT_EXPIRE,
    SCRIPT_RELEASED,
    SCRIPT_MARK_DEAD,
    SCRIPT_WORKER_GONE,
    SCRIPT_PROBE,
    SCRIPT_WORKERS,
    SCRIPT_COUNTS,
    SCRIPT_WAIT_BEGIN,
    SCRIPT_WAITING,
    SCRIPT_UNLOCK,
    SCRIPT_IDEM_BEGIN,
    SCRIPT_IDEM_FINISH,
    SCRIPT_IDEM_ABORT,
    SCRIPT_STATS_ADD,
    SCRIPT_SESSION_LIST,
    SCRIPT_HOLD,
    SCRIPT_MARK_DEAD_IF,
    SCRIPT_PRUNE_SESSIONS,
    SCRIPT_RETIRE,
    SCRIPT_POOL_VIEW,
    SCRIPT_POOL_REPORT,
};

/* ARGV: P node host port pid pstart restarts floor -> id.  The id is
 * above floor (the highest id the caller still holds; the counter is
 * raised past it when it went back, as after a loss of Redis's data) and
 * never one that has a record. */
static const char lua_worker_add[] = LUA_HEAD
    "local seq = seq_worker_key()\n"
    "local n = redis.call('INCR', seq)\n"
    "local floor = tonumber(ARGV[8]) or 0\n"
    "if n <= floor then\n"
    "  n = floor + 1\n"
    "  redis.call('SET', seq, string.format('%d', n))\n"
    "end\n"
    "for i = 1, 1000 do\n"
    "  if redis.call('EXISTS', worker_key(string.format('%d', n))) == 0 then\n"
    "    break\n"
    "  end\n"
    "  n = redis.call('INCR', seq)\n"
    "end\n"
    "local id = string.format('%d', n)\n"
    "if redis.call('EXISTS', worker_key(id)) == 1 then\n"
    "  return redis.error_reply('no free worker id')\n"
    "end\n"
    "redis.call('HSET', worker_key(id), 'id', id, 'node', ARGV[2],\n"
    "  'host', ARGV[3], 'port', ARGV[4], 'pid', ARGV[5], 'pstart', ARGV[6],\n"
    "  'state', 'starting', 'session', '', 'since', nows, 'started', nows,\n"
    "  'restarts', ARGV[7], 'fails', '0', 'reason', '')\n"
    "redis.call('SADD', workers_key(), id)\n"
    "redis.call('SADD', node_key(ARGV[2]), id)\n"
    "redis.call('HINCRBY', stats_key(), 'worker_starts', 1)\n"
    "return id\n";

/* ARGV: P id -> 1 | 0 */
static const char lua_worker_ready[] = LUA_HEAD
    "local k = worker_key(ARGV[2])\n"
    "if redis.call('HGET', k, 'state') ~= 'starting' then return 0 end\n"
    "redis.call('HSET', k, 'state', 'idle', 'since', nows, 'fails', '0')\n"
    "redis.call('RPUSH', idle_key(), ARGV[2])\n"
    "return 1\n";

/* ARGV: P -> {id, host, port} | nil.  Stale list entries (a worker that
 * left idle by another path) are skipped; the loop is bounded. */
static const char lua_claim[] = LUA_HEAD
    "for i = 1, 1000 do\n"
    "  local id = redis.call('LPOP', idle_key())\n"
    "  if not id then return false end\n"
    "  local w = redis.call('HMGET', worker_key(id), 'state', 'host', 'port')\n"
    "  if w[1] == 'idle' then\n"
    "    redis.call('HSET', worker_key(id), 'state', 'creating',\n"
    "      'since', nows)\n"
    "    return {id, w[2], w[3]}\n"
    "  end\n"
    "end\n"
    "return false\n";

/* ARGV: P id sid ttl_ms lifetime_ms -> 1 | 0 | 2 */
static const char lua_bind[] = LUA_HEAD
    "local id, sid = ARGV[2], ARGV[3]\n"
    "local k = worker_key(id)\n"
    "if redis.call('HGET', k, 'state') ~= 'creating' then return 0 end\n"
    "local sk = session_key(sid)\n"
    "if redis.call('EXISTS', sk) == 1 then return 2 end\n"
    "local ttl, life = tonumber(ARGV[4]), tonumber(ARGV[5])\n"
    "local deadline = 0\n"
    "if life > 0 then\n"
    "  deadline = now + life\n"
    "  if life < ttl then ttl = life end\n"
    "end\n"
    "redis.call('HSET', sk, 'worker', id, 'created', nows, 'last', nows,\n"
    "  'deadline', string.format('%d', deadline))\n"
    "redis.call('PEXPIRE', sk, ttl)\n"
    "redis.call('ZADD', sessions_key(), now, sid)\n"
    "redis.call('HSET', k, 'state', 'busy', 'session', sid, 'since', nows)\n"
    "redis.call('HINCRBY', stats_key(), 'sessions_created', 1)\n"
    "return 1\n";

/* ARGV: P id -> 1 | 0 */
static const char lua_unclaim[] = LUA_HEAD
    "local k = worker_key(ARGV[2])\n"
    "if redis.call('HGET', k, 'state') ~= 'creating' then return 0 end\n"
    "redis.call('HSET', k, 'state', 'idle', 'since', nows, 'session', '')\n"
    "redis.call('LPUSH', idle_key(), ARGV[2])\n"
    "return 1\n";

/* ARGV: P sid ttl_ms -> {id, host, port} | nil */
static const char lua_touch[] = LUA_HEAD
    "local sid = ARGV[2]\n"
    "local sk = session_key(sid)\n"
    "local s = redis.call('HMGET', sk, 'worker', 'deadline')\n"
    "if not s[1] then return false end\n"
    "local w = redis.call('HMGET', worker_key(s[1]), 'state', 'session',\n"
    "  'host', 'port')\n"
    "if w[1] ~= 'busy' or w[2] ~= sid then\n"
    "  redis.call('DEL', sk)\n"
    "  redis.call('ZREM', sessions_key(), sid)\n"
    "  return false\n"
    "end\n"
    "local ttl = tonumber(ARGV[3])\n"
    "local dl = tonumber(s[2] or '0') or 0\n"
    "if dl > 0 and dl - now < ttl then ttl = dl - now end\n"
    "if ttl <= 0 then\n"
    "  redis.call('DEL', sk)\n"
    "  return false\n"
    "end\n"
    "redis.call('PEXPIRE', sk, ttl)\n"
    "redis.call('HSET', sk, 'last', nows)\n"
    "redis.call('ZADD', sessions_key(), now, sid)\n"
    "return {s[1], w[3], w[4]}\n";

/* ARGV: P sid -> {id, host, port} | {} | nil */
static const char lua_end[] = LUA_HEAD
    "local sid = ARGV[2]\n"
    "local sk = session_key(sid)\n"
    "local id = redis.call('HGET', sk, 'worker')\n"
    "if not id then return false end\n"
    "redis.call('DEL', sk)\n"
    "redis.call('ZREM', sessions_key(), sid)\n"
    "redis.call('HINCRBY', stats_key(), 'sessions_deleted', 1)\n"
    "local w = redis.call('HMGET', worker_key(id), 'state', 'session',\n"
    "  'host', 'port')\n"
    "if w[1] == 'busy' and w[2] == sid then\n"
    "  redis.call('HSET', worker_key(id), 'state', 'releasing',\n"
    "    'since', nows)\n"
    "  return {id, w[3], w[4]}\n"
    "end\n"
    "return {}\n";

/* ARGV: P id sid -> 1 | 0 */
static const char lua_expire[] = LUA_HEAD
    "local id, sid = ARGV[2], ARGV[3]\n"
    "local w = redis.call('HMGET', worker_key(id), 'state', 'session')\n"
    "if w[1] ~= 'busy' or w[2] ~= sid then return 0 end\n"
    "if redis.call('EXISTS', session_key(sid)) == 1 then return 0 end\n"
    "redis.call('ZREM', sessions_key(), sid)\n"
    "redis.call('HSET', worker_key(id), 'state', 'releasing', 'since', nows)\n"
    "redis.call('HINCRBY', stats_key(), 'sessions_expired', 1)\n"
    "return 1\n";

/* ARGV: P id -> 1 | 0 */
static const char lua_released[] = LUA_HEAD
    "local k = worker_key(ARGV[2])\n"
    "if redis.call('HGET', k, 'state') ~= 'releasing' then return 0 end\n"
    "redis.call('HSET', k, 'state', 'idle', 'session', '', 'since', nows,\n"
    "  'fails', '0')\n"
    "redis.call('LREM', idle_key(), 0, ARGV[2])\n"
    "redis.call('RPUSH', idle_key(), ARGV[2])\n"
    "return 1\n";

/* ARGV: P id reason [node pid] -> prior state | nil.  With node, only a
 * record of that node; with a pid other than '' or '0', only a record of
 * that pid. */
static const char lua_mark_dead[] = LUA_HEAD LUA_DROP_SESSION
    "local id = ARGV[2]\n"
    "local w = redis.call('HMGET', worker_key(id), 'state', 'session',\n"
    "  'node', 'pid')\n"
    "if not w[1] or w[1] == 'dead' then return false end\n"
    "if ARGV[4] and ARGV[4] ~= '' and w[3] ~= ARGV[4] then return false end\n"
    "if ARGV[5] and ARGV[5] ~= '' and ARGV[5] ~= '0' and w[4] ~= ARGV[5] then\n"
    "  return false\n"
    "end\n"
    "redis.call('LREM', idle_key(), 0, id)\n"
    "if drop_session(id, w[2]) == 1 then\n"
    "  redis.call('HINCRBY', stats_key(), 'sessions_lost', 1)\n"
    "end\n"
    "redis.call('HSET', worker_key(id), 'state', 'dead', 'session', '',\n"
    "  'since', nows, 'reason', ARGV[3])\n"
    "return w[1]\n";

/* ARGV: P id node pid reason -> prior state | nil.  Only a record of node
 * and, unless pid is '' or '0', of pid: after the id counter went back,
 * another worker may carry the id. */
static const char lua_worker_gone[] = LUA_HEAD LUA_DROP_SESSION
    "local id = ARGV[2]\n"
    "local w = redis.call('HMGET', worker_key(id), 'state', 'session',\n"
    "  'node', 'pid')\n"
    "if not w[1] then\n"
    "  redis.call('SREM', workers_key(), id)\n"
    "  redis.call('SREM', node_key(ARGV[3]), id)\n"
    "  return false\n"
    "end\n"
    "if w[3] ~= ARGV[3] then return false end\n"
    "if ARGV[4] ~= '' and ARGV[4] ~= '0' and w[4] ~= ARGV[4] then\n"
    "  return false\n"
    "end\n"
    "redis.call('LREM', idle_key(), 0, id)\n"
    "if drop_session(id, w[2]) == 1 then\n"
    "  redis.call('HINCRBY', stats_key(), 'sessions_lost', 1)\n"
    "end\n"
    "redis.call('DEL', worker_key(id))\n"
    "redis.call('SREM', workers_key(), id)\n"
    "if w[3] then redis.call('SREM', node_key(w[3]), id) end\n"
    "return w[1]\n";

/* ARGV: P id ok -> failures */
static const char lua_probe[] = LUA_HEAD
    "local k = worker_key(ARGV[2])\n"
    "local st = redis.call('HGET', k, 'state')\n"
    "if not st then return 0 end\n"
    "if ARGV[3] == '1' then\n"
    "  redis.call('HSET', k, 'fails', '0')\n"
    "  return 0\n"
    "end\n"
    "local n = redis.call('HINCRBY', k, 'fails', 1)\n"
    "if st == 'idle' then\n"
    "  redis.call('LREM', idle_key(), 0, ARGV[2])\n"
    "  redis.call('HSET', k, 'state', 'releasing', 'since', nows)\n"
    "end\n"
    "return n\n";

/* ARGV: P node|'' -> {now, {fields...}, ...}; records whose hash is gone
 * are dropped from the sets. */
static const char lua_workers[] = LUA_HEAD
    "local set = workers_key()\n"
    "if ARGV[2] ~= '' then set = node_key(ARGV[2]) end\n"
    "local out = {nows}\n"
    "for _, id in ipairs(redis.call('SMEMBERS', set)) do\n"
    "  local w = redis.call('HMGET', worker_key(id), 'id', 'node', 'host',\n"
    "    'port', 'pid', 'pstart', 'state', 'session', 'since', 'started',\n"
    "    'restarts', 'fails')\n"
    "  if not w[7] then\n"
    "    redis.call('SREM', set, id)\n"
    "  else\n"
    "    local alive = '0'\n"
    "    if w[8] and w[8] ~= '' and\n"
    "       redis.call('EXISTS', session_key(w[8])) == 1 then alive = '1' end\n"
    "    w[13] = alive\n"
    "    for i = 1, 12 do if not w[i] then w[i] = '' end end\n"
    "    out[#out + 1] = w\n"
    "  end\n"
    "end\n"
    "return out\n";

/* ARGV: P node|'' -> {state, count, ...} */
static const char lua_counts[] = LUA_HEAD
    "local set = workers_key()\n"
    "if ARGV[2] ~= '' then set = node_key(ARGV[2]) end\n"
    "local c = {}\n"
    "for _, id in ipairs(redis.call('SMEMBERS', set)) do\n"
    "  local st = redis.call('HGET', worker_key(id), 'state')\n"
    "  if st then c[st] = (c[st] or 0) + 1 end\n"
    "end\n"
    "local out = {}\n"
    "for k, v in pairs(c) do out[#out + 1] = k; out[#out + 1] = v end\n"
    "return out\n";

/* ARGV: P token wait_ms max -> 1 | 0 (max creates wait already) */
static const char lua_wait_begin[] = LUA_HEAD
    "local z = waiters_key()\n"
    "redis.call('ZREMRANGEBYSCORE', z, '-inf', now)\n"
    "if redis.call('ZCARD', z) >= tonumber(ARGV[4]) then return 0 end\n"
    "redis.call('ZADD', z, now + tonumber(ARGV[3]), ARGV[2])\n"
    "return 1\n";

/* ARGV: P -> count */
static const char lua_waiting[] = LUA_HEAD
    "redis.call('ZREMRANGEBYSCORE', waiters_key(), '-inf', now)\n"
    "return redis.call('ZCARD', waiters_key())\n";

/* ARGV: P name token -> 1 | 0 */
static const char lua_unlock[] = LUA_HEAD
    "local k = lock_key(ARGV[2])\n"
    "if redis.call('GET', k) == ARGV[3] then\n"
    "  return redis.call('DEL', k)\n"
    "end\n"
    "return 0\n";

/* ARGV: P id from_state since -> 1 | 0.  idle or creating -> releasing,
 * only while the record is still in from_state entered at since. */
static const char lua_hold[] = LUA_HEAD
    "local id = ARGV[2]\n"
    "local w = redis.call('HMGET', worker_key(id), 'state', 'since')\n"
    "if w[1] ~= ARGV[3] or w[2] ~= ARGV[4] then return 0 end\n"
    "if w[1] ~= 'idle' and w[1] ~= 'creating' then return 0 end\n"
    "redis.call('LREM', idle_key(), 0, id)\n"
    "redis.call('HSET', worker_key(id), 'state', 'releasing', 'since', nows)\n"
    "return 1\n";

/* ARGV: P id state session since|'' reason -> prior state | nil.  Like
 * lua_mark_dead, only while the record still matches what the caller saw. */
static const char lua_mark_dead_if[] = LUA_HEAD LUA_DROP_SESSION
    "local id = ARGV[2]\n"
    "local w = redis.call('HMGET', worker_key(id), 'state', 'session',\n"
    "  'since')\n"
    "if not w[1] or w[1] == 'dead' or w[1] ~= ARGV[3] then return false end\n"
    "if (w[2] or '') ~= ARGV[4] then return false end\n"
    "if ARGV[5] ~= '' and w[3] ~= ARGV[5] then return false end\n"
    "redis.call('LREM', idle_key(), 0, id)\n"
    "if drop_session(id, w[2]) == 1 then\n"
    "  redis.call('HINCRBY', stats_key(), 'sessions_lost', 1)\n"
    "end\n"
    "redis.call('HSET', worker_key(id), 'state', 'dead', 'session', '',\n"
    "  'since', nows, 'reason', ARGV[6])\n"
    "return w[1]\n";

/* ARGV: P age_ms limit -> removed.  Drops P:sessions entries older than
 * age_ms whose session key is gone; at most limit are looked at. */
static const char lua_prune_sessions[] = LUA_HEAD
    "local z = sessions_key()\n"
    "local cut = string.format('%d', now - tonumber(ARGV[2]))\n"
    "local n = 0\n"
    "for _, sid in ipairs(redis.call('ZRANGEBYSCORE', z, '-inf', cut,\n"
    "    'LIMIT', 0, tonumber(ARGV[3]))) do\n"
    "  if redis.call('EXISTS', session_key(sid)) == 0 then\n"
    "    redis.call('ZREM', z, sid)\n"
    "    n = n + 1\n"
    "  end\n"
    "end\n"
    "return n\n";

/* ARGV: P key fingerprint pending_ms -> {'go'} | {'pending'} |
 * {'conflict'} | {'done', status, body} */
static const char lua_idem_begin[] = LUA_HEAD
    "local k = idem_key(ARGV[2])\n"
    "local h = redis.call('HMGET', k, 'fp', 'state', 'status', 'body')\n"
    "if not h[1] then\n"
    "  redis.call('HSET', k, 'fp', ARGV[3], 'state', 'pending')\n"
    "  redis.call('PEXPIRE', k, tonumber(ARGV[4]))\n"
    "  return {'go'}\n"
    "end\n"
    "if h[1] ~= ARGV[3] then return {'conflict'} end\n"
    "if h[2] == 'done' then return {'done', h[3], h[4]} end\n"
    "return {'pending'}\n";

/* ARGV: P key fingerprint status body ttl_ms -> 1 | 0 */
static const char lua_idem_finish[] = LUA_HEAD
    "local k = idem_key(ARGV[2])\n"
    "if redis.call('HGET', k, 'fp') ~= ARGV[3] then return 0 end\n"
    "redis.call('HSET', k, 'state', 'done', 'status', ARGV[4],\n"
    "  'body', ARGV[5])\n"
    "redis.call('PEXPIRE', k, tonumber(ARGV[6]))\n"
    "return 1\n";

/* ARGV: P key fingerprint -> 1 | 0 */
static const char lua_idem_abort[] = LUA_HEAD
    "local k = idem_key(ARGV[2])\n"
    "local h = redis.call('HMGET', k, 'fp', 'state')\n"
    "if h[1] == ARGV[3] and h[2] == 'pending' then\n"
    "  return redis.call('DEL', k)\n"
    "end\n"
    "return 0\n";

/* ARGV: P "field n\nfield n..." -> fields changed */
static const char lua_stats_add[] = LUA_HEAD
    "local n = 0\n"
    "for f, v in string.gmatch(ARGV[2], '([^ \\n]+) (%-?%d+)') do\n"
    "  redis.call('HINCRBY', stats_key(), f, tonumber(v))\n"
    "  n = n + 1\n"
    "end\n"
    "return n\n";

/* ARGV: P offset limit -> {total, sid, worker, created, last, pttl, ...},
 * most recently active first; sessions whose key is gone are skipped. */
static const char lua_session_list[] = LUA_HEAD
    "local z = sessions_key()\n"
    "local off, lim = tonumber(ARGV[2]), tonumber(ARGV[3])\n"
    "local out = {redis.call('ZCARD', z)}\n"
    "for _, sid in ipairs(redis.call('ZREVRANGE', z, off, off + lim - 1)) do\n"
    "  local h = redis.call('HMGET', session_key(sid), 'worker', 'created',\n"
    "    'last')\n"
    "  if h[1] then\n"
    "    local ttl = redis.call('PTTL', session_key(sid))\n"
    "    for _, v in ipairs({sid, h[1], h[2] or '0', h[3] or '0',\n"
    "        tostring(ttl)}) do out[#out + 1] = v end\n"
    "  end\n"
    "end\n"
    "return out\n";

/* ARGV: P id reason -> 1 | 0.  idle -> dead, only while still idle. */
static const char lua_retire[] = LUA_HEAD
    "local k = worker_key(ARGV[2])\n"
    "if redis.call('HGET', k, 'state') ~= 'idle' then return 0 end\n"
    "redis.call('LREM', idle_key(), 0, ARGV[2])\n"
    "redis.call('HSET', k, 'state', 'dead', 'since', nows, 'reason',\n"
    "  ARGV[3])\n"
    "return 1\n";

/* ARGV: P node -> {now, waiting, id, state, since, reason, ...}; reason
 * only for dead workers, else ''.  Stale waiters are pruned; ids whose
 * record is gone are dropped from the node's set. */
static const char lua_pool_view[] = LUA_HEAD
    "redis.call('ZREMRANGEBYSCORE', waiters_key(), '-inf', now)\n"
    "local out = {nows, redis.call('ZCARD', waiters_key())}\n"
    "local set = node_key(ARGV[2])\n"
    "for _, id in ipairs(redis.call('SMEMBERS', set)) do\n"
    "  local w = redis.call('HMGET', worker_key(id), 'state', 'since',\n"
    "    'reason')\n"
    "  if not w[1] then\n"
    "    redis.call('SREM', set, id)\n"
    "  else\n"
    "    out[#out + 1] = id\n"
    "    out[#out + 1] = w[1]\n"
    "    out[#out + 1] = w[2] or '0'\n"
    "    if w[1] == 'dead' then\n"
    "      out[#out + 1] = w[3] or ''\n"
    "    else\n"
    "      out[#out + 1] = ''\n"
    "    end\n"
    "  end\n"
    "end\n"
    "return out\n";

/* ARGV: P node state reason [field value]... -> 1.  since changes only
 * with the state; heartbeat is always now. */
static const char lua_pool_report[] = LUA_HEAD
    "local k = pool_key(ARGV[2])\n"
    "if redis.call('HGET', k, 'state') ~= ARGV[3] then\n"
    "  redis.call('HSET', k, 'since', nows)\n"
    "end\n"
    "redis.call('HSET', k, 'state', ARGV[3], 'reason', ARGV[4],\n"
    "  'heartbeat', nows)\n"
    "for i = 5, #ARGV - 1, 2 do\n"
    "  redis.call('HSET', k, ARGV[i], ARGV[i + 1])\n"
    "end\n"
    "return 1\n";

static const char *const state_names[WORKER_STATE_COUNT] = {
    "starting", "idle", "creating", "busy", "releasing", "dead",
};

const char *worker_state_name(enum worker_state s)
{
    if ((int)s < 0 || s >= WORKER_STATE_COUNT)
        return "unknown";
    return state_names[s];
}

int worker_state_parse(const char *s, enum worker_state *out)
{
    int i;

    for (i = 0; i < WORKER_STATE_COUNT; i++) {
        if (strcmp(s, state_names[i]) == 0) {
            *out = (enum worker_state)i;
            return 0;
        }
    }
    return -1;
}

static redisReply *store_run(struct rconn *r, enum store_script idx,
                             const char *src, int argc, const char **argv)
{
    return rconn_eval(r, (int)idx, src, argc, argv);
}

/* Returns the integer of an integer reply (and frees it), or -1. */
static long store_int(struct rconn *r, redisReply *reply)
{
    long v;

    if (reply == NULL)
        return -1;
    if (reply->type != REDIS_REPLY_INTEGER) {
        snprintf(r->errstr, sizeof(r->errstr), "unexpected reply type %d",
                 reply->type);
        freeReplyObject(reply);
        return -1;
    }
    v = (long)reply->integer;
    freeReplyObject(reply);
    return v;
}

static void copy_str(char *dst, size_t size, const redisReply *e)
{
    size_t n = 0;

    if (e != NULL && e->type == REDIS_REPLY_STRING) {
        n = e->len < size - 1 ? e->len : size - 1;
        memcpy(dst, e->str, n);
    }
    dst[n] = '\0';
}

static long long reply_ll(const redisReply *e)
{
    char tmp[32];

    if (e == NULL)
        return 0;
    if (e->type == REDIS_REPLY_INTEGER)
        return e->integer;
    copy_str(tmp, sizeof(tmp), e);
    return strtoll(tmp, NULL, 10);
}

/* Fills out from a {id, host, port} array reply. */
static int store_addr(struct rconn *r, const redisReply *reply,
                      struct worker_addr *out)
{
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3) {
        snprintf(r->errstr, sizeof(r->errstr), "unexpected address reply");
        return -1;
    }
    copy_str(out->id, sizeof(out->id), reply->element[0]);
    copy_str(out->host, sizeof(out->host), reply->element[1]);
    out->port = (int)reply_ll(reply->element[2]);
    return 0;
}

/* Runs a script that answers an address or nil.  Returns 1, 0 or -1. */
static int store_addr_call(struct rconn *r, enum store_script idx,
                           const char *src, int argc, const char **argv,
                           struct worker_addr *out)
{
    redisReply *reply = store_run(r, idx, src, argc, argv);
    int rc;

    if (reply == NULL)
        return -1;
    if (reply->type == REDIS_REPLY_NIL)
        rc = 0;
    else
        rc = store_addr(r, reply, out) < 0 ? -1 : 1;
    freeReplyObject(reply);
    return rc;
}

/* Runs a script that answers a prior state or nil.  Returns 1, 0 or -1. */
static int store_state_call(struct rconn *r, enum store_script idx,
                            const char *src, int argc, const char **argv,
                            enum worker_state *prior)
{
    redisReply *reply = store_run(r, idx, src, argc, argv);
    enum worker_state st = WORKER_DEAD;
    int rc = 0;

    if (reply == NULL)
        return -1;
    if (reply->type == REDIS_REPLY_STRING) {
        rc = 1;
        if (worker_state_parse(reply->str, &st) < 0)
            st = WORKER_DEAD;
    }
    freeReplyObject(reply);
    if (prior != NULL)
        *prior = st;
    return rc;
}

int store_worker_add(struct rconn *r, const char *prefix, const char *node,
                     const char *host, int port, long pid,
                     unsigned long long pstart, long restarts, long id_floor,
                     char *id_out)
{
    char sport[16], spid[24], sstart[24], srest[24], sfloor[24];
    const char *argv[] = {prefix, node,   host,  sport,
                          spid,   sstart, srest, sfloor};
    redisReply *reply;
    int rc = -1;

    snprintf(sport, sizeof(sport), "%d", port);
    snprintf(spid, sizeof(spid), "%ld", pid);
    snprintf(sstart, sizeof(sstart), "%llu", pstart);
    snprintf(srest, sizeof(srest), "%ld", restarts);
    snprintf(sfloor, sizeof(sfloor), "%ld", id_floor > 0 ? id_floor : 0);
    reply = store_run(r, SCRIPT_WORKER_ADD, lua_worker_add, 8, argv);
    if (reply == NULL)
        return -1;
    if (reply->type == REDIS_REPLY_STRING && reply->len < WORKER_ID_MAX) {
        copy_str(id_out, WORKER_ID_MAX, reply);
        rc = 0;
    } else {
        snprintf(r->errstr, sizeof(r->errstr), "unexpected worker id reply");
    }
    freeReplyObject(reply);
    return rc;
}

int store_worker_ready(struct rconn *r, const char *prefix, const char *id)
{
    const char *argv[] = {prefix, id};

    return (int)store_int(
        r, store_run(r, SCRIPT_WORKER_READY, lua_worker_ready, 2, argv));
}

int store_claim(struct rconn *r, const char *prefix, struct worker_addr *out)
{
    const char *argv[] = {prefix};

    return store_addr_call(r, SCRIPT_CLAIM, lua_claim, 1, argv, out);
}

int store_bind(struct rconn *r, const char *prefix, const char *id,
               const char *sid, long ttl_ms, long lifetime_ms)
{
    char sttl[24], slife[24];
    const char *argv[] = {prefix, id, sid, sttl, slife};

    snprintf(sttl, sizeof(sttl), "%ld", ttl_ms);
    snprintf(slife, sizeof(slife), "%ld", lifetime_ms);
    return (int)store_int(r, store_run(r, SCRIPT_BIND, lua_bind, 5, argv));
}

int store_unclaim(struct rconn *r, const char *prefix, const char *id)
{
    const char *argv[] = {prefix, id};

    return (int)store_int(r,
                          store_run(r, SCRIPT_UNCLAIM, lua_unclaim, 2, argv));
}

int store_touch(struct rconn *r, const char *prefix, const char *sid,
                long ttl_ms, struct worker_addr *out)
{
    char sttl[24];
    const char *argv[] = {prefix, sid, sttl};

    snprintf(sttl, sizeof(sttl), "%ld", ttl_ms);
    return store_addr_call(r, SCRIPT_TOUCH, lua_touch, 3, argv, out);
}

int store_end(struct rconn *r, const char *prefix, const char *sid,
              struct worker_addr *out)
{
    const char *argv[] = {prefix, sid};
    redisReply *reply = store_run(r, SCRIPT_END, lua_end, 2, argv);
    int rc;

    if (reply == NULL)
        return -1;
    if (reply->type == REDIS_REPLY_NIL)
        rc = 0;
    else if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 0)
        rc = STORE_END_NO_WORKER;
    else
        rc = store_addr(r, reply, out) < 0 ? -1 : 1;
    freeReplyObject(reply);
    return rc;
}

int store_expire(struct rconn *r, const char *prefix, const char *id,
                 const char *sid)
{
    const char *argv[] = {prefix, id, sid};

    return (int)store_int(r, store_run(r, SCRIPT_EXPIRE, lua_expire, 3, argv));
}

int store_released(struct rconn *r, const char *prefix, const char *id)
{
    const char *argv[] = {prefix, id};

    return (int)store_int(
        r, store_run(r, SCRIPT_RELEASED, lua_released, 2, argv));
}

int store_mark_dead(struct rconn *r, const char *prefix, const char *id,
                    const char *reason, enum worker_state *prior)
{
    const char *argv[] = {prefix, id, reason};

    return store_state_call(r, SCRIPT_MARK_DEAD, lua_mark_dead, 3, argv,
                            prior);
}

int store_mark_dead_of(struct rconn *r, const char *prefix, const char *id,
                       const char *node, long pid, const char *reason,
                       enum worker_state *prior)
{
    char spid[24];
    const char *argv[] = {prefix, id, reason, node, spid};

    snprintf(spid, sizeof(spid), "%ld", pid > 0 ? pid : 0);
    return store_state_call(r, SCRIPT_MARK_DEAD, lua_mark_dead, 5, argv,
                            prior);
}

int store_worker_gone(struct rconn *r, const char *prefix, const char *id,
                      const char *node, long pid, const char *reason,
                      enum worker_state *prior)
{
    char spid[24];
    const char *argv[] = {prefix, id, node, spid, reason};

    snprintf(spid, sizeof(spid), "%ld", pid > 0 ? pid : 0);
    return store_state_call(r, SCRIPT_WORKER_GONE, lua_worker_gone, 5, argv,
                            prior);
}

long store_probe(struct rconn *r, const char *prefix, const char *id, int ok)
{
    const char *argv[] = {prefix, id, ok ? "1" : "0"};

    return store_int(r, store_run(r, SCRIPT_PROBE, lua_probe, 3, argv));
}

static void worker_rec_fill(struct worker_rec *w, const redisReply *a,
                            int64_t now)
{
    char st[16];

    memset(w, 0, sizeof(*w));
    copy_str(w->id, sizeof(w->id), a->element[0]);
    copy_str(w->node, sizeof(w->node), a->element[1]);
    copy_str(w->host, sizeof(w->host), a->element[2]);
    w->port = (int)reply_ll(a->element[3]);
    w->pid = (long)reply_ll(a->element[4]);
    w->pstart = (unsigned long long)reply_ll(a->element[5]);
    copy_str(st, sizeof(st), a->element[6]);
    if (worker_state_parse(st, &w->state) < 0)
        w->state = WORKER_DEAD;
    copy_str(w->session, sizeof(w->session), a->element[7]);
    w->since_ms = reply_ll(a->element[8]);
    w->started_ms = reply_ll(a->element[9]);
    w->restarts = (long)reply_ll(a->element[10]);
    w->fails = (long)reply_ll(a->element[11]);
    w->session_alive = reply_ll(a->element[12]) == 1;
    w->now_ms = now;
}

int store_workers(struct rconn *r, const char *prefix, const char *node,
                  struct worker_rec **out, size_t *n)
{
    const char *argv[] = {prefix, node ? node : ""};
    redisReply *reply;
    struct worker_rec *recs = NULL;
    size_t i, count = 0;
    int64_t now;

    *out = NULL;
    *n = 0;
    reply = store_run(r, SCRIPT_WORKERS, lua_workers, 2, argv);
    if (reply == NULL)
        return -1;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1) {
        snprintf(r->errstr, sizeof(r->errstr), "unexpected workers reply");
        freeReplyObject(reply);
        return -1;
    }
    now = reply_ll(reply->element[0]);
    if (reply->elements > 1) {
        recs = calloc(reply->elements - 1, sizeof(*recs));
        if (recs == NULL) {
            snprintf(r->errstr, sizeof(r->errstr), "out of memory");
            freeReplyObject(reply);
            return -1;
        }
    }
    for (i = 1; i < reply->elements; i++) {
        const redisReply *a = reply->element[i];

        if (a->type != REDIS_REPLY_ARRAY || a->elements != 13)
            continue;
        worker_rec_fill(&recs[count++], a, now);
    }
    freeReplyObject(reply);
    *out = recs;
    *n = count;
    return 0;
}

int store_counts(struct rconn *r, const char *prefix, const char *node,
                 long counts[WORKER_STATE_COUNT])
{
    const char *argv[] = {prefix, node ? node : ""};
    redisReply *reply;
    size_t i;

    memset(counts, 0, sizeof(long) * WORKER_STATE_COUNT);
    reply = store_run(r, SCRIPT_COUNTS, lua_counts, 2, argv);
    if (reply == NULL)
        return -1;
    if (reply->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(reply);
        snprintf(r->errstr, sizeof(r->errstr), "unexpected counts reply");
        return -1;
    }
    for (i = 0; i + 1 < reply->elements; i += 2) {
        enum worker_state st;
        char name[16];

        copy_str(name, sizeof(name), reply->element[i]);
        if (worker_state_parse(name, &st) == 0)
            counts[st] = (long)reply_ll(reply->element[i + 1]);
    }
    freeReplyObject(reply);
    return 0;
}

int store_wait_begin(struct rconn *r, const char *prefix, const char *token,
                     long wait_ms, long max)
{
    char sms[24], smax[24];
    const char *argv[] = {prefix, token, sms, smax};

    snprintf(sms, sizeof(sms), "%ld", wait_ms);
    snprintf(smax, sizeof(smax), "%ld", max);
    return (int)store_int(
        r, store_run(r, SCRIPT_WAIT_BEGIN, lua_wait_begin, 4, argv));
}

int store_wait_end(struct rconn *r, const char *prefix, const char *token)
{
    char key[KEY_MAX];
    redisReply *reply;

    if (key_build(key, sizeof(key), KEY_WAITERS, prefix, NULL) < 0)
        return -1;
    reply = rconn_commandf(r, "ZREM %s %s", key, token);
    if (reply == NULL)
        return -1;
    freeReplyObject(reply);
    return 0;
}

long store_waiting(struct rconn *r, const char *prefix)
{
    const char *argv[] = {prefix};

    return store_int(r, store_run(r, SCRIPT_WAITING, lua_waiting, 1, argv));
}

int store_count(struct rconn *r, const char *prefix, const char *field,
                long n)
{
    char key[KEY_MAX];
    redisReply *reply;

    if (key_build(key, sizeof(key), KEY_STATS, prefix, NULL) < 0)
        return -1;
    reply = rconn_commandf(r, "HINCRBY %s %s %ld", key, field, n);
    if (reply == NULL)
        return -1;
    freeReplyObject(reply);
    return 0;
}

int store_lock(struct rconn *r, const char *prefix, const char *name,
               const char *token, long ttl_ms)
{
    char key[KEY_MAX];
    redisReply *reply;
    int rc;

    if (key_build(key, sizeof(key), KEY_LOCK, prefix, name) < 0)
        return -1;
    reply = rconn_commandf(r, "SET %s %s NX PX %ld", key, token, ttl_ms);
    if (reply == NULL)
        return -1;
    rc = reply->type == REDIS_REPLY_STATUS ? 1 : 0;
    freeReplyObject(reply);
    return rc;
}

int store_unlock(struct rconn *r, const char *prefix, const char *name,
                 const char *token)
{
    const char *argv[] = {prefix, name, token};

    return (int)store_int(r, store_run(r, SCRIPT_UNLOCK, lua_unlock, 3, argv));
}

int store_idem_begin(struct rconn *r, const char *prefix, const char *key,
                     const char *fp, long pending_ms, struct buf *body,
                     long *status)
{
    char sms[24];
    const char *argv[] = {prefix, key, fp, sms};
    redisReply *reply;
    int rc = -1;

    snprintf(sms, sizeof(sms), "%ld", pending_ms);
    reply = store_run(r, SCRIPT_IDEM_BEGIN, lua_idem_begin, 4, argv);
    if (reply == NULL)
        return -1;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 ||
        reply->element[0]->type != REDIS_REPLY_STRING) {
        snprintf(r->errstr, sizeof(r->errstr), "unexpected idem reply");
    } else if (strcmp(reply->element[0]->str, "go") == 0) {
        rc = STORE_IDEM_GO;
    } else if (strcmp(reply->element[0]->str, "pending") == 0) {
        rc = STORE_IDEM_PENDING;
    } else if (strcmp(reply->element[0]->str, "conflict") == 0) {
        rc = STORE_IDEM_CONFLICT;
    } else if (reply->elements == 3 &&
               reply->element[2]->type == REDIS_REPLY_STRING) {
        *status = (long)reply_ll(reply->element[1]);
        buf_reset(body);
        rc = buf_append(body, reply->element[2]->str,
                        reply->element[2]->len) < 0
                 ? -1
                 : STORE_IDEM_DONE;
        if (rc < 0)
            snprintf(r->errstr, sizeof(r->errstr), "stored answer too big");
    }
    freeReplyObject(reply);
    return rc;
}

int store_idem_finish(struct rconn *r, const char *prefix, const char *key,
                      const char *fp, long status, const char *body,
                      size_t len, long ttl_ms)
{
    char sstatus[16], sttl[24];
    const char *argv[] = {prefix, key, fp, sstatus, body, sttl};
    size_t lens[6];
    int i;

    snprintf(sstatus, sizeof(sstatus), "%ld", status);
    snprintf(sttl, sizeof(sttl), "%ld", ttl_ms);
    for (i = 0; i < 6; i++)
        lens[i] = strlen(argv[i]);
    lens[4] = len;
    return (int)store_int(r, rconn_evalv(r, SCRIPT_IDEM_FINISH,
                                         lua_idem_finish, 6, argv, lens));
}

int store_idem_abort(struct rconn *r, const char *prefix, const char *key,
                     const char *fp)
{
    const char *argv[] = {prefix, key, fp};

    return (int)store_int(
        r, store_run(r, SCRIPT_IDEM_ABORT, lua_idem_abort, 3, argv));
}

int store_stats_add(struct rconn *r, const char *prefix, const char *packed)
{
    const char *argv[] = {prefix, packed};

    return store_int(r, store_run(r, SCRIPT_STATS_ADD, lua_stats_add, 2,
                                  argv)) < 0
               ? -1
               : 0;
}

int store_session_list(struct rconn *r, const char *prefix, long offset,
                       long limit, struct session_rec **out, size_t *n,
                       long *total)
{
    char soff[24], slim[24];
    const char *argv[] = {prefix, soff, slim};
    struct session_rec *recs = NULL;
    redisReply *reply;
    size_t i, count = 0;

    *out = NULL;
    *n = 0;
    snprintf(soff, sizeof(soff), "%ld", offset);
    snprintf(slim, sizeof(slim), "%ld", limit);
    reply = store_run(r, SCRIPT_SESSION_LIST, lua_session_list, 3, argv);
    if (reply == NULL)
        return -1;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1) {
        snprintf(r->errstr, sizeof(r->errstr), "unexpected list reply");
        freeReplyObject(reply);
        return -1;
    }
    *total = (long)reply_ll(reply->element[0]);
    if (reply->elements > 1) {
        recs = calloc((reply->elements - 1) / 5 + 1, sizeof(*recs));
        if (recs == NULL) {
            snprintf(r->errstr, sizeof(r->errstr), "out of memory");
            freeReplyObject(reply);
            return -1;
        }
    }
    for (i = 1; i + 4 < reply->elements; i += 5) {
        struct session_rec *s = &recs[count++];

        copy_str(s->id, sizeof(s->id), reply->element[i]);
        copy_str(s->worker, sizeof(s->worker), reply->element[i + 1]);
        s->created_ms = reply_ll(reply->element[i + 2]);
        s->last_ms = reply_ll(reply->element[i + 3]);
        s->ttl_ms = reply_ll(reply->element[i + 4]);
    }
    freeReplyObject(reply);
    *out = recs;
    *n = count;
    return 0;
}

int store_hold(struct rconn *r, const char *prefix, const char *id,
               enum worker_state from, int64_t since_ms)
{
    char ssince[24];
    const char *argv[] = {prefix, id, worker_state_name(from), ssince};

    snprintf(ssince, sizeof(ssince), "%lld", (long long)since_ms);
    return (int)store_int(r, store_run(r, SCRIPT_HOLD, lua_hold, 4, argv));
}

int store_mark_dead_if(struct rconn *r, const char *prefix, const char *id,
                       enum worker_state state, const char *session,
                       int64_t since_ms, const char *reason,
                       enum worker_state *prior)
{
    char ssince[24] = "";
    const char *argv[] = {prefix, id,     worker_state_name(state),
                          session, ssince, reason};

    if (since_ms >= 0)
        snprintf(ssince, sizeof(ssince), "%lld", (long long)since_ms);
    return store_state_call(r, SCRIPT_MARK_DEAD_IF, lua_mark_dead_if, 6,
                            argv, prior);
}

long store_prune_sessions(struct rconn *r, const char *prefix, long age_ms,
                          long limit)
{
    char sage[24], slimit[24];
    const char *argv[] = {prefix, sage, slimit};

    snprintf(sage, sizeof(sage), "%ld", age_ms);
    snprintf(slimit, sizeof(slimit), "%ld", limit);
    return store_int(r, store_run(r, SCRIPT_PRUNE_SESSIONS,
                                  lua_prune_sessions, 3, argv));
}

int store_retire(struct rconn *r, const char *prefix, const char *id,
                 const char *reason)
{
    const char *argv[] = {prefix, id, reason};

    return (int)store_int(r, store_run(r, SCRIPT_RETIRE, lua_retire, 3, argv));
}

int store_pool_view(struct rconn *r, const char *prefix, const char *node,
                    struct pool_view *v)
{
    const char *argv[] = {prefix, node};
    redisReply *reply;
    size_t i, count = 0;

    memset(v, 0, sizeof(*v));
    reply = store_run(r, SCRIPT_POOL_VIEW, lua_pool_view, 2, argv);
    if (reply == NULL)
        return -1;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 2) {
        snprintf(r->errstr, sizeof(r->errstr), "unexpected pool view reply");
        freeReplyObject(reply);
        return -1;
    }
    v->now_ms = reply_ll(reply->element[0]);
    v->waiting = (long)reply_ll(reply->element[1]);
    if (reply->elements > 2) {
        v->entries = calloc((reply->elements - 2) / 4 + 1,
                            sizeof(*v->entries));
        if (v->entries == NULL) {
            snprintf(r->errstr, sizeof(r->errstr), "out of memory");
            freeReplyObject(reply);
            return -1;
        }
    }
    for (i = 2; i + 3 < reply->elements; i += 4) {
        struct pool_entry *e = &v->entries[count++];
        char st[16];

        copy_str(e->id, sizeof(e->id), reply->element[i]);
        copy_str(st, sizeof(st), reply->element[i + 1]);
        if (worker_state_parse(st, &e->state) < 0)
            e->state = WORKER_DEAD;
        e->since_ms = reply_ll(reply->element[i + 2]);
        copy_str(e->reason, sizeof(e->reason), reply->element[i + 3]);
    }
    v->n = count;
    freeReplyObject(reply);
    return 0;
}

void store_pool_view_release(struct pool_view *v)
{
    free(v->entries);
    v->entries = NULL;
    v->n = 0;
}

int store_pool_report(struct rconn *r, const char *prefix, const char *node,
                      const char *state, const char *reason, int nfields,
                      const char **fields)
{
    const char *argv[20];
    int i;

    if (nfields < 0 || nfields % 2 != 0 || 4 + nfields > 20) {
        snprintf(r->errstr, sizeof(r->errstr), "store_pool_report: bad "
                 "arguments");
        return -1;
    }
    argv[0] = prefix;
    argv[1] = node;
    argv[2] = state;
    argv[3] = reason;
    for (i = 0; i < nfields; i++)
        argv[4 + i] = fields[i];
    return store_int(r, store_run(r, SCRIPT_POOL_REPORT, lua_pool_report,
                                  4 + nfields, argv)) < 0
               ? -1
               : 0;
}
