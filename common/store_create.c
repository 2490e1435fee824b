/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * store_create.c - what a create needs besides a worker: the queue of
 * creates waiting for one (P:waiters, the spawner's demand signal) and
 * idempotent creates (P:idem:<key>).
 *
 * Invariants: a waiter token lives in P:waiters at most until its
 * deadline (every read prunes older ones), so a create that died without
 * store_wait_end() stops counting; an idempotency record is answered only
 * to a request with the same body fingerprint; only its owner (the
 * random token of the request that made it pending) may finish or abort
 * it, and a finish stores an answer only while the key is its own or
 * free, so one key never keeps two sessions' answers: a create whose
 * pending mark expired and was taken by another request learns it lost.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "store_core.h"

/* ARGV: P member wait_ms max -> 1 | 0 (max creates wait already); the
 * member is "<node>/<token>" (waiter_member) */
static const struct store_script_def wait_begin_script = {
    SCRIPT_WAIT_BEGIN, LUA_HEAD
    "local z = waiters_key()\n"
    "redis.call('ZREMRANGEBYSCORE', z, '-inf', now)\n"
    "if redis.call('ZCARD', z) >= tonumber(ARGV[4]) then return 0 end\n"
    "redis.call('ZADD', z, now + tonumber(ARGV[3]), ARGV[2])\n"
    "return 1\n"};

/* ARGV: P -> count */
static const struct store_script_def waiting_script = {
    SCRIPT_WAITING,
    LUA_HEAD "redis.call('ZREMRANGEBYSCORE', waiters_key(), '-inf', now)\n"
             "return redis.call('ZCARD', waiters_key())\n"};

/* ARGV: P key fingerprint pending_ms owner -> {'go'} | {'pending'} |
 * {'conflict'} | {'done', status, body} */
static const struct store_script_def idem_begin_script = {
    SCRIPT_IDEM_BEGIN, LUA_HEAD
    "local k = idem_key(ARGV[2])\n"
    "local h = redis.call('HMGET', k, 'fp', 'state', 'status', 'body',\n"
    "  'owner')\n"
    "if not h[1] then\n"
    "  redis.call('HSET', k, 'fp', ARGV[3], 'state', 'pending',\n"
    "    'owner', ARGV[5])\n"
    "  redis.call('PEXPIRE', k, tonumber(ARGV[4]))\n"
    "  return {'go'}\n"
    "end\n"
    "if h[1] ~= ARGV[3] then return {'conflict'} end\n"
    "if h[2] == 'done' then return {'done', h[3], h[4]} end\n"
    /* The caller's own mark (a retry of this script): go on. */
    "if h[5] == ARGV[5] then return {'go'} end\n"
    "return {'pending'}\n"};

/* ARGV: P key fingerprint owner status body ttl_ms -> 1 | 0 (another
 * request owns the key: its pending mark expired and was taken, or it
 * finished) */
static const struct store_script_def idem_finish_script = {
    SCRIPT_IDEM_FINISH,
    LUA_HEAD "local k = idem_key(ARGV[2])\n"
             "local h = redis.call('HMGET', k, 'state', 'owner')\n"
             "if h[1] and not (h[1] == 'pending' and h[2] == ARGV[4]) then\n"
             "  return 0\n"
             "end\n"
             "redis.call('DEL', k)\n"
             "redis.call('HSET', k, 'fp', ARGV[3], 'state', 'done',\n"
             "  'status', ARGV[5], 'body', ARGV[6])\n"
             "redis.call('PEXPIRE', k, tonumber(ARGV[7]))\n"
             "return 1\n"};

/* ARGV: P key owner -> 1 | 0 */
static const struct store_script_def idem_abort_script = {
    SCRIPT_IDEM_ABORT,
    LUA_HEAD "local k = idem_key(ARGV[2])\n"
             "local h = redis.call('HMGET', k, 'state', 'owner')\n"
             "if h[1] == 'pending' and h[2] == ARGV[3] then\n"
             "  return redis.call('DEL', k)\n"
             "end\n"
             "return 0\n"};

#define STORE_WAITER_MAX 320

/* Writes "<node>/<token>", a P:waiters member that names this node, into
 * out (STORE_WAITER_MAX bytes).  Returns 0, or -1 with STORE_ERR_ARG. */
static int waiter_member(struct store *s, char *out, const char *token)
{
    int n = snprintf(out, STORE_WAITER_MAX, "%s/%s", s->node, token);

    if (n < 0 || n >= STORE_WAITER_MAX)
        return store_fail(s, STORE_ERR_ARG, "waiter token too long");
    return 0;
}

int store_wait_begin(struct store *s, const char *token, long wait_ms, long max)
{
    char sms[24], smax[24], member[STORE_WAITER_MAX];
    const char *argv[] = {member, sms, smax};

    if (waiter_member(s, member, token) < 0)
        return -1;
    snprintf(sms, sizeof(sms), "%ld", wait_ms);
    snprintf(smax, sizeof(smax), "%ld", max);
    return (int)store_run_int(s, &wait_begin_script, 3, argv);
}

int store_wait_end(struct store *s, const char *token)
{
    char key[KEY_MAX], member[STORE_WAITER_MAX];
    redisReply *reply;

    if (store_key(s, key, KEY_WAITERS, NULL) < 0 ||
        waiter_member(s, member, token) < 0)
        return -1;
    reply = store_commandf(s, "ZREM %s %s", key, member);
    if (reply == NULL)
        return -1;
    freeReplyObject(reply);
    return 0;
}

long store_waiting(struct store *s)
{
    return store_run_int(s, &waiting_script, 0, NULL);
}

int store_idem_begin(struct store *s, const char *key, const char *fp,
                     const char *owner, long pending_ms, struct buf *body,
                     long *status)
{
    char sms[24];
    const char *argv[] = {key, fp, sms, owner};
    const redisReply *verdict, *stored;
    redisReply *reply;
    int rc = -1;

    snprintf(sms, sizeof(sms), "%ld", pending_ms);
    reply = store_run(s, &idem_begin_script, 4, argv, NULL);
    if (reply == NULL)
        return -1;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 ||
        reply->element[0]->type != REDIS_REPLY_STRING) {
        store_fail(s, STORE_ERR_PROTOCOL, "unexpected idem reply");
        goto out;
    }
    verdict = reply->element[0];
    if (strcmp(verdict->str, "go") == 0) {
        rc = STORE_IDEM_GO;
    } else if (strcmp(verdict->str, "pending") == 0) {
        rc = STORE_IDEM_PENDING;
    } else if (strcmp(verdict->str, "conflict") == 0) {
        rc = STORE_IDEM_CONFLICT;
    } else if (reply->elements == 3 &&
               reply->element[2]->type == REDIS_REPLY_STRING) {
        stored = reply->element[2];
        *status = (long)reply_ll(reply->element[1]);
        buf_reset(body);
        if (buf_append(body, stored->str, stored->len) < 0)
            store_fail(s, STORE_ERR_TOO_BIG, "stored answer too big");
        else
            rc = STORE_IDEM_DONE;
    } else {
        store_fail(s, STORE_ERR_PROTOCOL, "unexpected idem reply");
    }
out:
    freeReplyObject(reply);
    return rc;
}

int store_idem_finish(struct store *s, const char *key, const char *fp,
                      const char *owner, long status, const char *body,
                      size_t len, long ttl_ms)
{
    char sstatus[24], sttl[24];
    const char *argv[] = {key, fp, owner, sstatus, body, sttl};
    size_t lens[6];
    int i;

    snprintf(sstatus, sizeof(sstatus), "%ld", status);
    snprintf(sttl, sizeof(sttl), "%ld", ttl_ms);
    for (i = 0; i < 6; i++)
        lens[i] = i == 4 ? len : strlen(argv[i]);
    return (int)store_reply_int(
        s, store_run(s, &idem_finish_script, 6, argv, lens));
}

int store_idem_abort(struct store *s, const char *key, const char *owner)
{
    const char *argv[] = {key, owner};

    return (int)store_run_int(s, &idem_abort_script, 2, argv);
}
