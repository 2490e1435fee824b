/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * reaper.h - one reaper pass over the workers of this node: expired and
 * deleted sessions are reclaimed, hung workers killed, and Redis, the
 * process table and each worker's own /status reconciled.
 *
 * A pass, in order (every change is one conditional Lua script of
 * store.h, so a pass that races handlers or another reaper never acts on
 * a worker that moved on):
 *
 *   1. lock "reaper:<node>" (P:lock:..., token, PX lock_ttl); held
 *      elsewhere -> skip the pass
 *   2. list the processes of ours to look at, then the records of the
 *      node (processes first: a worker spawned in between is known to
 *      Redis already).  With worker cgroups the list is the node's worker
 *      groups, and only the members of groups no record names are read;
 *      without, the children of the node's spawner (P:pool:<node> names
 *      its pid), and every stray_scan_interval seconds, and on the first
 *      pass of a process (so every --once), a full scan of /proc
 *      (procscan.h).  The records are kept from one pass to the next
 *      (view.c): read whole only when P:ver:<node> moved, else only the
 *      session keys whose expiry may have come.  Whether a record's
 *      process still runs comes from a pidfd held across passes
 *      (pidwatch.h), not from /proc
 *   3. per record, decide_plan: remove records without a process, kill
 *      stuck starting workers, expire busy workers whose session key is
 *      gone, hold creating workers whose handler died
 *   4. kill processes of ours that Redis does not know (stray)
 *   5. GET /status at once (deadline probe_timeout_ms) of every
 *      reclaimable worker and every one whose last probe failed, and of
 *      the idle and busy ones due (once every probe_interval, an even
 *      share each pass: decide_probe_due), over connections kept from one pass
 *      to the next (wprobe.h: none serves more than 30 s, so a worker
 *      that stops accepting connections fails a probe as a new client
 *      would see it); decide_judge each answer: record
 *      failed probes (kill at probe_failures), release clean workers,
 *      kill busy workers that lost their session
 *   6. DELETE /sessions/<sid> at once on every worker that still holds a
 *      session nobody maps (deadline worker_timeout_ms), then GET /status
 *      again: clean -> store_released, else mark dead and kill
 *   7. prune stale P:sessions entries; remove the records of other nodes
 *      whose heartbeat is older than node_gone_after (store_node_reap,
 *      every quarter of node_gone_after, at most every 5 s);
 *      count the pass, unlock
 *
 * A worker is always marked dead in Redis before it is killed, so no
 * create receives a worker that is being killed.  Every repair is logged
 * in one line and counted in P:stats as "repairs:<kind>" (kinds in
 * decide.c); reclaimed workers count in "reaper_reclaims", passes in
 * "reaper_passes".
 *
 * Time: a pass does at most three rounds of HTTP, all concurrent, so it
 * ends within about 2 x probe_timeout_ms + worker_timeout_ms plus its
 * Redis calls; it stops changing anything once it nears the lock's expiry
 * or when SIGTERM arrives.
 *
 * Bounds (passes start reap_interval apart, or back to back when a pass
 * takes longer; I = reap_interval, T = probe_timeout_ms, N =
 * probe_failures):
 *   - a worker that stops answering is killed at most
 *       Q + (N - 1) x max(I, T) + T   after the hang starts
 *     (Q = probe_interval rounded up to whole passes), i.e.
 *     Q + (N - 1) x I + T when T <= I (2 s + 2 s + 1 s with the defaults);
 *   - a hung idle worker leaves P:idle at its first failed probe, at most
 *     Q + T after the hang;
 *   - a worker process that ends is seen by the next pass (its pidfd);
 *   - a worker whose session expired or was ended (and whose handler's
 *     release did not finish within release_grace) is idle again at most
 *     I plus one pass after the expiry (a session key whose expiry was
 *     moved back by hand, or by a failed GET's untouch: within
 *     REAPER_VIEW_FULL_MS);
 *   - a stray (a process of ours Redis does not know, older than
 *     PROCSCAN_STRAY_MIN_AGE_MS = 1 s) is killed by the next pass when it
 *     is a child of the running spawner, else by the next full scan: at
 *     most S + I + 1 s after it appears (S = stray_scan_interval; a full
 *     scan that meets a stray younger than 1 s is repeated on the next
 *     pass).  A pass's /proc reads grow with the node's workers; only the
 *     full scan reads every process of the host.
 */
