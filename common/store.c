/*
 * store.c - the Lua scripts that change worker and session state (store.h).
 *
 * Each script takes the key prefix as ARGV[1] and builds key names exactly
 * as keys.h documents them.  Times come from the Redis server's clock
 * (TIME), so every host agrees on them.  A script either makes its whole
 * change or none of it: it checks first and writes after.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "store.h"

/* Shared head of every script: prefix, server clock in ms, key helpers. */
#define LUA_HEAD                                                               \
    "local P = ARGV[1]\n"                                                      \
    "local t = redis.call('TIME')\n"                                           \
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n" \
    "local nows = string.format('%d', now)\n"                                  \
    "local function wkey(id) return P .. ':worker:' .. id end\n"               \
    "local function skey(sid) return P .. ':session:' .. sid end\n"

/* Drops the session held by worker id if the session still maps to it.
 * Returns 1 when a session was dropped. */
#define LUA_DROP_SESSION                                                       \
    "local function drop_session(id, sid)\n"                                   \
    "  if sid == nil or sid == false or sid == '' then return 0 end\n"         \
    "  local sk = skey(sid)\n"                                                 \
    "  if redis.call('HGET', sk, 'worker') == id then\n"                       \
    "    redis.call('DEL', sk)\n"                                              \
    "    redis.call('ZREM', P .. ':sessions', sid)\n"                          \
    "    return 1\n"                                                           \
    "  end\n"                                                                  \
    "  redis.call('ZREM', P .. ':sessions', sid)\n"                            \
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
};

/* ARGV: P node host port pid pstart restarts -> id */
static const char lua_worker_add[] = LUA_HEAD
    "local id = tostring(redis.call('INCR', P .. ':seq:worker'))\n"
    "redis.call('HSET', wkey(id), 'id', id, 'node', ARGV[2],\n"
    "  'host', ARGV[3], 'port', ARGV[4], 'pid', ARGV[5], 'pstart', ARGV[6],\n"
    "  'state', 'starting', 'session', '', 'since', nows, 'started', nows,\n"
    "  'restarts', ARGV[7], 'fails', '0', 'reason', '')\n"
    "redis.call('SADD', P .. ':workers', id)\n"
    "redis.call('SADD', P .. ':node:' .. ARGV[2], id)\n"
    "redis.call('HINCRBY', P .. ':stats', 'worker_starts', 1)\n"
    "return id\n";

/* ARGV: P id -> 1 | 0 */
static const char lua_worker_ready[] = LUA_HEAD
    "local k = wkey(ARGV[2])\n"
    "if redis.call('HGET', k, 'state') ~= 'starting' then return 0 end\n"
    "redis.call('HSET', k, 'state', 'idle', 'since', nows, 'fails', '0')\n"
    "redis.call('RPUSH', P .. ':idle', ARGV[2])\n"
    "return 1\n";

/* ARGV: P -> {id, host, port} | nil.  Stale list entries (a worker that
 * left idle by another path) are skipped; the loop is bounded. */
static const char lua_claim[] = LUA_HEAD
    "for i = 1, 1000 do\n"
    "  local id = redis.call('LPOP', P .. ':idle')\n"
    "  if not id then return false end\n"
    "  local w = redis.call('HMGET', wkey(id), 'state', 'host', 'port')\n"
    "  if w[1] == 'idle' then\n"
    "    redis.call('HSET', wkey(id), 'state', 'creating', 'since', nows)\n"
    "    return {id, w[2], w[3]}\n"
    "  end\n"
    "end\n"
    "return false\n";

/* ARGV: P id sid ttl_ms lifetime_ms -> 1 | 0 | 2 */
static const char lua_bind[] = LUA_HEAD
    "local id, sid = ARGV[2], ARGV[3]\n"
    "local k = wkey(id)\n"
    "if redis.call('HGET', k, 'state') ~= 'creating' then return 0 end\n"
    "local sk = skey(sid)\n"
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
    "redis.call('ZADD', P .. ':sessions', now, sid)\n"
    "redis.call('HSET', k, 'state', 'busy', 'session', sid, 'since', nows)\n"
    "redis.call('HINCRBY', P .. ':stats', 'sessions_created', 1)\n"
    "return 1\n";

/* ARGV: P id -> 1 | 0 */
static const char lua_unclaim[] = LUA_HEAD
    "local k = wkey(ARGV[2])\n"
    "if redis.call('HGET', k, 'state') ~= 'creating' then return 0 end\n"
    "redis.call('HSET', k, 'state', 'idle', 'since', nows, 'session', '')\n"
    "redis.call('LPUSH', P .. ':idle', ARGV[2])\n"
    "return 1\n";

