/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * store.h - every change of worker and session state, each one atomic Lua
 * script on Redis (the schema is in keys.h), behind one context, struct
 * store: the connection, the key prefix and what the last call failed on.
 *
 * Worker life:
 *
 *           add              ready               claim
 * (none) -------> starting -------> idle ---------------------> creating
 *                     |             | ^ ^         unclaim        |  |  |
 *                     |             | | +------------------------+  |  |
 *                     |    probe    | |                    hold     |  | bind
 *                     |    failed,  | | released           (stuck)  |  |
 *                     |    hold     v |                             |  v
 *                     |           releasing <-----------------------+ busy
 *                     |               ^           end, expire          |
 *                     v               +--------------------------------+
 *                   dead  <-- from any state: mark_dead, mark_dead_of,
 *                     |       mark_dead_if (crash, failed probes, hang);
 *                     |       from idle: retire (the pool shrinks)
 *                     v
 *                  (none)  <-- from any state: worker_gone (the process
 *                              is gone: record removed, slot refilled)
 *
 *   transition                         function               caller
 *   (none) -> starting                 store_worker_add       spawner
 *   starting -> idle                   store_worker_ready     spawner
 *   idle -> creating                   store_claim            steel-fcgi
 *   creating -> busy (+ session)       store_bind             steel-fcgi
 *   creating -> idle                   store_unclaim          steel-fcgi
 *   busy -> releasing (- session)      store_end              steel-fcgi
 *   busy -> releasing (key expired)    store_expire           reaper
 *   idle -> releasing (probe failed)   store_probe            reaper
 *   releasing -> idle                  store_released         fcgi, reaper
 *   idle -> releasing (dirty)          store_hold             reaper
 *   creating -> releasing (stuck)      store_hold             reaper
 *   any -> dead (- session)            store_mark_dead        all
 *   own worker -> dead (- session)     store_mark_dead_of     spawner, reaper
 *   idle -> dead (pool shrinks)        store_retire           spawner
 *   seen state -> dead (- session)     store_mark_dead_if     reaper
 *   any -> (none) (- session)          store_worker_gone      spawner, reaper
 *
 * Invariants the scripts keep:
 *   - a worker id is in P:idle only while its state is idle, so a claim can
 *     hand a worker to exactly one create;
 *   - a session key exists only while its worker is creating->busy with that
 *     session, so a request for S reaches only S's worker, and a session
 *     whose worker died answers 404 at once;
 *   - a session key that expired is never revived: store_touch needs it to
 *     exist, store_expire needs it gone.
 *
 * The code is one file per concern: store_workers.c (worker life),
 * store_sessions.c (sessions), store_create.c (the create queue and
 * idempotent creates), store_ops.c (listings, counters, locks, the
 * spawner's pool view and report), store_core.c (this context, running
 * scripts, reading replies); the nodes' registry is declared apart, in
 * store_nodes.h.
 *
 * Every function returns -1 on failure with store_error() and
 * store_strerror() telling why, and does not log; the caller logs once
 * with its own context.  A struct store belongs to one thread.
 */
#ifndef STEEL_STORE_H
#define STEEL_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "conf.h"
#include "rconn.h"
#include "util.h"

/* ---- the context (store_core.c) ------------------------------------- */

/* Why the last call of a struct store failed.  Only STORE_ERR_REDIS means
 * the state store is unreachable (answer 503 redis_unavailable); the others
 * are failures of this side or of the request. */
enum store_err {
    STORE_OK = 0,
    STORE_ERR_REDIS,    /* Redis unreachable, timed out or refused the call */
    STORE_ERR_PROTOCOL, /* a reply of a shape the scripts never send */
    STORE_ERR_TOO_BIG,  /* an answer larger than the caller's buffer takes */
    STORE_ERR_RANDOM,   /* the kernel's random source failed */
    STORE_ERR_NOMEM,    /* out of memory */
    STORE_ERR_ARG,      /* an argument the call cannot take (a key too long,
                           too many fields) */
};

#define STORE_PREFIX_MAX 64
#define STORE_ERRSTR_MAX 1024

struct store {
    struct rconn redis;            /* connects on first use */
    char prefix[STORE_PREFIX_MAX]; /* every key starts "<prefix>:" */
    enum store_err err;            /* of the last call; STORE_OK after one
                                      that succeeded */
    char errstr[STORE_ERRSTR_MAX]; /* what the last call failed on; "" */
    char node_token[40];           /* this spawner's instance token: its
                                    * heartbeats write only a record that
                                    * holds it; "" elsewhere */
    char node[256];                /* node_name: names this node's waiters,
                                      is never reaped by its own reaper */
    long node_stale_ms; /* heartbeat age from which a node is stale */
    long node_gone_ms;  /* heartbeat age from which a node is gone */
};

