/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * store_rebuild.c - putting back what Redis forgot: a worker record the
 * spawner re-registers from the process it supervises, with the session
 * the worker says it holds (spawner/rebuild.c), and P:gen, the mark that
 * a node's spawner brought its workers into this Redis (keys.h).
 *
 * Invariants: a restore never overwrites a record (an id another worker
 * got meanwhile is refused, and the caller stops its worker as before);
 * it raises P:seq:worker to the id, so no later store_worker_add hands
 * the id out again; a restored session key never points at a worker that
 * is not busy with it, and one that is already another worker's live
 * session, or one that ended (P:gone: a client was told it is gone), is
 * not taken over (the worker is restored releasing, and the reaper
 * cleans it); a restored session never lives past its lifetime
 * deadline, counted from the created time the caller passes.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "store_core.h"

/* ARGV: P id node host port pid pstart state sid ttl_ms lifetime_ms
 * created_ms age_ms -> 1 restored | 2 restored releasing | 3 already
 * there | 0 the id is another worker's.  state: starting, idle or busy
 * (with sid); created_ms 0: unknown (now). */
static const struct store_script_def restore_script = {
    SCRIPT_WORKER_RESTORE, LUA_HEAD
    "local id = ARGV[2]\n"
    "local k = worker_key(id)\n"
    "local w = redis.call('HMGET', k, 'node', 'pid')\n"
    "if w[1] then\n"
    "  if w[1] == ARGV[3] and w[2] == ARGV[6] then return 3 end\n"
    "  return 0\n"
    "end\n"
    "local seq = tonumber(redis.call('GET', seq_worker_key()) or '0') or 0\n"
    "if seq < tonumber(id) then redis.call('SET', seq_worker_key(), id) end\n"
    "local st, sid, rc = ARGV[8], ARGV[9], 1\n"
    "if st == 'busy' then\n"
    "  local sk = session_key(sid)\n"
    "  local cur = redis.call('HGET', sk, 'worker')\n"
    "  local ttl, life = tonumber(ARGV[10]), tonumber(ARGV[11])\n"
    "  local created = tonumber(ARGV[12]) or 0\n"
    "  if created <= 0 or created > now then created = now end\n"
    "  local deadline = 0\n"
    "  if life > 0 then\n"
    "    deadline = created + life\n"
    "    if deadline - now < ttl then ttl = deadline - now end\n"
    "  end\n"
    "  if (cur and cur ~= id) or ttl <= 0 or\n"
    "     redis.call('EXISTS', gone_key(sid)) == 1 then\n"
    "    st, rc = 'releasing', 2\n"
    "  else\n"
    "    redis.call('HSET', sk, 'worker', id, 'created',\n"
    "      string.format('%d', created), 'last', nows, 'deadline',\n"
    "      string.format('%d', deadline))\n"
    "    redis.call('PEXPIRE', sk, ttl)\n"
    "    redis.call('ZADD', sessions_key(), now, sid)\n"
    "    redis.call('HINCRBY', stats_key(), 'sessions_restored', 1)\n"
    "  end\n"
    "else\n"
    "  sid = ''\n"
    "end\n"
    "redis.call('HSET', k, 'id', id, 'node', ARGV[3], 'host', ARGV[4],\n"
    "  'port', ARGV[5], 'pid', ARGV[6], 'pstart', ARGV[7], 'state', st,\n"
    "  'session', sid, 'since', nows,\n"
    "  'started', string.format('%d', now - (tonumber(ARGV[13]) or 0)),\n"
    "  'restarts', '0', 'fails', '0', 'reason', '')\n"
    "redis.call('SADD', workers_key(), id)\n"
    "redis.call('SADD', node_key(ARGV[3]), id)\n"
    "node_moved(ARGV[3])\n"
    "if st == 'idle' then\n"
    "  redis.call('LREM', idle_key(), 0, id)\n"
    "  redis.call('RPUSH', idle_key(), id)\n"
    "end\n"
    "redis.call('HINCRBY', stats_key(), 'workers_restored', 1)\n"
    "return rc\n"};

int store_worker_restore(struct store *s, const struct worker_restore *r)
{
    char sport[16], spid[24], sstart[24], sttl[24], slife[24], screated[24];
    char sage[24];
    const char *argv[12];

    if (r->state != WORKER_STARTING && r->state != WORKER_IDLE &&
        r->state != WORKER_BUSY)
        return store_fail(s, STORE_ERR_ARG, "restore: state %s",
                          worker_state_name(r->state));
    snprintf(sport, sizeof(sport), "%d", r->port);
    snprintf(spid, sizeof(spid), "%ld", r->pid);
    snprintf(sstart, sizeof(sstart), "%llu", r->pstart);
    snprintf(sttl, sizeof(sttl), "%ld", r->ttl_ms);
    snprintf(slife, sizeof(slife), "%ld", r->lifetime_ms);
    snprintf(screated, sizeof(screated), "%lld", (long long)r->created_ms);
    snprintf(sage, sizeof(sage), "%lld",
             (long long)(r->age_ms > 0 ? r->age_ms : 0));
    argv[0] = r->id;
    argv[1] = r->node;
    argv[2] = r->host;
    argv[3] = sport;
    argv[4] = spid;
    argv[5] = sstart;
    argv[6] = worker_state_name(r->state);
    argv[7] = r->state == WORKER_BUSY ? r->session : "";
    argv[8] = sttl;
    argv[9] = slife;
    argv[10] = screated;
    argv[11] = sage;
    return (int)store_run_int(s, &restore_script, 12, argv);
}

/* Wall clock in ms since the epoch. */
static long long wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int store_gen_mark(struct store *s, const char *node, int only_if_missing)
{
    char key[KEY_MAX];
    redisReply *r;

    if (store_key(s, key, KEY_GEN, NULL) < 0)
        return -1;
    r = store_commandf(s, only_if_missing ? "HSETNX %s %s %lld"
                                          : "HSET %s %s %lld",
                       key, node, wall_ms());
    if (r == NULL)
        return -1;
    freeReplyObject(r);
    return 0;
}

int store_gen_node(struct store *s, const char *node)
{
    char key[KEY_MAX];
    redisReply *r;
    int rc;

    if (store_key(s, key, KEY_GEN, NULL) < 0)
        return -1;
    r = node != NULL ? store_commandf(s, "HEXISTS %s %s", key, node)
                     : store_commandf(s, "EXISTS %s", key);
    if (r == NULL)
        return -1;
    if (r->type != REDIS_REPLY_INTEGER) {
        freeReplyObject(r);
        return store_fail(s, STORE_ERR_PROTOCOL, "gen: not an integer");
    }
    rc = r->integer > 0;
    freeReplyObject(r);
    return rc;
}
