/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * store_workers.c - the life of a worker record: registered, ready,
 * claimed and given back, probed, held for cleaning, retired, declared
 * dead and removed (store.h has the state diagram).
 *
 * Invariants: a worker id is in P:idle only while its record is idle; a
 * worker that leaves idle by any path other than a claim is removed from
 * P:idle in the same script; a worker that dies drops its session key in
 * the same script only while that key still names it.  Every script
 * checks first and writes after, so it makes its whole change or none.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "store_core.h"

/* Takes worker id off P:idle and drops session sid when it still maps to
 * id, counting it as lost: what every end of a worker does first. */
#define LUA_DROP_WORK                                                          \
    "local function drop_work(id, sid)\n"                                      \
    "  redis.call('LREM', idle_key(), 0, id)\n"                                \
    "  if sid == nil or sid == false or sid == '' then return end\n"           \
    "  local sk = session_key(sid)\n"                                          \
    "  if redis.call('HGET', sk, 'worker') == id then\n"                       \
    "    redis.call('DEL', sk)\n"                                              \
    "    redis.call('HINCRBY', stats_key(), 'sessions_lost', 1)\n"             \
    "  end\n"                                                                  \
    "  redis.call('ZREM', sessions_key(), sid)\n"                              \
    "end\n"                                                                    \
    "local function make_dead(id, sid, reason)\n"                              \
    "  drop_work(id, sid)\n"                                                   \
    "  redis.call('HSET', worker_key(id), 'state', 'dead', 'session', '',\n"   \
    "    'since', nows, 'reason', reason)\n"                                   \
    "  worker_moved(id)\n"                                                     \
    "end\n"

/* ARGV: P node host port pid pstart restarts floor -> id.  The id is
 * above floor (the highest id the caller still holds; the counter is
 * raised past it when it went back, as after a loss of Redis's data) and
 * never one that has a record. */
static const struct store_script_def worker_add_script = {
    SCRIPT_WORKER_ADD, LUA_HEAD
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
    "node_moved(ARGV[2])\n"
    "redis.call('HINCRBY', stats_key(), 'worker_starts', 1)\n"
    "return id\n"};

/* ARGV: P id -> 1 | 0 */
static const struct store_script_def worker_ready_script = {
    SCRIPT_WORKER_READY, LUA_HEAD
    "local k = worker_key(ARGV[2])\n"
    "if redis.call('HGET', k, 'state') ~= 'starting' then return 0 end\n"
    "redis.call('HSET', k, 'state', 'idle', 'since', nows, 'fails', '0')\n"
    "worker_moved(ARGV[2])\n"
    "redis.call('RPUSH', idle_key(), ARGV[2])\n"
    "return 1\n"};

/* ARGV: P stale_ms [host...] -> {id, host, port} | nil.  Stale list
 * entries (a worker that left idle by another path) are dropped; idle
 * workers of a node whose heartbeat is older than stale_ms, that stopped
 * or that is draining (node_drain: its spawner retires them) are put back
 * at the tail, still idle (a node with no P:pool:<node> at all is not
 * judged).  A worker on one of the hosts given, or of a node marked
 * P:suspect, is shunned: the first such one is kept as the spare, handed
 * out only when no other is idle and no other live node that is not
 * shunned is registered (one that can start a worker for the create: a
 * single node is never left without workers).  The loop is bounded. */
