/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * keys.h - the Redis key schema.  Every key the programs use is here, with
 * its type, who writes it and its lifetime.  P is the configured key_prefix
 * (default "steel").  The KEY_ formats below are the one definition of
 * every name: C builds keys from them with key_build(), and the Lua scripts
 * of the store get them as functions of their prelude (store_core.h), which
 * applies the same formats with string.format to ARGV[1] = P.  So a format
 * holds "%s" conversions only (P first, then at most one argument) and no
 * quote or backslash.  Nothing else may invent a key.
 *
 * The scripts address keys they compute, so the schema needs one Redis (or
 * a Sentinel-managed primary), not Redis Cluster.
 *
 *   P:seq:worker        string  INCR counter for worker ids; never expires;
 *                               raised past the ids a spawner still holds
 *                               when it went back (store_worker_add)
 *   P:workers           set     ids of every worker record; no TTL
 *   P:node:<node>       set     ids of the workers one node's spawner owns
 *   P:worker:<id>       hash    one worker, no TTL; removed when its process
 *                               is gone (store_worker_gone).  Fields:
 *       id        worker id (decimal)
 *       node      node_name of the owning spawner
 *       host      address handlers use to reach it (worker_host)
 *       port      TCP port
 *       pid       process id on its node
 *       pstart    process start time (clock ticks since boot), to tell a
 *                 reused pid from the worker
 *       state     starting | idle | creating | busy | releasing | dead
 *       session   session id it holds while creating/busy/releasing, or ""
 *       served    "1" once a session was bound to it (a create on it
 *                 succeeded); the spawner's restart policy reads it when
 *                 the process is gone
 *       since     ms since the epoch (Redis clock) when state was entered
 *       started   ms since the epoch when it was spawned
 *       restarts  how many times its slot was refilled before it
 *       fails     consecutive failed health probes
 *       reason    why it became dead
 *   P:idle              list    ids of idle workers, oldest first; claim pops
 *                               the head, release pushes the tail
 *   P:session:<sid>     hash    one live session; PEXPIRE = time left, so the
 *                               key vanishing IS the expiry.  Fields:
 *       worker    worker id
 *       created   ms since the epoch
 *       last      ms since the epoch of the last create or GET
 *       deadline  ms since the epoch of the lifetime cap, 0 = none
 *   P:sessions          zset    sid -> last activity ms; an index for
 *                               listing; entries of expired sessions are
 *                               removed by the reaper within one interval
 *   P:waiters           zset    "<node>/<token>" -> deadline ms of a create
 *                               waiting for a worker; node is the
 *                               node_name of the handler that queued it,
 *                               the spawner that should start a worker
 *                               for it (store_pool_view shares the
 *                               waiters of a node without room among the
 *                               others); the spawners' demand signal;
 *                               stale tokens are pruned by score
 *   P:stats             hash    counters since the keys were created
 *                               (sessions_created, ...), for /metrics
 *   P:pool:<node>       hash    a spawner's view of its pool, no TTL;
 *                               written by steel-spawner about once a
 *                               second (store_pool_report).  Fields:
 *       state     ok | degraded (workers keep failing to start or die
 *                 young: refills wait for a cool-down) | draining
 *                 (node_drain: no create claims its workers; they are
 *                 retired as they become idle) | stopped (the spawner
 *                 stopped cleanly)
 *       reason    why it is degraded, e.g. "cannot execute /x: No such
 *                 file or directory"; "" when ok
 *       since     ms since the epoch (Redis clock) state was entered
 *       heartbeat ms since the epoch of the last write; a stale one means
 *                 the spawner is not running
 *       pid, workers, idle, starting, fails, idle_target, max_workers
 *                 the spawner's pid, its live worker processes, idle and
 *                 starting ones, consecutive failures, the sizes in force
 *       hostid    the identity of the spawner's host (machine id and
 *                 boot id, nodeid.h): two hosts with one node_name
 *       worker_host  the address its workers are registered with
 *       worker_ports its worker_port_range, "LOW-HIGH" (for /status and
 *                 the other nodes' check of their worker_hosts)
 *       token     the instance token of the spawner that holds the name
 *                 (nodetoken.h): written by its registration, which
 *                 refuses any other token while the heartbeat is fresh;
 *                 a heartbeat with another token writes nothing
 *       conflict_at, conflict_hostid, conflict_pid
 *                 ms since the epoch (Redis clock) another process's claim
 *                 of the name was last refused, and its host id and pid;
 *                 /status shows it for 10 minutes
 *                 The heartbeat is the node's liveness: older than
 *                 node_stale_ms the node is stale (claims skip its
 *                 workers), older than node_gone_after it is gone (a
 *                 reaper of another node removes its records, this hash
 *                 and its P:node:<node>: store_node_reap)
 *   P:nodes             set     node_name of every node that wrote a
 *                               P:pool:<node>; no TTL; a node leaves it
 *                               with its records (store_node_reap, or
 *                               the forget-node recipe)
 *   P:ver:<node>        string  the version of one node's worker records,
 *                               no TTL: every script that adds or removes
 *                               one of them, or changes its state, since
 *                               or reason, moves it on (INCR; a missing
 *                               key starts again at µs since the epoch,
 *                               as store_pool_view sets it, so a
 *                               Redis that lost it never repeats a
 *                               version a spawner saw).  The spawner reads
 *                               its records whole only when it moved
 *                               (store_pool_view_since); a hand edit of a
 *                               record may DEL it to be seen at once
 *   P:lock:<name>       string  a lock token with PX expiry (reaper passes)
 *   P:gone:<sid>        string  "1", PX 600000 (10 min): the session ended,
 *                               and a client was or will be told so (a
 *                               DELETE, a GET its worker answered 404, an
 *                               abandoned or undone create: the END
 *                               script; an expiry the reaper found: the
 *                               EXPIRE script).  store_worker_restore
 *                               never binds such a session again: its
 *                               worker comes back releasing
 *   P:suspect:<node>    string  "1", PX node_stale_ms: a worker of the node
 *                               did not answer a connect within
 *                               worker_connect_timeout_ms (steel-fcgi,
 *                               store_node_suspect).  Claims hand out
 *                               its idle workers only when no other
 *                               live node has one (store_claim_from)
 *   P:gen               hash    node -> ms since the epoch when that node's
 *                               spawner last brought its workers into this
 *                               Redis (store_gen_mark, spawner/rebuild.c);
 *                               no TTL.  A Redis that lost its data has no
 *                               P:gen until a spawner rebuilt: steel-fcgi
 *                               holds a GET that misses meanwhile, and the
 *                               reaper kills no stray of a node missing here
 *   P:idem:<scope>:<key> hash   one Idempotency-Key of POST /sessions; the
 *                               scope is "t" and the SHA-256 of the bearer
 *                               token, or "a" and the SHA-256 of the
 *                               client's address (no token), in hex, so
 *                               the key starts at a fixed offset and no
 *                               two clients share a record (key_idem_scope;
 *                               before, "a<address>:<key>", where fd31::2
 *                               with key "1:K1" met fd31::2:1 with "K1");
 *                               PEXPIRE the create's longest run
 *                               while pending, then session_ttl once done.
 *                               Fields:
 *       fp        fingerprint of the request body
 *       state     pending | done
 *       owner     random token of the request creating (pending only)
 *       status    HTTP status of the stored answer (done only)
 *       body      the stored answer (done only)
 */
#ifndef STEEL_KEYS_H
#define STEEL_KEYS_H

#include <stddef.h>

#define KEY_MAX            512
#define KEY_IDEM_SCOPE_MAX 196 /* "t" or "a", 64 hex, ":", a key of 128 */

#define KEY_SEQ_WORKER   "%s:seq:worker"
#define KEY_WORKERS      "%s:workers"
#define KEY_NODE         "%s:node:%s"
#define KEY_WORKER       "%s:worker:%s"
#define KEY_IDLE         "%s:idle"
#define KEY_SESSION      "%s:session:%s"
#define KEY_SESSIONS     "%s:sessions"
#define KEY_WAITERS      "%s:waiters"
#define KEY_STATS        "%s:stats"
#define KEY_POOL         "%s:pool:%s"
#define KEY_NODES        "%s:nodes"
#define KEY_LOCK         "%s:lock:%s"
#define KEY_VER          "%s:ver:%s"
#define KEY_IDEM         "%s:idem:%s"
#define KEY_GEN          "%s:gen"
#define KEY_SUSPECT      "%s:suspect:%s"
#define KEY_GONE         "%s:gone:%s"

/* Writes prefix:... for fmt (one of the KEY_ formats) into out.  Returns
 * 0, or -1 when the key would not fit in size bytes. */
int key_build(char *out, size_t size, const char *fmt, const char *prefix,
              const char *arg) __attribute__((format(printf, 3, 0)));

/* Writes the <scope>:<key> part of P:idem for Idempotency-Key key into
 * out: the scope of the bearer token when token is neither NULL nor
 * empty, else that of the client address addr.  Returns 0, or -1 when it
 * would not fit in size bytes (KEY_IDEM_SCOPE_MAX fits any key of up to
 * 128 characters). */
int key_idem_scope(char *out, size_t size, const char *token, const char *addr,
                   const char *key);

#endif
