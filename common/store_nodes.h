/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * store_nodes.h - the registry of nodes on one Redis (store_nodes.c): each
 * spawner claims its node_name with a heartbeat in P:pool:<node>, readers
 * list the nodes, and a reaper removes a node whose heartbeat stopped,
 * with its records and sessions.  The conventions of store.h hold: -1 on
 * failure with store_error() telling why, nothing logged.
 */
#ifndef STEEL_STORE_NODES_H
#define STEEL_STORE_NODES_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define NODE_HOSTID_MAX 80

/* One node as store_nodes() reads it from P:pool:<node>. */
struct node_rec {
    char name[256];
    char state[16];   /* ok | degraded | draining | stopped from its
                         spawner; stale
                         or gone when its heartbeat is older than
                         s->node_stale_ms or s->node_gone_ms */
    char reason[128]; /* why degraded; "" */
    char hostid[NODE_HOSTID_MAX]; /* its host's identity; "" unknown */
    char worker_host[256];        /* its workers' address; "" unknown */
    long pid;                     /* its spawner's pid */
    int64_t age_ms;               /* since its last heartbeat; -1: none */
    long workers, idle, starting, idle_target, max_workers;
    int64_t conflict_age_ms; /* since another process's claim of this
                                node_name was last refused; -1 never */
    char conflict_hostid[NODE_HOSTID_MAX]; /* that claimant's host id */
    long conflict_pid;                     /* and its pid (in its own PID
                                              namespace) */
    char worker_ports[24]; /* its worker_port_range "LOW-HIGH"; "" unknown */
};

/* Reads every node of P:nodes, sorted by name.  *out is malloc'd (the
 * caller frees), *n its length.  Returns 0 or -1. */
int store_nodes(struct store *s, struct node_rec **out, size_t *n);

/* What a spawner claims its node with (store_node_register). */
struct node_claim {
    const char *hostid;      /* this host's identity (nodeid_host) */
    const char *worker_host; /* its workers' address */
    long pid;                /* this process */
    const char *token;       /* this instance's random token */
    const char *prev_token;  /* the previous instance's on this host; "" */
};

/* Registers this spawner as node s->node: writes hostid, worker_host, pid
 * and its instance token with a heartbeat to P:pool:<node> and adds the
 * node to P:nodes, in one script that first checks who heartbeats there.
 * Returns 1 registered; else nothing written but the conflict fields,
 * *other filled, and: STORE_NODE_TAKEN when a heartbeat younger than
 * s->node_stale_ms carries another instance token than claim's token or,
 * from this host, its prev_token (whatever host id or pid; conflict
 * recorded); STORE_NODE_OTHER_PID when it carries prev_token but another
 * pid (unless force: the caller checks that pid is no running spawner);
 * STORE_NODE_OTHER_HOST when a heartbeat without a token came from
 * another host (conflict recorded); -1. */
#define STORE_NODE_OTHER_HOST 2
#define STORE_NODE_OTHER_PID  3
#define STORE_NODE_TAKEN      4
int store_node_register(struct store *s, const struct node_claim *claim,
                        int force, struct node_rec *other);

/* Who holds node: the pid, host id and instance token of its last
 * P:pool:<node> registration ("" and 0 when none).  Returns 0 or -1. */
int store_node_holder(struct store *s, const char *node, long *pid,
                      char *hostid, size_t hsize, char *token, size_t tsize);

/* One node store_node_reap() removed. */
struct node_reaped {
    char name[256];
    int64_t age_ms; /* of its last heartbeat */
    long workers;   /* records removed */
    long sessions;  /* live sessions ended */
};

/* Removes every node other than s->node whose heartbeat is older than
 * s->node_gone_ms: its worker records (off P:idle), their sessions
 * (counted as sessions_lost), P:node:<node>, P:pool:<node> and its
 * P:nodes entry, all in one script, so a node is removed once however
 * many reapers race.  Fills out with at most max of them.  Returns how
 * many were removed, or -1. */
long store_node_reap(struct store *s, struct node_reaped *out, size_t max);

#endif
