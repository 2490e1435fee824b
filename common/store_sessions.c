/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * store_sessions.c - sessions: bound to the worker that created them,
 * touched by every request, ended by DELETE or by their key expiring, and
 * their index P:sessions kept from growing.
 *
 * Invariants: P:session:<sid> exists only while the worker it names is
 * busy with sid (a request that finds it otherwise removes it); its
 * PEXPIRE is the time left, never beyond its lifetime deadline; a key that
 * expired is never revived (touch needs it, expire needs it gone).
 */
#include "config.h"

#include <stdio.h>

#include "store_core.h"

/* ARGV: P id sid ttl_ms lifetime_ms -> 1 | 0 | 2 */
static const struct store_script_def bind_script = {
    SCRIPT_BIND, LUA_HEAD
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
    "redis.call('HSET', k, 'state', 'busy', 'session', sid, 'since', nows,\n"
    "  'served', '1')\n"
    "worker_moved(id)\n"
    "redis.call('HINCRBY', stats_key(), 'sessions_created', 1)\n"
    "return 1\n"};

/* A touch renews the expiry every time, but writes the session's last
 * activity (its 'last' field and its score in P:sessions) at most once in
 * this many ms: a session read over and over costs one write a second,
 * not two per read.  The TTL stays exact; 'last' is late by under a
 * second. */
#define LAST_EVERY_MS "1000"

/* ARGV: P sid ttl_ms -> {id, host, port} | nil */
static const struct store_script_def touch_script = {
    SCRIPT_TOUCH, LUA_HEAD
    "local sid = ARGV[2]\n"
    "local sk = session_key(sid)\n"
    "local s = redis.call('HMGET', sk, 'worker', 'deadline', 'last')\n"
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
    "local prev = redis.call('PTTL', sk)\n"
    "redis.call('PEXPIRE', sk, ttl)\n"
    "if now - (tonumber(s[3] or '0') or 0) >= " LAST_EVERY_MS " then\n"
    "  redis.call('HSET', sk, 'last', nows)\n"
    "  redis.call('ZADD', sessions_key(), now, sid)\n"
    "end\n"
    "return {s[1], w[3], w[4], ttl, prev, now}\n"};

/* ARGV: P sid ttl_ms prev_ms at_ms -> 1 | 0.  The key's expiry is at_ms +
 * ttl_ms while no later touch moved it: only then is it set back to what
 * was left of prev_ms.  "Is" allows 2 ms, since a script's TIME and the
 * clock its expiries use may be a millisecond apart; a touch by another
 * request within those 2 ms is taken back too (it would have added as
 * good as nothing).  What would have expired meanwhile expires now (1 ms), the
 * way any session does. */
static const struct store_script_def untouch_script = {
    SCRIPT_UNTOUCH, LUA_HEAD
    "local sk = session_key(ARGV[2])\n"
    "local ttl, prev, at = tonumber(ARGV[3]), tonumber(ARGV[4]),\n"
    "  tonumber(ARGV[5])\n"
    "local cur = redis.call('PTTL', sk)\n"
    "if cur < 0 or prev < 0 or math.abs(cur - (ttl - (now - at))) > 2\n"
    "then return 0 end\n"
    "local back = prev - (now - at)\n"
    "if back < 1 then back = 1 end\n"
    "redis.call('PEXPIRE', sk, back)\n"
    "return 1\n"};

/* ARGV: P sid counter -> {id, host, port} | {} | nil; counter is the
 * P:stats field the end counts in (sessions_deleted or sessions_lost). */
static const struct store_script_def end_script = {
    SCRIPT_END, LUA_HEAD
    "local sid = ARGV[2]\n"
    "local sk = session_key(sid)\n"
    "local id = redis.call('HGET', sk, 'worker')\n"
    "if not id then return false end\n"
    "redis.call('DEL', sk)\n"
    "redis.call('SET', gone_key(sid), '1', 'PX', 600000)\n"
    "redis.call('ZREM', sessions_key(), sid)\n"
    "redis.call('HINCRBY', stats_key(), ARGV[3], 1)\n"
    "local k = worker_key(id)\n"
    "local w = redis.call('HMGET', k, 'state', 'session', 'host', 'port')\n"
    "if w[1] == 'busy' and w[2] == sid then\n"
    "  redis.call('HSET', k, 'state', 'releasing', 'since', nows)\n"
    "  worker_moved(id)\n"
    "  return {id, w[3], w[4]}\n"
    "end\n"
    "return {}\n"};

/* ARGV: P id sid -> 1 | 0 */
static const struct store_script_def expire_script = {
    SCRIPT_EXPIRE, LUA_HEAD
    "local id, sid = ARGV[2], ARGV[3]\n"
    "local k = worker_key(id)\n"
    "local w = redis.call('HMGET', k, 'state', 'session')\n"
    "if w[1] ~= 'busy' or w[2] ~= sid then return 0 end\n"
    "if redis.call('EXISTS', session_key(sid)) == 1 then return 0 end\n"
    "redis.call('ZREM', sessions_key(), sid)\n"
    "redis.call('SET', gone_key(sid), '1', 'PX', 600000)\n"
    "redis.call('HSET', k, 'state', 'releasing', 'since', nows)\n"
    "worker_moved(id)\n"
    "redis.call('HINCRBY', stats_key(), 'sessions_expired', 1)\n"
    "return 1\n"};