/* Copies the Redis settings, key_prefix, node_name, node_stale_ms and
 * node_gone_after of c; does not connect.
 * Returns 0, or -1 when the prefix does not fit (s->errstr says so). */
int store_init(struct store *s, const struct conf *c);
/* Closes the connection; s can be initialised again. */
void store_release(struct store *s);

/* The error of the last call, STORE_OK after a call that succeeded. */
enum store_err store_error(const struct store *s);

/* 1 when a master can take a create's writes and make them safe now
 * (rconn_writable), 0 when not: no master, or a fail-over under way.  A
 * create that Redis failed asks this before it claims again, rather than
 * claim, POST and end a session on a worker for nothing. */
int store_writable(struct store *s);

/* After a read that found nothing (a GET or DELETE of an unknown
 * session): 1 when the master moved and the connection was dropped, so
 * that asking again reaches the new one (rconn_recheck), else 0. */
int store_master_moved(struct store *s);

/* The Redis server the store's connection is to, or was last to ("host:port",
 * a socket path, or "master <name>" before Sentinel named one); borrowed. */
const char *store_server(const struct store *s);
/* What the last call failed on, e.g. "redis 127.0.0.1:6379: connect:
 * Connection refused"; "" after a call that succeeded.  Owned by s. */
const char *store_strerror(const struct store *s);
/* "redis", "protocol", "too_big", ...: a name for logs and tests; "ok" for
 * STORE_OK, "unknown" out of range. */
const char *store_err_name(enum store_err err);

/* Runs one Redis command that is no script (PING, reads of the schema for
 * listings) with hiredis's format (%s, %b, ...), failures recorded as by
 * every store call.  Returns the reply, which the caller frees with
 * freeReplyObject(), or NULL with STORE_ERR_REDIS (no answer, or an error
 * reply such as NOPERM or LOADING). */
redisReply *store_commandf(struct store *s, const char *fmt, ...);

/* Fills out (size >= 33) with 32 random hex characters: a token for
 * store_wait_begin() or store_lock().  Returns 0, or -1 with
 * STORE_ERR_RANDOM (or STORE_ERR_ARG for a short buffer). */
int store_token(struct store *s, char *out, size_t size);

/* ---- worker records -------------------------------------------------- */

enum worker_state {
    WORKER_STARTING = 0,
    WORKER_IDLE,
    WORKER_CREATING,
    WORKER_BUSY,
    WORKER_RELEASING,
    WORKER_DEAD,
    WORKER_STATE_COUNT
};

#define WORKER_ID_MAX 24

/* "starting", "idle", ...; "unknown" for an out-of-range value. */
const char *worker_state_name(enum worker_state s);
/* Returns 0, or -1 for a name that is not a state. */
int worker_state_parse(const char *s, enum worker_state *out);

/* Where to reach a worker. */
struct worker_addr {
    char id[WORKER_ID_MAX];
    char host[256];
    int port;
};

/* One worker record as store_workers() reads it. */
struct worker_rec {
    char id[WORKER_ID_MAX];
    char node[256];
    char host[256];
    int port;
    long pid;
    unsigned long long pstart; /* clock ticks since boot */
    enum worker_state state;
    char session[SESSION_ID_MAX + 1];
    int64_t since_ms;   /* epoch ms the state was entered (Redis clock) */
    int64_t started_ms; /* epoch ms of the spawn */
    long restarts;
    long fails;         /* consecutive failed probes */
    int session_alive;  /* 1 when P:session:<session> exists */
    int64_t session_pttl_ms; /* store_workers_view: what is left of the
                                session key (ms); -1 no expiry, -2 none */
    int64_t now_ms;     /* Redis clock when the snapshot was taken */
};

/* ---- worker life (store_workers.c) ----------------------------------- */

/* Registers a spawned worker as starting.  Writes its new id to id_out
 * (WORKER_ID_MAX bytes).  The id is above id_floor, the highest id the
 * caller still holds (0: none), even when P:seq:worker went back (Redis
 * lost its data): the counter is raised past id_floor; and it is never the
 * id of an existing record.  Returns 0 or -1. */
int store_worker_add(struct store *s, const char *node, const char *host,
                     int port, long pid, unsigned long long pstart,
                     long restarts, long id_floor, char *id_out);