/* ARGV: P sid ttl_ms -> {id, host, port} | nil */
static const char lua_touch[] = LUA_HEAD
    "local sid = ARGV[2]\n"
    "local sk = skey(sid)\n"
    "local s = redis.call('HMGET', sk, 'worker', 'deadline')\n"
    "if not s[1] then return false end\n"
    "local w = redis.call('HMGET', wkey(s[1]), 'state', 'session', 'host',\n"
    "  'port')\n"
    "if w[1] ~= 'busy' or w[2] ~= sid then\n"
    "  redis.call('DEL', sk)\n"
    "  redis.call('ZREM', P .. ':sessions', sid)\n"
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
    "redis.call('ZADD', P .. ':sessions', now, sid)\n"
    "return {s[1], w[3], w[4]}\n";

/* ARGV: P sid -> {id, host, port} | {} | nil */
static const char lua_end[] = LUA_HEAD
    "local sid = ARGV[2]\n"
    "local sk = skey(sid)\n"
    "local id = redis.call('HGET', sk, 'worker')\n"
    "if not id then return false end\n"
    "redis.call('DEL', sk)\n"
    "redis.call('ZREM', P .. ':sessions', sid)\n"
    "redis.call('HINCRBY', P .. ':stats', 'sessions_deleted', 1)\n"
    "local w = redis.call('HMGET', wkey(id), 'state', 'session', 'host',\n"
    "  'port')\n"
    "if w[1] == 'busy' and w[2] == sid then\n"
    "  redis.call('HSET', wkey(id), 'state', 'releasing', 'since', nows)\n"
    "  return {id, w[3], w[4]}\n"
    "end\n"
    "return {}\n";

/* ARGV: P id sid -> 1 | 0 */
static const char lua_expire[] = LUA_HEAD
    "local id, sid = ARGV[2], ARGV[3]\n"
    "local w = redis.call('HMGET', wkey(id), 'state', 'session')\n"
    "if w[1] ~= 'busy' or w[2] ~= sid then return 0 end\n"
    "if redis.call('EXISTS', skey(sid)) == 1 then return 0 end\n"
    "redis.call('ZREM', P .. ':sessions', sid)\n"
    "redis.call('HSET', wkey(id), 'state', 'releasing', 'since', nows)\n"
    "redis.call('HINCRBY', P .. ':stats', 'sessions_expired', 1)\n"
    "return 1\n";

/* ARGV: P id -> 1 | 0 */
static const char lua_released[] = LUA_HEAD
    "local k = wkey(ARGV[2])\n"
    "if redis.call('HGET', k, 'state') ~= 'releasing' then return 0 end\n"
    "redis.call('HSET', k, 'state', 'idle', 'session', '', 'since', nows,\n"
    "  'fails', '0')\n"
    "redis.call('LREM', P .. ':idle', 0, ARGV[2])\n"
    "redis.call('RPUSH', P .. ':idle', ARGV[2])\n"
    "return 1\n";

/* ARGV: P id reason -> prior state | nil */
static const char lua_mark_dead[] = LUA_HEAD LUA_DROP_SESSION
    "local id = ARGV[2]\n"
    "local w = redis.call('HMGET', wkey(id), 'state', 'session')\n"
    "if not w[1] or w[1] == 'dead' then return false end\n"
    "redis.call('LREM', P .. ':idle', 0, id)\n"
    "if drop_session(id, w[2]) == 1 then\n"
    "  redis.call('HINCRBY', P .. ':stats', 'sessions_lost', 1)\n"
    "end\n"
    "redis.call('HSET', wkey(id), 'state', 'dead', 'session', '',\n"
    "  'since', nows, 'reason', ARGV[3])\n"
    "return w[1]\n";

/* ARGV: P id reason -> prior state | nil */
static const char lua_worker_gone[] = LUA_HEAD LUA_DROP_SESSION
    "local id = ARGV[2]\n"
    "local w = redis.call('HMGET', wkey(id), 'state', 'session', 'node')\n"
    "if not w[1] then\n"
    "  redis.call('SREM', P .. ':workers', id)\n"
    "  return false\n"
    "end\n"
    "redis.call('LREM', P .. ':idle', 0, id)\n"
    "if drop_session(id, w[2]) == 1 then\n"
    "  redis.call('HINCRBY', P .. ':stats', 'sessions_lost', 1)\n"
    "end\n"
    "redis.call('DEL', wkey(id))\n"
    "redis.call('SREM', P .. ':workers', id)\n"
    "if w[3] then redis.call('SREM', P .. ':node:' .. w[3], id) end\n"
    "return w[1]\n";