/* ARGV: P age_ms limit -> removed.  Drops P:sessions entries older than
 * age_ms whose session key is gone; at most limit are looked at. */
static const struct store_script_def prune_sessions_script = {
    SCRIPT_PRUNE_SESSIONS, LUA_HEAD
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
    "return n\n"};

int store_bind(struct store *s, const char *id, const char *sid, long ttl_ms,
               long lifetime_ms)
{
    char sttl[24], slife[24];
    const char *argv[] = {id, sid, sttl, slife};

    snprintf(sttl, sizeof(sttl), "%ld", ttl_ms);
    snprintf(slife, sizeof(slife), "%ld", lifetime_ms);
    return (int)store_run_int(s, &bind_script, 4, argv);
}

int store_touch(struct store *s, const char *sid, long ttl_ms,
                struct worker_addr *out, struct session_touch *t)
{
    char sttl[24];
    const char *argv[] = {sid, sttl};
    redisReply *reply;
    int rc = 1;

    snprintf(sttl, sizeof(sttl), "%ld", ttl_ms);
    reply = store_run(s, &touch_script, 2, argv, NULL);
    if (reply == NULL)
        return -1;
    if (reply->type == REDIS_REPLY_NIL) {
        rc = 0;
    } else if (store_reply_addr_n(s, reply, 6, out) < 0) {
        rc = -1;
    } else {
        if (t != NULL) {
            t->ttl_ms = (long)reply_ll(reply->element[3]);
            t->prev_ms = (long)reply_ll(reply->element[4]);
            t->at_ms = (int64_t)reply_ll(reply->element[5]);
        }
    }
    freeReplyObject(reply);
    return rc;
}

int store_untouch(struct store *s, const char *sid,
                  const struct session_touch *t)
{
    char sttl[24], sprev[24], sat[24];
    const char *argv[] = {sid, sttl, sprev, sat};

    snprintf(sttl, sizeof(sttl), "%ld", t->ttl_ms);
    snprintf(sprev, sizeof(sprev), "%ld", t->prev_ms);
    snprintf(sat, sizeof(sat), "%lld", (long long)t->at_ms);
    return (int)store_run_int(s, &untouch_script, 4, argv);
}

/* touch's checks, and nothing else. */
static const struct store_script_def peek_script = {
    SCRIPT_PEEK, LUA_HEAD
    "local sid = ARGV[2]\n"
    "local s = redis.call('HMGET', session_key(sid), 'worker', 'deadline')\n"
    "if not s[1] then return 0 end\n"
    "local w = redis.call('HMGET', worker_key(s[1]), 'state', 'session')\n"
    "if w[1] ~= 'busy' or w[2] ~= sid then return 0 end\n"
    "local dl = tonumber(s[2] or '0') or 0\n"
    "if dl > 0 and dl <= now then return 0 end\n"
    "return 1\n"};

int store_session_peek(struct store *s, const char *sid)
{
    return (int)store_run_int(s, &peek_script, 1, &sid);
}

static int end_counted(struct store *s, const char *sid, const char *counter,
                       struct worker_addr *out)
{
    const char *argv[] = {sid, counter};
    redisReply *reply = store_run(s, &end_script, 2, argv, NULL);
    int rc;

    if (reply == NULL)
        return -1;
    if (reply->type == REDIS_REPLY_NIL)
        rc = 0;
    else if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 0)
        rc = STORE_END_NO_WORKER;
    else
        rc = store_reply_addr(s, reply, out) < 0 ? -1 : 1;
    freeReplyObject(reply);
    return rc;
}

int store_end(struct store *s, const char *sid, struct worker_addr *out)
{
    return end_counted(s, sid, "sessions_deleted", out);
}

int store_end_lost(struct store *s, const char *sid, struct worker_addr *out)
{
    return end_counted(s, sid, "sessions_lost", out);
}

int store_expire(struct store *s, const char *id, const char *sid)
{
    const char *argv[] = {id, sid};

    return (int)store_run_int(s, &expire_script, 2, argv);
}

long store_prune_sessions(struct store *s, long age_ms, long limit)
{
    char sage[24], slimit[24];
    const char *argv[] = {sage, slimit};

    snprintf(sage, sizeof(sage), "%ld", age_ms);
    snprintf(slimit, sizeof(slimit), "%ld", limit);
    return store_run_int(s, &prune_sessions_script, 2, argv);
}

int store_replicas_wait(struct store *s, int replicas, long ms)
{
    int rc;

    s->err = STORE_OK;
    s->errstr[0] = '\0';
    if (replicas == 0)
        return 1;
    rc = rconn_wait(&s->redis,
                    replicas == CONF_WAIT_ALL ? RCONN_WAIT_ALL : replicas, ms);
    if (rc <= 0)
        store_fail(s, STORE_ERR_REDIS, "%s", s->redis.errstr);
    return rc;
}

int store_writable(struct store *s)
{
    return rconn_writable(&s->redis);
}
