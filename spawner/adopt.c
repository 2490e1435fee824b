/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * adopt.c - at start, the workers an earlier spawner of this node left
 * behind: those Redis knows that still run, lead their process group and
 * answer /health join the table as RUNNING; the records of the others are
 * removed (and what is left of their processes killed); and worker
 * processes of this node that Redis does not know are killed, unless
 * Redis lost this node's records (no P:gen entry for it): then those that
 * lead their group and answer /health are adopted too, and rebuild.c
 * registers them again with their sessions (internal.h has the states
 * and their transitions).
 *
 * Invariants: an adopted worker is not our child, so it is watched through
 * a pidfd opened only after its start time matched the record, and
 * signalled only under the kill rule (common/proc.h); a process is taken
 * for a worker of this node only by that rule too (with cgroups, its
 * worker group: never its environment nor Redis), and an orphan's whole
 * group goes with it; adoption counts no
 * start failures (adopted workers are healthy).
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "log.h"
#include "proc.h"

#define ADOPT_PARALLEL 64 /* /health probes at once */

/* 1 when pid runs as a uid workers run as (worker_user's, a slot's of
 * worker_uid_range, or ours without worker_user). */
static int adopt_uid_ok(const struct spawner *s, long pid)
{
    uid_t uid;

    return proc_uid(pid, &uid) == 0 && privsep_uid_ok(&s->loop.ps, uid);
}

/* Kills what is left of a worker we cannot vouch for and removes its
 * record.  Returns 0, or -1 when Redis failed. */
static int adopt_drop(struct spawner *s, const struct worker_rec *r,
                      const char *why)
{
    if (proc_is_node_worker(r->pid, r->pstart, &s->loop.cg, s->c->key_prefix,
                            s->c->node_name, r->id, s->loop.ps.uid_lo,
                            s->loop.ps.uid_hi))
        proc_kill(r->pid, r->pstart, -1, SIGKILL);
    if (store_worker_gone(&s->redis.store, r->id, s->c->node_name, r->pid, why,
                          NULL, NULL) < 0) {
        spawner_redis_failed(s, "removing a worker record");
        return -1;
    }
    log_info("worker %s (pid %ld, port %d): not adopted: %s; removed", r->id,
             r->pid, r->port, why);
    return 0;
}

/* (none) -> RUNNING.  Returns 0, or -1 when out of memory (logged). */
static int adopt_one(struct spawner *s, const struct worker_rec *r, int64_t now)
{
    struct worker *w = calloc(1, sizeof(*w));
    int64_t age = r->now_ms - r->started_ms;

    if (w == NULL) {
        log_warnx("adopting workers: out of memory");
        return -1;
    }
    snprintf(w->sid, sizeof(w->sid), "%s", r->id);
    w->id = strtol(r->id, NULL, 10);
    w->pid = r->pid;
    w->pstart = r->pstart;
    w->port = r->port;
    if (proc_uid(w->pid, &w->uid) < 0)
        w->uid = s->loop.ps.uid_lo; /* gone: the exit comes next */
    w->child = 0;
    w->state = SPAWNER_W_RUNNING;
    w->spawn_ms = now - (age > 0 ? age : 0);
    w->ready_ms = w->spawn_ms;
    w->healthy = 1;
    w->add_seq = s->view.seq;
    w->rstate = r->state;
    w->rsince_ms = r->since_ms;
    w->pidfd = -1;
    w->err_fd = -1;
    if (table_insert(s, w) < 0) {
        free(w);
        log_warnx("adopting workers: out of memory");
        return -1;
    }
    start_port_take(s, w->port);
    table_watch(s, w);
    if (r->state == WORKER_STARTING &&
        store_worker_ready(&s->redis.store, w->sid) == 1)
        w->rstate = WORKER_IDLE;
    log_debug("worker %s (pid %ld, port %d): adopted (%s)", w->sid, w->pid,
              w->port, worker_state_name(r->state));
    return 0;
}

/* Why the record r cannot be adopted as it stands, or NULL when its
 * process may be it (then /health decides). */
