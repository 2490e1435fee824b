/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * rqueue.h - a bounded FIFO of accepted requests between the accept
 * threads and a thread class that serves them (creates, DELETEs).
 *
 * Items embed struct rqueue_link as their first member; the queue never
 * owns or frees them.  rqueue_pop blocks until an item comes or *stop is
 * set; whoever sets *stop then calls rqueue_wake, which wakes every
 * waiter.
 */
#ifndef STEEL_RQUEUE_H
#define STEEL_RQUEUE_H

#include <pthread.h>
#include <signal.h>

struct rqueue_link {
    struct rqueue_link *next;
};

struct rqueue {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct rqueue_link *head, *tail;
    long queued; /* items no thread has taken yet */
    long cap;    /* most items queued */
};

#define RQUEUE_INIT                                                            \
    {                                                                          \
        PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, 0, 0  \
    }

/* Returns 0, or -1 when cap items are queued already (item stays the
 * caller's). */
int rqueue_push(struct rqueue *q, struct rqueue_link *item);

/* The oldest item; NULL once *stop is set and none is left. */
struct rqueue_link *rqueue_pop(struct rqueue *q, volatile sig_atomic_t *stop);

void rqueue_wake(struct rqueue *q);

#endif
