/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * node.c - this spawner as one node among those that share a Redis: its
 * identity checks at start, its registration in P:pool:<node>, and the
 * warnings about other nodes that cannot reach its workers or whose
 * workers it cannot reach.
 *
 * Invariants: nothing of the node's records is touched (no adoption, no
 * spawn, no report) before the node is registered, and registration is
 * refused while another host, or another running steel-spawner of this
 * host, heartbeats under the same node_name (store_node_register checks
 * and writes in one script); a node whose worker_host is loopback does
 * not join nodes that advertise other addresses (their handlers would
 * call their own loopback); worker_host is an address of this host.
 * It owns s->node.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "log.h"
#include "nodeid.h"

int node_init(struct spawner *s)
{
    char err[512];

    if (nodeid_host(s->node.hostid, sizeof(s->node.hostid)) < 0) {
        log_warnx("cannot read this host's identity (machine id, boot id "
                  "or host name)");
        return -1;
    }
    if (nodeid_check_local(s->c->worker_host, err, sizeof(err)) < 0) {
        log_warnx("%s: workers would be registered with an address other "
                  "nodes cannot reach them at; set worker_host to an "
                  "address of this host",
                  err);
        return -1;
    }
    log_debug("node %s: host %s, worker_host %s", s->c->node_name,
              s->node.hostid, s->c->worker_host);
    return 0;
}

/* 1 when pid is a running steel-spawner other than this process. */
static int spawner_running(long pid)
{
    char path[64], comm[64] = "";
    FILE *f;

    if (pid <= 0 || pid == (long)getpid())
        return 0;
    snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
    f = fopen(path, "r");
    if (f == NULL)
        return 0;
    if (fgets(comm, sizeof(comm), f) == NULL)
        comm[0] = '\0';
    fclose(f);
    comm[strcspn(comm, "\n")] = '\0';
    return strcmp(comm, "steel-spawner") == 0;
}

/* Whether other nodes make a loopback worker_host wrong.  Returns 0, or
 * -1 (logged) when this node must not start; counts the nodes with
 * another address in *others. */
static int loopback_check(struct spawner *s, int at_start, long *others)
{
    struct node_rec *nodes = NULL;
    size_t i, n = 0;
    int mine_lo = nodeid_loopback(s->c->worker_host), rc = 0;

    *others = 0;
    if (store_nodes(&s->redis.store, &nodes, &n) < 0) {
        spawner_redis_failed(s, "reading the nodes");
        return 0; /* judged again at the next housekeeping */
    }
    for (i = 0; i < n; i++) {
        const struct node_rec *o = &nodes[i];
        int lo = nodeid_loopback(o->worker_host);

        if (strcmp(o->name, s->c->node_name) == 0 ||
            o->worker_host[0] == '\0' || strcmp(o->state, "gone") == 0 ||
            strcmp(o->state, "stopped") == 0)
            continue;
        if (mine_lo && !lo) {
            (*others)++;
            if (at_start) {
                log_warnx("node %s: worker_host %s is a loopback address, "
                          "but node %s (worker_host %s) shares this redis: "
                          "its handlers could not reach workers of this "
                          "node; set worker_host to an address the other "
                          "nodes reach",
                          s->c->node_name, s->c->worker_host, o->name,
                          o->worker_host);
                rc = -1;
                break;
            }
        } else if (!mine_lo && lo && at_start)
            log_warnx("node %s advertises the loopback worker_host %s: the "
                      "handlers of this node cannot reach its workers",
                      o->name, o->worker_host);
    }
    free(nodes);
    return rc;
}

int node_register(struct spawner *s, int at_start)
{
    struct node_rec other;
    long others;
    int rc;

    if (at_start && loopback_check(s, 1, &others) < 0)
        return -1;
    rc = store_node_register(&s->redis.store, s->node.hostid, s->c->worker_host,
                             (long)getpid(), 0, &other);
    if (rc == STORE_NODE_OTHER_PID && !spawner_running(other.pid))
        rc = store_node_register(&s->redis.store, s->node.hostid,
                                 s->c->worker_host, (long)getpid(), 1, &other);
    if (rc < 0) {
        spawner_redis_failed(s, "registering the node");
        return 0;
    }
    spawner_redis_worked(s);
    if (rc == STORE_NODE_OTHER_HOST || rc == STORE_NODE_OTHER_PID) {
        if (rc == STORE_NODE_OTHER_HOST)
            log_warnx("node_name %s is in use by another host (host %s, "
                      "spawner pid %ld, heartbeat %lld ms ago): every node "
                      "needs a node_name of its own",
                      s->c->node_name, other.hostid, other.pid,
                      (long long)other.age_ms);
        else
            log_warnx("node_name %s is in use by steel-spawner pid %ld on "
                      "this host (heartbeat %lld ms ago): one spawner per "
                      "node_name",
                      s->c->node_name, other.pid, (long long)other.age_ms);
        return at_start ? -1 : 0;
    }
    if (!at_start)
        log_warnx("node %s: its record was removed (a reaper took the node "
                  "for gone, or redis lost its data); registered again",
                  s->c->node_name);
    s->node.registered = 1;
    return 1;
}

void node_watch(struct spawner *s)
{
    long others;

    if (!nodeid_loopback(s->c->worker_host))
        return;
    if (loopback_check(s, 0, &others) == 0 && others > s->node.nonlo_nodes)
        log_warnx("node %s: worker_host %s is a loopback address, and %ld "
                  "node(s) with other addresses joined this redis: their "
                  "handlers cannot reach workers of this node; give it an "
                  "address they reach",
                  s->c->node_name, s->c->worker_host, others);
    s->node.nonlo_nodes = others;
}
