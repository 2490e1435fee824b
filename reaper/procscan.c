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
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "procscan.h"
#include "prog.h"
#include "util.h"

enum decide_proc procscan_check(long pid, unsigned long long pstart)
{
    return proc_alive(pid, pstart) ? PROC_ALIVE : PROC_GONE;
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

int procscan_run(const char *prefix, const char *node, long parent, int full,
                 struct proc_worker **out, size_t *n)
{
    struct procscan_list l = {NULL, 0, 0, 0};
    struct proc_node pn;
    int rc;

    *out = NULL;
    *n = 0;
    if (proc_node_init(&pn, prefix, node) < 0)
        return -1;
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

static int id_cmp(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;

    return (x > y) - (x < y);
}

static int entry_cmp(const void *a, const void *b)
{
    const struct proc_worker *x = a, *y = b;
    int c = strcmp(x->id, y->id);

    if (c != 0)
        return c;
    return (x->pid > y->pid) - (x->pid < y->pid);
}

void procscan_strays(struct proc_worker *procs, size_t nprocs,
                     const struct worker_rec *recs, size_t nrecs,
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
        int killed = 0;
        long first = 0;

        for (j = i; j < nstray && strcmp(procs[j].id, procs[i].id) == 0; j++) {
            int64_t age = proc_age_ms(procs[j].pstart);

            if (age >= 0 && age < PROCSCAN_STRAY_MIN_AGE_MS) {
                out->young = 1;
                continue;
            }
            if (proc_kill(procs[j].pid, procs[j].pstart, -1, SIGKILL) > 0) {
                if (killed++ == 0)
                    first = procs[j].pid;
            }
        }
        if (killed == 0)
            continue;
        log_warnx("worker %s (pid %ld): killed (stray): process unknown to "
                  "redis, %d process%s",
                  procs[i].id, first, killed, killed == 1 ? "" : "es");
        out->killed++;
    }
}
