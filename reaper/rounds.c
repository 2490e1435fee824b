/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * rounds.c - the HTTP rounds of a reaper pass (pass.h): GET /status of
 * every worker to probe at once, the judgement of each answer, the
 * DELETE round for sessions nobody maps, and the second /status.
 *
 * Invariants: a record whose address is outside worker_host/worker_hosts
 * and worker_port_range is never probed (privsep_worker_addr_ok, as
 * steel-fcgi checks it): a failed probe, verdict refused; all HTTP of a
 * pass runs concurrently in at most three rounds, each under its own
 * deadline; every change is one conditional store.h script.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pass.h"
#include "privsep.h"
#include "store.h"
#include "wcall.h"
#include "whttp.h"
#include "wprobe.h"

static int act_status(struct reaper *rp, struct pass_worker *it);

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
    pass_label(lbl, sizeof(lbl), it->w);
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

    pass_label(lbl, sizeof(lbl), w);
    j = decide_judge(it->state, w->session, &it->st);
    /* A handler's release in progress: only a missing answer counts. */
    if (it->plan.act == PLAN_WATCH && j.verdict != VERDICT_FAILED)
        j.verdict = VERDICT_OK;
    switch (j.verdict) {
    case VERDICT_OK:
        if (w->fails > 0 && store_probe(&rp->store, w->id, 1) < 0)
            return -1;
        w->fails = 0; /* the kept record in step (view.c) */
        return 0;
    case VERDICT_FAILED:
        fails = store_probe(&rp->store, w->id, 0);
        if (fails < 0)
            return -1;
        w->fails = fails;
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
        return pass_repair_count(rp, "hung", 1);
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
            if (pass_repair_count(rp, j.kind, 1) < 0)
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
    pass_label(lbl, sizeof(lbl), it->w);
    log_debug("%s: reclaimed after DELETE %s", lbl, it->path);
    return store_count(&rp->store, "reaper_reclaims", 1);
}

/* Runs method on the m probes of pr: over the pass's kept connections
 * (wprobe.h), or each on a new one when there are none. */
static void rounds_run(struct reaper *rp, const char *method, struct probe *pr,
                       size_t m, long conn_ms, long total_ms)
{
    size_t par = (size_t)rp->conf.probe_parallel;

    if (rp->wp == NULL ||
        wprobe_run(rp->wp, method, pr, m, conn_ms, total_ms, par) < 0)
        probe_run_method(method, pr, m, conn_ms, total_ms, par);
}

/* Steps 5 and 6.  Returns 0 or -1 (Redis). */
int rounds_http(struct reaper *rp, struct pass_worker *items, size_t n)
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
    rounds_run(rp, "GET", pr, m, pconn, ptime);
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
    rounds_run(rp, "DELETE", pr, m, dconn, dtime);
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
    rounds_run(rp, "GET", pr, m, pconn, ptime);
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
