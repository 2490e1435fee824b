/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * reaper.c - one reaper pass (reaper.h): its set-up, its order, the
 * steps without HTTP (the plan of each record, the other nodes, the
 * session index); the kills are kill.c's, the HTTP rounds rounds.c's
 * (pass.h).
 *
 * Invariants (kept here and in kill.c and rounds.c):
 *   - every Redis change is one store.h script that checks the record it
 *     changes, so a decision taken on the pass's snapshot never hits a
 *     worker that moved on (a claim, a bind, an end or another pass);
 *   - a worker is marked dead in Redis before its process is signalled,
 *     and a process is signalled only when the kernel says it is a worker
 *     of this node (proc_is_node_worker: its uid, its worker group, its
 *     start time) -- never on the word of a record alone, nor on what a
 *     process writes in its environment; a killed worker's whole group
 *     goes with it;
 *   - a record whose address is outside worker_host/worker_hosts and
 *     worker_port_range is never probed (privsep_worker_addr_ok, as
 *     steel-fcgi checks it): a failed probe, verdict refused;
 *   - all HTTP of a pass runs concurrently in at most three rounds, each
 *     under its own deadline;
 *   - a Redis failure ends the pass: nothing half-done is left that a
 *     later pass cannot see and finish;
 *   - nothing of the node is touched while its registration is held by a
 *     steel-spawner of another host or instance than this host's (its
 *     instance token not in its file in node_token_dir; without the file, its
 * host id not ours): the pass refuses, and the reaper stops.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keys.h"
#include "log.h"
#include "nodeid.h"
#include "nodetoken.h"
#include "pidwatch.h"
#include "procscan.h"
#include "pass.h"
#include "prog.h"
#include "reaper.h"
#include "store.h"
#include "util.h"

/* P:sessions entries whose key is gone are pruned once they are this
 * much (ms) older than the session TTL, at most this many per pass. */
#define PRUNE_SLACK_MS 60000
#define PRUNE_LIMIT    1000

int reaper_init(struct reaper *rp, const struct conf *c)
{
    memset(rp, 0, sizeof(*rp));
    if (random_hex(rp->token, sizeof(rp->token)) < 0) {
        log_warn("cannot make a lock token");
        return -1;
    }
    if (nodeid_host(rp->hostid, sizeof(rp->hostid)) < 0)
        rp->hostid[0] = '\0'; /* node_holder then trusts the token alone */
    /* main() sets worker_user's, or worker_uid_range. */
    rp->worker_uid_lo = rp->worker_uid_hi = geteuid();
    rp->wp = wprobe_new(); /* NULL: each probe on a new connection */
    rp->pw = pidwatch_new(); /* NULL: /proc/<pid>/stat each pass */
    reaper_configure(rp, c);    /* also sets up the Redis connection */
    return 0;
}

void reaper_release(struct reaper *rp)
{
    store_release(&rp->store);
    wprobe_free(rp->wp);
    rp->wp = NULL;
    pidwatch_free(rp->pw);
    rp->pw = NULL;
    view_release(&rp->view);
}

void reaper_configure(struct reaper *rp, const struct conf *c)
{
    if (strcmp(rp->conf.redis, c->redis) != 0 ||
        strcmp(rp->conf.redis_password, c->redis_password) != 0 ||
        rp->conf.redis_timeout_ms != c->redis_timeout_ms ||
        strcmp(rp->conf.key_prefix, c->key_prefix) != 0) {
        store_release(&rp->store);
        store_init(&rp->store, c);
        view_drop(&rp->view); /* maybe another Redis */
    }
    memcpy(&rp->conf, c, sizeof(*c));
    rp->store.node_stale_ms = c->node_stale_ms;
    rp->store.node_gone_ms = c->node_gone_after * 1000;
    decide_limits_init(&rp->limits, c);
    snprintf(rp->lock_name, sizeof(rp->lock_name), "reaper:%s", c->node_name);
    /* Three HTTP rounds, Redis calls around them, and two intervals of
     * slack: a pass that still runs when the lock expires has stopped
     * changing things long before (see pass_late). */
    rp->lock_ttl_ms = 2 * c->probe_timeout_ms + c->worker_timeout_ms +
                      2 * c->redis_timeout_ms + 2 * c->reap_interval * 1000 +
                      DECIDE_MARGIN_MS;
}

