/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * view.c - the node's worker records as the reaper's passes keep them
 * (pass.h): a pass at rest reads no record, only the session keys whose
 * expiry may have come (store_workers_view).
 *
 * Invariants: the records are read whole when P:ver:<node> is not the
 * version of the last read (every script that changes a record moves it,
 * keys.h), on a pass of a --once run, after any Redis failure, and at
 * least every REAPER_VIEW_FULL_MS (a record or a session key changed by
 * hand, or a replica that lost writes and counted back to the same
 * version, is seen within that time); between whole reads the only
 * change a record can undergo without the version moving is its session
 * key's end (expiry, or a touch past its deadline) and its probe count,
 * which the pass itself writes (rounds.c keeps the copy in step); a
 * busy record's session key is asked about once its last known PTTL ran
 * out, so an expiry is seen by the first pass after it.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pass.h"
#include "store.h"
#include "util.h"

/* A session key whose PTTL runs out within this much of a pass is asked
 * about by that pass (ms): the clocks of two passes are not one. */
#define CHECK_EARLY_MS 50

void view_drop(struct reaper_view *v)
{
    v->ver[0] = '\0';
}

void view_release(struct reaper_view *v)
{
    free(v->recs);
    free(v->check_at);
    memset(v, 0, sizeof(*v));
}

/* When the session key of w may have ended, from its PTTL read at now. */
static int64_t check_time(const struct worker_rec *w, int64_t now,
                          long long pttl)
{
    if (w->state != WORKER_BUSY || w->session[0] == '\0' || pttl == -2)
        return INT64_MAX; /* no key to watch (or already gone) */
    if (pttl < 0)
        return INT64_MAX; /* no expiry: the next whole read looks again */
    return now + pttl;
}

/* Takes a whole read into v. */
static int take_whole(struct reaper_view *v, struct store_wview *got)
{
    int64_t *at = NULL;
    size_t i;

    if (got->nrecs > 0 &&
        (at = calloc(got->nrecs, sizeof(*at))) == NULL) {
        log_warnx("pass: out of memory for %zu records", got->nrecs);
        free(got->recs);
        return -1;
    }
    for (i = 0; i < got->nrecs; i++)
        at[i] = check_time(&got->recs[i], got->now_ms,
                           got->recs[i].session_pttl_ms);
    free(v->recs);
    free(v->check_at);
    v->recs = got->recs;
    v->check_at = at;
    v->n = got->nrecs;
    snprintf(v->ver, sizeof(v->ver), "%s", got->ver);
    v->full_mono = now_mono_ms();
    return 0;
}

int view_read(struct reaper *rp)
{
    struct reaper_view *v = &rp->view;
    struct store_wview got;
    const char **sids = NULL;
    size_t *which = NULL, nask = 0, i;
    int64_t mono = now_mono_ms(), est;
    const char *ver = v->ver;
    int rc = -1;

    if (rp->once || v->recs == NULL ||
        mono - v->full_mono >= REAPER_VIEW_FULL_MS)
        ver = "";
    if (ver[0] != '\0' && v->n > 0) {
        /* The busy records whose session key may have ended by now. */
        est = v->now_ms + (mono - v->now_mono) + CHECK_EARLY_MS;
        sids = calloc(v->n, sizeof(*sids));
        which = calloc(v->n, sizeof(*which));
        if (sids == NULL || which == NULL) {
            log_warnx("pass: out of memory for %zu records", v->n);
            goto out;
        }
        for (i = 0; i < v->n; i++) {
            if (v->check_at[i] > est || !v->recs[i].session_alive)
                continue;
            sids[nask] = v->recs[i].session;
            which[nask++] = i;
        }
    }
    if (store_workers_view(&rp->store, rp->conf.node_name, ver, sids, nask,
                           &got) < 0)
        goto out;
    if (got.full) {
        if (take_whole(v, &got) < 0)
            goto out;
    } else {
        for (i = 0; i < nask; i++) {
            size_t k = which[i];

            if (got.pttl[i] == -2)
                v->recs[k].session_alive = 0;
            v->check_at[k] = check_time(&v->recs[k], got.now_ms, got.pttl[i]);
        }
        free(got.pttl);
    }
    for (i = 0; i < v->n; i++)
        v->recs[i].now_ms = got.now_ms;
    v->now_ms = got.now_ms;
    v->now_mono = now_mono_ms();
    rc = 0;
out:
    free(sids);
    free(which);
    if (rc < 0)
        view_drop(v);
    return rc;
}
