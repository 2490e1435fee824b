/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * slots.h - how many threads serve one class of slow requests at once
 * (creates, DELETEs), and the bounded FIFO of those that wait for a turn.
 *
 * Every request thread accepts; one that accepts a request of a class
 * with a free slot serves it itself, so the common case hands nothing
 * from thread to thread.  When every slot is taken the request is queued
 * (up to cap), and a thread that ends a request of the class takes the
 * oldest queued one before it gives its slot back, so a queued request
 * never waits for a thread that is blocked in accept(2).
 *
 * Items embed struct slot_link as their first member; the slots never own
 * or free them.  No call blocks but on the mutex.
 */
#ifndef STEEL_SLOTS_H
#define STEEL_SLOTS_H

#include <pthread.h>

struct slot_link {
    struct slot_link *next;
};

struct slots {
    pthread_mutex_t lock;
    struct slot_link *head, *tail;
    long busy;   /* threads serving the class now */
    long max;    /* most threads serving it at once */
    long queued; /* requests waiting for a slot */
    long cap;    /* most requests waiting */
};

#define SLOTS_INIT                                                             \
    {                                                                          \
        PTHREAD_MUTEX_INITIALIZER, NULL, NULL, 0, 0, 0, 0                      \
    }

enum slot_turn {
    SLOT_SERVE,  /* a slot is the caller's: serve item, then slots_next */
    SLOT_QUEUED, /* item waits; a slot's holder serves it */
    SLOT_FULL,   /* every slot taken and cap items waiting: item stays the
                  * caller's, and nothing was taken */
};

/* Takes a slot for item, or queues it. */
enum slot_turn slots_enter(struct slots *s, struct slot_link *item);

/* For the holder of a slot whose request ended: the oldest queued item,
 * to serve under the same slot, or NULL once the slot was given back. */
struct slot_link *slots_next(struct slots *s);

/* Requests of the class waiting for a slot right now. */
long slots_waiting(struct slots *s);

#endif