/* 1 when the pass must stop changing things: SIGTERM, or too close to
 * the expiry of its lock. */
int pass_late(const struct reaper *rp)
{
    return prog_got_term || now_mono_ms() > rp->pass_stop;
}

void pass_label(char *out, size_t size, const struct worker_rec *w)
{
    snprintf(out, size, "worker %s (pid %ld, port %d)", w->id, w->pid, w->port);
}

/* Counts one repair of kind.  Returns 0 or -1 (Redis). */
int pass_repair_count(struct reaper *rp, const char *kind, long n)
{
    char field[64];

    snprintf(field, sizeof(field), "repairs:%s", kind);
    return store_count(&rp->store, field, n);
}

static int by_pid(const void *a, const void *b)
{
    const struct proc_worker *x = a, *y = b;

    return (x->pid > y->pid) - (x->pid < y->pid);
}

/* 1 when procs (sorted by pid) holds w's pid with w's start time. */
static int proc_seen(const struct proc_worker *procs, size_t nprocs,
                     const struct worker_rec *w)
{
    struct proc_worker key;
    const struct proc_worker *p;

    if (nprocs == 0 || w->pid <= 0)
        return 0;
    key.pid = w->pid;
    p = bsearch(&key, procs, nprocs, sizeof(*procs), by_pid);
    return p != NULL && p->pstart == w->pstart;
}

/* Step 3: the actions that need no HTTP.  Returns 0 or -1 (Redis). */
static int act_plan(struct reaper *rp, struct pass_worker *it)
{
    struct worker_rec *w = it->w;
    enum worker_state prior;
    char lbl[320];
    int rc;

    pass_label(lbl, sizeof(lbl), w);
    switch (it->plan.act) {
    case PLAN_GONE:
        /* Only the record as the pass saw it: after P:seq:worker went
         * back, the id may be a new worker's. */
        rc = store_worker_gone(&rp->store, w->id, rp->conf.node_name, w->pid,
                               it->plan.reason, &prior, NULL);
        if (rc <= 0)
            return rc;
        log_info("%s: record removed (%s): %s, was %s", lbl, it->plan.kind,
                 it->plan.reason, worker_state_name(prior));
        return pass_repair_count(rp, it->plan.kind, 1);
    case PLAN_KILL:
        return kill_if(rp, it, it->plan.kind, it->plan.reason);
    case PLAN_KILL_DEAD:
        if (kill_worker(rp, w, lbl) <= 0)
            return 0;
        log_warnx("%s: killed (%s): %s", lbl, it->plan.kind, it->plan.reason);
        return pass_repair_count(rp, it->plan.kind, 1);
    case PLAN_EXPIRE:
        rc = store_expire(&rp->store, w->id, w->session);
        if (rc <= 0)
            return rc;
        log_debug("%s: session %s expired", lbl, w->session);
        it->state = WORKER_RELEASING;
        it->since = -1;
        return 0;
    case PLAN_HOLD:
        rc = store_hold(&rp->store, w->id, WORKER_CREATING, w->since_ms);
        if (rc <= 0)
            return rc;
        log_info("%s: taken back (%s): %s", lbl, it->plan.kind,
                 it->plan.reason);
        it->state = WORKER_RELEASING;
        it->since = -1;
        return pass_repair_count(rp, it->plan.kind, 1);
    case PLAN_PROBE:
    case PLAN_WATCH:
    case PLAN_SKIP:
        break;
    }
    return 0;
}