static const char *adopt_refusal(const struct spawner *s,
                                 const struct worker_rec *r)
{
    struct proc_stat st;
    size_t i;
    uid_t uid;

    if (r->state == WORKER_DEAD)
        return "marked dead";
    if (proc_stat_read(r->pid, &st) < 0 ||
        (st.start == r->pstart && (st.state == 'Z' || st.state == 'X')))
        return "its process is gone";
    if (st.start != r->pstart || r->pid <= 1)
        return "its pid belongs to another process";
    if (st.pgid != r->pid)
        return "it does not lead its process group";
    if (!proc_is_node_worker(r->pid, r->pstart, &s->loop.cg, s->c->key_prefix,
                             s->c->node_name, r->id, s->loop.ps.uid_lo,
                             s->loop.ps.uid_hi))
        return "its process is not a worker of this node";
    if (s->loop.ps.slots && proc_uid(r->pid, &uid) == 0) {
        for (i = 0; i < s->table.n; i++) {
            if (s->table.w[i]->uid == uid)
                return "its uid is another worker's (one uid per slot)";
        }
    }
    return NULL;
}

struct orphan_scan {
    struct spawner *s;
    int lost;                 /* Redis lost the node's records: adopt */
    struct proc_worker *cand; /* orphans that may be adopted */
    size_t n, cap;
    int killed;
};

/* Kills pw; with whole and cgroups, with everything of its worker group
 * (whose worker is not in the table). */
static void orphan_kill(struct orphan_scan *o, const struct proc_worker *pw,
                        const char *why, int whole)
{
    const struct cgroup *cg = &o->s->loop.cg;

    proc_kill(pw->pid, pw->pstart, -1, SIGKILL);
    if (whole && cg->on)
        cgroup_worker_kill(cg, strtol(pw->id, NULL, 10));
    o->killed++;
    log_info("process %ld: a worker of node %s that redis does not know%s; "
             "killed",
             pw->pid, o->s->c->node_name, why);
}

static void orphan_found(const struct proc_worker *pw, void *arg)
{
    struct orphan_scan *o = arg;

    if (pw->pid == (long)getppid() || table_by_pid(o->s, pw->pid) != NULL ||
        (pw->pgid > 0 && table_by_pid(o->s, pw->pgid) != NULL))
        return; /* an adopted worker, or a process a worker started */
    /* In the group of an adopted worker: a process it started. */
    if (o->s->loop.cg.on && table_get(o->s, strtol(pw->id, NULL, 10)) != NULL)
        return;
    if (!o->lost) {
        orphan_kill(o, pw, "", 1);
        return;
    }
    /* Redis lost the records: a worker that leads its group (it is one
     * we started, not a process it started) and runs as workers run may
     * still hold a session. */
    if (pw->pgid != pw->pid || pw->port == 0 ||
        table_get(o->s, strtol(pw->id, NULL, 10)) != NULL ||
        !adopt_uid_ok(o->s, pw->pid)) {
        orphan_kill(o, pw, " (not a worker the spawner started)", 0);
        return;
    }
    if (o->n == o->cap) {
        size_t cap = o->cap ? 2 * o->cap : 16;
        struct proc_worker *c = realloc(o->cand, cap * sizeof(*c));

        if (c == NULL) {
            orphan_kill(o, pw, " (out of memory)", 1);
            return;
        }
        o->cand = c;
        o->cap = cap;
    }
    o->cand[o->n++] = *pw;
}

/* The orphans of a Redis that lost this node's records that answer
 * /health join the table under their own id and port; the first view
 * finds their records missing and rebuild.c registers them again with
 * their sessions.  The others are killed (also when out of memory).
 * Returns how many joined. */
