/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * reaper.c - one reaper pass (reaper.h).
 *
 * Invariants:
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
 *     later pass cannot see and finish.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keys.h"
#include "log.h"
#include "privsep.h"
#include "procscan.h"
#include "prog.h"
#include "reaper.h"
#include "store.h"
#include "util.h"
#include "wcall.h"
#include "whttp.h"

/* P:sessions entries whose key is gone are pruned once they are this
 * much (ms) older than the session TTL, at most this many per pass. */
#define PRUNE_SLACK_MS 60000
#define PRUNE_LIMIT    1000

/* One worker of the pass. */
struct pass_worker {
    struct worker_rec *w;           /* the snapshot record */
    struct decide_plan plan;        /* what decide_plan said */
    enum worker_state state;        /* its state after the pass's own changes */
    int64_t since;                  /* since for store_mark_dead_if; -1 when the
                                       pass itself changed the state */
    struct decide_status st;        /* the first GET /status */
    char detail[96];                /* why a probe failed, for the log */
    char path[16 + SESSION_ID_MAX]; /* "/sessions/<sid>" for a clean */
    int cleaning;                   /* in the DELETE round */
    int del_ok;                     /* the DELETE got an HTTP answer */
};

int reaper_init(struct reaper *rp, const struct conf *c)
{
    memset(rp, 0, sizeof(*rp));
    if (random_hex(rp->token, sizeof(rp->token)) < 0) {
        log_warn("cannot make a lock token");
        return -1;
    }
    rp->worker_uid = geteuid(); /* main() sets worker_user's */
    reaper_configure(rp, c);    /* also sets up the Redis connection */
    return 0;
}

void reaper_release(struct reaper *rp)
{
    store_release(&rp->store);
}