/* Who holds this node: the pid of its spawner as its P:pool:<node>
 * registration names it into *pid (0 when none).  Returns 0 when the
 * holder is this host's spawner (its token in this host's token file; a
 * holder without a token: of this host id), or none is registered;
 * REAPER_WAIT while a holder has a token and this host has no token file
 * yet (its spawner has not started), or for REFUSE_AFTER_MS after a holder
 * that is not this host's was first seen; REAPER_REFUSED (logged) when it
 * still is a spawner of another host or another instance; -1 (Redis). */
#define REAPER_WAIT 1
/* How long a holder that is not this host's must stay so before the
 * reaper stops (ms). */
#define REFUSE_AFTER_MS 1000
/* How long the passes wait for this host's token file when the node's
 * holder has a token (ms): a spawner writes it before it registers; one
 * that cannot is then judged by host id. */
#define TOKEN_WAIT_MS 10000
static int node_holder(struct reaper *rp, long *pid)
{
    char hostid[NODE_HOSTID_MAX], token[NODETOKEN_MAX];
    char path[CONF_STR_MAX + 256];
    struct nodetoken mine;
    const char *what;
    int rc;

    if (store_node_holder(&rp->store, rp->conf.node_name, pid, hostid,
                          sizeof(hostid), token, sizeof(token)) < 0)
        return -1;
    if (nodetoken_path(&rp->conf, path, sizeof(path)) < 0)
        path[0] = '\0';
    rc = path[0] != '\0' ? nodetoken_read(path, &mine) : -1;
    if (rc != 0)
        rp->token_wait_since = 0;
    if (token[0] != '\0' && rc > 0) {
        rp->token_waiting = 0;
        if (nodetoken_known(&mine, token)) {
            rp->refuse_since = 0;
            return 0;
        }
        what = "an instance token not in this host's token file";
    } else if (token[0] != '\0' && rc == 0 &&
               (rp->token_wait_since == 0 ||
                now_mono_ms() - rp->token_wait_since <= TOKEN_WAIT_MS)) {
        /* This host's spawner has not made its token yet: a clone's
         * reaper must not act meanwhile. */
        if (rp->token_wait_since == 0) {
            rp->token_wait_since = now_mono_ms();
            log_warnx("node %s: no %s yet (this host's steel-spawner has not "
                      "started): the passes wait for it",
                      rp->conf.node_name, path);
        }
        return REAPER_WAIT;
    } else {
        if (rc == 0 && token[0] != '\0' && !rp->token_waiting)
            log_warnx("node %s: still no %s (this host's steel-spawner cannot "
                      "write node_token_dir?): the node's holder is judged by "
                      "its host id only",
                      rp->conf.node_name, path);
        rp->token_waiting = rc == 0 && token[0] != '\0';
        if (hostid[0] == '\0' || rp->hostid[0] == '\0' ||
            strcmp(hostid, rp->hostid) == 0) {
            rp->refuse_since = 0;
            return 0;
        }
        what = "another host id";
    }
    /* Judged twice, a second apart: a restart of this host's spawner
     * between its file and its registration is not a conflict. */
    if (rp->refuse_since == 0)
        rp->refuse_since = now_mono_ms();
    if (!rp->once && now_mono_ms() - rp->refuse_since < REFUSE_AFTER_MS)
        return REAPER_WAIT;
    log_warnx("node_name %s is held by a steel-spawner with %s (host %s, pid "
              "%ld), not by this host's (%s): this reaper "
              "stops; every node needs a node_name of its own",
              rp->conf.node_name, what, hostid, *pid, path);
    return REAPER_REFUSED;
}

/* How often a reaper judges the other nodes' heartbeats (ms): a quarter
 * of node_gone_after, at least one pass and at most NODES_EVERY_MAX_MS, so
 * the cluster's passes do not read every node's heartbeat each second. */
#define NODES_EVERY_MAX_MS 5000
static int64_t nodes_every_ms(const struct conf *c)
{
    int64_t ms = (int64_t)c->node_gone_after * 1000 / 4;

    if (ms > NODES_EVERY_MAX_MS)
        ms = NODES_EVERY_MAX_MS;
    if (ms < c->reap_interval * 1000)
        ms = c->reap_interval * 1000;
    return ms;
}