/* starting -> idle.  Returns 1, 0 when the worker is not starting, -1. */
int store_worker_ready(struct store *s, const char *id);

/* Takes the oldest idle worker of a live node: idle -> creating.  A
 * worker whose node's heartbeat (P:pool:<node>) is older than
 * s->node_stale_ms, or whose node stopped or is draining, is skipped and
 * put back at the tail of P:idle, still idle (a node with no heartbeat at
 * all is not judged).  Returns 1 with *out filled, 0 when no such worker is idle,
 * -1. */
int store_claim(struct store *s, struct worker_addr *out);

/* The hosts one claim may be asked to avoid at most. */
#define STORE_CLAIM_AVOID_MAX 8

/* store_claim, preferring workers that are on none of the navoid hosts of
 * avoid and whose node is not suspect (store_node_suspect): such a worker
 * is handed out only when no other idle worker of a live node is there,
 * so a create never waits for one while another would do.  Returns like
 * store_claim. */
int store_claim_from(struct store *s, const char *const *avoid, int navoid,
                     struct worker_addr *out);

/* Marks the node of worker id suspect for ms (P:suspect:<node>): one of
 * its workers did not answer a connect in time, so its host may be lost;
 * claims prefer other nodes' workers until it expires.  Returns 1, 0 when
 * the worker has no record, -1. */
int store_node_suspect(struct store *s, const char *id, long ms);

/* creating -> idle, for a claimed worker that was never sent a create.
 * Returns 1, 0 when it was not creating, -1. */
int store_unclaim(struct store *s, const char *id);

/* releasing -> idle (the worker was checked clean).  Returns 1, 0, -1. */
int store_released(struct store *s, const char *id);

/* Records a health probe.  ok: resets the failure count.  Not ok: counts
 * one more and, for an idle worker, takes it out of P:idle (idle ->
 * releasing) so it is not handed out until a pass finds it clean.  Returns
 * the consecutive failures (0 after ok), or -1. */
long store_probe(struct store *s, const char *id, int ok);

/* idle or creating -> releasing, only while the worker is still in state
 * from, entered at since_ms (worker_rec.since_ms), so it is handed to no
 * create while the reaper cleans it; store_released ends the hold.
 * Returns 1, 0 when the record moved on meanwhile, -1. */
int store_hold(struct store *s, const char *id, enum worker_state from,
               int64_t since_ms);

/* idle -> dead with reason, only while the worker is still idle, so a
 * claim never hands out a worker the spawner is about to stop.  Returns 1,
 * 0 when it is not idle (claimed meanwhile, or unknown), -1. */
int store_retire(struct store *s, const char *id, const char *reason);

/* Any state -> dead, dropping its session.  reason is kept in the record.
 * Returns 1, 0 when unknown or already dead, -1.  prior (may be NULL)
 * receives the state it had. */
int store_mark_dead(struct store *s, const char *id, const char *reason,
                    enum worker_state *prior);

/* store_mark_dead, only while the record belongs to node and, when pid >
 * 0, to pid: a spawner marking its own worker never hits another worker
 * that got the same id after P:seq:worker went back.  Returns 1, 0 when
 * unknown, dead or someone else's, -1. */
int store_mark_dead_of(struct store *s, const char *id, const char *node,
                       long pid, const char *reason, enum worker_state *prior);

/* store_mark_dead, only while the record still is in state with session
 * ("" for none) and, when since_ms >= 0, entered that state at since_ms:
 * a decision taken on a snapshot never hits a worker that moved on.
 * Returns 1, 0 when it moved on (or is unknown or dead), -1. */
int store_mark_dead_if(struct store *s, const char *id, enum worker_state state,
                       const char *session, int64_t since_ms,
                       const char *reason, enum worker_state *prior);

/* Removes the record of a worker whose process is gone, dropping its
 * session, only while the record belongs to node and, when pid > 0, to pid
 * (pid <= 0: a caller that does not know it): after P:seq:worker went
 * back, the id may be another worker's.  *served (may be NULL) is set to 1
 * when a session was ever bound to it (its field 'served').  Returns 1, 0
 * when unknown or someone else's, -1. */
int store_worker_gone(struct store *s, const char *id, const char *node,
                      long pid, const char *reason, enum worker_state *prior,
                      int *served);

/* ---- rebuilding after Redis lost records (store_rebuild.c) ----------- */

