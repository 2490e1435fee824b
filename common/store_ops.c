/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * store_ops.c - what operators and the daemons read and count rather
 * than change: worker and session listings, counts by state, the P:stats
 * counters, the reaper's pass lock, the spawner's pool view and its
 * report in P:pool:<node>; the plain reads of steel-fcgi's /health,
 * /status, /metrics and Retry-After estimate.
 *
 * Invariants: a listing is one script, so it is one snapshot on the
 * Redis clock; listings drop index entries whose record is gone (the
 * index may lag behind, never lead); a lock is released only by the
 * token that took it.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_core.h"
#include "util.h"

/* ARGV: P node|'' -> {now, {fields...}, ...}; records whose hash is gone
 * are dropped from the sets. */
static const struct store_script_def workers_script = {
    SCRIPT_WORKERS, LUA_HEAD
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
    "return out\n"};

/* ARGV: P node|'' -> {state, count, ...} */
static const struct store_script_def counts_script = {
    SCRIPT_COUNTS, LUA_HEAD
    "local set = workers_key()\n"
    "if ARGV[2] ~= '' then set = node_key(ARGV[2]) end\n"
    "local c = {}\n"
    "for _, id in ipairs(redis.call('SMEMBERS', set)) do\n"
    "  local st = redis.call('HGET', worker_key(id), 'state')\n"
    "  if st then c[st] = (c[st] or 0) + 1 end\n"
    "end\n"
    "local out = {}\n"
    "for k, v in pairs(c) do out[#out + 1] = k; out[#out + 1] = v end\n"
    "return out\n"};

/* ARGV: P offset limit -> {total, sid, worker, created, last, pttl, ...},
 * most recently active first; sessions whose key is gone are skipped. */
static const struct store_script_def session_list_script = {
    SCRIPT_SESSION_LIST, LUA_HEAD
    "local z = sessions_key()\n"
    "local off, lim = tonumber(ARGV[2]), tonumber(ARGV[3])\n"
    "local out = {redis.call('ZCARD', z)}\n"
    "for _, sid in ipairs(redis.call('ZREVRANGE', z, off, off + lim - 1)) do\n"
    "  local sk = session_key(sid)\n"
    "  local h = redis.call('HMGET', sk, 'worker', 'created', 'last')\n"
    "  if h[1] then\n"
    "    local ttl = redis.call('PTTL', sk)\n"
    "    for _, v in ipairs({sid, h[1], h[2] or '0', h[3] or '0',\n"
    "        tostring(ttl)}) do out[#out + 1] = v end\n"
    "  end\n"
    "end\n"
    "return out\n"};

/* ARGV: P "field n\nfield n..." -> fields changed */
static const struct store_script_def stats_add_script = {
    SCRIPT_STATS_ADD,
    LUA_HEAD "local n = 0\n"
             "for f, v in string.gmatch(ARGV[2], '([^ \\n]+) (%-?%d+)') do\n"
             "  redis.call('HINCRBY', stats_key(), f, tonumber(v))\n"
             "  n = n + 1\n"
             "end\n"
             "return n\n"};

/* ARGV: P name token -> 1 | 0 */
static const struct store_script_def unlock_script = {
    SCRIPT_UNLOCK, LUA_HEAD "local k = lock_key(ARGV[2])\n"
                            "if redis.call('GET', k) == ARGV[3] then\n"
                            "  return redis.call('DEL', k)\n"
                            "end\n"
                            "return 0\n"};

/* ARGV: P node room stale_ms ver -> {now, waiting, waiting_all, ver,
 * full, id, state, since, reason, ...}; reason only for dead workers,
 * else ''.  full is '0', and no worker follows, when P:ver:<node> is
 * still ver (a missing one is set to ver_start(), store_core.h).  Stale
 * waiters are pruned; ids whose record is gone are dropped from the
 * node's set.  waiting is node's share of P:waiters (store.h): its own,
 * up to room, then of the waiters no live node has room for, what fits
 * in the room left, nodes in name order; another node's room is, from
 * its last report while its heartbeat is fresh and it is ok,
 * max_workers - idle_target - its workers that are neither idle nor
 * starting (those serve waiters): what the caller passes for itself. */
