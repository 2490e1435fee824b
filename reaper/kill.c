/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kill.c - the kills of a reaper pass (pass.h): whether a record's
 * process is the worker it names, the kill of a worker marked dead, and
 * the kill of strays.
 *
 * Invariants: a process is signalled only when the kernel says it is a
 * worker of this node (proc_is_node_worker: its uid, its worker group,
 * its start time), never on the word of a record alone nor on what a
 * process writes in its environment; a worker is marked dead in Redis
 * before it is signalled; a killed worker's whole group goes with it.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pass.h"
#include "pidwatch.h"
#include "procscan.h"
#include "store.h"

/* 1 when the process w names is, by what the kernel says, the worker of
 * this node that w describes (common/proc.h). */
static int is_ours(const struct reaper *rp, const struct worker_rec *w)
{
    return proc_is_node_worker(w->pid, w->pstart, &rp->cg, rp->conf.key_prefix,
                               rp->conf.node_name, w->id, rp->worker_uid_lo,
                               rp->worker_uid_hi);
}

/* Signals the worker's process group after it was marked dead, when the
 * process is still that worker.  Returns what proc_kill returns, 0 when
 * the process is not ours. */
int kill_worker(const struct reaper *rp, const struct worker_rec *w,
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
enum decide_proc kill_record_proc(const struct reaper *rp,
                                  const struct worker_rec *w, int seen)
{
    char lbl[320];
    int alive = -1;

    if (!seen && rp->pw != NULL)
        alive = pidwatch_alive(rp->pw, strtol(w->id, NULL, 10), w->pid,
                               w->pstart);
    if (!seen && alive < 0)
        alive = procscan_check(w->pid, w->pstart) == PROC_ALIVE;
    if (!seen && !alive)
        return PROC_GONE;
    if (w->state != WORKER_DEAD || is_ours(rp, w))
        return PROC_ALIVE;
    pass_label(lbl, sizeof(lbl), w);
    log_warnx("%s: the record names a process that is not a worker of node "
              "%s; taken as gone, never signalled",
              lbl, rp->conf.node_name);
    return PROC_GONE;
}

/* Marks w dead if it is still as the pass saw it, then kills it and
 * counts the repair.  Returns 0 (also when it moved on) or -1 (Redis). */
int kill_if(struct reaper *rp, struct pass_worker *it, const char *kind,
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
    pass_label(lbl, sizeof(lbl), w);
    kill_worker(rp, w, lbl);
    log_warnx("%s: killed (%s): %s, was %s", lbl, kind, reason,
              worker_state_name(prior));
    return pass_repair_count(rp, kind, 1);
}

/* Step 4: kills processes of ours whose id has no record, once this
 * node's spawner noted in P:gen that its workers are in Redis.  A stray too
 * young to kill makes the next pass scan in full again, so that one seen
 * only by a full scan is not left for a whole stray_scan_interval.
 * Returns 0 or -1 (Redis). */
int kill_strays(struct reaper *rp, struct proc_worker *procs, size_t nprocs,
                const struct worker_rec *recs, size_t nrecs, int full)
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

        if (proc_uid(procs[i].pid, &uid) == 0 && uid >= rp->worker_uid_lo &&
            uid <= rp->worker_uid_hi)
            procs[k++] = procs[i];
    }
    procscan_strays(&rp->cg, procs, k, recs, nrecs, rp->pass_stop, &st);
    if (st.young && full)
        rp->scan_due = 0;
    if (st.killed > 0)
        return pass_repair_count(rp, "stray", st.killed);
    return 0;
}
