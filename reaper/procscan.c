/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * procscan.c - the worker processes of this node as a reaper pass sees
 * them, and the kill of strays (procscan.h).
 *
 * Invariants: a pass that is not a full scan reads /proc only for the
 * pids its records and its spawner name (the cost grows with the node's
 * workers, whatever runs beside them on the host); a stray is killed only
 * under the kill rule of common/proc.h, and only once it is older than
 * PROCSCAN_STRAY_MIN_AGE_MS, so a worker whose spawner has not registered
 * it yet is left alone.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "procscan.h"
#include "prog.h"
#include "util.h"

enum decide_proc procscan_check(long pid, unsigned long long pstart)
{
    return proc_alive(pid, pstart) ? PROC_ALIVE : PROC_GONE;
}

static int id_cmp(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;

    return (x > y) - (x < y);
}

/* The list procscan_run() fills. */
struct procscan_list {
    struct proc_worker *procs; /* malloc'd */
    size_t n, cap;             /* entries used, allocated */
    int oom;                   /* an append failed */
};

static void list_add(const struct proc_worker *w, void *arg)
{
    struct procscan_list *l = arg;

    if (l->oom)
        return;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        struct proc_worker *np = realloc(l->procs, cap * sizeof(*np));

        if (np == NULL) {
            l->oom = 1;
            return;
        }
        l->procs = np;
        l->cap = cap;
    }
    l->procs[l->n++] = *w;
}

int procscan_run(const struct cgroup *cg, const char *prefix, const char *node,
                 long parent, int full, struct proc_worker **out, size_t *n)
{
    struct procscan_list l = {NULL, 0, 0, 0};
    struct proc_node pn;
    int rc;

    *out = NULL;
    *n = 0;
    if (proc_node_init(&pn, prefix, node) < 0)
        return -1;
    pn.cg = cg;
    if (full)
        rc = proc_node_scan(&pn, list_add, &l);
    else
        rc = proc_node_children(&pn, parent, list_add, &l);
    proc_node_release(&pn);
    if (rc >= 0 && l.oom)
        log_warnx("process scan: out of memory");
    if (rc < 0 || l.oom) {
        free(l.procs);
        return -1;
    }
    *out = l.procs;
    *n = l.n;
    return 0;
}


/* The list procscan_group_ids() fills. */
struct id_list {
    long *ids;
    size_t n, cap;
    int oom;
};

static void id_add(long id, void *arg)
{
    struct id_list *l = arg;

    if (l->oom)
        return;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        long *ni = realloc(l->ids, cap * sizeof(*ni));

        if (ni == NULL) {
            l->oom = 1;
            return;
        }
        l->ids = ni;
        l->cap = cap;
    }
    l->ids[l->n++] = id;
}

int procscan_group_ids(const struct cgroup *cg, long **ids, size_t *n)
{
    struct id_list l = {NULL, 0, 0, 0};

    *ids = NULL;
    *n = 0;
    if (cg == NULL || !cg->on)
        return 0;
    if (cgroup_workers_each(cg, id_add, &l) < 0) {
        log_warn("cannot read the worker groups of %s", cg->hier[0].dir);
        free(l.ids);
        return -1;
    }
    if (l.oom) {
        log_warnx("process scan: out of memory");
        free(l.ids);
        return -1;
    }
    if (l.n > 1)
        qsort(l.ids, l.n, sizeof(*l.ids), id_cmp);
    *ids = l.ids;
    *n = l.n;
    return 0;
}

int procscan_unrecorded(const struct cgroup *cg, const char *prefix,
                        const char *node, const long *gids, size_t ngids,
                        const struct worker_rec *recs, size_t nrecs,
                        struct proc_worker **out, size_t *n)
{
    struct procscan_list l = {NULL, 0, 0, 0};
    struct proc_node pn;
    long *rids = NULL, *unknown = NULL;
    size_t i, nu = 0;
    int rc = -1;

    *out = NULL;
    *n = 0;
    if (ngids == 0)
        return 0;
    rids = calloc(nrecs + 1, sizeof(*rids));
    unknown = calloc(ngids, sizeof(*unknown));
    if (rids == NULL || unknown == NULL) {
        log_warnx("process scan: out of memory");
        goto out;
    }
    for (i = 0; i < nrecs; i++) {
        long v = -1;

        parse_long(recs[i].id, 0, 0x7fffffffffffL, &v);
        rids[i] = v;
    }
    qsort(rids, nrecs, sizeof(*rids), id_cmp);
    for (i = 0; i < ngids; i++)
        if (bsearch(&gids[i], rids, nrecs, sizeof(*rids), id_cmp) == NULL)
            unknown[nu++] = gids[i];
    if (nu == 0) {
        rc = 0;
        goto out;
    }
    if (proc_node_init(&pn, prefix, node) < 0)
        goto out;
    pn.cg = cg;
    proc_node_scan_groups(&pn, unknown, nu, list_add, &l);
    proc_node_release(&pn);
    if (l.oom) {
        log_warnx("process scan: out of memory");
        free(l.procs);
        goto out;
    }
    *out = l.procs;
    *n = l.n;
    rc = 0;
out:
    free(rids);
    free(unknown);
    return rc;
}

