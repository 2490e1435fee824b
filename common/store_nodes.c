/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * store_nodes.c - the nodes that share one Redis: their heartbeats in
 * P:pool:<node> (written by each spawner, store_pool_report), who
 * registered a node_name, the list /status shows, and the removal of a
 * node that stopped heartbeating.
 *
 * Invariants: a node_name belongs to one spawner at a time: registering
 * it is refused while a heartbeat younger than node_stale_ms names
 * another host or another pid (checked and written in one script, so two
 * spawners that start together cannot both pass); a node is removed
 * only when its heartbeat is older than node_gone_ms, judged and done in
 * one script, so however many reapers race, one removes it and the
 * others find nothing; a node never removes itself.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_core.h"
#include "store_nodes.h"
#include "util.h"

/* ARGV: P stale_ms gone_ms -> {now, {name, state, reason, hostid,
 * worker_host, pid, heartbeat, workers, idle, starting, idle_target,
 * max_workers, conflict age, conflict_hostid, conflict_pid,
 * worker_ports}, ...}, sorted
 * by name (conflict age: ms since another process's claim of the name
 * was refused, -1 none); state is the spawner's, or stale or
 * gone by the heartbeat's age.  Names whose P:pool:<node> is gone and
 * that have no workers left leave P:nodes. */
static const struct store_script_def nodes_script = {
    SCRIPT_NODES, LUA_HEAD
    "local stale, gone = tonumber(ARGV[2]), tonumber(ARGV[3])\n"
    "local names = redis.call('SMEMBERS', nodes_key())\n"
    "table.sort(names)\n"
    "local out = {nows}\n"
    "for _, n in ipairs(names) do\n"
    "  local h = redis.call('HMGET', pool_key(n), 'state', 'reason',\n"
    "    'hostid', 'worker_host', 'pid', 'heartbeat', 'workers', 'idle',\n"
    "    'starting', 'idle_target', 'max_workers', 'conflict_at',\n"
    "    'conflict_hostid', 'conflict_pid', 'worker_ports')\n"
    "  if not h[6] and redis.call('SCARD', node_key(n)) == 0 then\n"
    "    redis.call('SREM', nodes_key(), n)\n"
    "  else\n"
    "    local st = h[1] or 'unknown'\n"
    "    local age = -1\n"
    "    if h[6] then age = now - (tonumber(h[6]) or 0) end\n"
    "    if st ~= 'stopped' then\n"
    "      if age < 0 or age > gone then st = 'gone'\n"
    "      elseif age > stale then st = 'stale' end\n"
    "    end\n"
    "    local r = {n, st}\n"
    "    for i = 2, 11 do r[#r + 1] = h[i] or '' end\n"
    "    r[7] = string.format('%d', age)\n"
    "    r[13] = '-1'\n"
    "    if h[12] then\n"
    "      r[13] = string.format('%d', now - (tonumber(h[12]) or 0))\n"
    "    end\n"
    "    r[14] = h[13] or ''\n"
    "    r[15] = h[14] or '0'\n"
    "    r[16] = h[15] or ''\n"
    "    out[#out + 1] = r\n"
    "  end\n"
    "end\n"
    "return out\n"};

/* ARGV: P node hostid worker_host pid force stale_ms token prev ->
 * {'ok'} | {'taken' | 'host' | 'pid', hostid, pid, age}.  While a fresh
 * heartbeat (not of a stopped spawner) is there: its instance token, when
 * it has one, must be ours, or our previous instance's (prev, from
 * its file in node_token_dir) on this host and, unless force, from our pid
 * ('pid': the caller checks that pid runs no steel-spawner); else 'taken',
 * whatever the host id or pid.  A heartbeat without a token (a spawner
 * before tokens) is judged by host id and pid.  'taken' and 'host'
 * record the refused claimant in conflict_at, conflict_hostid and
 * conflict_pid. */