void reaper_configure(struct reaper *rp, const struct conf *c)
{
    if (strcmp(rp->conf.redis, c->redis) != 0 ||
        strcmp(rp->conf.redis_password, c->redis_password) != 0 ||
        rp->conf.redis_timeout_ms != c->redis_timeout_ms ||
        strcmp(rp->conf.key_prefix, c->key_prefix) != 0) {
        store_release(&rp->store);
        store_init(&rp->store, c);
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
static int pass_late(const struct reaper *rp)
{
    return prog_got_term || now_mono_ms() > rp->pass_stop;
}

static void label(char *out, size_t size, const struct worker_rec *w)
{
    snprintf(out, size, "worker %s (pid %ld, port %d)", w->id, w->pid, w->port);
}

/* Counts one repair of kind.  Returns 0 or -1 (Redis). */
static int repair_count(struct reaper *rp, const char *kind, long n)
{
    char field[64];

    snprintf(field, sizeof(field), "repairs:%s", kind);
    return store_count(&rp->store, field, n);
}

/* 1 when the process w names is, by what the kernel says, the worker of
 * this node that w describes (common/proc.h). */
static int is_ours(const struct reaper *rp, const struct worker_rec *w)
{
    return proc_is_node_worker(w->pid, w->pstart, &rp->cg, rp->conf.key_prefix,
                               rp->conf.node_name, w->id, rp->worker_uid);
}

/* Signals the worker's process group after it was marked dead, when the
 * process is still that worker.  Returns what proc_kill returns, 0 when
 * the process is not ours. */
static int kill_worker(const struct reaper *rp, const struct worker_rec *w,
                       const char *lbl)
{
    int rc;

    if (!is_ours(rp, w)) {
        log_debug("%s: its process is not a worker of this node; not "
                  "signalled",
                  lbl);
        return 0;
    }
    rc = proc_kill(w->pid, w->pstart, -1, SIGKILL);
    if (rc < 0)
        log_warn("%s: cannot kill", lbl);
    /* Everything it started, however it left its process group. */
    if (rp->cg.on && cgroup_worker_kill(&rp->cg, strtol(w->id, NULL, 10)) < 0)
        log_warnx("%s: cannot kill its cgroup", lbl);
    return rc;
}

/* The facts about w's process for decide_plan: alive only when the pid
 * runs with the recorded start time and, for a dead record (whose plan is
 * a kill or the record's removal), is a worker of this node by the
 * kernel's word.  The other plans probe first; every kill is checked
 * again in kill_worker.  (Only dead records: a pass reads the environ of
 * few processes, tests/reaper-scan.sh.) */
static enum decide_proc record_proc(const struct reaper *rp,
                                    const struct worker_rec *w)
{
    char lbl[320];

    if (procscan_check(w->pid, w->pstart) != PROC_ALIVE)
        return PROC_GONE;
    if (w->state != WORKER_DEAD || is_ours(rp, w))
        return PROC_ALIVE;
    label(lbl, sizeof(lbl), w);
    log_warnx("%s: the record names a process that is not a worker of node "
              "%s; taken as gone, never signalled",
              lbl, rp->conf.node_name);
    return PROC_GONE;
}

/* Marks w dead if it is still as the pass saw it, then kills it and
 * counts the repair.  Returns 0 (also when it moved on) or -1 (Redis). */
static int kill_if(struct reaper *rp, struct pass_worker *it, const char *kind,
                   const char *reason)
{
    const struct worker_rec *w = it->w;
    enum worker_state prior = WORKER_DEAD;
    char lbl[320];
    int rc;

    rc = store_mark_dead_if(&rp->store, w->id, it->state, w->session, it->since,
                            reason, &prior);
    if (rc <= 0)
        return rc;
    label(lbl, sizeof(lbl), w);
    kill_worker(rp, w, lbl);
    log_warnx("%s: killed (%s): %s, was %s", lbl, kind, reason,
              worker_state_name(prior));
    return repair_count(rp, kind, 1);
}

/* Step 3: the actions that need no HTTP.  Returns 0 or -1 (Redis). */
static int act_plan(struct reaper *rp, struct pass_worker *it)
{
    struct worker_rec *w = it->w;
    enum worker_state prior;
    char lbl[320];
    int rc;

    label(lbl, sizeof(lbl), w);
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
        return repair_count(rp, it->plan.kind, 1);
    case PLAN_KILL:
        return kill_if(rp, it, it->plan.kind, it->plan.reason);
    case PLAN_KILL_DEAD:
        if (kill_worker(rp, w, lbl) <= 0)
            return 0;
        log_warnx("%s: killed (%s): %s", lbl, it->plan.kind, it->plan.reason);
        return repair_count(rp, it->plan.kind, 1);
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
        return repair_count(rp, it->plan.kind, 1);
    case PLAN_PROBE:
    case PLAN_WATCH:
    case PLAN_SKIP:
        break;
    }
    return 0;
}

/* 1 when the item is in the /status round. */
static int wants_status(const struct pass_worker *it)
{
    switch (it->plan.act) {
    case PLAN_PROBE:
    case PLAN_WATCH:
        return 1;
    case PLAN_EXPIRE:
    case PLAN_HOLD:
        return it->state == WORKER_RELEASING;
    default:
        return 0;
    }
}

/* Step 4: kills processes of ours whose id has no record, once this
 * node's spawner noted in P:gen that its workers are in Redis.  A stray too
 * young to kill makes the next pass scan in full again, so that one seen
 * only by a full scan is not left for a whole stray_scan_interval.
 * Returns 0 or -1 (Redis). */
static int kill_strays(struct reaper *rp, struct proc_worker *procs,
                       size_t nprocs, const struct worker_rec *recs,
                       size_t nrecs, int full)
{
    struct procscan_strays st;
    size_t i, k;
    int gen = store_gen_node(&rp->store, rp->conf.node_name);

    if (gen < 0)
        return -1;
    if (gen == 0) {
        /* Redis lost its data and this node's spawner has not registered
         * its workers again yet (spawner/rebuild.c): they only look like
         * strays. */
        log_debug("node %s: not in the generation yet; no stray killed",
                  rp->conf.node_name);
        return 0;
    }
    /* The scan applied proc_is_node_worker's environment rule; its uid
     * rule is applied here (without reading each environ twice). */
    for (i = 0, k = 0; i < nprocs; i++) {
        uid_t uid;

        if (proc_uid(procs[i].pid, &uid) == 0 && uid == rp->worker_uid)
            procs[k++] = procs[i];
    }
    procscan_strays(&rp->cg, procs, k, recs, nrecs, rp->pass_stop, &st);
    if (st.young && full)
        rp->scan_due = 0;
    if (st.killed > 0)
        return repair_count(rp, "stray", st.killed);
    return 0;
}

/* The pid of this node's spawner as its P:pool:<node> report names it
 * into *pid (0 when there is none).  Returns 0 or -1 (Redis). */
static int spawner_pid(struct reaper *rp, long *pid)
{
    return store_spawner_pid(&rp->store, rp->conf.node_name, pid);
}

/* Judges probe p of it's worker's /status (common/wcall.h) into it->st;
 * what a failed one looked like goes to it->detail for the log. */
static void probe_judge(struct pass_worker *it, const struct probe *p)
{
    struct wcall_reply rep;
    enum wcall_verdict v = wcall_probe_verdict(p, WCALL_STATUS, NULL, &rep);

    decide_status_from(&it->st, v, &rep);
    if (!it->st.answered)
        snprintf(it->detail, sizeof(it->detail), "%s (%.64s)",
                 wcall_verdict_name(v), rep.why);
}

static int act_status(struct reaper *rp, struct pass_worker *it);

/* Step 5 for an item whose record names an address steel-fcgi would not
 * call (privsep_worker_addr_ok): nothing is sent; the verdict is refused,
 * one failed probe as the table of HACKING.md says, so probe_failures of
 * them mark the worker dead.  Logged as a warning the first time only.
 * Returns 0 or -1 (Redis). */
static int act_forged(struct reaper *rp, struct pass_worker *it)
{
    struct wcall_reply rep;
    char lbl[320];

    memset(&rep, 0, sizeof(rep));
    decide_status_from(&it->st, WCALL_REFUSED, &rep);
    snprintf(it->detail, sizeof(it->detail),
             "refused (address %.40s:%d not "
             "ours; not called)",
             it->w->host, it->w->port);
    label(lbl, sizeof(lbl), it->w);
    if (it->w->fails == 0)
        log_warnx("%s: address %s:%d is outside worker_host/worker_hosts and "
                  "worker_port_range; not probed",
                  lbl, it->w->host, it->w->port);
    return act_status(rp, it);
}

/* Step 5 for one item: acts on the judgement of its /status.  Returns 0
 * or -1 (Redis). */
static int act_status(struct reaper *rp, struct pass_worker *it)
{
    struct worker_rec *w = it->w;
    struct decide_judgement j;
    char lbl[320], why[160];
    long fails;
    int rc;

    label(lbl, sizeof(lbl), w);
    j = decide_judge(it->state, w->session, &it->st);
    /* A handler's release in progress: only a missing answer counts. */
    if (it->plan.act == PLAN_WATCH && j.verdict != VERDICT_FAILED)
        j.verdict = VERDICT_OK;
    switch (j.verdict) {
    case VERDICT_OK:
        if (w->fails > 0 && store_probe(&rp->store, w->id, 1) < 0)
            return -1;
        return 0;
    case VERDICT_FAILED:
        fails = store_probe(&rp->store, w->id, 0);
        if (fails < 0)
            return -1;
        if (fails == 0)
            return 0; /* the record is gone */
        if (fails < rp->limits.probe_failures) {
            log_info("%s: probe failed (%ld of %ld): %s", lbl, fails,
                     rp->limits.probe_failures,
                     it->st.answered ? j.reason : it->detail);
            return 0;
        }
        snprintf(why, sizeof(why), "hung: %ld failed probes, last %s", fails,
                 it->st.answered ? j.reason : it->detail);
        rc = store_mark_dead_of(&rp->store, w->id, rp->conf.node_name, w->pid,
                                why, NULL);
        if (rc <= 0)
            return rc;
        kill_worker(rp, w, lbl);
        log_warnx("%s: killed (hung): %ld failed probes in a row, last %s", lbl,
                  fails, it->st.answered ? j.reason : it->detail);
        return repair_count(rp, "hung", 1);
    case VERDICT_RELEASE:
        rc = store_released(&rp->store, w->id);
        if (rc <= 0)
            return rc;
        log_debug("%s: reclaimed", lbl);
        return store_count(&rp->store, "reaper_reclaims", 1);
    case VERDICT_CLEAN:
        if (it->state == WORKER_IDLE) {
            rc = store_hold(&rp->store, w->id, WORKER_IDLE, w->since_ms);
            if (rc <= 0)
                return rc;
            it->state = WORKER_RELEASING;
            it->since = -1;
            log_info("%s: taken back (%s): %s %s", lbl, j.kind, j.reason,
                     it->st.sid);
            if (repair_count(rp, j.kind, 1) < 0)
                return -1;
        }
        snprintf(it->path, sizeof(it->path), "/sessions/%s", it->st.sid);
        it->cleaning = 1;
        return 0;
    case VERDICT_KILL:
        if (it->st.sid[0] != '\0' && it->st.sid_valid)
            snprintf(why, sizeof(why), "%s (%s)", j.reason, it->st.sid);
        else
            snprintf(why, sizeof(why), "%s", j.reason);
        return kill_if(rp, it, j.kind, why);
    }
    return 0;
}

/* Step 6 for one item after its DELETE and second /status. */
static int act_recheck(struct reaper *rp, struct pass_worker *it,
                       const struct decide_status *st)
{
    struct decide_judgement j = decide_recheck(it->del_ok, st);
    char lbl[320];
    int rc;

    if (j.verdict == VERDICT_KILL)
        return kill_if(rp, it, j.kind, j.reason);
    rc = store_released(&rp->store, it->w->id);
    if (rc <= 0)
        return rc;
    label(lbl, sizeof(lbl), it->w);
    log_debug("%s: reclaimed after DELETE %s", lbl, it->path);
    return store_count(&rp->store, "reaper_reclaims", 1);
}

/* Steps 5 and 6.  Returns 0 or -1 (Redis). */
static int http_rounds(struct reaper *rp, struct pass_worker *items, size_t n)
{
    struct probe *pr = NULL;
    struct pass_worker **map = NULL;
    size_t i, k, m = 0;
    long pconn, ptime, dconn, dtime;
    int rc = 0;

    wcall_probe_deadlines(&rp->conf, WCALL_STATUS, &pconn, &ptime);
    wcall_probe_deadlines(&rp->conf, WCALL_DELETE, &dconn, &dtime);

    pr = calloc(n ? n : 1, sizeof(*pr));
    map = calloc(n ? n : 1, sizeof(*map));
    if (pr == NULL || map == NULL) {
        log_warnx("pass: out of memory for %zu probes", n);
        goto out;
    }
    for (i = 0; i < n; i++) {
        if (!wants_status(&items[i]))
            continue;
        if (!privsep_worker_addr_ok(&rp->conf, items[i].w->host,
                                    items[i].w->port)) {
            if ((rc = act_forged(rp, &items[i])) < 0)
                goto out;
            continue;
        }
        pr[m].host = items[i].w->host;
        pr[m].port = items[i].w->port;
        pr[m].path = "/status";
        map[m++] = &items[i];
    }
    if (m == 0)
        goto out;
    probe_run(pr, m, pconn, ptime, (size_t)rp->conf.probe_parallel);
    for (k = 0; k < m && !pass_late(rp); k++) {
        struct pass_worker *it = map[k];

        probe_judge(it, &pr[k]);
        if ((rc = act_status(rp, it)) < 0)
            goto out;
    }

    /* Round two: DELETE the sessions workers still hold. */
    m = 0;
    for (i = 0; i < n; i++) {
        if (!items[i].cleaning)
            continue;
        memset(&pr[m], 0, sizeof(pr[m]));
        pr[m].host = items[i].w->host;
        pr[m].port = items[i].w->port;
        pr[m].path = items[i].path;
        map[m++] = &items[i];
    }
    if (m == 0 || pass_late(rp))
        goto out;
    probe_run_method("DELETE", pr, m, dconn, dtime,
                     (size_t)rp->conf.probe_parallel);
    for (k = 0; k < m; k++) {
        struct wcall_reply rep;
        enum wcall_verdict v =
            wcall_probe_verdict(&pr[k], WCALL_DELETE, NULL, &rep);

        /* The worker forgot the session (ok, not found), or failed the
         * DELETE: killed by decide_recheck, as a handler's DELETE kills
         * (wcall.h). */
        map[k]->del_ok = !wcall_failed(v);
        memset(&pr[k], 0, sizeof(pr[k]));
        pr[k].host = map[k]->w->host;
        pr[k].port = map[k]->w->port;
        pr[k].path = "/status";
    }
    /* Round three: is each of them clean now? */
    probe_run(pr, m, pconn, ptime, (size_t)rp->conf.probe_parallel);
    for (k = 0; k < m && !pass_late(rp); k++) {
        struct decide_status st;
        struct wcall_reply rep;

        decide_status_from(
            &st, wcall_probe_verdict(&pr[k], WCALL_STATUS, NULL, &rep), &rep);
        if ((rc = act_recheck(rp, map[k], &st)) < 0)
            goto out;
    }
out:
    free(pr);
    free(map);
    return rc;
}

/* Removes the records of every other node whose heartbeat is older than
 * node_gone_after (store_node_reap: one script, so one reaper of those
 * that race does it).  Returns 0 or -1 (Redis). */
static int reap_nodes(struct reaper *rp)
{
    struct node_reaped gone[16];
    long n, i;

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
    size_t nprocs = 0, nrecs = 0, i;
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
    if (rp->redis_down)
        log_info("redis %s answers again", rp->store.redis.addr);
    rp->redis_down = 0;

    /* Every pass: the recorded pids and the spawner's children; the whole
     * of /proc only every stray_scan_interval. */
    what = "read the spawner's pid";
    if (spawner_pid(rp, &parent) < 0)
        goto fail;
    /* With cgroups a full scan lists the worker groups' members: every
     * pass. */
    full = procscan_groups(&rp->cg, rp->cg_base, sizeof(rp->cg_base), &rp->conf,
                           parent) ||
           rp->conf.stray_scan_interval == 0 || start >= rp->scan_due;
    scanned = procscan_run(&rp->cg, P, rp->conf.node_name, parent, full, &procs,
                           &nprocs) == 0;
    if (scanned && full)
        rp->scan_due = start + rp->conf.stray_scan_interval * 1000;
    what = "read workers";
    if (store_workers(&rp->store, rp->conf.node_name, &recs, &nrecs) < 0)
        goto fail;
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
        it->plan =
            decide_plan(&recs[i], record_proc(rp, &recs[i]), &rp->limits);
        if (act_plan(rp, it) < 0)
            goto fail;
    }
    what = "strays";
    if (scanned && !pass_late(rp) &&
        kill_strays(rp, procs, nprocs, recs, nrecs, full) < 0)
        goto fail;
    what = "probes";
    if (!pass_late(rp) && http_rounds(rp, items, i) < 0)
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
            if (repair_count(rp, "session-index", pruned) < 0)
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
    free(recs);
    free(procs);
    return 1;
fail:
    redis_failed(rp, what);
    /* The lock expires by itself if this fails too. */
    store_unlock(&rp->store, rp->lock_name, rp->token);
    free(items);
    free(recs);
    free(procs);
    return -1;
}
