/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * metrics.c - counting and Prometheus rendering (metrics.h).
 *
 * Rendering sorts the P:stats fields so that each metric family comes out
 * contiguous, with one HELP and one TYPE line, as the text format wants.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "store.h"

const long metrics_bounds_ms[METRICS_NBOUNDS] = {
    5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000,
};

static const char *const create_fail_names[CREATE_FAIL_COUNT] = {
    "no_worker", "queue_full", "worker_failed", "redis", "client_gone",
};

static int bucket_of(long ms)
{
    int i;

    for (i = 0; i < METRICS_NBOUNDS; i++) {
        if (ms <= metrics_bounds_ms[i])
            return i;
    }
    return METRICS_NBOUNDS;
}

void metrics_observe_request(struct metrics *m, enum route_id route, long ms)
{
    int r = ((int)route < 0 || route > ROUTE_COUNT) ? ROUTE_COUNT : route;

    m->lat[r][bucket_of(ms)]++;
    m->lat_sum_ms[r] += ms;
    m->lat_count[r]++;
    m->dirty = 1;
}

void metrics_merge(struct metrics *into, const struct metrics *from)
{
    int r, i;

    if (!from->dirty)
        return;
    for (r = 0; r <= ROUTE_COUNT; r++) {
        for (i = 0; i <= METRICS_NBOUNDS; i++)
            into->lat[r][i] += from->lat[r][i];
        into->lat_sum_ms[r] += from->lat_sum_ms[r];
        into->lat_count[r] += from->lat_count[r];
    }
    for (i = 0; i <= METRICS_NBOUNDS; i++)
        into->wait[i] += from->wait[i];
    into->wait_sum_ms += from->wait_sum_ms;
    into->wait_count += from->wait_count;
    for (i = 0; i < CREATE_FAIL_COUNT; i++)
        into->create_fail[i] += from->create_fail[i];
    into->hedges += from->hedges;
    into->hedge_wins += from->hedge_wins;
    into->dirty = 1;
}

void metrics_observe_wait(struct metrics *m, long ms)
{
    m->wait[bucket_of(ms)]++;
    m->wait_sum_ms += ms;
    m->wait_count++;
    m->dirty = 1;
}

void metrics_create_failure(struct metrics *m, enum create_failure why)
{
    if ((int)why >= 0 && why < CREATE_FAIL_COUNT) {
        m->create_fail[why]++;
        m->dirty = 1;
    }
}

void metrics_hedge(struct metrics *m, int won)
{
    if (won)
        m->hedge_wins++;
    else
        m->hedges++;
    m->dirty = 1;
}

static const char *route_label(int r)
{
    return r == ROUTE_COUNT ? "none" : route_name((enum route_id)r);
}

int metrics_pack(struct metrics *m, struct buf *out)
{
    size_t start = out->len;
    int r, i, rc = 0;

    for (r = 0; r <= ROUTE_COUNT; r++) {
        if (m->lat_count[r] == 0)
            continue;
        for (i = 0; i <= METRICS_NBOUNDS; i++) {
            if (m->lat[r][i] != 0)
                rc |= buf_printf(out, "lat:%s:%d %ld\n", route_label(r), i,
                                 m->lat[r][i]);
        }
        rc |= buf_printf(out, "lat_sum:%s %ld\nlat_count:%s %ld\n",
                         route_label(r), m->lat_sum_ms[r], route_label(r),
                         m->lat_count[r]);
    }
    if (m->wait_count > 0) {
        for (i = 0; i <= METRICS_NBOUNDS; i++) {
            if (m->wait[i] != 0)
                rc |= buf_printf(out, "wait:%d %ld\n", i, m->wait[i]);
        }
        rc |= buf_printf(out, "wait_sum %ld\nwait_count %ld\n", m->wait_sum_ms,
                         m->wait_count);
    }
    for (i = 0; i < CREATE_FAIL_COUNT; i++) {
        if (m->create_fail[i] != 0)
            rc |= buf_printf(out, "create_failures:%s %ld\n",
                             create_fail_names[i], m->create_fail[i]);
    }
    if (m->hedges != 0)
        rc |= buf_printf(out, "create_hedges %ld\n", m->hedges);
    if (m->hedge_wins != 0)
        rc |= buf_printf(out, "create_hedge_wins %ld\n", m->hedge_wins);
    if (rc != 0) {
        out->len = start;
        if (out->data != NULL)
            out->data[start] = '\0';
        return -1;
    }
    memset(m, 0, sizeof(*m));
    return 0;
}