static const struct store_script_def claim_script = {
    SCRIPT_CLAIM, LUA_HEAD
    "local stale = tonumber(ARGV[2])\n"
    "local avoid = {}\n"
    "for i = 3, #ARGV do avoid[ARGV[i]] = true end\n"
    "local live, shun, aside, got, spare = {}, {}, {}, false, false\n"
    "local function node_live(n)\n"
    "  if not n or n == '' then return true end\n"
    "  if live[n] == nil then\n"
    "    local h = redis.call('HMGET', pool_key(n), 'heartbeat', 'state')\n"
    "    live[n] = not h[1] or\n"
    "      (now - (tonumber(h[1]) or 0) <= stale and h[2] ~= 'stopped' and\n"
    "       h[2] ~= 'draining')\n"
    "  end\n"
    "  return live[n]\n"
    "end\n"
    "local function node_shunned(n)\n"
    "  if not n or n == '' then return false end\n"
    "  if shun[n] == nil then\n"
    "    shun[n] = redis.call('EXISTS', suspect_key(n)) == 1\n"
    "  end\n"
    "  return shun[n]\n"
    "end\n"
    "for i = 1, 1000 do\n"
    "  local id = redis.call('LPOP', idle_key())\n"
    "  if not id then break end\n"
    "  local w = redis.call('HMGET', worker_key(id), 'state', 'host', 'port',\n"
    "    'node')\n"
    "  if w[1] == 'idle' then\n"
    "    local n = w[4]\n"
    "    if node_live(n) and not avoid[w[2]] and not node_shunned(n) then\n"
    "      got = {id, w[2], w[3]}\n"
    "      break\n"
    "    end\n"
    "    if not spare and node_live(w[4]) then\n"
    "      spare = {id, w[2], w[3]}\n"
    "    else\n"
    "      aside[#aside + 1] = id\n"
    "    end\n"
    "  end\n"
    "end\n"
    "local function others()\n"
    "  local sn = redis.call('HGET', worker_key(spare[1]), 'node')\n"
    "  for _, n in ipairs(redis.call('SMEMBERS', nodes_key())) do\n"
    "    if n ~= sn and node_live(n) and not node_shunned(n) then\n"
    "      local h = redis.call('HGET', pool_key(n), 'worker_host')\n"
    "      if not h or not avoid[h] then return true end\n"
    "    end\n"
    "  end\n"
    "  return false\n"
    "end\n"
    "if not got and spare and not others() then\n"
    "  got = spare\n"
    "  spare = false\n"
    "end\n"
    "if spare then redis.call('RPUSH', idle_key(), spare[1]) end\n"
    "if #aside > 0 then redis.call('RPUSH', idle_key(), unpack(aside)) end\n"
    "if got then\n"
    "  redis.call('HSET', worker_key(got[1]), 'state', 'creating', 'since',\n"
    "    nows)\n"
    "  worker_moved(got[1])\n"
    "end\n"
    "return got\n"};

/* ARGV: P id ms -> 1 | 0 */
static const struct store_script_def suspect_script = {
    SCRIPT_SUSPECT, LUA_HEAD
    "local n = redis.call('HGET', worker_key(ARGV[2]), 'node')\n"
    "if not n or n == '' then return 0 end\n"
    "redis.call('SET', suspect_key(n), '1', 'PX', ARGV[3])\n"
    "return 1\n"};

/* ARGV: P id -> 1 | 0 */
static const struct store_script_def unclaim_script = {
    SCRIPT_UNCLAIM, LUA_HEAD
    "local k = worker_key(ARGV[2])\n"
    "if redis.call('HGET', k, 'state') ~= 'creating' then return 0 end\n"
    "redis.call('HSET', k, 'state', 'idle', 'since', nows, 'session', '')\n"
    "worker_moved(ARGV[2])\n"
    "redis.call('LPUSH', idle_key(), ARGV[2])\n"
    "return 1\n"};

/* ARGV: P id -> 1 | 0 */
static const struct store_script_def released_script = {
    SCRIPT_RELEASED, LUA_HEAD
    "local k = worker_key(ARGV[2])\n"
    "if redis.call('HGET', k, 'state') ~= 'releasing' then return 0 end\n"
    "redis.call('HSET', k, 'state', 'idle', 'session', '', 'since', nows,\n"
    "  'fails', '0')\n"
    "worker_moved(ARGV[2])\n"
    "redis.call('LREM', idle_key(), 0, ARGV[2])\n"
    "redis.call('RPUSH', idle_key(), ARGV[2])\n"
    "return 1\n"};

/* ARGV: P id ok -> failures */
static const struct store_script_def probe_script = {
    SCRIPT_PROBE,
    LUA_HEAD "local k = worker_key(ARGV[2])\n"
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
             "  worker_moved(ARGV[2])\n"
             "end\n"
             "return n\n"};

/* ARGV: P id from_state since -> 1 | 0.  idle or creating -> releasing,
 * only while the record is still in from_state entered at since. */
static const struct store_script_def hold_script = {
    SCRIPT_HOLD, LUA_HEAD
    "local id = ARGV[2]\n"
    "local w = redis.call('HMGET', worker_key(id), 'state', 'since')\n"
    "if w[1] ~= ARGV[3] or w[2] ~= ARGV[4] then return 0 end\n"
    "if w[1] ~= 'idle' and w[1] ~= 'creating' then return 0 end\n"
    "redis.call('LREM', idle_key(), 0, id)\n"
    "redis.call('HSET', worker_key(id), 'state', 'releasing', 'since', nows)\n"
    "worker_moved(id)\n"
    "return 1\n"};

/* ARGV: P id reason -> 1 | 0.  idle -> dead, only while still idle. */
static const struct store_script_def retire_script = {
    SCRIPT_RETIRE,
    LUA_HEAD "local k = worker_key(ARGV[2])\n"
             "if redis.call('HGET', k, 'state') ~= 'idle' then return 0 end\n"
             "redis.call('LREM', idle_key(), 0, ARGV[2])\n"
             "redis.call('HSET', k, 'state', 'dead', 'since', nows, 'reason',\n"
             "  ARGV[3])\n"
             "worker_moved(ARGV[2])\n"
             "return 1\n"};

