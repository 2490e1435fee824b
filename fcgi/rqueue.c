/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * rqueue.c - a bounded FIFO of accepted requests (rqueue.h).
 *
 * Invariants: queued counts the items between head and tail and never
 * exceeds cap; an item is handed to exactly one rqueue_pop.
 */
#include "config.h"

#include <stddef.h>
#include <time.h>

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
    while (q->head == NULL && !*stop) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&q->cond, &q->lock, &ts);
    }
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