/* Removes the records of every other node whose heartbeat is older than
 * node_gone_after (store_node_reap: one script, so one reaper of those
 * that race does it), once every nodes_every_ms().  Returns 0 or -1
 * (Redis). */
static int reap_nodes(struct reaper *rp)
{
    struct node_reaped gone[16];
    long n, i;

    if (!rp->once && now_mono_ms() < rp->nodes_due)
        return 0;
    rp->nodes_due = now_mono_ms() + nodes_every_ms(&rp->conf);
    n = store_node_reap(&rp->store, gone, sizeof(gone) / sizeof(gone[0]));
    if (n < 0)
        return -1;
    for (i = 0; i < n && i < (long)(sizeof(gone) / sizeof(gone[0])); i++) {
        if (gone[i].age_ms < 0)
            log_warnx("node %s: no heartbeat at all; removed its %ld "
                      "workers and %ld sessions",
                      gone[i].name, gone[i].workers, gone[i].sessions);
        else
            log_warnx("node %s: gone (last heartbeat %lld ms ago); removed "
                      "its %ld workers and %ld sessions",
                      gone[i].name, (long long)gone[i].age_ms,
                      gone[i].workers, gone[i].sessions);
    }
    return 0;
}

/* Logs a Redis failure once per outage.  Returns -1. */
static int redis_failed(struct reaper *rp, const char *what)
{
    if (!rp->redis_down)
        log_warnx("pass failed: %s: %s", what, store_strerror(&rp->store));
    else
        log_debug("pass failed: %s: %s", what, store_strerror(&rp->store));
    rp->redis_down = 1;
    return -1;
}