static int field_cmp(const void *a, const void *b)
{
    return strcmp(((const struct stat_rec *)a)->name,
                  ((const struct stat_rec *)b)->name);
}

/* The label a labelled counter family uses. */
static const char *label_of(const char *family, size_t len)
{
    if (len == 15 && strncmp(family, "create_failures", len) == 0)
        return "reason";
    if (len == 12 && strncmp(family, "workers_gone", len) == 0)
        return "reason";
    if (len == 18 && strncmp(family, "reaper_node_passes", len) == 0)
        return "node";
    return "kind";
}

/* A name part safe in a metric name: [a-zA-Z0-9_], others become '_'. */
static void sanitize(char *dst, size_t size, const char *src, size_t len)
{
    size_t i;

    if (len >= size)
        len = size - 1;
    for (i = 0; i < len; i++) {
        char c = src[i];

        dst[i] = ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '_')
                     ? c
                     : '_';
    }
    dst[len] = '\0';
}

/* A label value: printable ASCII without '"' and '\'. */
static void label_value(char *dst, size_t size, const char *src)
{
    size_t j = 0;

    for (; *src != '\0' && j + 1 < size; src++) {
        if ((unsigned char)*src >= 0x20 && *src != '"' && *src != '\\' &&
            (unsigned char)*src < 0x7f)
            dst[j++] = *src;
    }
    dst[j] = '\0';
}

/* Renders one histogram family from the sorted fields: buckets are
 * "<bprefix><label>:<i>", sums "<sprefix><label>", counts
 * "<cprefix><label>"; label is empty for an unlabelled histogram. */
static int render_histogram(struct buf *out, const char *name, const char *help,
                            const char *label_name, const struct stat_rec *f,
                            size_t n, const char *bprefix, const char *sprefix,
                            const char *cprefix)
{
    size_t i, blen = strlen(bprefix);
    int rc = 0, header = 0;

    for (i = 0; i < n; i++) {
        char label[128], key[256], lab[160];
        long long cum = 0, count = 0, sum = 0;
        const char *rest;
        const char *colon;
        size_t j;
        int b;

        if (strncmp(f[i].name, bprefix, blen) != 0)
            continue;
        rest = f[i].name + blen;
        colon = strrchr(rest, ':');
        if (label_name != NULL) {
            if (colon == NULL)
                continue;
            /* Only the first bucket field of a label starts its series. */
            if (i > 0 && strncmp(f[i - 1].name, f[i].name,
                                 (size_t)(colon - f[i].name) + 1) == 0)
                continue;
            if ((size_t)(colon - rest) >= sizeof(label))
                continue;
            memcpy(label, rest, (size_t)(colon - rest));
            label[colon - rest] = '\0';
        } else {
            if (i > 0 && strncmp(f[i - 1].name, bprefix, blen) == 0)
                continue;
            label[0] = '\0';
        }
        if (!header) {
            rc |= buf_printf(out, "# HELP %s %s\n# TYPE %s histogram\n", name,
                             help, name);
            header = 1;
        }
        snprintf(lab, sizeof(lab), label_name ? "%s=\"%s\"," : "%.0s%.0s",
                 label_name ? label_name : "", label);
        for (b = 0; b <= METRICS_NBOUNDS; b++) {
            long long v = 0;

            if (label_name != NULL)
                snprintf(key, sizeof(key), "%s%s:%d", bprefix, label, b);
            else
                snprintf(key, sizeof(key), "%s%d", bprefix, b);
            for (j = 0; j < n; j++) {
                if (strcmp(f[j].name, key) == 0) {
                    v = f[j].value;
                    break;
                }
            }
            cum += v;
            if (b < METRICS_NBOUNDS)
                rc |= buf_printf(out, "%s_bucket{%sle=\"%g\"} %lld\n", name,
                                 lab, metrics_bounds_ms[b] / 1000.0, cum);
            else
                rc |= buf_printf(out, "%s_bucket{%sle=\"+Inf\"} %lld\n", name,
                                 lab, cum);
        }
        snprintf(key, sizeof(key), "%s%s", sprefix, label);
        for (j = 0; j < n; j++) {
            if (strcmp(f[j].name, key) == 0)
                sum = f[j].value;
        }
        snprintf(key, sizeof(key), "%s%s", cprefix, label);
        for (j = 0; j < n; j++) {
            if (strcmp(f[j].name, key) == 0)
                count = f[j].value;
        }
        if (label_name != NULL) {
            rc |= buf_printf(out, "%s_sum{%s=\"%s\"} %.3f\n", name, label_name,
                             label, sum / 1000.0);
            rc |= buf_printf(out, "%s_count{%s=\"%s\"} %lld\n", name,
                             label_name, label, count);
        } else {
            rc |= buf_printf(out, "%s_sum %.3f\n%s_count %lld\n", name,
                             sum / 1000.0, name, count);
        }
    }
    return rc;
}