/* ARGV: P id reason [node pid] -> prior state | nil.  With node, only a
 * record of that node; with a pid other than '' or '0', only a record of
 * that pid. */
static const struct store_script_def mark_dead_script = {
    SCRIPT_MARK_DEAD, LUA_HEAD LUA_DROP_WORK
    "local id = ARGV[2]\n"
    "local w = redis.call('HMGET', worker_key(id), 'state', 'session',\n"
    "  'node', 'pid')\n"
    "if not w[1] or w[1] == 'dead' then return false end\n"
    "if ARGV[4] and ARGV[4] ~= '' and w[3] ~= ARGV[4] then return false end\n"
    "if ARGV[5] and ARGV[5] ~= '' and ARGV[5] ~= '0' and w[4] ~= ARGV[5] then\n"
    "  return false\n"
    "end\n"
    "make_dead(id, w[2], ARGV[3])\n"
    "return w[1]\n"};

/* ARGV: P id state session since|'' reason -> prior state | nil.  Like
 * mark_dead_script, only while the record still matches what the caller
 * saw. */
static const struct store_script_def mark_dead_if_script = {
    SCRIPT_MARK_DEAD_IF, LUA_HEAD LUA_DROP_WORK
    "local id = ARGV[2]\n"
    "local w = redis.call('HMGET', worker_key(id), 'state', 'session',\n"
    "  'since')\n"
    "if not w[1] or w[1] == 'dead' or w[1] ~= ARGV[3] then return false end\n"
    "if (w[2] or '') ~= ARGV[4] then return false end\n"
    "if ARGV[5] ~= '' and w[3] ~= ARGV[5] then return false end\n"
    "make_dead(id, w[2], ARGV[6])\n"
    "return w[1]\n"};

/* ARGV: P id reason node pid -> prior state | nil.  Only a record of node
 * and, unless pid is '' or '0', of pid: after the id counter went back,
 * another worker may carry the id. */
static const struct store_script_def worker_gone_script = {
    SCRIPT_WORKER_GONE, LUA_HEAD LUA_DROP_WORK
    "local id = ARGV[2]\n"
    "local w = redis.call('HMGET', worker_key(id), 'state', 'session',\n"
    "  'node', 'pid', 'served')\n"
    "if not w[1] then\n"
    "  redis.call('SREM', workers_key(), id)\n"
    "  redis.call('SREM', node_key(ARGV[4]), id)\n"
    "  return false\n"
    "end\n"
    "if w[3] ~= ARGV[4] then return false end\n"
    "if ARGV[5] ~= '' and ARGV[5] ~= '0' and w[4] ~= ARGV[5] then\n"
    "  return false\n"
    "end\n"
    "drop_work(id, w[2])\n"
    "node_moved(w[3])\n"
    "redis.call('DEL', worker_key(id))\n"
    "redis.call('SREM', workers_key(), id)\n"
    "if w[3] then redis.call('SREM', node_key(w[3]), id) end\n"
    "return {w[1], w[5] or '0'}\n"};

int store_worker_add(struct store *s, const char *node, const char *host,
                     int port, long pid, unsigned long long pstart,
                     long restarts, long id_floor, char *id_out)
{
    char sport[16], spid[24], sstart[24], srest[24], sfloor[24];
    const char *argv[] = {node, host, sport, spid, sstart, srest, sfloor};
    redisReply *reply;
    int rc = -1;

    snprintf(sport, sizeof(sport), "%d", port);
    snprintf(spid, sizeof(spid), "%ld", pid);
    snprintf(sstart, sizeof(sstart), "%llu", pstart);
    snprintf(srest, sizeof(srest), "%ld", restarts);
    snprintf(sfloor, sizeof(sfloor), "%ld", id_floor > 0 ? id_floor : 0);
    reply = store_run(s, &worker_add_script, 7, argv, NULL);
    if (reply == NULL)
        return -1;
    if (reply->type == REDIS_REPLY_STRING && reply->len < WORKER_ID_MAX) {
        reply_str(id_out, WORKER_ID_MAX, reply);
        rc = 0;
    } else {
        store_fail(s, STORE_ERR_PROTOCOL, "unexpected worker id reply");
    }
    freeReplyObject(reply);
    return rc;
}

int store_worker_ready(struct store *s, const char *id)
{
    return (int)store_run_int(s, &worker_ready_script, 1, &id);
}