#ifndef STEEL_REAPER_H
#define STEEL_REAPER_H

#include <stdint.h>
#include <sys/types.h>

#include "cgroup.h"
#include "conf.h"
#include "decide.h"
#include "rconn.h"
#include "store_nodes.h"
#include "wprobe.h"

/* The node's records as the passes keep them (view.c): read whole when
 * P:ver:<node> moved and at least every REAPER_VIEW_FULL_MS, else only
 * the session keys whose expiry may have come. */
#define REAPER_VIEW_FULL_MS 30000 /* as the spawner's VIEW_FULL_MS */
struct reaper_view {
    struct worker_rec *recs; /* the records (malloc'd), as last read */
    int64_t *check_at;       /* per record: Redis ms when its session key
                                may have ended; INT64_MAX never */
    size_t n;
    char ver[32];            /* P:ver:<node> of the last read; "": none, the
                                next read is whole */
    int64_t full_mono;       /* mono ms of the last whole read */
    int64_t now_ms;          /* Redis clock of the last read */
    int64_t now_mono;        /* mono ms of the last read */
};

struct reaper {
    struct conf conf;            /* settings in force (a copy) */
    struct store store;          /* this process's Redis connection */
    struct decide_limits limits; /* deadlines derived from conf */
    uid_t worker_uid_lo;         /* whom workers run as: worker_user's uid
                                    or worker_uid_range, else our own */
    uid_t worker_uid_hi;         /* euid (the same as worker_uid_lo but
                                    for a range) */
    char lock_name[300];         /* "reaper:<node_name>" */
    char token[33];              /* lock token of this process */
    long lock_ttl_ms;            /* expiry of the pass lock */
    int redis_down;              /* the last pass failed on Redis */
    int64_t pass_stop;           /* mono ms after which a pass stops */
    int64_t scan_due;            /* mono ms of the next full /proc scan;
                                    0: the next pass */
    struct cgroup cg;            /* the node's worker groups, found again
                                    each pass; cg.on 0: none */
    char cg_base[CGROUP_PATH_MAX]; /* the last <base> found */
    char hostid[NODE_HOSTID_MAX];  /* this host's identity (nodeid.h);
                                      "" unknown */
    int64_t token_wait_since;      /* mono ms the passes began to wait for
                                      this host's token file; 0: not */
    int token_waiting;             /* gave up waiting for it: judged by
                                      host id (logged once) */
    int64_t refuse_since;          /* mono ms a holder not this host's was
                                      first seen; 0: none */
    int once;                      /* --once: one pass, judged at once */
    long pass_no;                  /* passes begun (decide_probe_due) */
    int64_t nodes_due;             /* mono ms of the next judgement of the
                                      other nodes' heartbeats */
    struct reaper_view view;       /* the records, kept between passes */
    struct wprobe *wp;           /* probe connections kept from one pass to
                                    the next (wprobe.h); NULL: libcurl's */
    struct pidwatch *pw;         /* pidfds of the records' processes, kept
                                    from one pass to the next (pidwatch.h);
                                    NULL: /proc/<pid>/stat each pass */
};

/* Sets rp up with configuration c; does not connect.  Returns 0, or -1
 * when no lock token can be made (logged). */
int reaper_init(struct reaper *rp, const struct conf *c);
void reaper_release(struct reaper *rp);

/* Takes a reloaded configuration; reconnects to Redis on the next call
 * when its settings changed. */
void reaper_configure(struct reaper *rp, const struct conf *c);

/* Runs one pass.  Returns 1 when it ran, 0 when another reaper held the
 * lock (logged at debug), -1 when Redis failed (logged once per outage),
 * 0 too while the node's holder has an instance token and this host has
 * no token file yet (its spawner has not started: logged once),
 * REAPER_REFUSED when the node_name is held by a steel-spawner of another
 * host or another instance than this host's (logged; nothing of the node
 * touched): the reaper must stop.  Never blocks much longer than
 * lock_ttl_ms. */
#define REAPER_REFUSED (-2)
int reaper_pass(struct reaper *rp);

#endif