static const struct store_script_def pool_view_script = {
    SCRIPT_POOL_VIEW, LUA_HEAD
    "local me, stale = ARGV[2], tonumber(ARGV[4])\n"
    "redis.call('ZREMRANGEBYSCORE', waiters_key(), '-inf', now)\n"
    "local all = redis.call('ZRANGE', waiters_key(), 0, -1)\n"
    "local cnt, orphans = {}, 0\n"
    "for _, m in ipairs(all) do\n"
    "  local n = string.match(m, '^(.*)/[^/]*$')\n"
    "  if n then cnt[n] = (cnt[n] or 0) + 1 else orphans = orphans + 1 end\n"
    "end\n"
    "local mine = 0\n"
    /* Without waiters, no share to work out: the other nodes' reports
     * are read only while a create waits (so at rest a view costs the
     * same whatever the cluster's size). */
    "if #all > 0 then\n"
    "  local names = redis.call('SMEMBERS', nodes_key())\n"
    "  local seen = false\n"
    "  for _, n in ipairs(names) do if n == me then seen = true end end\n"
    "  if not seen then names[#names + 1] = me end\n"
    "  table.sort(names)\n"
    "  local spare = {}\n"
    "  for _, n in ipairs(names) do\n"
    "    local room = 0\n"
    "    if n == me then room = tonumber(ARGV[3]) else\n"
    "      local h = redis.call('HMGET', pool_key(n), 'heartbeat', 'state',\n"
    "        'workers', 'idle', 'starting', 'idle_target', 'max_workers')\n"
    "      if h[1] and now - (tonumber(h[1]) or 0) <= stale and\n"
    "         h[2] == 'ok' then\n"
    "        local f = {}\n"
    "        for i = 3, 7 do f[i] = tonumber(h[i]) or 0 end\n"
    "        room = f[7] - f[6] - (f[3] - f[4] - f[5])\n"
    "      end\n"
    "    end\n"
    "    if room < 0 then room = 0 end\n"
    "    local own = cnt[n] or 0\n"
    "    cnt[n] = nil\n"
    "    if own > room then orphans = orphans + own - room; own = room end\n"
    "    if n == me then mine = own end\n"
    "    spare[n] = room - own\n"
    "  end\n"
    "  for _, c in pairs(cnt) do orphans = orphans + c end\n"
    "  for _, n in ipairs(names) do\n"
    "    local take = math.min(spare[n], orphans)\n"
    "    orphans = orphans - take\n"
    "    if n == me then mine = mine + take; break end\n"
    "  end\n"
    "end\n"
    "local vk = ver_key(me)\n"
    "local ver = redis.call('GET', vk)\n"
    "if not ver then\n"
    "  ver = ver_start()\n"
    "  redis.call('SET', vk, ver)\n"
    "end\n"
    "if ver == ARGV[5] then return {nows, mine, #all, ver, '0'} end\n"
    "local out = {nows, mine, #all, ver, '1'}\n"
    "local set = node_key(me)\n"
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
    "return out\n"};

/* ARGV: P node state reason token [field value]... -> 1, 2 when the
 * record names no host (it was removed meanwhile: the spawner registers
 * again), or 4 (STORE_NODE_TAKEN), nothing written, when the record
 * names another instance token (another process took the node_name:
 * store_node_register).  An empty token skips that check.  since changes only
 * with the state; heartbeat is always now; the node joins P:nodes. */
static const struct store_script_def pool_report_script = {
    SCRIPT_POOL_REPORT,
    LUA_HEAD "local k = pool_key(ARGV[2])\n"
             "local tok = redis.call('HGET', k, 'token')\n"
             "if ARGV[5] ~= '' and tok and tok ~= '' and tok ~= ARGV[5] then\n"
             "  return 4\n"
             "end\n"
             "if redis.call('HGET', k, 'state') ~= ARGV[3] then\n"
             "  redis.call('HSET', k, 'since', nows)\n"
             "end\n"
             "redis.call('HSET', k, 'state', ARGV[3], 'reason', ARGV[4],\n"
             "  'heartbeat', nows)\n"
             "for i = 6, #ARGV - 1, 2 do\n"
             "  redis.call('HSET', k, ARGV[i], ARGV[i + 1])\n"
             "end\n"
             "redis.call('SADD', nodes_key(), ARGV[2])\n"
             "if not redis.call('HGET', k, 'hostid') then return 2 end\n"
             "return 1\n"};