/* ARGV: P id ok -> failures */
static const char lua_probe[] = LUA_HEAD
    "local k = wkey(ARGV[2])\n"
    "local st = redis.call('HGET', k, 'state')\n"
    "if not st then return 0 end\n"
    "if ARGV[3] == '1' then\n"
    "  redis.call('HSET', k, 'fails', '0')\n"
    "  return 0\n"
    "end\n"
    "local n = redis.call('HINCRBY', k, 'fails', 1)\n"
    "if st == 'idle' then\n"
    "  redis.call('LREM', P .. ':idle', 0, ARGV[2])\n"
    "  redis.call('HSET', k, 'state', 'releasing', 'since', nows)\n"
    "end\n"
    "return n\n";

/* ARGV: P node|'' -> {now, {fields...}, ...}; records whose hash is gone
 * are dropped from the sets. */
static const char lua_workers[] = LUA_HEAD
    "local set = P .. ':workers'\n"
    "if ARGV[2] ~= '' then set = P .. ':node:' .. ARGV[2] end\n"
    "local out = {nows}\n"
    "for _, id in ipairs(redis.call('SMEMBERS', set)) do\n"
    "  local w = redis.call('HMGET', wkey(id), 'id', 'node', 'host', 'port',\n"
    "    'pid', 'pstart', 'state', 'session', 'since', 'started',\n"
    "    'restarts', 'fails')\n"
    "  if not w[7] then\n"
    "    redis.call('SREM', set, id)\n"
    "  else\n"
    "    local alive = '0'\n"
    "    if w[8] and w[8] ~= '' and\n"
    "       redis.call('EXISTS', skey(w[8])) == 1 then alive = '1' end\n"
    "    w[13] = alive\n"
    "    for i = 1, 12 do if not w[i] then w[i] = '' end end\n"
    "    out[#out + 1] = w\n"
    "  end\n"
    "end\n"
    "return out\n";

/* ARGV: P node|'' -> {state, count, ...} */
static const char lua_counts[] = LUA_HEAD
    "local set = P .. ':workers'\n"
    "if ARGV[2] ~= '' then set = P .. ':node:' .. ARGV[2] end\n"
    "local c = {}\n"
    "for _, id in ipairs(redis.call('SMEMBERS', set)) do\n"
    "  local st = redis.call('HGET', wkey(id), 'state')\n"
    "  if st then c[st] = (c[st] or 0) + 1 end\n"
    "end\n"
    "local out = {}\n"
    "for k, v in pairs(c) do out[#out + 1] = k; out[#out + 1] = v end\n"
    "return out\n";

/* ARGV: P token wait_ms -> 1 */
static const char lua_wait_begin[] = LUA_HEAD
    "redis.call('ZADD', P .. ':waiters', now + tonumber(ARGV[3]), ARGV[2])\n"
    "return 1\n";

/* ARGV: P -> count */
static const char lua_waiting[] = LUA_HEAD
    "redis.call('ZREMRANGEBYSCORE', P .. ':waiters', '-inf', now)\n"
    "return redis.call('ZCARD', P .. ':waiters')\n";

/* ARGV: P name token -> 1 | 0 */
static const char lua_unlock[] = LUA_HEAD
    "local k = P .. ':lock:' .. ARGV[2]\n"
    "if redis.call('GET', k) == ARGV[3] then\n"
    "  return redis.call('DEL', k)\n"
    "end\n"
    "return 0\n";

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
                     unsigned long long pstart, long restarts, char *id_out)
{
    char sport[16], spid[24], sstart[24], srest[24];
    const char *argv[] = {prefix, node, host, sport, spid, sstart, srest};
    redisReply *reply;
    int rc = -1;

    snprintf(sport, sizeof(sport), "%d", port);
    snprintf(spid, sizeof(spid), "%ld", pid);
    snprintf(sstart, sizeof(sstart), "%llu", pstart);
    snprintf(srest, sizeof(srest), "%ld", restarts);
    reply = store_run(r, SCRIPT_WORKER_ADD, lua_worker_add, 7, argv);
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

int store_worker_gone(struct rconn *r, const char *prefix, const char *id,
                      const char *reason, enum worker_state *prior)
{
    const char *argv[] = {prefix, id, reason};

    return store_state_call(r, SCRIPT_WORKER_GONE, lua_worker_gone, 3, argv,
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
                     long wait_ms)
{
    char sms[24];
    const char *argv[] = {prefix, token, sms};

    snprintf(sms, sizeof(sms), "%ld", wait_ms);
    return store_int(r, store_run(r, SCRIPT_WAIT_BEGIN, lua_wait_begin, 3,
                                  argv)) < 0
               ? -1
               : 0;
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
