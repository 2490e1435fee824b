/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * admin.c - what operators read: /health, /status, /workers, /metrics and
 * the session list.  Everything comes from Redis, so any handler process
 * on any node gives the same answer; when Redis fails on any part the
 * answer is 503 redis_unavailable, never a 200 with parts missing.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "admin.h"
#include "handler.h"
#include "jsonx.h"
#include "reply.h"
#include "request.h"
#include "response.h"
#include "store.h"
#include "store_nodes.h"

#define SESSION_LIST_MAX 1000

/* Serializes obj into r as a 200 JSON answer and drops the reference. */
static void answer_json(struct response *r, struct json_object *obj)
{
    size_t len = 0;
    const char *s;

    s = json_object_to_json_string_length(
        obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    response_set(r, 200, "application/json", s, len);
    if (r->status == 200)
        buf_appends(&r->body, "\n");
    json_object_put(obj);
}

void handle_health(struct handler *h, struct request *rq,
                   const struct route_match *m, struct response *r)
{
    (void)rq;
    (void)m;
    if (store_ping(&h->store) < 0) {
        reply_redis_failed(h, r, "health");
        return;
    }
    response_set(r, 200, "text/plain", "ok", 2);
}

/* How long after another process's claim of a node_name was refused
 * /status shows it under the node ("conflict") and /metrics counts it
 * (steel_node_conflict): each refused start of a claimant renews it. */
#define NODE_CONFLICT_SHOWN_MS (10 * 60 * 1000)

/* Every node that shares this Redis (store_nodes): a JSON object node ->
 * {"state", "reason", "heartbeat_age_ms", "worker_host", "workers",
 * "idle", "starting", "max_workers", "capacity", and "conflict" {"age_ms",
 * "hostid", "pid"} while another claim of the name is recent} the caller
 * puts; *degraded is set when any node is degraded, *capacity to the
 * sessions the live nodes (ok or degraded) can still take: idle workers
 * plus room below max_workers (a draining, stopped, stale or gone node
 * counts 0).  NULL when Redis failed (h->store says why): a partial list
 * is never passed off as the whole. */
static struct json_object *node_states(struct handler *h, int *degraded,
                                       long *capacity)
{
    struct json_object *nodes;
    struct node_rec *recs = NULL;
    size_t i, n = 0;

    *degraded = 0;
    *capacity = 0;
    if (store_nodes(&h->store, &recs, &n) < 0)
        return NULL;
    nodes = json_object_new_object();
    for (i = 0; i < n; i++) {
        const struct node_rec *r = &recs[i];
        struct json_object *o = json_object_new_object();
        int live = strcmp(r->state, "ok") == 0 ||
                   strcmp(r->state, "degraded") == 0;
        long room = r->max_workers - r->workers, cap;

        cap = live ? r->idle + (room > 0 ? room : 0) : 0;
        json_object_object_add(o, "state", json_object_new_string(r->state));
        if (r->reason[0] != '\0')
            json_object_object_add(o, "reason",
                                   json_object_new_string(r->reason));
        json_object_object_add(o, "heartbeat_age_ms",
                               json_object_new_int64(r->age_ms));
        json_object_object_add(o, "worker_host",
                               json_object_new_string(r->worker_host));
        if (r->worker_ports[0] != '\0')
            json_object_object_add(o, "worker_port_range",
                                   json_object_new_string(r->worker_ports));
        json_object_object_add(o, "workers", json_object_new_int64(r->workers));
        json_object_object_add(o, "idle", json_object_new_int64(r->idle));
        json_object_object_add(o, "starting",
                               json_object_new_int64(r->starting));
        json_object_object_add(o, "max_workers",
                               json_object_new_int64(r->max_workers));
        json_object_object_add(o, "capacity", json_object_new_int64(cap));
        if (r->conflict_age_ms >= 0 &&
            r->conflict_age_ms <= NODE_CONFLICT_SHOWN_MS) {
            struct json_object *c = json_object_new_object();

            json_object_object_add(c, "age_ms",
                                   json_object_new_int64(r->conflict_age_ms));
            json_object_object_add(c, "hostid",
                                   json_object_new_string(r->conflict_hostid));
            json_object_object_add(c, "pid",
                                   json_object_new_int64(r->conflict_pid));
            json_object_object_add(o, "conflict", c);
        }
        json_object_object_add(nodes, r->name, o);
        if (strcmp(r->state, "degraded") == 0)
            *degraded = 1;
        *capacity += cap;
    }
    free(recs);
    return nodes;
}

void handle_status(struct handler *h, struct request *rq,
                   const struct route_match *m, struct response *r)
{
    const struct conf *c = h->conf;
    long by_state[WORKER_STATE_COUNT], waiting, sessions, capacity = 0;
    struct json_object *o, *workers, *limits, *nodes;
    int degraded = 0, i;

    (void)rq;
    (void)m;
    if (store_counts(&h->store, NULL, by_state) < 0) {
        reply_redis_failed(h, r, "status");
        return;
    }
    waiting = store_waiting(&h->store);
    sessions = waiting < 0 ? -1 : store_session_count(&h->store);
    nodes = sessions < 0 ? NULL : node_states(h, &degraded, &capacity);
    if (nodes == NULL) {
        /* Every part or none: a 200 with a part missing would read as
         * "no nodes", "no sessions". */
        reply_redis_failed(h, r, "status");
        return;
    }
    o = json_object_new_object();
    json_object_object_add(o, "available",
                           json_object_new_boolean(by_state[WORKER_IDLE] > 0));
    workers = json_object_new_object();
    for (i = 0; i < WORKER_STATE_COUNT; i++)
        json_object_object_add(workers, worker_state_name((enum worker_state)i),
                               json_object_new_int64(by_state[i]));
    json_object_object_add(o, "workers", workers);
    json_object_object_add(o, "sessions", json_object_new_int64(sessions));
    json_object_object_add(o, "waiting_creates",
                           json_object_new_int64(waiting));
    json_object_object_add(o, "capacity", json_object_new_int64(capacity));
    json_object_object_add(o, "nodes", nodes);
    json_object_object_add(o, "degraded", json_object_new_boolean(degraded));
    limits = json_object_new_object();
    json_object_object_add(limits, "max_body",
                           json_object_new_int64(c->max_body));
    json_object_object_add(limits, "session_ttl",
                           json_object_new_int64(c->session_ttl));
    json_object_object_add(limits, "session_max_lifetime",
                           json_object_new_int64(c->session_max_lifetime));
    json_object_object_add(limits, "create_wait",
                           json_object_new_int64(c->create_wait));
    json_object_object_add(limits, "pool_max_workers",
                           json_object_new_int64(c->pool_max_workers));
    json_object_object_add(o, "limits", limits);
    answer_json(r, o);
}

void handle_workers(struct handler *h, struct request *rq,
                    const struct route_match *m, struct response *r)
{
    struct worker_rec *recs = NULL;
    struct json_object *o, *arr;
    size_t n = 0, i;

    (void)rq;
    (void)m;
    if (store_workers(&h->store, NULL, &recs, &n) < 0) {
        reply_redis_failed(h, r, "workers");
        return;
    }
    arr = json_object_new_array();
    for (i = 0; i < n; i++) {
        const struct worker_rec *w = &recs[i];
        struct json_object *e = json_object_new_object();

        json_object_object_add(e, "id", json_object_new_string(w->id));
        json_object_object_add(e, "node", json_object_new_string(w->node));
        json_object_object_add(e, "pid", json_object_new_int64(w->pid));
        json_object_object_add(e, "host", json_object_new_string(w->host));
        json_object_object_add(e, "port", json_object_new_int(w->port));
        json_object_object_add(e, "state",
                               json_object_new_string(
                                   worker_state_name(w->state)));
        json_object_object_add(e, "session",
                               w->session[0]
                                   ? json_object_new_string(w->session)
                                   : NULL);
        json_object_object_add(e, "started_at",
                               json_object_new_int64(w->started_ms));
        json_object_object_add(e, "state_since",
                               json_object_new_int64(w->since_ms));
        json_object_object_add(e, "restarts",
                               json_object_new_int64(w->restarts));
        json_object_object_add(e, "failed_probes",
                               json_object_new_int64(w->fails));
        json_object_array_add(arr, e);
    }
    free(recs);
    o = json_object_new_object();
    json_object_object_add(o, "workers", arr);
    answer_json(r, o);
}

void handle_session_list(struct handler *h, struct request *rq,
                         const struct route_match *m, struct response *r)
{
    struct session_rec *recs = NULL;
    struct json_object *o, *arr;
    long offset, limit, total = 0;
    size_t n = 0, i;

    (void)m;
    if (request_query_long(rq, "offset", 0, 1000000000L, 0, &offset) < 0 ||
        request_query_long(rq, "limit", 1, SESSION_LIST_MAX, 100, &limit) <
            0) {
        response_error(r, API_ERR_BAD_REQUEST,
                       "offset must be 0 or more and limit 1 to %d",
                       SESSION_LIST_MAX);
        return;
    }
    if (store_session_list(&h->store, offset, limit, &recs, &n, &total) < 0) {
        reply_redis_failed(h, r, "session list");
        return;
    }
    arr = json_object_new_array();
    for (i = 0; i < n; i++) {
        struct json_object *e = json_object_new_object();

        json_object_object_add(e, "id", json_object_new_string(recs[i].id));
        json_object_object_add(e, "worker",
                               json_object_new_string(recs[i].worker));
        json_object_object_add(e, "created_at_ms",
                               json_object_new_int64(recs[i].created_ms));
        json_object_object_add(e, "last_activity_ms",
                               json_object_new_int64(recs[i].last_ms));
        json_object_object_add(e, "expires_in",
                               jsonx_new_fraction(recs[i].ttl_ms > 0
                                                      ? recs[i].ttl_ms / 1000.0
                                                      : 0.0));
        json_object_array_add(arr, e);
    }
    free(recs);
    o = json_object_new_object();
    json_object_object_add(o, "sessions", arr);
    json_object_object_add(o, "offset", json_object_new_int64(offset));
    json_object_object_add(o, "limit", json_object_new_int64(limit));
    json_object_object_add(o, "total", json_object_new_int64(total));
    json_object_object_add(o, "next_offset",
                           offset + limit < total
                               ? json_object_new_int64(offset + limit)
                               : NULL);
    answer_json(r, o);
}

void handle_metrics(struct handler *h, struct request *rq,
                    const struct route_match *m, struct response *r)
{
    static const char *const names[WORKER_STATE_COUNT] = {
        "starting", "idle", "creating", "busy", "releasing", "dead",
    };
    struct metrics_gauges g;
    struct metrics_node *pool = NULL;
    struct json_object *nodes;
    struct stat_rec *stats = NULL;
    size_t nstats = 0;
    long cap;
    int s;

    (void)rq;
    (void)m;
    memset(&g, 0, sizeof(g));
    g.nstates = WORKER_STATE_COUNT;
    g.state_names = names;
    /* Count this request's own thread in before reading. */
    handler_flush_metrics(h);
    if (store_counts(&h->store, NULL, g.workers) < 0 ||
        (g.waiting = store_waiting(&h->store)) < 0 ||
        (g.sessions = store_session_count(&h->store)) < 0) {
        reply_redis_failed(h, r, "metrics");
        return;
    }
    nodes = node_states(h, &s, &cap);
    if (nodes == NULL) {
        reply_redis_failed(h, r, "metrics");
        return;
    }
    g.degraded = s;
    g.nnodes = (size_t)json_object_object_length(nodes);
    if (g.nnodes > 0 && (pool = calloc(g.nnodes, sizeof(*pool))) == NULL) {
        json_object_put(nodes);
        response_error(r, API_ERR_INTERNAL, "out of memory");
        return;
    }
    g.nodes = pool;
    g.nnodes = 0;
    {
        json_object_object_foreach(nodes, name, val) {
            struct json_object *v;

            pool[g.nnodes].name = name;
            pool[g.nnodes].state = json_object_object_get_ex(val, "state", &v)
                                       ? json_object_get_string(v)
                                       : "unknown";
            pool[g.nnodes].heartbeat_age_ms =
                json_object_object_get_ex(val, "heartbeat_age_ms", &v)
                    ? (long)json_object_get_int64(v)
                    : -1;
            pool[g.nnodes].conflict =
                json_object_object_get_ex(val, "conflict", &v);
            g.nnodes++;
        }
    }
    if (store_stats(&h->store, &stats, &nstats) < 0) {
        reply_redis_failed(h, r, "metrics");
        goto out;
    }
    response_set(r, 200, "text/plain; version=0.0.4; charset=utf-8", NULL,
                 0);
    if (metrics_render(&g, stats, nstats, &r->body) < 0)
        response_error(r, API_ERR_INTERNAL, "metrics too large");
    free(stats);
out:
    /* The node names in g are borrowed from nodes. */
    free(pool);
    json_object_put(nodes);
}