int reaper_pass(struct reaper *rp)
{
    const char *P = rp->conf.key_prefix;
    struct proc_worker *procs = NULL;
    struct worker_rec *recs = NULL;
    struct pass_worker *items = NULL;
    long *gids = NULL;
    size_t nprocs = 0, nrecs = 0, ngids = 0, i;
    int64_t start = now_mono_ms();
    const char *what = "lock";
    char field[CONF_STR_MAX + 32];
    int rc, scanned, full;
    long parent = 0;
    long pruned;

    rp->pass_stop = start + rp->lock_ttl_ms - rp->conf.redis_timeout_ms -
                    DECIDE_MARGIN_MS / 2;
    rc = store_lock(&rp->store, rp->lock_name, rp->token, rp->lock_ttl_ms);
    if (rc < 0)
        return redis_failed(rp, what);
    if (rc == 0) {
        log_debug("pass skipped: lock %s held by another reaper",
                  rp->lock_name);
        return 0;
    }
    rp->pass_no++;
    if (rp->redis_down)
        log_info("redis %s answers again", rp->store.redis.addr);
    rp->redis_down = 0;

    /* Every pass: the recorded pids and the spawner's children; the whole
     * of /proc only every stray_scan_interval. */
    what = "read the node's holder";
    rc = node_holder(rp, &parent);
    if (rc == REAPER_REFUSED || rc == REAPER_WAIT) {
        store_unlock(&rp->store, rp->lock_name, rp->token);
        return rc == REAPER_WAIT ? 0 : REAPER_REFUSED;
    }
    if (rc < 0)
        goto fail;
    /* With cgroups every pass lists the worker groups, before the
     * records (a record is made before its group), and reads the members
     * of those no record names; without, the spawner's children, and all
     * of /proc every stray_scan_interval. */
    full = procscan_groups(&rp->cg, rp->cg_base, sizeof(rp->cg_base), &rp->conf,
                           parent);
    if (full)
        scanned = procscan_group_ids(&rp->cg, &gids, &ngids) == 0;
    else {
        full = rp->conf.stray_scan_interval == 0 || start >= rp->scan_due;
        scanned = procscan_run(&rp->cg, P, rp->conf.node_name, parent, full,
                               &procs, &nprocs) == 0;
    }
    if (scanned && full)
        rp->scan_due = start + rp->conf.stray_scan_interval * 1000;
    what = "read workers";
    if (view_read(rp) < 0)
        goto fail;
    recs = rp->view.recs;
    nrecs = rp->view.n;
    if (rp->cg.on && scanned)
        scanned = procscan_unrecorded(&rp->cg, P, rp->conf.node_name, gids,
                                      ngids, recs, nrecs, &procs, &nprocs) == 0;
    /* The ends the kernel reported since the last pass. */
    pidwatch_poll(rp->pw);
    /* The processes just listed need no second read of their stat. */
    if (scanned && nprocs > 1)
        qsort(procs, nprocs, sizeof(*procs), by_pid);
    items = calloc(nrecs ? nrecs : 1, sizeof(*items));
    if (items == NULL) {
        log_warnx("pass: out of memory for %zu workers", nrecs);
        goto done;
    }
    what = "plan";
    for (i = 0; i < nrecs && !pass_late(rp); i++) {
        struct pass_worker *it = &items[i];

        it->w = &recs[i];
        it->state = recs[i].state;
        it->since = recs[i].since_ms;
        it->plan = decide_plan(
            &recs[i],
            kill_record_proc(rp, &recs[i],
                             scanned && proc_seen(procs, nprocs, &recs[i])),
            &rp->limits);
        /* A worker that answered is probed every probe_interval; its
         * process's end is seen every pass all the same. */
        if (it->plan.act == PLAN_PROBE && !rp->once &&
            !decide_probe_due(&recs[i], rp->pass_no, &rp->limits))
            it->plan.act = PLAN_SKIP;
        if (act_plan(rp, it) < 0)
            goto fail;
    }
    /* Records gone since the last pass: their pidfds closed. */
    if (i == nrecs)
        pidwatch_sweep(rp->pw);
    what = "strays";
    if (scanned && !pass_late(rp) &&
        kill_strays(rp, procs, nprocs, recs, nrecs, full) < 0)
        goto fail;
    what = "probes";
    if (!pass_late(rp) && rounds_http(rp, items, i) < 0)
        goto fail;
    what = "prune sessions";
    if (!pass_late(rp)) {
        pruned = store_prune_sessions(
            &rp->store, rp->conf.session_ttl * 1000 + PRUNE_SLACK_MS,
            PRUNE_LIMIT);
        if (pruned < 0)
            goto fail;
        if (pruned > 0) {
            log_info("%ld stale entries removed from %s:sessions", pruned, P);
            if (pass_repair_count(rp, "session-index", pruned) < 0)
                goto fail;
        }
    }
    what = "remove gone nodes";
    if (!pass_late(rp) && reap_nodes(rp) < 0)
        goto fail;
    if (pass_late(rp) && !prog_got_term)
        log_warnx("pass stopped early: it ran %lld ms, near the lock's "
                  "expiry",
                  (long long)(now_mono_ms() - start));
done:
    what = "count";
    if (store_count(&rp->store, "reaper_passes", 1) < 0)
        goto fail;
    /* The node's own count is its "reaper is running" signal
     * (steel_reaper_node_passes_total{node} in /metrics). */
    snprintf(field, sizeof(field), "reaper_node_passes:%s", rp->conf.node_name);
    if (store_count(&rp->store, field, 1) < 0)
        goto fail;
    what = "unlock";
    if (store_unlock(&rp->store, rp->lock_name, rp->token) < 0)
        goto fail;
    log_debug("pass done in %lld ms: %zu workers, %zu processes (%s)",
              (long long)(now_mono_ms() - start), nrecs, nprocs,
              full ? "full scan" : "spawner's children");
    free(items);
    free(procs);
    free(gids);
    return 1;
fail:
    redis_failed(rp, what);
    /* Whatever the pass changed before, the next one reads all again. */
    view_drop(&rp->view);
    /* The lock expires by itself if this fails too. */
    store_unlock(&rp->store, rp->lock_name, rp->token);
    free(items);
    free(procs);
    free(gids);
    return -1;
}
