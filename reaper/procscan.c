/*
 * procscan.c - the worker processes of this node, as one list per reaper
 * pass (procscan.h).
 *
 * Today a pass reads the environment of every process on the host
 * (proc_node_scan); proc_node_worker() answers for a single pid, so a
 * pass could instead look only at the pids its records name.
 */
#include "config.h"

#include <stdlib.h>

#include "log.h"
#include "procscan.h"

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

int procscan_run(const char *prefix, const char *node, struct proc_worker **out,
                 size_t *n)
{
    struct procscan_list l = {NULL, 0, 0, 0};
    struct proc_node pn;
    int rc;

    *out = NULL;
    *n = 0;
    if (proc_node_init(&pn, prefix, node) < 0)
        return -1;
    rc = proc_node_scan(&pn, list_add, &l);
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
