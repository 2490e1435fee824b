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
 * refused while another process heartbeats under the same node_name:
 * every start makes a random instance token (nodetoken.h) that the
 * registration holds, so a clone of this host (same machine id, same
 * pid in its own PID namespace) is refused as surely as another host;
 * this host's next spawner takes the node back at once when it finds the
 * held token in the token file (node_token_dir) and its holder runs no more
 * (store_node_register checks and writes in one script); a spawner whose
 * heartbeat finds another token stops (node_taken); a node whose
 * worker_host is loopback does not join nodes that advertise other
 * addresses (their handlers would call their own loopback); worker_host
 * is an address of this host.  It owns s->node.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "log.h"
#include "nodeid.h"
#include "prog.h"
#include "util.h"

int node_init(struct spawner *s)
{
    char err[512];
    int rc;

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
    if (nodetoken_path(s->c, s->node.token_path, sizeof(s->node.token_path)) <
        0) {
        log_warnx("node_token_dir %s: the path is too long",
                  s->c->node_token_dir);
        return -1;
    }
    rc = nodetoken_renew(s->node.token_path, &s->node.token);
    if (rc < 0) {
        log_warn("cannot make a random instance token");
        return -1;
    }
    if (rc > 0)
        log_warn("node %s: cannot write %s (node_token_dir): after a crash "
                 "the next spawner of this host waits node_stale_ms before "
                 "it takes the node back, and the reaper cannot tell "
                 "whether this spawner holds the node",
                 s->c->node_name, s->node.token_path);
    snprintf(s->redis.store.node_token, sizeof(s->redis.store.node_token), "%s",
             s->node.token.cur);
    log_debug("node %s: host %s, worker_host %s, instance %s", s->c->node_name,
              s->node.hostid, s->c->worker_host, s->node.token.cur);
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

void node_taken(struct spawner *s, const struct node_rec *other)
{
    if (!s->node.taken)
        log_warnx("node_name %s was taken by another steel-spawner (host %s, "
                  "pid %ld): this spawner stops; every node needs a "
                  "node_name of its own",
                  s->c->node_name, other->hostid, other->pid);
    s->node.taken = 1;
    prog_got_term = 1;
}

/* At start, a heartbeat of this host's id under a token this host does not
 * know: a spawner of this host that could keep no token file
 * (node_token_dir; then its heartbeat goes stale: wait for it), or a clone
 * of this host (it keeps heartbeating: refused after the wait).  1 to
 * wait, 0 to refuse. */
static int wait_for_stale(struct spawner *s, const struct node_rec *other)
{
    int64_t now = now_mono_ms();

    if (strcmp(other->hostid, s->node.hostid) != 0 ||
        spawner_running(other->pid))
        return 0;
    if (s->node.wait_since_ms == 0) {
        s->node.wait_since_ms = now;
        log_info("node_name %s: a heartbeat of this host's id %lld ms ago "
                 "under an instance token not in %s; "
                 "waiting up to node_stale_ms for it to go stale",
                 s->c->node_name, (long long)other->age_ms, s->node.token_path);
    }
    return now - s->node.wait_since_ms <= s->c->node_stale_ms + 1000;
}

/* A refused start: this host's token file back as it was.  Returns -1. */
static int refused(struct spawner *s)
{
    if (nodetoken_restore(s->node.token_path, &s->node.token) < 0)
        log_warn("node %s: cannot restore %s", s->c->node_name,
                 s->node.token_path);
    return -1;
}

int node_register(struct spawner *s, int at_start)
{
    struct node_claim claim = {s->node.hostid, s->c->worker_host,
                               (long)getpid(), s->node.token.cur,
                               s->node.token.prev};
    struct node_rec other;
    long others;
    int rc;

    if (at_start && loopback_check(s, 1, &others) < 0)
        return refused(s);
    rc = store_node_register(&s->redis.store, &claim, 0, &other);
    if (rc == STORE_NODE_OTHER_PID && !spawner_running(other.pid))
        rc = store_node_register(&s->redis.store, &claim, 1, &other);
    if (rc < 0) {
        spawner_redis_failed(s, "registering the node");
        return 0;
    }
    spawner_redis_worked(s);
    if (rc == STORE_NODE_TAKEN && at_start && wait_for_stale(s, &other))
        return 0;
    if (rc == STORE_NODE_OTHER_HOST || rc == STORE_NODE_OTHER_PID ||
        rc == STORE_NODE_TAKEN) {
        if (!at_start) {
            node_taken(s, &other);
            return 0;
        }
        if (rc == STORE_NODE_OTHER_PID)
            log_warnx("node_name %s is in use by steel-spawner pid %ld on "
                      "this host (heartbeat %lld ms ago): one spawner per "
                      "node_name",
                      s->c->node_name, other.pid, (long long)other.age_ms);
        else
            log_warnx("node_name %s is in use by another %s (host %s, "
                      "spawner pid %ld, heartbeat %lld ms ago): every node "
                      "needs a node_name of its own",
                      s->c->node_name,
                      rc == STORE_NODE_TAKEN ? "steel-spawner" : "host",
                      other.hostid, other.pid, (long long)other.age_ms);
        return refused(s);
    }
    if (!at_start)
        log_warnx("node %s: its record was removed (a reaper took the node "
                  "for gone, or redis lost its data); registered again",
                  s->c->node_name);
    s->node.registered = 1;
    return 1;
}

/* The other live nodes whose workers this node's handlers would refuse:
 * their worker_host with their published worker_port_range is not
 * allowed by worker_host/worker_hosts here (privsep_worker_addr_ok).
 * Each is logged when their count grew since the last look. */
static void hosts_watch(struct spawner *s)
{
    struct node_rec *nodes = NULL;
    size_t i, n = 0;
    long bad = 0, lo, hi;
    int pass;

    if (store_nodes(&s->redis.store, &nodes, &n) < 0)
        return; /* judged again at the next watch */
    for (pass = 0; pass < 2; pass++) {
        for (i = 0; i < n; i++) {
            const struct node_rec *o = &nodes[i];
            char *dash;

            if (strcmp(o->name, s->c->node_name) == 0 ||
                o->worker_host[0] == '\0' ||
                (strcmp(o->state, "ok") != 0 &&
                 strcmp(o->state, "degraded") != 0 &&
                 strcmp(o->state, "draining") != 0))
                continue;
            lo = strtol(o->worker_ports, &dash, 10);
            if (*dash != '-')
                continue; /* a spawner that does not publish its range */
            hi = strtol(dash + 1, NULL, 10);
            if (privsep_worker_addr_ok(s->c, o->worker_host, (int)lo) &&
                privsep_worker_addr_ok(s->c, o->worker_host, (int)hi))
                continue;
            if (pass == 0)
                bad++;
            else
                log_warnx("node %s: its workers at %s:%s are outside "
                          "worker_host/worker_hosts here: this node's "
                          "handlers refuse them; add %s:%s to worker_hosts",
                          o->name, o->worker_host, o->worker_ports,
                          o->worker_host, o->worker_ports);
        }
        if (bad <= s->node.refused_nodes)
            break;
    }
    s->node.refused_nodes = bad;
    free(nodes);
}

void node_watch(struct spawner *s)
{
    long others;

    hosts_watch(s);
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