/* A worker the spawner still supervises, as it re-registers it. */
struct worker_restore {
    const char *id;            /* the id the worker was started with */
    const char *node, *host;   /* as store_worker_add took them */
    int port;
    long pid;
    unsigned long long pstart; /* clock ticks since boot */
    int64_t age_ms;            /* since its spawn */
    enum worker_state state;   /* WORKER_STARTING, _IDLE or _BUSY */
    const char *session;       /* the session it holds (busy only) */
    long ttl_ms;               /* session_ttl: a restored session gets all */
    long lifetime_ms;          /* session_max_lifetime, 0 = none */
    int64_t created_ms;        /* epoch ms the session began; 0: unknown,
                                  counted from now */
};

/* Re-registers a worker whose record vanished, under its own id, and for
 * a busy one binds its session again with a fresh expiry (within its
 * lifetime deadline from created_ms).  Returns 1 restored, 2 restored as
 * releasing (its session is another worker's live one, or past its
 * lifetime: the reaper cleans it), 3 the record is there already, 0 the
 * id is another worker's record (nothing changed), -1. */
#define STORE_RESTORE_RELEASING 2
#define STORE_RESTORE_THERE 3
int store_worker_restore(struct store *s, const struct worker_restore *r);

/* Notes in P:gen that node's spawner has its workers in Redis; with
 * only_if_missing, only when node is not noted yet.  Returns 0 or -1. */
int store_gen_mark(struct store *s, const char *node, int only_if_missing);

/* Whether P:gen notes node (node NULL: whether P:gen exists at all, i.e.
 * some spawner rebuilt since Redis last lost its data).  Returns 1, 0,
 * -1. */
int store_gen_node(struct store *s, const char *node);

/* ---- sessions (store_sessions.c) ------------------------------------- */

/* creating -> busy and stores session sid with a ttl_ms expiry, capped at
 * lifetime_ms after now when lifetime_ms > 0.  Returns 1 bound, 0 when the
 * worker is no longer creating (it was declared dead meanwhile), 2 when sid
 * is already a live session of another worker, -1. */
#define STORE_BIND_CONFLICT 2
int store_bind(struct store *s, const char *id, const char *sid, long ttl_ms,
               long lifetime_ms);

/* Waits up to ms for replicas replicas (conf_wait_replicas: a count, or
 * CONF_WAIT_ALL for every replica the Sentinels listed as up when the
 * connection found its master) to acknowledge every write this store's
 * connection made so far (WAIT, on that very connection: rconn_wait),
 * e.g. a create's bind before its 201, so that a fail-over to any of them
 * keeps it.  Returns 1 when they did (replicas 0: at once, no call), 0
 * when fewer did in time, -1 when the connection broke or Redis refused
 * (nothing is known); store_strerror says which. */
int store_replicas_wait(struct store *s, int replicas, long ms);

/* What a touch changed, for store_untouch. */
struct session_touch {
    long ttl_ms;   /* the expiry it set */
    long prev_ms;  /* the expiry that was left before it */
    int64_t at_ms; /* Redis's clock when it ran */
};

/* Records activity on sid: refreshes its expiry to ttl_ms (within its
 * lifetime cap) and fills *out with its worker, and *t (when not NULL)
 * with what it changed.  Returns 1, 0 when there is no such live session
 * (or its worker no longer holds it: the key is then removed), -1. */
int store_touch(struct store *s, const char *sid, long ttl_ms,
                struct worker_addr *out, struct session_touch *t);

/* Takes touch t of sid back, for a request whose worker call failed: the
 * session gets the expiry it had before (less the time since), so failed
 * requests never keep a session alive.  Nothing changes when another
 * request touched sid since.  Returns 1 when set back, 0 when not, -1. */
int store_untouch(struct store *s, const char *sid,
                  const struct session_touch *t);

/* Whether sid is a live session, with no side effect at all (HEAD): no
 * expiry refreshed, nothing removed.  Returns 1, 0 when it is not, -1. */
int store_session_peek(struct store *s, const char *sid);

/* Ends sid (DELETE): removes the session; its worker, if it still holds
 * sid, goes busy -> releasing and *out is filled.  Returns 1 ended with a
 * worker to release, 2 ended with no worker to release, 0 no such session,
 * -1. */
#define STORE_END_NO_WORKER 2
int store_end(struct store *s, const char *sid, struct worker_addr *out);
/* store_end for a session its worker lost by itself (it answered 404):
 * counted as sessions_lost, not as a client's delete. */
int store_end_lost(struct store *s, const char *sid, struct worker_addr *out);

/* busy -> releasing when the worker still maps sid and the session key has
 * expired.  Returns 1, 0 when not applicable, -1. */
