/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * store_core.h - what the store's files share and nothing outside them
 * includes: the head every Lua script starts with, the script numbers, and
 * running a script and reading its reply with failures recorded in the
 * struct store.
 *
 * A script gets the key prefix as ARGV[1], the arguments of its call
 * after it, and no KEYS: it names every key through the functions
 * LUA_HEAD defines from the formats of keys.h, so the schema has one
 * definition for C and Lua alike.
 */
#ifndef STEEL_STORE_CORE_H
#define STEEL_STORE_CORE_H

#include "keys.h"
#include "store.h"

/* A Lua function name(arg) that returns the key of the keys.h format fmt
 * for P (arg is ignored by formats that take none). */
#define LUA_KEY_FN(name, fmt)                                                  \
    "local function " name "(a) return string.format('" fmt "', P, a) end\n"

/* ver_start(): where a missing P:ver:<node> starts: the Redis clock in
 * µs, above any version handed out before (each was a start plus one per
 * script run since, and a script takes more than a µs).
 * node_moved(n): the worker records of node n changed (P:ver:<n> moves
 * on; a missing one starts again at ver_start() + 1); worker_moved(id):
 * those of the node of worker id.
 * Every script that adds or removes a worker record, or changes its
 * state, since or reason, calls one of them. */
/* clang-format off */
#define LUA_MOVED                                                              \
    "local function ver_start()\n"                                             \
    "  return string.format('%d', tonumber(t[1]) * 1000000 + tonumber(t[2]))\n"\
    "end\n"                                                                    \
    "local function node_moved(n)\n"                                           \
    "  if not n or n == '' then return end\n"                                  \
    "  local k = ver_key(n)\n"                                                 \
    "  if redis.call('INCR', k) == 1 then\n"                                   \
    "    redis.call('SET', k, ver_start())\n"                                  \
    "    redis.call('INCR', k)\n"                                              \
    "  end\n"                                                                  \
    "end\n"                                                                    \
    "local function worker_moved(id)\n"                                        \
    "  node_moved(redis.call('HGET', worker_key(id), 'node'))\n"               \
    "end\n"
/* clang-format on */

/* Shared head of every script: prefix, server clock in ms (now and nows,
 * its decimal string), one function per key of keys.h, LUA_MOVED. */
/* clang-format off */
#define LUA_HEAD                                                               \
    "local P = ARGV[1]\n"                                                      \
    "local t = redis.call('TIME')\n"                                           \
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n" \
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
    LUA_KEY_FN("nodes_key", KEY_NODES)                                         \
    LUA_KEY_FN("lock_key", KEY_LOCK)                                           \
    LUA_KEY_FN("idem_key", KEY_IDEM)                                           \
    LUA_KEY_FN("gen_key", KEY_GEN)                                             \
    LUA_KEY_FN("suspect_key", KEY_SUSPECT)                                     \
    LUA_KEY_FN("gone_key", KEY_GONE)                                           \
    LUA_KEY_FN("ver_key", KEY_VER)                                             \
    LUA_MOVED
/* clang-format on */

/* Every script has one number: the slot of its SHA in struct rconn. */
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
    SCRIPT_PEEK,
    SCRIPT_UNTOUCH,
    SCRIPT_WORKER_RESTORE,
    SCRIPT_NODES,
    SCRIPT_NODE_REAP,
    SCRIPT_NODE_REGISTER,
    SCRIPT_SUSPECT,
    SCRIPT_WORKERS_VIEW,
    SCRIPT_COUNT
};

/* Which scripts store_run() sends a second time when the connection
 * broke after the script was written (Redis may have run it; rconn.h has
 * the whole retry table: a failure before the write is always retried).
 * A script is retry-safe when (a) running it twice, whatever other
 * requests do in between, leaves what running it once leaves, and (b) its
 * callers act on the second run's answer as on the first's.
 *
 *   safe: read-only, or idempotent by construction
 *     WORKERS COUNTS WAITING SESSION_LIST PEEK POOL_VIEW  only read (and
 *     WORKERS_VIEW
 *                          drop index entries whose record is gone)
 *     PRUNE_SESSIONS       drops entries whose key is gone; the count is
 *                          only logged
 *     POOL_REPORT          sets fields to given values; since moves only
 *                          with the state
 *     TOUCH                sets the expiry to now + ttl again; a failed
 *                          GET after a retried touch gives back only the
 *                          second touch (its prev is the first's expiry)
 *     UNTOUCH              acts only while the expiry is the touch's own
 *     UNLOCK IDEM_ABORT    delete only what the caller's token owns; the
 *                          answer is ignored
 *     IDEM_BEGIN           a pending record of the caller's own owner
 *                          token answers 'go' again
 *     WORKER_GONE          the record is gone after the first run; no id
 *                          comes back (ids only grow); callers only log
 *     NODES                only reads the nodes and their pool hashes
 *     NODE_REAP            removes a gone node's records; a second run
 *                          finds none and counts nothing
 *     SUSPECT              sets a key to a value and an expiry again
 *   unsafe: never resent once written
 *     CLAIM                a second run pops a second idle worker
 *     NODE_REGISTER WORKER_RESTORE  check, then write: a second run may
 *                          judge its own first write
 *     WORKER_ADD           a second record, a second id
 *     BIND END RETIRE HOLD EXPIRE WORKER_READY IDEM_FINISH  the second run
 *                          finds the work done and answers "not done",
 *                          on which the caller gives up or skips a step
 *     UNCLAIM RELEASED     put the worker idle: between the runs another
 *                          create may take it, and the second run would
 *                          undo that claim
 *     MARK_DEAD MARK_DEAD_IF  the second answers "not alive", and the
 *                          reaper then does not kill the process
 *     PROBE STATS_ADD      count (HINCRBY) twice
 */
