/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * view.c - the pool as Redis sees it, and what the spawner does about
 * it: one store_pool_view() per view, workers others marked dead are
 * stopped, those whose records vanished registered again (rebuild.c),
 * pool_decide() (pool.c) says how many to start and retire; the pool
 * state goes back for /status through report.c (internal.h has the
 * states and their transitions).  With node_drain the node is
 * "draining": it claims no waiters, starts nothing and retires every idle
 * worker at once (busy ones as their sessions end and they turn idle;
 * the claim script hands no create a draining node's worker).  It owns
 * s->view: what the last view said.
 *
 * At rest a view costs the waiting creates' share and one GET: the
 * records are read only when P:ver:<node> moved (every script that
 * changes one moves it, keys.h), and every VIEW_FULL_MS whatever it says;
 * an unchanged view keeps what the last one read.  When besides nothing
 * touched the table since the last count (table_settled, table.touches)
 * and that count's view missed no record, the view is quiet: it is the
 * last view again (s->view.seq stays), and its counts stand, so it walks
 * no worker; the idle workers' grace is counted again when the first of
 * them runs out (expire_ms).
 *
 * Invariants: an idle worker is stopped only after store_retire() took it
 * out of P:idle, so no create is handed a worker being stopped; a worker
 * is judged only by a view taken after it was registered (add_seq), so a
 * record that Redis has not shown yet is never taken for a vanished one;
 * spawns wait for the restart policy (restart_allowed, pool.h).
 */
#include "config.h"

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "log.h"

/* A worker marked dead with a reason that starts with this was drained on
 * purpose (OPERATIONS.md, recipe:drain-worker): its stop is no failure. */
#define DRAIN_PREFIX "drain"

/* A view reads every record at least this often (ms), even when
 * P:ver:<node> says none changed: a record edited by hand without the
 * version, or a fail-over to a replica that lost the last writes and
 * counted back up to the same version, is seen within this time.  Each
 * such read costs Redis a command per worker: at 5 s, 10,000 sessions
 * kept Redis busy at rest. */
#define VIEW_FULL_MS 30000

/* STARTING or RUNNING: not yet stopping, not yet exited. */
static int worker_live(const struct worker *w)
{
    return (w->state == SPAWNER_W_STARTING || w->state == SPAWNER_W_RUNNING) &&
           !w->exited;
}

/* The live workers the view seq did not list although it was taken after
 * they were registered: Redis forgot them; rebuild.c registers them
 * again.  Returns 0, or -1 when Redis failed. */
static int view_lost(struct spawner *s, unsigned long seq, int64_t now)
{
    struct worker **lost;
    size_t i, n = 0;
    int rc;

    lost = malloc((s->table.n + 1) * sizeof(*lost));
    if (lost == NULL)
        return 0; /* the next view */
    for (i = 0; i < s->table.n; i++) {
        struct worker *w = s->table.w[i];

        if (worker_live(w) && w->add_seq < seq && w->seen_seq != seq)
            lost[n++] = w;
    }
    rc = rebuild_run(s, lost, n, now);
    if (rc == 0)
        s->view.clean_seq = seq;
    free(lost);
    return rc;
}

/* Workers that take a place of the waiters' room: not idle, not
 * starting (those serve waiters), not gone. */
static int worker_takes_room(const struct worker *w)
{
    return w->state != SPAWNER_W_GONE && w->state != SPAWNER_W_STARTING &&
           !(w->state == SPAWNER_W_RUNNING && w->rstate == WORKER_IDLE);
}

/* The table is as the last count found it, and that count's view missed
 * no record. */
static int view_counts_hold(struct spawner *s)
{
    return s->view.counted && table_settled(s) &&
           s->table.touches == s->view.touches &&
           s->view.clean_seq == s->view.seq;
}

void view_reload(struct spawner *s)
{
    s->view.counted = 0;
}

int view_apply(struct spawner *s, int64_t now)
{
    struct pool_view v;
    size_t i;
    unsigned long seq;
    int hold = view_counts_hold(s);
    /* A draining node takes no waiters: the other nodes start them. */
    long room = s->c->node_drain
                    ? 0
                    : s->c->pool_max_workers - s->c->pool_idle_target;

    /* Room for waiters: idle and starting workers serve them, the others
     * (busy, stopping) take places. */
    if (hold)
        room -= s->view.taken;
    for (i = 0; !hold && i < s->table.n; i++)
        room -= worker_takes_room(s->table.w[i]);
    if (now >= s->view.full_due_ms)
        s->view.ver[0] = '\0';
    if (store_pool_view_since(&s->redis.store, s->c->node_name, room,
                              s->view.ver, &v) < 0) {
        s->view.ver[0] = '\0'; /* maybe another Redis next time */
        s->view.seq++;
        s->view.quiet = 0;
        spawner_redis_failed(s, "reading the pool");
        return -1;
    }
    spawner_redis_worked(s);
    s->view.waiting = v.waiting;
    s->view.redis_now_ms = v.now_ms;
    s->view.quiet = hold && !v.full;
    if (s->view.quiet) {
        /* Nothing changed on either side: the last view stands. */
        store_pool_view_release(&v);
        return 0;
    }
    seq = ++s->view.seq;
    if (!v.full) {
        /* Nothing changed: what the last view saw stands. */
        for (i = 0; i < s->table.n; i++) {
            if (s->table.w[i]->seen_seq == seq - 1)
                s->table.w[i]->seen_seq = seq;
        }
    } else {
        snprintf(s->view.ver, sizeof(s->view.ver), "%s", v.ver);
        s->view.full_due_ms = now + VIEW_FULL_MS;
    }
    for (i = 0; i < v.n; i++) {
        struct worker *w = table_get(s, strtol(v.entries[i].id, NULL, 10));

        if (w == NULL)
            continue; /* not ours to judge: the reaper reconciles it */
        w->seen_seq = seq;
        w->rstate = v.entries[i].state;
        w->rsince_ms = v.entries[i].since_ms;
        if (w->rstate == WORKER_DEAD &&
            (w->state == SPAWNER_W_STARTING || w->state == SPAWNER_W_RUNNING)) {
            const char *why = v.entries[i].reason;
            int drain = strncmp(why, DRAIN_PREFIX, strlen(DRAIN_PREFIX)) == 0;

            snprintf(w->dead_reason, sizeof(w->dead_reason), "%s", why);
            log_info("worker %s (pid %ld, port %d): marked dead in redis "
                     "(%s); killing it",
                     w->sid, w->pid, w->port,
                     why[0] != '\0' ? why : "no reason");
            table_stop(s, w, drain ? SPAWNER_STOP_DRAIN : SPAWNER_STOP_DEAD,
                       SIGKILL, now);
        }
    }
    store_pool_view_release(&v);
    return view_lost(s, seq, now);
}

static int by_idle_since(const void *a, const void *b)
{
    const struct worker *x = *(struct worker *const *)a;
    const struct worker *y = *(struct worker *const *)b;

    return (x->rsince_ms > y->rsince_ms) - (x->rsince_ms < y->rsince_ms);
}

static int worker_is_idle(const struct spawner *s, const struct worker *w)
{
    return w->state == SPAWNER_W_RUNNING && !w->exited &&
           w->rstate == WORKER_IDLE && w->seen_seq == s->view.seq;
}

/* RUNNING -> STOPPING for up to want idle workers, longest idle first;
 * drain: the node is draining (every idle one goes, at once). */
static void retire_idle(struct spawner *s, long want, int drain, int64_t now)
{
    struct worker **cand;
    size_t i, m = 0;

    cand = malloc((s->table.n + 1) * sizeof(*cand));
    if (cand == NULL)
        return;
    for (i = 0; i < s->table.n; i++) {
        if (worker_is_idle(s, s->table.w[i]))
            cand[m++] = s->table.w[i];
    }
    qsort(cand, m, sizeof(*cand), by_idle_since);
    for (i = 0; i < m && want > 0; i++) {
        struct worker *w = cand[i];
        int rc = store_retire(&s->redis.store, w->sid,
                              drain ? "retired: node draining"
                                    : "retired: idle above pool_idle_target");

        if (rc < 0) {
            spawner_redis_failed(s, "retiring an idle worker");
            s->view.counted = 0; /* tried again at the next view */
            break;
        }
        if (rc == 0)
            continue; /* claimed meanwhile */
        w->rstate = WORKER_DEAD;
        if (drain)
            log_info("worker %s (pid %ld, port %d): idle, node draining; "
                     "stopping it",
                     w->sid, w->pid, w->port);
        else
            log_info("worker %s (pid %ld, port %d): idle %lld ms above the "
                     "target; stopping it",
                     w->sid, w->pid, w->port,
                     (long long)(s->view.redis_now_ms - w->rsince_ms));
        table_stop(s, w, SPAWNER_STOP_RETIRE, SIGTERM, now);
        want--;
    }
    free(cand);
}

/* Counts the table for the pool decision into s->view: pc (without the
 * waiters and sizes), trial, taken, expire_ms; they hold for the views
 * after it while view_counts_hold() says so. */
static void view_count(struct spawner *s)
{
    struct pool_counts *pc = &s->view.pc;
    long grace_ms = s->c->pool_idle_grace * 1000;
    size_t k;

    memset(pc, 0, sizeof(*pc));
    s->view.trial = 0;
    s->view.taken = 0;
    s->view.expire_ms = INT64_MAX;
    for (k = 0; k < s->table.n; k++) {
        const struct worker *w = s->table.w[k];

        if (w->state == SPAWNER_W_GONE)
            continue;
        s->view.taken += worker_takes_room(w);
        pc->total++;
        if (w->state == SPAWNER_W_STARTING)
            pc->starting++;
        if (w->state == SPAWNER_W_STARTING ||
            (w->state == SPAWNER_W_RUNNING && !w->healthy))
            s->view.trial++;
        if (worker_is_idle(s, w)) {
            pc->idle++;
            if (s->view.redis_now_ms - w->rsince_ms >= grace_ms)
                pc->idle_expired++;
            else if (w->rsince_ms + grace_ms < s->view.expire_ms)
                s->view.expire_ms = w->rsince_ms + grace_ms;
        }
    }
    /* Only a settled table stays as counted until touched. */
    s->view.counted = table_settled(s);
    s->view.touches = s->table.touches;
}

void view_plan(struct spawner *s, int64_t now)
{
    struct pool_counts pc;
    struct pool_plan plan;
    long allowed, i;

    if (s->c->node_drain) {
        /* Every idle worker goes, at once; one that turns idle moves
         * P:ver:<node>, so a quiet view has none. */
        if (!s->view.quiet)
            retire_idle(s, LONG_MAX, 1, now); /* and start nothing */
        return;
    }
    if (!s->view.quiet || s->view.redis_now_ms >= s->view.expire_ms)
        view_count(s);
    pc = s->view.pc;
    pc.waiting = s->view.waiting;
    pc.idle_target = s->c->pool_idle_target;
    pc.max_workers = s->c->pool_max_workers;
    pool_decide(&pc, &plan);
    allowed = restart_allowed(&s->exit.rs, now, s->view.trial, plan.spawn);
    for (i = 0; i < allowed; i++) {
        if (start_spawn(s, now) < 0)
            break;
    }
    if (plan.retire > 0)
        retire_idle(s, plan.retire, 0, now);
}

void view_housekeep(struct spawner *s)
{
    /* A Redis with no P:gen for this node after a view that missed no
     * record: a fresh one, or one whose loss held no worker of ours. */
    if (s->view.clean_seq == s->view.seq && s->view.seq > 0 &&
        store_gen_mark(&s->redis.store, s->c->node_name, 1) < 0)
        spawner_redis_failed(s, "noting the node in the generation");
    report_pool(s, NULL);
}