static int is_histogram_field(const char *name)
{
    return strncmp(name, "lat:", 4) == 0 || strncmp(name, "lat_sum:", 8) == 0 ||
           strncmp(name, "lat_count:", 10) == 0 ||
           strncmp(name, "wait:", 5) == 0 || strcmp(name, "wait_sum") == 0 ||
           strcmp(name, "wait_count") == 0;
}

/* Per node: its pool state as one 0/1 series per state (so that a change of
 * state never leaves a stale series behind) and the age of its spawner's
 * last report, the "spawner is running" signal. */
static int render_nodes(const struct metrics_gauges *g, struct buf *out)
{
    static const char *const states[] = {"ok",    "degraded", "draining",
                                         "stopped", "stale",   "gone"};
    char node[128];
    size_t i, k;
    int rc = 0;

    if (g->nnodes == 0)
        return 0;
    rc |= buf_appends(out, "# HELP steel_pool_state A node's pool state, as "
                           "its spawner reported it (1 for the current).\n"
                           "# TYPE steel_pool_state gauge\n");
    for (i = 0; i < g->nnodes; i++) {
        label_value(node, sizeof(node), g->nodes[i].name);
        for (k = 0; k < sizeof(states) / sizeof(states[0]); k++)
            rc |= buf_printf(
                out, "steel_pool_state{node=\"%s\",state=\"%s\"} %d\n", node,
                states[k], strcmp(g->nodes[i].state, states[k]) == 0);
    }
    rc |= buf_appends(out, "# HELP steel_node_up 1 while a node heartbeats "
                           "(0 once stale or gone, until its records are "
                           "removed).\n"
                           "# TYPE steel_node_up gauge\n");
    for (i = 0; i < g->nnodes; i++) {
        label_value(node, sizeof(node), g->nodes[i].name);
        rc |= buf_printf(out, "steel_node_up{node=\"%s\"} %d\n", node,
                         strcmp(g->nodes[i].state, "stale") != 0 &&
                             strcmp(g->nodes[i].state, "gone") != 0);
    }
    rc |= buf_appends(out, "# HELP steel_node_conflict 1 while another "
                           "process's claim of the node's node_name was "
                           "refused in the last 10 minutes.\n"
                           "# TYPE steel_node_conflict gauge\n");
    for (i = 0; i < g->nnodes; i++) {
        label_value(node, sizeof(node), g->nodes[i].name);
        rc |= buf_printf(out, "steel_node_conflict{node=\"%s\"} %d\n", node,
                         g->nodes[i].conflict);
    }
    rc |=
        buf_appends(out, "# HELP steel_spawner_heartbeat_age_seconds Seconds "
                         "since a node's spawner last reported its pool.\n"
                         "# TYPE steel_spawner_heartbeat_age_seconds gauge\n");
    for (i = 0; i < g->nnodes; i++) {
        if (g->nodes[i].heartbeat_age_ms < 0)
            continue;
        label_value(node, sizeof(node), g->nodes[i].name);
        rc |= buf_printf(out,
                         "steel_spawner_heartbeat_age_seconds{node=\"%s\"} "
                         "%.3f\n",
                         node, g->nodes[i].heartbeat_age_ms / 1000.0);
    }
    return rc;
}

