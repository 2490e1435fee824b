/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * slots.c - the slots of a class of slow requests and their queue
 * (slots.h).
 *
 * Invariants: 0 <= busy <= max and 0 <= queued <= cap; an item is queued
 * only while busy == max, so every queued item has a holder that will
 * take it (slots_next pops before it gives a slot back, under the same
 * lock as slots_enter's test); an item is handed out exactly once.
 */
#include "config.h"

#include <stddef.h>

#include "slots.h"

enum slot_turn slots_enter(struct slots *s, struct slot_link *item)
{
    enum slot_turn t = SLOT_FULL;

    pthread_mutex_lock(&s->lock);
    if (s->busy < s->max) {
        s->busy++;
        t = SLOT_SERVE;
    } else if (s->queued < s->cap) {
        item->next = NULL;
        if (s->tail != NULL)
            s->tail->next = item;
        else
            s->head = item;
        s->tail = item;
        s->queued++;
        t = SLOT_QUEUED;
    }
    pthread_mutex_unlock(&s->lock);
    return t;
}

struct slot_link *slots_next(struct slots *s)
{
    struct slot_link *item;

    pthread_mutex_lock(&s->lock);
    item = s->head;
    if (item != NULL) {
        s->head = item->next;
        if (s->head == NULL)
            s->tail = NULL;
        s->queued--;
    } else if (s->busy > 0) {
        s->busy--;
    }
    pthread_mutex_unlock(&s->lock);
    return item;
}

long slots_waiting(struct slots *s)
{
    long n;

    pthread_mutex_lock(&s->lock);
    n = s->queued;
    pthread_mutex_unlock(&s->lock);
    return n;
}