int store_expire(struct store *s, const char *id, const char *sid);

/* Removes from P:sessions at most limit entries older than age_ms whose
 * session key no longer exists.  Returns how many, or -1. */
long store_prune_sessions(struct store *s, long age_ms, long limit);

/* ---- the create queue and idempotent creates (store_create.c) -------- */

/* A create starts waiting for a worker for at most wait_ms: registers
 * token in P:waiters, named for this node (s->node), unless max creates
 * wait already.  Returns 1 registered, 0 queue full, -1. */
int store_wait_begin(struct store *s, const char *token, long wait_ms,
                     long max);
int store_wait_end(struct store *s, const char *token);
/* Creates waiting now (stale tokens pruned).  Returns the count or -1. */
long store_waiting(struct store *s);

/* Idempotent creates: P:idem:<key> remembers the body's fingerprint and,
 * once the create finished, its status and body.  key is the caller's
 * (already scoped to a client); owner is a random token of one request.
 * store_idem_begin returns STORE_IDEM_GO (the caller creates; the record
 * is pending, owned by owner, for pending_ms), STORE_IDEM_PENDING
 * (another request with this key is creating), STORE_IDEM_CONFLICT (the
 * key was used with another body) or STORE_IDEM_DONE (*status and body
 * hold the stored answer; -1 with STORE_ERR_TOO_BIG when it does not fit
 * in body), or -1. */
#define STORE_IDEM_GO 1
#define STORE_IDEM_PENDING 2
#define STORE_IDEM_CONFLICT 3
#define STORE_IDEM_DONE 4
int store_idem_begin(struct store *s, const char *key, const char *fp,
                     const char *owner, long pending_ms, struct buf *body,
                     long *status);
/* Stores the answer of owner's finished create for ttl_ms, when the
 * record is still owner's pending one or is gone.  Returns 1, 0 when
 * another request owns the key (owner's mark expired and was taken, and
 * owner's session must not be handed out), -1. */
int store_idem_finish(struct store *s, const char *key, const char *fp,
                      const char *owner, long status, const char *body,
                      size_t len, long ttl_ms);
/* Forgets owner's pending record after its create failed, so a retry may
 * try again.  Returns 1, 0 (not owner's), -1. */
int store_idem_abort(struct store *s, const char *key, const char *owner);

/* ---- listings, counters, locks, the spawner's pool (store_ops.c) ----- */

/* Reads every worker of node (node == NULL: of all nodes).  *out is a
 * malloc'd array the caller frees; *n its length.  Returns 0 or -1. */
int store_workers(struct store *s, const char *node, struct worker_rec **out,
                  size_t *n);

/* What store_workers_view() read. */
struct store_wview {
    char ver[32];            /* P:ver:<node> as Redis holds it ("" none) */
    int64_t now_ms;          /* Redis's clock */
    int full;                /* 1: recs holds every record, read whole */
    struct worker_rec *recs; /* full: malloc'd (the caller frees), with
                                session_pttl_ms; else NULL */
    size_t nrecs;
    long long *pttl;         /* not full: malloc'd, one per sid asked: what
                                is left of its key (ms), -1 no expiry, -2
                                gone; else NULL */
};

/* The records of node for a reader that keeps them between reads (the
 * reaper): all of them, as store_workers() reads them but with each
 * session key's PTTL, when P:ver:<node> is not ver (or ver is ""): every
 * script that changes a record moves it (keys.h).  Else only the PTTL of
 * each of the nsids session ids in sids: a session key ends without the
 * version moving (its expiry), and these are the ones the caller expects
 * may have ended.  One script, so one snapshot.  Returns 0 or -1. */
int store_workers_view(struct store *s, const char *node, const char *ver,
                       const char *const *sids, size_t nsids,
                       struct store_wview *out);

/* Counts workers by state (node == NULL: all nodes) into
 * counts[WORKER_STATE_COUNT].  Returns 0 or -1. */
int store_counts(struct store *s, const char *node,
                 long counts[WORKER_STATE_COUNT]);

/* One live session as store_session_list() reads it. */
struct session_rec {
    char id[SESSION_ID_MAX + 1];
    char worker[WORKER_ID_MAX];
    int64_t created_ms; /* epoch ms */
    int64_t last_ms;    /* epoch ms of the last create or GET (to 1 s) */
    int64_t ttl_ms;     /* until expiry */
};

/* Reads up to limit live sessions from offset, most recently active first.
 * *out is malloc'd (caller frees), *n its length, *total the size of the
 * index.  Returns 0 or -1. */