int metrics_render(const struct metrics_gauges *g, const struct stat_rec *stats,
                   size_t nstats, struct buf *out)
{
    struct stat_rec *f = NULL;
    size_t n = 0, i;
    int rc = 0, s;

    rc |= buf_appends(out, "# HELP steel_workers Workers by state.\n"
                           "# TYPE steel_workers gauge\n");
    for (s = 0; s < g->nstates; s++)
        rc |= buf_printf(out, "steel_workers{state=\"%s\"} %ld\n",
                         g->state_names[s], g->workers[s]);
    rc |= buf_printf(out,
                     "# HELP steel_sessions Live sessions.\n"
                     "# TYPE steel_sessions gauge\n"
                     "steel_sessions %ld\n"
                     "# HELP steel_waiting_creates Creates waiting for a "
                     "worker.\n"
                     "# TYPE steel_waiting_creates gauge\n"
                     "steel_waiting_creates %ld\n"
                     "# HELP steel_pool_degraded 1 when a node's pool is "
                     "degraded.\n"
                     "# TYPE steel_pool_degraded gauge\n"
                     "steel_pool_degraded %d\n",
                     g->sessions, g->waiting, g->degraded);
    rc |= render_nodes(g, out);

    if (nstats > 0) {
        f = calloc(nstats, sizeof(*f));
        if (f == NULL)
            return -1;
        memcpy(f, stats, nstats * sizeof(*f));
        n = nstats;
        qsort(f, n, sizeof(*f), field_cmp);
    }

    rc |= render_histogram(out, "steel_request_duration_seconds",
                           "Time steel-fcgi took to answer, by route.", "route",
                           f, n, "lat:", "lat_sum:", "lat_count:");
    rc |= render_histogram(out, "steel_create_wait_seconds",
                           "Time creates waited for an idle worker.", NULL, f,
                           n, "wait:", "wait_sum", "wait_count");

    for (i = 0; i < n; i++) {
        const char *colon = strchr(f[i].name, ':');
        char family[128], label[128];

        if (is_histogram_field(f[i].name))
            continue;
        if (colon == NULL) {
            sanitize(family, sizeof(family), f[i].name, strlen(f[i].name));
            rc |= buf_printf(out,
                             "# TYPE steel_%s_total counter\n"
                             "steel_%s_total %lld\n",
                             family, family, f[i].value);
            continue;
        }
        sanitize(family, sizeof(family), f[i].name,
                 (size_t)(colon - f[i].name));
        label_value(label, sizeof(label), colon + 1);
        /* The family's TYPE line comes before its first sample. */
        if (i == 0 || strncmp(f[i - 1].name, f[i].name,
                              (size_t)(colon - f[i].name) + 1) != 0)
            rc |= buf_printf(out, "# TYPE steel_%s_total counter\n", family);
        rc |= buf_printf(out, "steel_%s_total{%s=\"%s\"} %lld\n", family,
                         label_of(f[i].name, (size_t)(colon - f[i].name)),
                         label, f[i].value);
    }
    free(f);
    return rc ? -1 : 0;
}