int store_claim(struct store *s, struct worker_addr *out)
{
    return store_claim_from(s, NULL, 0, out);
}

int store_claim_from(struct store *s, const char *const *avoid, int navoid,
                     struct worker_addr *out)
{
    char stale[24];
    const char *argv[1 + STORE_CLAIM_AVOID_MAX];
    int i;

    if (navoid > STORE_CLAIM_AVOID_MAX)
        navoid = STORE_CLAIM_AVOID_MAX;
    snprintf(stale, sizeof(stale), "%ld", s->node_stale_ms);
    argv[0] = stale;
    for (i = 0; i < navoid; i++)
        argv[1 + i] = avoid[i];
    return store_run_addr(s, &claim_script, 1 + navoid, argv, out);
}

int store_node_suspect(struct store *s, const char *id, long ms)
{
    char msbuf[24];
    const char *argv[] = {id, msbuf};

    snprintf(msbuf, sizeof(msbuf), "%ld", ms);
    return (int)store_run_int(s, &suspect_script, 2, argv);
}

int store_unclaim(struct store *s, const char *id)
{
    return (int)store_run_int(s, &unclaim_script, 1, &id);
}

int store_released(struct store *s, const char *id)
{
    return (int)store_run_int(s, &released_script, 1, &id);
}

long store_probe(struct store *s, const char *id, int ok)
{
    const char *argv[] = {id, ok ? "1" : "0"};

    return store_run_int(s, &probe_script, 2, argv);
}

int store_hold(struct store *s, const char *id, enum worker_state from,
               int64_t since_ms)
{
    char ssince[24];
    const char *argv[] = {id, worker_state_name(from), ssince};

    snprintf(ssince, sizeof(ssince), "%lld", (long long)since_ms);
    return (int)store_run_int(s, &hold_script, 3, argv);
}

int store_retire(struct store *s, const char *id, const char *reason)
{
    const char *argv[] = {id, reason};

    return (int)store_run_int(s, &retire_script, 2, argv);
}

int store_mark_dead(struct store *s, const char *id, const char *reason,
                    enum worker_state *prior)
{
    const char *argv[] = {id, reason};

    return store_run_state(s, &mark_dead_script, 2, argv, prior);
}

/* Runs script, which ends worker id only while it is node's and, when pid
 * > 0, pid's, with ARGV id reason node pid.  Returns like store_run_state. */
static int end_owned(struct store *s, const struct store_script_def *script,
                     const char *id, const char *node, long pid,
                     const char *reason, enum worker_state *prior)
{
    char spid[24];
    const char *argv[] = {id, reason, node, spid};

    snprintf(spid, sizeof(spid), "%ld", pid > 0 ? pid : 0);
    return store_run_state(s, script, 4, argv, prior);
}

int store_mark_dead_of(struct store *s, const char *id, const char *node,
                       long pid, const char *reason, enum worker_state *prior)
{
    return end_owned(s, &mark_dead_script, id, node, pid, reason, prior);
}

int store_mark_dead_if(struct store *s, const char *id, enum worker_state state,
                       const char *session, int64_t since_ms,
                       const char *reason, enum worker_state *prior)
{
    char ssince[24] = "";
    const char *argv[] = {id, worker_state_name(state), session, ssince,
                          reason};

    if (since_ms >= 0)
        snprintf(ssince, sizeof(ssince), "%lld", (long long)since_ms);
    return store_run_state(s, &mark_dead_if_script, 5, argv, prior);
}

int store_worker_gone(struct store *s, const char *id, const char *node,
                      long pid, const char *reason, enum worker_state *prior,
                      int *served)
{
    char spid[24];
    const char *argv[] = {id, reason, node, spid};
    redisReply *reply;
    enum worker_state st = WORKER_DEAD;
    int rc = 0, sv = 0;

    snprintf(spid, sizeof(spid), "%ld", pid > 0 ? pid : 0);
    reply = store_run(s, &worker_gone_script, 4, argv, NULL);
    if (reply == NULL)
        return -1;
    if (reply->type == REDIS_REPLY_ARRAY) {
        if (reply->elements < 2 ||
            reply->element[0]->type != REDIS_REPLY_STRING) {
            store_fail(s, STORE_ERR_PROTOCOL, "unexpected worker_gone reply");
            freeReplyObject(reply);
            return -1;
        }
        rc = 1;
        st = reply_state(reply->element[0]);
        sv = reply->element[1]->type == REDIS_REPLY_STRING &&
             strcmp(reply->element[1]->str, "1") == 0;
    }
    freeReplyObject(reply);
    if (prior != NULL)
        *prior = st;
    if (served != NULL)
        *served = sv;
    return rc;
}
