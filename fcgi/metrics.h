/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * metrics.h - request latency, create wait and create failures, counted
 * per handler thread, handed to the process after each request, and
 * added to P:stats in one Redis call about once a second, so that every steel-fcgi process on every node contributes to
 * one set of numbers; and the Prometheus text rendering of P:stats.
 *
 * P:stats fields written here (all integers):
 *   lat:<route>:<i>     requests of route whose duration fell in bucket i
 *   lat_sum:<route>     their total duration, ms
 *   lat_count:<route>   their number
 *   wait:<i>, wait_sum, wait_count   the same for the time creates
 *                       waited for a worker
 *   create_failures:<reason>         creates that did not get a session
 *   create_hedges, create_hedge_wins creates that tried a second worker
 *                       because the first was slow, and those the second
 *                       one won
 * Other programs add plain counters ("sessions_created") and labelled ones
 * ("repairs:<kind>"), rendered as steel_<name>_total.
 */
#ifndef STEEL_METRICS_H
#define STEEL_METRICS_H

#include "buf.h"
#include "route.h"

#define METRICS_NBOUNDS 11 /* buckets: the bounds below, then +Inf */

/* Upper bounds of the histogram buckets, in milliseconds. */
extern const long metrics_bounds_ms[METRICS_NBOUNDS];

enum create_failure {
    CREATE_FAIL_NO_WORKER = 0,
    CREATE_FAIL_QUEUE_FULL,
    CREATE_FAIL_WORKER_FAILED,
    CREATE_FAIL_REDIS,
    CREATE_FAIL_CLIENT_GONE,
    CREATE_FAIL_COUNT
};

struct metrics {
    long lat[ROUTE_COUNT + 1][METRICS_NBOUNDS + 1]; /* ROUTE_COUNT: none */
    long lat_sum_ms[ROUTE_COUNT + 1];
    long lat_count[ROUTE_COUNT + 1];
    long wait[METRICS_NBOUNDS + 1];
    long wait_sum_ms;
    long wait_count;
    long create_fail[CREATE_FAIL_COUNT];
    long hedges;     /* creates that also tried a second worker */
    long hedge_wins; /* ... and got their session from it */
    int dirty;       /* something to flush */
};

void metrics_observe_request(struct metrics *m, enum route_id route,
                             long ms);
void metrics_observe_wait(struct metrics *m, long ms);
void metrics_create_failure(struct metrics *m, enum create_failure why);
/* Adds what from counted to into (from is left as it is). */
void metrics_merge(struct metrics *into, const struct metrics *from);

/* won 0: a create started racing a slow worker with another one;
 * won 1: the answer of such a second worker won. */
void metrics_hedge(struct metrics *m, int won);

/* Writes what m counted since the last pack as "field n" lines into out
 * and zeroes m.  Returns 0, or -1 when out is too small (m unchanged). */
int metrics_pack(struct metrics *m, struct buf *out);

/* One node's pool, as its spawner last reported it (P:pool:<node>). */
struct metrics_node {
    const char *name;      /* node_name */
    const char *state;     /* ok, degraded, stopped, or what the record says */
    long heartbeat_age_ms; /* Redis clock minus the report's; -1 unknown */
    int conflict;          /* another process's claim of its node_name was
                              refused lately (/status "conflict") */
};

/* Gauges read at scrape time. */
struct metrics_gauges {
    long workers[8];     /* by state, indexed like enum worker_state */
    int nstates;
    const char *const *state_names;
    long sessions;
    long waiting;
    int degraded;
    const struct metrics_node *nodes; /* borrowed; nnodes of them */
    size_t nnodes;
};

struct stat_rec;

/* Renders the Prometheus text exposition of the gauges and of the n
 * counters of P:stats in stats (store_stats), into out.  Returns 0 or -1
 * (out full, or out of memory). */
int metrics_render(const struct metrics_gauges *g, const struct stat_rec *stats,
                   size_t n, struct buf *out);

#endif