static const struct store_script_def node_register_script = {
    SCRIPT_NODE_REGISTER, LUA_HEAD
    "local k = pool_key(ARGV[2])\n"
    "local h = redis.call('HMGET', k, 'heartbeat', 'state', 'hostid', 'pid',\n"
    "  'token')\n"
    "local function refuse(why, age)\n"
    "  redis.call('HSET', k, 'conflict_at', nows, 'conflict_hostid', ARGV[3],\n"
    "    'conflict_pid', ARGV[5])\n"
    "  return {why, h[3] or '', h[4] or '0', age}\n"
    "end\n"
    "if h[1] and h[2] ~= 'stopped' then\n"
    "  local age = now - (tonumber(h[1]) or 0)\n"
    "  if age <= tonumber(ARGV[7]) then\n"
    "    local ages = string.format('%d', age)\n"
    "    local tok = h[5] or ''\n"
    "    if tok ~= '' and (tok ~= ARGV[9] or h[3] ~= ARGV[3]) and\n"
    "      tok ~= ARGV[8] then\n"
    "      return refuse('taken', ages)\n"
    "    elseif tok == '' and h[3] and h[3] ~= ARGV[3] then\n"
    "      return refuse('host', ages)\n"
    "    end\n"
    "    if (tok == '' or tok ~= ARGV[8]) and ARGV[6] ~= '1' and h[4] and\n"
    "      h[4] ~= ARGV[5] then\n"
    "      return {'pid', h[3] or '', h[4], ages}\n"
    "    end\n"
    "  end\n"
    "end\n"
    "if h[2] ~= 'ok' and h[2] ~= 'degraded' and h[2] ~= 'draining' then\n"
    "  redis.call('HSET', k, 'state', 'ok', 'reason', '', 'since', nows)\n"
    "end\n"
    "redis.call('HSET', k, 'hostid', ARGV[3], 'worker_host', ARGV[4],\n"
    "  'pid', ARGV[5], 'heartbeat', nows, 'token', ARGV[8])\n"
    "redis.call('SADD', nodes_key(), ARGV[2])\n"
    "return {'ok'}\n"};

/* ARGV: P self gone_ms -> {name, age, workers, sessions, ...}: every node
 * but self whose heartbeat is older than gone_ms, or that has none and
 * still has workers, loses its worker records (and their sessions),
 * P:node:<node>, P:pool:<node> and its P:nodes entry. */
static const struct store_script_def node_reap_script = {
    SCRIPT_NODE_REAP, LUA_HEAD
    "local gone = tonumber(ARGV[3])\n"
    "local out = {}\n"
    "for _, n in ipairs(redis.call('SMEMBERS', nodes_key())) do\n"
    "  local hb = redis.call('HGET', pool_key(n), 'heartbeat')\n"
    "  local age = -1\n"
    "  if hb then age = now - (tonumber(hb) or 0) end\n"
    "  if n ~= ARGV[2] and (age < 0 or age > gone) then\n"
    "    local nw, ns = 0, 0\n"
    "    for _, id in ipairs(redis.call('SMEMBERS', node_key(n))) do\n"
    "      local wk = worker_key(id)\n"
    "      local w = redis.call('HMGET', wk, 'node', 'session')\n"
    "      if w[1] == n then\n"
    "        redis.call('LREM', idle_key(), 0, id)\n"
    "        local sid = w[2]\n"
    "        if sid and sid ~= '' then\n"
    "          local sk = session_key(sid)\n"
    "          if redis.call('HGET', sk, 'worker') == id then\n"
    "            redis.call('DEL', sk)\n"
    "            redis.call('HINCRBY', stats_key(), 'sessions_lost', 1)\n"
    "            ns = ns + 1\n"
    "          end\n"
    "          redis.call('ZREM', sessions_key(), sid)\n"
    "        end\n"
    "        redis.call('DEL', wk)\n"
    "        redis.call('SREM', workers_key(), id)\n"
    "        nw = nw + 1\n"
    "      end\n"
    "    end\n"
    "    redis.call('DEL', node_key(n), pool_key(n), ver_key(n))\n"
    "    redis.call('SREM', nodes_key(), n)\n"
    "    redis.call('HINCRBY', stats_key(), 'repairs:node-gone', 1)\n"
    "    out[#out + 1] = n\n"
    "    out[#out + 1] = string.format('%d', age)\n"
    "    out[#out + 1] = nw\n"
    "    out[#out + 1] = ns\n"
    "  end\n"
    "end\n"
    "return out\n"};

static void node_rec_fill(struct node_rec *r, const redisReply *a)
{
    memset(r, 0, sizeof(*r));
    reply_str(r->name, sizeof(r->name), a->element[0]);
    reply_str(r->state, sizeof(r->state), a->element[1]);
    reply_str(r->reason, sizeof(r->reason), a->element[2]);
    reply_str(r->hostid, sizeof(r->hostid), a->element[3]);
    reply_str(r->worker_host, sizeof(r->worker_host), a->element[4]);
    r->pid = (long)reply_ll(a->element[5]);
    r->age_ms = reply_ll(a->element[6]);
    r->workers = (long)reply_ll(a->element[7]);
    r->idle = (long)reply_ll(a->element[8]);
    r->starting = (long)reply_ll(a->element[9]);
    r->idle_target = (long)reply_ll(a->element[10]);
    r->max_workers = (long)reply_ll(a->element[11]);
    r->conflict_age_ms = reply_ll(a->element[12]);
    reply_str(r->conflict_hostid, sizeof(r->conflict_hostid), a->element[13]);
    r->conflict_pid = (long)reply_ll(a->element[14]);
    reply_str(r->worker_ports, sizeof(r->worker_ports), a->element[15]);
}