static int adopt_lost(struct spawner *s, struct orphan_scan *o, int64_t now)
{
    struct probe *pr = calloc(o->n + 1, sizeof(*pr));
    size_t i;
    int kept = 0;

    if (pr == NULL) {
        for (i = 0; i < o->n; i++)
            orphan_kill(o, &o->cand[i], " (out of memory)", 1);
        return 0;
    }
    for (i = 0; i < o->n; i++) {
        pr[i].host = s->c->worker_host;
        pr[i].port = o->cand[i].port;
        pr[i].path = "/health";
    }
    probe_run(pr, o->n, s->c->worker_connect_timeout_ms,
              s->c->probe_timeout_ms, ADOPT_PARALLEL);
    for (i = 0; i < o->n; i++) {
        const struct proc_worker *pw = &o->cand[i];
        struct worker_rec r;

        if (pr[i].result != WHTTP_OK || pr[i].status < 200 ||
            pr[i].status >= 300) {
            orphan_kill(o, pw, " and it does not answer /health", 1);
            continue;
        }
        memset(&r, 0, sizeof(r));
        snprintf(r.id, sizeof(r.id), "%s", pw->id);
        r.port = pw->port;
        r.pid = pw->pid;
        r.pstart = pw->pstart;
        r.state = WORKER_BUSY; /* unknown until rebuild.c asks it */
        if (adopt_one(s, &r, now) < 0) {
            orphan_kill(o, pw, " (out of memory)", 1);
            continue;
        }
        kept++;
        log_info("worker %s (pid %ld, port %d): redis lost the records of "
                 "node %s; adopted, to be registered again",
                 pw->id, pw->pid, pw->port, s->c->node_name);
    }
    free(pr);
    return kept;
}

/* The worker processes of this node that the table does not hold: killed,
 * unless Redis lost the node's records (lost), when those that answer
 * /health are adopted (adopt_lost).  Sets *joined to how many were;
 * returns how many were killed. */
static int adopt_orphans(struct spawner *s, int lost, int64_t now,
                         int *joined)
{
    struct orphan_scan o;
    struct proc_node pn;

    *joined = 0;
    memset(&o, 0, sizeof(o));
    o.s = s;
    o.lost = lost;
    if (proc_node_init(&pn, s->c->key_prefix, s->c->node_name) < 0)
        return 0;
    pn.cg = &s->loop.cg; /* with cgroups: the worker groups' members */
    proc_node_scan(&pn, orphan_found, &o);
    proc_node_release(&pn);
    if (o.n > 0)
        *joined = adopt_lost(s, &o, now);
    free(o.cand);
    return o.killed;
}

int adopt_run(struct spawner *s, int64_t now)
{
    struct worker_rec *recs = NULL;
    struct probe *probes = NULL;
    size_t n = 0, m = 0, i, kept = 0, dropped = 0;
    size_t *idx = NULL;
    int rc = -1, killed, joined = 0, noted;

    /* Read first: a failure here leaves nothing half done. */
    noted = store_gen_node(&s->redis.store, s->c->node_name);
    if (noted < 0) {
        spawner_redis_failed(s, "reading the generation");
        return -1;
    }
    if (store_workers(&s->redis.store, s->c->node_name, &recs, &n) < 0) {
        spawner_redis_failed(s, "reading the workers of this node");
        return -1;
    }
    spawner_redis_worked(s);
    probes = calloc(n + 1, sizeof(*probes));
    idx = calloc(n + 1, sizeof(*idx));
    if (probes == NULL || idx == NULL) {
        log_warnx("adopting workers: out of memory");
        goto out;
    }
    for (i = 0; i < n; i++) {
        const struct worker_rec *r = &recs[i];
        const char *why = adopt_refusal(s, r);

        if (why != NULL) {
            if (adopt_drop(s, r, why) < 0)
                goto out;
            dropped++;
            continue;
        }
        probes[m].host = r->host;
        probes[m].port = r->port;
        probes[m].path = "/health";
        idx[m++] = i;
    }
    probe_run(probes, m, s->c->worker_connect_timeout_ms,
              s->c->probe_timeout_ms, ADOPT_PARALLEL);
    for (i = 0; i < m; i++) {
        const struct worker_rec *r = &recs[idx[i]];

        if (probes[i].result == WHTTP_OK && probes[i].status >= 200 &&
            probes[i].status < 300) {
            if (adopt_one(s, r, now) < 0)
                goto out;
            kept++;
        } else {
            char why[128];

            snprintf(why, sizeof(why), "no answer to /health (%s)",
                     probes[i].result == WHTTP_OK
                         ? "bad status"
                         : whttp_result_str(probes[i].result));
            if (adopt_drop(s, r, why) < 0)
                goto out;
            dropped++;
        }
    }
    killed = adopt_orphans(s, noted == 0, now, &joined);
    log_info("node %s: adopted %zu workers, removed %zu records, killed %d "
             "unknown processes, adopted %d whose records redis lost",
             s->c->node_name, kept, dropped, killed, joined);
    rc = 0;
out:
    free(recs);
    free(probes);
    free(idx);
    return rc;
}
