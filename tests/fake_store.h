/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * fake_store.h - an in-memory stand-in for the store.h functions that
 * steel-fcgi calls, for the handler tests (check_handlers.c).
 *
 * The seam is the linker: fake_store.c and fake_store_ops.c define those
 * functions under their real names and are linked into tests/check_handlers
 * as objects, ahead of common/libsteel.a, so the archive's store.o is never
 * pulled in and the handlers run unchanged against this model.  Production
 * code has no test hooks.  A new store function that steel-fcgi starts to call needs
 * a fake here, or the link fails with duplicate definitions.
 *
 * The model keeps what the Lua scripts keep: worker states, the idle
 * FIFO, a session only while its worker is busy with it, the waiters,
 * idempotency records.  It is locked, so a test thread may change it
 * while a handler runs.
 */
#ifndef STEEL_FAKE_STORE_H
#define STEEL_FAKE_STORE_H

#include "store.h"
#include "store_nodes.h"

/* Forgets every worker, session, waiter and record; Redis works. */
void fake_store_reset(void);

/* Adds worker id at 127.0.0.1:port in state st (an idle one joins the end
 * of the idle FIFO; a busy one holds session sid). */
void fake_store_add_worker(const char *id, int port, enum worker_state st,
                           const char *sid);

/* The state of worker id (WORKER_STATE_COUNT when unknown). */
enum worker_state fake_store_state(const char *id);
/* The session worker id is bound to ("" for none). */
const char *fake_store_session(const char *id);
/* Why worker id was declared dead ("" when it was not). */
const char *fake_store_dead_reason(const char *id);
/* 1 while sid is a live session. */
int fake_store_session_alive(const char *sid);

/* Creates waiting now, and how many ever registered. */
long fake_store_waiting_now(void);
long fake_store_wait_begins(void);

/* How many times a failed GET took its touch back (store_untouch). */
long fake_store_untouches(void);

/* Drops idempotency record key, as its expiry would. */
void fake_store_idem_expire(const char *key);
/* The next record a store_idem_begin makes (STORE_IDEM_GO) is at once
 * owned by another request, as if its pending mark had expired and a
 * repeat had taken the key. */
void fake_store_idem_lose_next(void);
/* The key of idempotency record slot i ("" when free): the scoped names
 * the handlers use. */
const char *fake_store_idem_key(int i);

/* on 1: store_unclaim fails as if Redis were down (the rest works). */
void fake_store_unclaim_fails(int on);
/* store_replicas_wait answers at most acked (16 after a reset). */
void fake_store_replicas(int acked);
/* How many store_replicas_wait calls asked for replicas. */
long fake_store_replicas_waits(void);
/* The next n store calls fail as if Redis were down. */
void fake_store_redis_down_calls(int n);

/* on 1: every store call fails as if Redis were down. */
void fake_store_redis_down(int on);
/* Every store call fails with err, a failure that is not Redis's
 * (STORE_OK: no more). */
void fake_store_fail(enum store_err err);

#endif
