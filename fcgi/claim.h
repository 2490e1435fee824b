/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * claim.h - an idle worker for a create, waiting in this process's line
 * for one when none is idle (claim.c).
 */
#ifndef STEEL_CLAIM_H
#define STEEL_CLAIM_H

#include <stdint.h>

#include "store.h"

struct handler;
struct request;
struct worker_addr;

enum claim_result {
    CLAIM_OK,         /* *w is ours: creating, for this create alone */
    CLAIM_TIMEOUT,    /* nothing idle before the deadline */
    CLAIM_QUEUE_FULL, /* create_queue_max creates wait already, all nodes */
    CLAIM_GONE,       /* the client went away */
    CLAIM_REDIS,      /* Redis failed (store_strerror(&h->store)) */
};

/* The hosts a create found silent: its claims prefer workers elsewhere
 * (store_claim_from). */
struct claim_avoid {
    const char *host[STORE_CLAIM_AVOID_MAX]; /* borrowed */
    int n;
};

/* Claims an idle worker into *w (store_claim_from, away from the hosts of
 * avoid, which may be NULL), waiting in the line until deadline
 * (monotonic ms) when none is idle.  Creates that wait are registered in
 * P:waiters meanwhile. */
enum claim_result claim_wait(struct handler *h, struct request *rq,
                             int64_t deadline, const struct claim_avoid *avoid,
                             struct worker_addr *w);

#endif