/* The most field, value strings store_pool_report() takes. */
#define POOL_REPORT_FIELDS_MAX 16

int store_workers(struct store *s, const char *node, struct worker_rec **out,
                  size_t *n)
{
    const char *arg = node ? node : "";
    struct worker_rec *recs = NULL;
    redisReply *reply;
    size_t i, count = 0;
    int64_t now;
    int rc = -1;

    *out = NULL;
    *n = 0;
    reply = store_run(s, &workers_script, 1, &arg, NULL);
    if (reply == NULL)
        return -1;
    if (store_reply_array(s, reply, 1, "workers") < 0)
        goto out;
    now = reply_ll(reply->element[0]);
    if (reply->elements > 1 &&
        (recs = store_calloc(s, reply->elements - 1, sizeof(*recs))) == NULL)
        goto out;
    for (i = 1; i < reply->elements; i++) {
        const redisReply *a = reply->element[i];

        if (a->type != REDIS_REPLY_ARRAY || a->elements != 13)
            continue;
        worker_rec_fill(&recs[count++], a, now, 0);
    }
    *out = recs;
    *n = count;
    rc = 0;
out:
    freeReplyObject(reply);
    return rc;
}

int store_counts(struct store *s, const char *node,
                 long counts[WORKER_STATE_COUNT])
{
    const char *arg = node ? node : "";
    redisReply *reply;
    size_t i;

    memset(counts, 0, sizeof(long) * WORKER_STATE_COUNT);
    reply = store_run(s, &counts_script, 1, &arg, NULL);
    if (reply == NULL)
        return -1;
    if (store_reply_array(s, reply, 0, "counts") < 0) {
        freeReplyObject(reply);
        return -1;
    }
    for (i = 0; i + 1 < reply->elements; i += 2) {
        enum worker_state st;
        char name[16];

        reply_str(name, sizeof(name), reply->element[i]);
        if (worker_state_parse(name, &st) == 0)
            counts[st] = (long)reply_ll(reply->element[i + 1]);
    }
    freeReplyObject(reply);
    return 0;
}

int store_session_list(struct store *s, long offset, long limit,
                       struct session_rec **out, size_t *n, long *total)
{
    char soff[24], slim[24];
    const char *argv[] = {soff, slim};
    struct session_rec *recs = NULL;
    redisReply *reply;
    size_t i, count = 0;
    int rc = -1;

    *out = NULL;
    *n = 0;
    snprintf(soff, sizeof(soff), "%ld", offset);
    snprintf(slim, sizeof(slim), "%ld", limit);
    reply = store_run(s, &session_list_script, 2, argv, NULL);
    if (reply == NULL)
        return -1;
    if (store_reply_array(s, reply, 1, "list") < 0)
        goto out;
    *total = (long)reply_ll(reply->element[0]);
    if (reply->elements > 1 &&
        (recs = store_calloc(s, (reply->elements - 1) / 5 + 1,
                             sizeof(*recs))) == NULL)
        goto out;
    for (i = 1; i + 4 < reply->elements; i += 5) {
        struct session_rec *rec = &recs[count++];

        reply_str(rec->id, sizeof(rec->id), reply->element[i]);
        reply_str(rec->worker, sizeof(rec->worker), reply->element[i + 1]);
        rec->created_ms = reply_ll(reply->element[i + 2]);
        rec->last_ms = reply_ll(reply->element[i + 3]);
        rec->ttl_ms = reply_ll(reply->element[i + 4]);
    }
    *out = recs;
    *n = count;
    rc = 0;
out:
    freeReplyObject(reply);
    return rc;
}

int store_count(struct store *s, const char *field, long n)
{
    char key[KEY_MAX];
    redisReply *reply;

    if (store_key(s, key, KEY_STATS, NULL) < 0)
        return -1;
    reply = store_commandf(s, "HINCRBY %s %s %ld", key, field, n);
    if (reply == NULL)
        return -1;
    freeReplyObject(reply);
    return 0;
}

