/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * report.c - the pool state steel-spawner writes to P:pool:<node> for
 * /status and the claim script: its counts (workers, idle, starting),
 * its start failures, and "ok", "degraded" (with the last failure),
 * "draining" or "stopped".  The write is also the node's heartbeat.
 *
 * Invariants: the state says "draining" whenever node_drain is set and
 * the caller names no other; a node whose record was removed meanwhile
 * (a reaper took it for gone, or Redis lost its data) registers again,
 * except while the spawner stops; a record that holds another instance
 * token is not written, and this spawner stops (node_taken).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

void report_pool(struct spawner *s, const char *state)
{
    char spid[24], sworkers[24], sidle[24], sstarting[24], sfails[24];
    char starget[24], smax[24], sports[48];
    const char *fields[] = {"pid",         spid,   "workers",      sworkers,
                            "idle",        sidle,  "starting",     sstarting,
                            "fails",       sfails, "idle_target",  starget,
                            "max_workers", smax,   "worker_ports", sports};
    long workers = 0, idle = 0, starting = 0;
    size_t i;
    int rc;

    for (i = 0; i < s->table.n; i++) {
        const struct worker *w = s->table.w[i];

        if (w->state == SPAWNER_W_GONE)
            continue;
        workers++;
        if (w->state == SPAWNER_W_STARTING)
            starting++;
        else if (w->state == SPAWNER_W_RUNNING && w->rstate == WORKER_IDLE)
            idle++;
    }
    snprintf(spid, sizeof(spid), "%ld", (long)getpid());
    snprintf(sworkers, sizeof(sworkers), "%ld", workers);
    snprintf(sidle, sizeof(sidle), "%ld", idle);
    snprintf(sstarting, sizeof(sstarting), "%ld", starting);
    snprintf(sfails, sizeof(sfails), "%ld", s->exit.rs.fails);
    snprintf(starget, sizeof(starget), "%ld", s->c->pool_idle_target);
    snprintf(smax, sizeof(smax), "%ld", s->c->pool_max_workers);
    snprintf(sports, sizeof(sports), "%ld-%ld", s->c->worker_port_min,
             s->c->worker_port_max);
    if (state == NULL && s->c->node_drain)
        state = "draining";
    if (state == NULL)
        state = s->exit.rs.degraded ? "degraded" : "ok";
    rc = store_pool_report(&s->redis.store, s->c->node_name, state,
                           strcmp(state, "draining") == 0 ? "node_drain = yes"
                           : s->exit.rs.degraded          ? s->exit.fail_reason
                                                          : "",
                           (int)(sizeof(fields) / sizeof(fields[0])), fields);
    if (rc < 0)
        spawner_redis_failed(s, "writing the pool state");
    else
        spawner_redis_worked(s);
    if (rc == 2 && !s->loop.stopping)
        node_register(s, 0); /* the node was removed meanwhile */
    if (rc == STORE_NODE_TAKEN) {
        struct node_rec other;
        char token[NODETOKEN_MAX];

        memset(&other, 0, sizeof(other));
        if (store_node_holder(&s->redis.store, s->c->node_name, &other.pid,
                              other.hostid, sizeof(other.hostid), token,
                              sizeof(token)) < 0)
            other.pid = 0;
        node_taken(s, &other);
    }
}
