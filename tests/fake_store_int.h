/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * fake_store_int.h - what fake_store.c (the worker model) and
 * fake_store_ops.c (the calls that keep no worker state) share: the one
 * lock over the whole fake, and the gate every fake store call passes,
 * which fails it while a test has Redis down.  Not for the tests.
 */
#ifndef STEEL_FAKE_STORE_INT_H
#define STEEL_FAKE_STORE_INT_H

#include <pthread.h>

#include "store.h"

/* Guards every variable of the fake, in both files. */
extern pthread_mutex_t fake_store_lock;

/* Takes fake_store_lock; returns -1 with r's err and errstr set (lock
 * released) while Redis is down or a failure is set, else 0 with the lock
 * held and r's error cleared. */
int fake_store_enter(struct store *r);
/* Releases fake_store_lock; returns rc. */
int fake_store_leave(int rc);

/* Forgets the waiters, the idempotency records and the replicas' answer
 * (fake_store_ops.c); fake_store_reset calls it with the lock held. */
void fake_store_ops_reset(void);

#endif