int store_stats_add(struct store *s, const char *packed)
{
    return store_run_int(s, &stats_add_script, 1, &packed) < 0 ? -1 : 0;
}

int store_stats(struct store *s, struct stat_rec **out, size_t *n)
{
    char key[KEY_MAX];
    redisReply *reply;
    struct stat_rec *recs;
    size_t i, count = 0, names = 0;
    char *p;
    int rc = -1;

    *out = NULL;
    *n = 0;
    if (store_key(s, key, KEY_STATS, NULL) < 0)
        return -1;
    reply = store_commandf(s, "HGETALL %s", key);
    if (reply == NULL)
        return -1;
    if (reply->type != REDIS_REPLY_ARRAY) {
        store_fail(s, STORE_ERR_PROTOCOL, "unexpected stats reply");
        goto out;
    }
    if (reply->elements < 2) {
        rc = 0;
        goto out;
    }
    for (i = 0; i + 1 < reply->elements; i += 2) {
        if (reply->element[i]->type == REDIS_REPLY_STRING)
            names += reply->element[i]->len + 1;
    }
    recs = store_calloc(s, 1, reply->elements / 2 * sizeof(*recs) + names);
    if (recs == NULL)
        goto out;
    p = (char *)(recs + reply->elements / 2);
    for (i = 0; i + 1 < reply->elements; i += 2) {
        const redisReply *f = reply->element[i], *v = reply->element[i + 1];
        char *end;

        if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            continue;
        errno = 0;
        recs[count].value = strtoll(v->str, &end, 10);
        if (errno != 0 || end == v->str || *end != '\0')
            continue;
        memcpy(p, f->str, f->len);
        p[f->len] = '\0';
        recs[count++].name = p;
        p += f->len + 1;
    }
    *out = recs;
    *n = count;
    rc = 0;
out:
    freeReplyObject(reply);
    return rc;
}

int store_ping(struct store *s)
{
    redisReply *reply = store_commandf(s, "PING");

    if (reply == NULL)
        return -1;
    freeReplyObject(reply);
    return 0;
}

long store_session_count(struct store *s)
{
    char key[KEY_MAX];
    redisReply *reply;
    long n = -1;

    if (store_key(s, key, KEY_SESSIONS, NULL) < 0)
        return -1;
    reply = store_commandf(s, "ZCARD %s", key);
    if (reply == NULL)
        return -1;
    if (reply->type == REDIS_REPLY_INTEGER)
        n = (long)reply->integer;
    else
        store_fail(s, STORE_ERR_PROTOCOL, "unexpected ZCARD reply");
    freeReplyObject(reply);
    return n;
}

/* The whole number of a string reply e into *out; 0, or -1 for anything
 * else. */