int store_session_list(struct store *s, long offset, long limit,
                       struct session_rec **out, size_t *n, long *total);

/* Adds n to counter field of P:stats.  Returns 0 or -1. */
int store_count(struct store *s, const char *field, long n);

/* One counter of P:stats as store_stats() reads it. */
struct stat_rec {
    const char *name; /* the field ("lat:health:3"); in the same block */
    long long value;  /* its count */
};

/* Reads every counter of P:stats.  *out is one malloc'd block, the names
 * included, that the caller frees with free(); *n its length (0 and NULL
 * for none).  A field whose value is no integer is left out.  Returns 0
 * or -1. */
int store_stats(struct store *s, struct stat_rec **out, size_t *n);

/* Whether Redis answers (PING).  Returns 0 or -1. */
int store_ping(struct store *s);

/* The number of live sessions (the size of P:sessions), or -1. */
long store_session_count(struct store *s);

/* The least recently active live session: *last_ms its last activity in
 * P:sessions, *now_ms Redis's clock (both epoch ms).  Returns 1, 0 when
 * there is no session, or -1. */
int store_session_oldest(struct store *s, int64_t *last_ms, int64_t *now_ms);

/* Adds counters to P:stats in one call: packed is "field n" pairs
 * separated by newlines; fields hold no blanks.  Returns 0 or -1. */
int store_stats_add(struct store *s, const char *packed);

/* Takes lock name for ttl_ms if nobody holds it.  Returns 1 taken, 0 held
 * by someone else, -1.  store_unlock releases it only if token still owns
 * it. */
int store_lock(struct store *s, const char *name, const char *token,
               long ttl_ms);
int store_unlock(struct store *s, const char *name, const char *token);

/* One worker of a node as store_pool_view() reads it. */
struct pool_entry {
    char id[WORKER_ID_MAX];
    enum worker_state state;
    int64_t since_ms; /* epoch ms the state was entered (Redis clock) */
    char reason[128]; /* why it is dead (truncated); "" unless dead */
};

/* What a spawner reads each tick, in one round trip. */
struct pool_view {
    int64_t now_ms;             /* Redis clock */
    long waiting;               /* creates waiting that are this node's to
                                   serve (stale tokens pruned) */
    long waiting_all;           /* creates waiting, all nodes */
    char ver[32];               /* P:ver:<node> (keys.h) when read */
    int full;                   /* 1: entries lists every worker of the
                                   node; 0: none changed since ver */
    struct pool_entry *entries; /* the workers of the node; malloc'd */
    size_t n;
};

/* Fills *v for node, which has room for this many waiting creates:
 * max_workers - idle_target - its workers neither idle nor starting.
 * v->waiting is
 * its share of the waiting creates: those queued by its own handlers, up
 * to room, and of those no node with a fresh heartbeat has room for (their
 * node is full, stale or unknown), as many as fit in the room left, nodes
 * taken in name order.  So the spawners together start about one worker
 * per waiting create.  Release it with store_pool_view_release().
 * Returns 0 or -1. */
int store_pool_view(struct store *s, const char *node, long room,
                    struct pool_view *v);
/* The same, but when P:ver:<node> is still ver (not NULL, not "": what an
 * earlier view's v->ver said) no worker is read: v->full is 0 and
 * v->n 0, and the workers are as that view found them.  A view that
 * reads them has v->full 1. */
int store_pool_view_since(struct store *s, const char *node, long room,
                          const char *ver, struct pool_view *v);
void store_pool_view_release(struct pool_view *v);

/* Writes the spawner's view of its pool to P:pool:<node>: state ("ok",
 * "degraded", "draining", "stopped"), reason, heartbeat (now), since (now when
 * the state changed) and nfields more strings as field, value pairs (at most
 * 16), and adds node to P:nodes.  Returns 1, 2 when the record names no
 * host (a reaper removed the node meanwhile: store_node_register() again),
 * STORE_NODE_TAKEN (nothing written) when s->node_token is set and the
 * record holds another instance's token, or -1. */
int store_pool_report(struct store *s, const char *node, const char *state,
                      const char *reason, int nfields, const char **fields);

/* The pid of node's spawner as its last P:pool:<node> report names it
 * into *pid: 0 when there is no report, or it names no valid pid.  It may
 * be stale (a spawner that died): callers check what they find there.
 * Returns 0 or -1. */
int store_spawner_pid(struct store *s, const char *node, long *pid);

#endif