int store_script_retry_safe(enum store_script id);

/* One script: its number and its source (LUA_HEAD first). */
struct store_script_def {
    enum store_script id;
    const char *src;
};

/* The most arguments a script call takes after the prefix. */
#define STORE_SCRIPT_ARGS_MAX 20 /* the pool report: 4 and 16 */

/* Records a failure in s and returns -1. */
int store_fail(struct store *s, enum store_err err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Runs script with argc arguments (after the prefix, which it adds as
 * ARGV[1]); lens may be NULL for NUL-terminated ones.  Returns the reply
 * (the caller frees it) or NULL with STORE_ERR_REDIS recorded. */
redisReply *store_run(struct store *s, const struct store_script_def *script,
                      int argc, const char **argv, const size_t *lens);

/* Returns the integer of reply and frees it; -1 for a NULL reply or one
 * that is no integer (STORE_ERR_PROTOCOL). */
long store_reply_int(struct store *s, redisReply *reply);

/* Runs script and returns its integer answer, or -1 on failure (a reply
 * that is no integer: STORE_ERR_PROTOCOL). */
long store_run_int(struct store *s, const struct store_script_def *script,
                   int argc, const char **argv);

/* Runs a script that answers {id, host, port} or nil.  Returns 1 with *out
 * filled, 0 for nil, -1. */
int store_run_addr(struct store *s, const struct store_script_def *script,
                   int argc, const char **argv, struct worker_addr *out);

/* Fills *out from a {id, host, port} reply.  Returns 0, or -1 with
 * STORE_ERR_PROTOCOL. */
int store_reply_addr(struct store *s, const redisReply *reply,
                     struct worker_addr *out);
/* The same for a reply of exactly n (>= 3) elements that begins with
 * {id, host, port}; the caller reads the rest. */
int store_reply_addr_n(struct store *s, const redisReply *reply, size_t n,
                       struct worker_addr *out);

/* Runs a script that answers the worker's prior state or nil.  Returns 1
 * with *prior (may be NULL) set, 0 for nil, -1. */
int store_run_state(struct store *s, const struct store_script_def *script,
                    int argc, const char **argv, enum worker_state *prior);

/* Checks that reply is an array of at least min elements.  Returns 0, or
 * -1 with STORE_ERR_PROTOCOL naming what (e.g. "workers"). */
int store_reply_array(struct store *s, const redisReply *reply, size_t min,
                      const char *what);

/* Allocates n > 0 zeroed elements of size bytes.  Returns the array,
 * which the caller frees, or NULL with STORE_ERR_NOMEM. */
void *store_calloc(struct store *s, size_t n, size_t size);

/* Builds the key of fmt (keys.h) for arg under s's prefix into out
 * (KEY_MAX bytes).  Returns 0, or -1 with STORE_ERR_ARG. */
int store_key(struct store *s, char *out, const char *fmt, const char *arg)
    __attribute__((format(printf, 3, 0)));

/* Copies a string element (anything else: "") into dst, truncated to
 * size - 1 bytes. */
void reply_str(char *dst, size_t size, const redisReply *e);
/* The number of an integer or decimal string element; 0 otherwise. */
long long reply_ll(const redisReply *e);
/* The worker state of a string element; WORKER_DEAD for anything else. */
enum worker_state reply_state(const redisReply *e);

/* Fills w from a reply of 13 elements (id node host port pid pstart state
 * session since started restarts fails alive), the 13th as the session's
 * liveness: "1"/"0", or the session key's PTTL when pttl (-2 gone, -1 no
 * expiry), into session_pttl_ms too.  now is the Redis clock of the read. */
void worker_rec_fill(struct worker_rec *w, const redisReply *a, int64_t now,
                     int pttl);

#endif