static int reply_int64(const redisReply *e, int64_t *out)
{
    char *end;
    long long v;

    if (e->type != REDIS_REPLY_STRING || e->len == 0)
        return -1;
    errno = 0;
    v = strtoll(e->str, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = (int64_t)v;
    return 0;
}

int store_session_oldest(struct store *s, int64_t *last_ms, int64_t *now_ms)
{
    char key[KEY_MAX];
    redisReply *reply, *t = NULL;
    int rc = -1;

    if (store_key(s, key, KEY_SESSIONS, NULL) < 0)
        return -1;
    reply = store_commandf(s, "ZRANGE %s 0 0 WITHSCORES", key);
    if (reply == NULL)
        return -1;
    if (reply->type != REDIS_REPLY_ARRAY) {
        store_fail(s, STORE_ERR_PROTOCOL, "unexpected ZRANGE reply");
        goto out;
    }
    if (reply->elements == 0) {
        rc = 0;
        goto out;
    }
    if ((t = store_commandf(s, "TIME")) == NULL)
        goto out;
    if (reply->elements != 2 || t->type != REDIS_REPLY_ARRAY ||
        t->elements != 2 || reply_int64(reply->element[1], last_ms) < 0 ||
        reply_int64(t->element[0], now_ms) < 0) {
        store_fail(s, STORE_ERR_PROTOCOL, "unexpected oldest session reply");
        goto out;
    }
    *now_ms *= 1000;
    rc = 1;
out:
    if (t != NULL)
        freeReplyObject(t);
    freeReplyObject(reply);
    return rc;
}

int store_lock(struct store *s, const char *name, const char *token,
               long ttl_ms)
{
    char key[KEY_MAX];
    redisReply *reply;
    int rc;

    if (store_key(s, key, KEY_LOCK, name) < 0)
        return -1;
    reply = store_commandf(s, "SET %s %s NX PX %ld", key, token, ttl_ms);
    if (reply == NULL)
        return -1;
    rc = reply->type == REDIS_REPLY_STATUS ? 1 : 0;
    freeReplyObject(reply);
    return rc;
}

int store_unlock(struct store *s, const char *name, const char *token)
{
    const char *argv[] = {name, token};

    return (int)store_run_int(s, &unlock_script, 2, argv);
}

int store_pool_view(struct store *s, const char *node, long room,
                    struct pool_view *v)
{
    return store_pool_view_since(s, node, room, NULL, v);
}

int store_pool_view_since(struct store *s, const char *node, long room,
                          const char *ver, struct pool_view *v)
{
    char sroom[24], sstale[24];
    const char *argv[] = {node, sroom, sstale, ver != NULL ? ver : ""};
    redisReply *reply;
    size_t i, count = 0;
    int rc = -1;

    memset(v, 0, sizeof(*v));
    snprintf(sroom, sizeof(sroom), "%ld", room > 0 ? room : 0);
    snprintf(sstale, sizeof(sstale), "%ld", s->node_stale_ms);
    reply = store_run(s, &pool_view_script, 4, argv, NULL);
    if (reply == NULL)
        return -1;
    if (store_reply_array(s, reply, 5, "pool view") < 0)
        goto out;
    v->now_ms = reply_ll(reply->element[0]);
    v->waiting = (long)reply_ll(reply->element[1]);
    v->waiting_all = (long)reply_ll(reply->element[2]);
    reply_str(v->ver, sizeof(v->ver), reply->element[3]);
    v->full = reply_ll(reply->element[4]) != 0;
    if (reply->elements > 5 &&
        (v->entries = store_calloc(s, (reply->elements - 5) / 4 + 1,
                                   sizeof(*v->entries))) == NULL)
        goto out;
    for (i = 5; i + 3 < reply->elements; i += 4) {
        struct pool_entry *e = &v->entries[count++];

        reply_str(e->id, sizeof(e->id), reply->element[i]);
        e->state = reply_state(reply->element[i + 1]);
        e->since_ms = reply_ll(reply->element[i + 2]);
        reply_str(e->reason, sizeof(e->reason), reply->element[i + 3]);
    }
    v->n = count;
    rc = 0;
out:
    freeReplyObject(reply);
    return rc;
}

void store_pool_view_release(struct pool_view *v)
{
    free(v->entries);
    v->entries = NULL;
    v->n = 0;
}

int store_pool_report(struct store *s, const char *node, const char *state,
                      const char *reason, int nfields, const char **fields)
{
    const char *argv[4 + POOL_REPORT_FIELDS_MAX];
    int i;

    if (nfields < 0 || nfields % 2 != 0 || nfields > POOL_REPORT_FIELDS_MAX)
        return store_fail(s, STORE_ERR_ARG, "store_pool_report: bad arguments");
    argv[0] = node;
    argv[1] = state;
    argv[2] = reason;
    argv[3] = s->node_token;
    for (i = 0; i < nfields; i++)
        argv[4 + i] = fields[i];
    return (int)store_run_int(s, &pool_report_script, 4 + nfields, argv);
}

int store_spawner_pid(struct store *s, const char *node, long *pid)
{
    char key[KEY_MAX];
    redisReply *reply;

    *pid = 0;
    if (store_key(s, key, KEY_POOL, node) < 0)
        return -1;
    reply = store_commandf(s, "HGET %s pid", key);
    if (reply == NULL)
        return -1;
    if (reply->type == REDIS_REPLY_STRING &&
        parse_long(reply->str, 1, 0x7fffffffL, pid) < 0)
        *pid = 0;
    freeReplyObject(reply);
    return 0;
}
