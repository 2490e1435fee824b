/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * cleanup.h - the worker side of a DELETE, done by cleanup threads after
 * the client got its 204 (cleanup.c).
 */
#ifndef STEEL_CLEANUP_H
#define STEEL_CLEANUP_H

struct worker_addr;

/* Queues the release of worker w after its session sid ended; forgotten:
 * w answered its DELETE already (worker_forget), only the /status check
 * and the release are left.  Returns 0, or -1 when the queue is full,
 * closed or out of memory: the caller then releases the worker itself. */
int cleanup_push(const struct worker_addr *w, const char *sid, int forgotten);

/* Lets cleanup_push queue (once the cleanup threads run). */
void cleanup_open(void);
/* Stops queueing and wakes the cleanup threads so they see
 * prog_got_term; what is still queued is left to the reaper. */
void cleanup_wake(void);

/* A cleanup thread: arg is the struct conf.  Returns when the process
 * stops. */
void *cleanup_thread(void *arg);

#endif