int store_nodes(struct store *s, struct node_rec **out, size_t *n)
{
    char sstale[24], sgone[24];
    const char *argv[] = {sstale, sgone};
    struct node_rec *recs = NULL;
    redisReply *reply;
    size_t i, count = 0;
    int rc = -1;

    *out = NULL;
    *n = 0;
    snprintf(sstale, sizeof(sstale), "%ld", s->node_stale_ms);
    snprintf(sgone, sizeof(sgone), "%ld", s->node_gone_ms);
    reply = store_run(s, &nodes_script, 2, argv, NULL);
    if (reply == NULL)
        return -1;
    if (store_reply_array(s, reply, 1, "nodes") < 0)
        goto out;
    if (reply->elements > 1 &&
        (recs = store_calloc(s, reply->elements - 1, sizeof(*recs))) == NULL)
        goto out;
    for (i = 1; i < reply->elements; i++) {
        const redisReply *a = reply->element[i];

        if (a->type != REDIS_REPLY_ARRAY || a->elements != 16)
            continue;
        node_rec_fill(&recs[count++], a);
    }
    *out = recs;
    *n = count;
    rc = 0;
out:
    freeReplyObject(reply);
    return rc;
}

int store_node_register(struct store *s, const struct node_claim *claim,
                        int force, struct node_rec *other)
{
    char spid[24], sstale[24];
    const char *argv[] = {s->node,      claim->hostid,     claim->worker_host,
                          spid,         force ? "1" : "0", sstale,
                          claim->token, claim->prev_token};
    char verdict[8];
    redisReply *reply;
    int rc = -1;

    memset(other, 0, sizeof(*other));
    snprintf(spid, sizeof(spid), "%ld", claim->pid);
    snprintf(sstale, sizeof(sstale), "%ld", s->node_stale_ms);
    reply = store_run(s, &node_register_script, 8, argv, NULL);
    if (reply == NULL)
        return -1;
    if (store_reply_array(s, reply, 1, "node register") < 0)
        goto out;
    reply_str(verdict, sizeof(verdict), reply->element[0]);
    if (strcmp(verdict, "ok") == 0) {
        rc = 1;
        goto out;
    }
    if (reply->elements != 4 ||
        (strcmp(verdict, "host") != 0 && strcmp(verdict, "pid") != 0 &&
         strcmp(verdict, "taken") != 0)) {
        store_fail(s, STORE_ERR_PROTOCOL, "node register: unexpected reply");
        goto out;
    }
    snprintf(other->name, sizeof(other->name), "%s", s->node);
    reply_str(other->hostid, sizeof(other->hostid), reply->element[1]);
    other->pid = (long)reply_ll(reply->element[2]);
    other->age_ms = reply_ll(reply->element[3]);
    rc = verdict[0] == 'h'   ? STORE_NODE_OTHER_HOST
         : verdict[0] == 'p' ? STORE_NODE_OTHER_PID
                             : STORE_NODE_TAKEN;
out:
    freeReplyObject(reply);
    return rc;
}

int store_node_holder(struct store *s, const char *node, long *pid,
                      char *hostid, size_t hsize, char *token, size_t tsize)
{
    char key[KEY_MAX];
    redisReply *reply;
    int rc = -1;

    *pid = 0;
    hostid[0] = '\0';
    token[0] = '\0';
    if (store_key(s, key, KEY_POOL, node) < 0)
        return -1;
    reply = store_commandf(s, "HMGET %s pid hostid token", key);
    if (reply == NULL)
        return -1;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3) {
        store_fail(s, STORE_ERR_PROTOCOL, "node holder: unexpected reply");
        goto out;
    }
    if (reply->element[0]->type == REDIS_REPLY_STRING &&
        parse_long(reply->element[0]->str, 1, 0x7fffffffL, pid) < 0)
        *pid = 0;
    reply_str(hostid, hsize, reply->element[1]);
    reply_str(token, tsize, reply->element[2]);
    rc = 0;
out:
    freeReplyObject(reply);
    return rc;
}

long store_node_reap(struct store *s, struct node_reaped *out, size_t max)
{
    char sgone[24];
    const char *argv[] = {s->node, sgone};
    redisReply *reply;
    size_t i, count = 0;
    long rc = -1;

    snprintf(sgone, sizeof(sgone), "%ld", s->node_gone_ms);
    reply = store_run(s, &node_reap_script, 2, argv, NULL);
    if (reply == NULL)
        return -1;
    if (store_reply_array(s, reply, 0, "node reap") < 0)
        goto out;
    for (i = 0; i + 3 < reply->elements; i += 4) {
        if (count < max) {
            struct node_reaped *r = &out[count];

            reply_str(r->name, sizeof(r->name), reply->element[i]);
            r->age_ms = reply_ll(reply->element[i + 1]);
            r->workers = (long)reply_ll(reply->element[i + 2]);
            r->sessions = (long)reply_ll(reply->element[i + 3]);
        }
        count++;
    }
    rc = (long)count;
out:
    freeReplyObject(reply);
    return rc;
}
