/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * rqueue.c - a bounded FIFO of accepted requests (rqueue.h).
 *
 * Invariants: queued counts the items between head and tail and never
 * exceeds cap; an item is handed to exactly one rqueue_pop; a waiter
 * wakes only for an item or a stop (rqueue_wake).
 */
#include "config.h"

#include <stddef.h>

#include "rqueue.h"

int rqueue_push(struct rqueue *q, struct rqueue_link *item)
{
    pthread_mutex_lock(&q->lock);
    if (q->queued >= q->cap) {
        pthread_mutex_unlock(&q->lock);
        return -1;
    }
    item->next = NULL;
    if (q->tail != NULL)
        q->tail->next = item;
    else
        q->head = item;
    q->tail = item;
    q->queued++;
    pthread_cond_signal(&q->cond);
    pthread_mutex_unlock(&q->lock);
    return 0;
}

struct rqueue_link *rqueue_pop(struct rqueue *q, volatile sig_atomic_t *stop)
{
    struct rqueue_link *item = NULL;

    pthread_mutex_lock(&q->lock);
    /* No timeout: a stop comes with rqueue_wake, under this lock, after
     * *stop is set, so no waiter misses it, and an idle thread costs
     * nothing (32 create threads woken each second were a steady cost at
     * rest). */
    while (q->head == NULL && !*stop)
        pthread_cond_wait(&q->cond, &q->lock);
    if (q->head != NULL) {
        item = q->head;
        q->head = item->next;
        if (q->head == NULL)
            q->tail = NULL;
        q->queued--;
    }
    pthread_mutex_unlock(&q->lock);
    return item;
}

void rqueue_wake(struct rqueue *q)
{
    pthread_mutex_lock(&q->lock);
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
}
