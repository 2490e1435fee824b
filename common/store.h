/*
 * store.h - every change of worker and session state, each one atomic Lua
 * script on Redis (the schema is in keys.h).
 *
 * Worker life:
 *
 *             add               ready                claim
 *   (none) --------> starting ---------> idle ---------------> creating
 *                       |                 ^  ^                  |    |
 *                       |       released  |  | unclaim     bind |    |
 *                       |                 |  +------------------+    |
 *                       |            releasing <--- busy <-----------+
 *                       |                 ^  end/expire |
 *                       v                 |             |
 *                     dead <--------------+-------------+  mark_dead
 *                       |   (from any state: crash, failed probes, hang)
 *                       v
 *                    (none)  worker_gone: record removed, slot refilled
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
 *   any -> dead (- session)            store_mark_dead        all
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
 * Every function returns -1 on a Redis failure with r->errstr set and does
 * not log; the caller logs once with its own context.
 */
#ifndef STEEL_STORE_H
#define STEEL_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "rconn.h"
#include "util.h"

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

/* One worker record as store_node_workers() reads it. */
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
    int64_t now_ms;     /* Redis clock when the snapshot was taken */
};

/* Registers a spawned worker as starting.  Writes its new id to id_out
 * (WORKER_ID_MAX bytes).  Returns 0 or -1. */
int store_worker_add(struct rconn *r, const char *prefix, const char *node,
                     const char *host, int port, long pid,
                     unsigned long long pstart, long restarts, char *id_out);

/* starting -> idle.  Returns 1, 0 when the worker is not starting, -1. */
int store_worker_ready(struct rconn *r, const char *prefix, const char *id);

/* Takes the oldest idle worker: idle -> creating.  Returns 1 with *out
 * filled, 0 when no worker is idle, -1. */
int store_claim(struct rconn *r, const char *prefix, struct worker_addr *out);

/* creating -> busy and stores session sid with a ttl_ms expiry, capped at
 * lifetime_ms after now when lifetime_ms > 0.  Returns 1 bound, 0 when the
 * worker is no longer creating (it was declared dead meanwhile), 2 when sid
 * is already a live session of another worker, -1. */
#define STORE_BIND_CONFLICT 2
int store_bind(struct rconn *r, const char *prefix, const char *id,
               const char *sid, long ttl_ms, long lifetime_ms);

/* creating -> idle, for a claimed worker that was never sent a create.
 * Returns 1, 0 when it was not creating, -1. */
int store_unclaim(struct rconn *r, const char *prefix, const char *id);

/* Records activity on sid: refreshes its expiry to ttl_ms (within its
 * lifetime cap) and fills *out with its worker.  Returns 1, 0 when there is
 * no such live session (or its worker no longer holds it: the key is then
 * removed), -1. */
int store_touch(struct rconn *r, const char *prefix, const char *sid,
                long ttl_ms, struct worker_addr *out);

/* Ends sid (DELETE): removes the session; its worker, if it still holds
 * sid, goes busy -> releasing and *out is filled.  Returns 1 ended with a
 * worker to release, 2 ended with no worker to release, 0 no such session,
 * -1. */
#define STORE_END_NO_WORKER 2
int store_end(struct rconn *r, const char *prefix, const char *sid,
              struct worker_addr *out);

/* busy -> releasing when the worker still maps sid and the session key has
 * expired.  Returns 1, 0 when not applicable, -1. */
int store_expire(struct rconn *r, const char *prefix, const char *id,
                 const char *sid);

/* releasing -> idle (the worker was checked clean).  Returns 1, 0, -1. */
int store_released(struct rconn *r, const char *prefix, const char *id);

/* Any state -> dead, dropping its session.  reason is kept in the record.
 * Returns 1, 0 when unknown or already dead, -1.  prior (may be NULL)
 * receives the state it had. */
int store_mark_dead(struct rconn *r, const char *prefix, const char *id,
                    const char *reason, enum worker_state *prior);

/* Removes the record of a worker whose process is gone, dropping its
 * session.  Returns 1, 0 when unknown, -1. */
int store_worker_gone(struct rconn *r, const char *prefix, const char *id,
                      const char *reason, enum worker_state *prior);

/* Records a health probe.  ok: resets the failure count.  Not ok: counts
 * one more and, for an idle worker, takes it out of P:idle (idle ->
 * releasing) so it is not handed out until a pass finds it clean.  Returns
 * the consecutive failures (0 after ok), or -1. */
long store_probe(struct rconn *r, const char *prefix, const char *id, int ok);

/* Reads every worker of node (node == NULL: of all nodes).  *out is a
 * malloc'd array the caller frees; *n its length.  Returns 0 or -1. */
int store_workers(struct rconn *r, const char *prefix, const char *node,
                  struct worker_rec **out, size_t *n);

/* Counts workers by state (node == NULL: all nodes) into
 * counts[WORKER_STATE_COUNT].  Returns 0 or -1. */
int store_counts(struct rconn *r, const char *prefix, const char *node,
                 long counts[WORKER_STATE_COUNT]);

/* A create starts waiting for a worker for at most wait_ms: registers
 * token in P:waiters.  Returns 0 or -1. */
int store_wait_begin(struct rconn *r, const char *prefix, const char *token,
                     long wait_ms);
int store_wait_end(struct rconn *r, const char *prefix, const char *token);
/* Creates waiting now (stale tokens pruned).  Returns the count or -1. */
long store_waiting(struct rconn *r, const char *prefix);

/* Adds n to counter field of P:stats.  Returns 0 or -1. */
int store_count(struct rconn *r, const char *prefix, const char *field,
                long n);

/* Takes lock name for ttl_ms if nobody holds it.  Returns 1 taken, 0 held
 * by someone else, -1.  store_unlock releases it only if token still owns
 * it. */
int store_lock(struct rconn *r, const char *prefix, const char *name,
               const char *token, long ttl_ms);
int store_unlock(struct rconn *r, const char *prefix, const char *name,
                 const char *token);

#endif