static int entry_cmp(const void *a, const void *b)
{
    const struct proc_worker *x = a, *y = b;
    int c = strcmp(x->id, y->id);

    if (c != 0)
        return c;
    return (x->pid > y->pid) - (x->pid < y->pid);
}

void procscan_strays(const struct cgroup *cg, struct proc_worker *procs,
                     size_t nprocs, const struct worker_rec *recs, size_t nrecs,
                     int64_t stop_ms, struct procscan_strays *out)
{
    long *ids = NULL;
    size_t i, j, nstray = 0;

    memset(out, 0, sizeof(*out));
    if (nprocs == 0)
        return;
    ids = calloc(nrecs + 1, sizeof(*ids));
    if (ids == NULL) {
        log_warnx("stray scan: out of memory");
        return;
    }
    for (i = 0; i < nrecs; i++) {
        long v = -1;

        parse_long(recs[i].id, 0, 0x7fffffffffffL, &v);
        ids[i] = v;
    }
    qsort(ids, nrecs, sizeof(*ids), id_cmp);
    /* Known processes out, strays to the front, grouped by id. */
    for (i = 0; i < nprocs; i++) {
        long v = -1;

        if (parse_long(procs[i].id, 0, 0x7fffffffffffL, &v) == 0 &&
            bsearch(&v, ids, nrecs, sizeof(*ids), id_cmp) != NULL)
            continue;
        procs[nstray++] = procs[i];
    }
    free(ids);
    qsort(procs, nstray, sizeof(*procs), entry_cmp);
    for (i = 0; i < nstray && !prog_got_term && now_mono_ms() <= stop_ms;
         i = j) {
        int killed = 0, young = 0;
        long first = 0, id = -1;

        for (j = i; j < nstray && strcmp(procs[j].id, procs[i].id) == 0; j++) {
            int64_t age = proc_age_ms(procs[j].pstart);

            if (age >= 0 && age < PROCSCAN_STRAY_MIN_AGE_MS)
                young = 1;
        }
        if (young) {
            /* A worker its spawner has not registered yet, maybe. */
            out->young = 1;
            continue;
        }
        for (j = i; j < nstray && strcmp(procs[j].id, procs[i].id) == 0; j++) {
            if (proc_kill(procs[j].pid, procs[j].pstart, -1, SIGKILL) > 0) {
                if (killed++ == 0)
                    first = procs[j].pid;
            }
        }
        /* What hides from the scan (a new process) goes with the group. */
        if (cg != NULL && cg->on &&
            parse_long(procs[i].id, 0, 0x7fffffffffffL, &id) == 0 &&
            cgroup_worker_kill(cg, id) == 1 && killed == 0)
            killed = 1;
        if (killed == 0)
            continue;
        log_warnx("worker %s (pid %ld): killed (stray): process unknown to "
                  "redis, %d process%s%s",
                  procs[i].id, first, killed, killed == 1 ? "" : "es",
                  cg != NULL && cg->on ? " and its cgroup" : "");
        out->killed++;
    }
}

/* 1 when pid runs steel-spawner as our own user. */
static int is_spawner(long pid)
{
    char path[64], comm[32];
    FILE *f;
    uid_t uid;
    int ok;

    snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
    f = fopen(path, "re");
    if (f == NULL)
        return 0;
    ok = fgets(comm, sizeof(comm), f) != NULL &&
         strcmp(comm, "steel-spawner\n") == 0;
    fclose(f);
    return ok && proc_uid(pid, &uid) == 0 && uid == geteuid();
}

int procscan_groups(struct cgroup *cg, char *base, size_t base_size,
                    const struct conf *c, long spawner)
{
    char found[CGROUP_PATH_MAX], err[512] = "";

    memset(cg, 0, sizeof(*cg));
    if (strcmp(c->worker_cgroup, "off") == 0)
        return 0;
    /* Until a subtree is found, no process is a worker. */
    cg->required = 1;
    if (spawner > 0 && is_spawner(spawner) &&
        cgroup_pid_base("/proc", spawner, found, sizeof(found)) == 0 &&
        (c->cgroup_root[0] == '\0' || strcmp(found, c->cgroup_root) == 0) &&
        strlen(found) < base_size) {
        if (strcmp(found, base) != 0)
            log_info("node's cgroup subtree: %s (the spawner's)", found);
        snprintf(base, base_size, "%s", found);
    } else if (c->cgroup_root[0] != '\0') {
        snprintf(base, base_size, "%s", c->cgroup_root);
    } else if (base[0] == '\0' &&
               (geteuid() != 0 ||
                cgroup_default_root(c->key_prefix, c->node_name, base,
                                    base_size) < 0)) {
        log_debug("no cgroup subtree of node %s found: no process is taken "
                  "for a worker",
                  c->node_name);
        return 0;
    }
    if (cgroup_detect(cg, "/proc/self/mountinfo", "/proc/self/cgroup", base,
                      err, sizeof(err)) < 0 ||
        cgroup_open(cg) < 0) {
        log_debug("no worker groups under %s: %s; no process is taken for a "
                  "worker",
                  base, err);
        memset(cg, 0, sizeof(*cg));
        cg->required = 1;
        return 0;
    }
    return 1;
}
