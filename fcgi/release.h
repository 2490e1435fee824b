/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * release.h - what becomes of a worker after its session ended or after it
 * failed a request: cleaned and given back, or declared dead (release.c).
 * Called by the session handlers, the create and the cleanup threads.
 */
#ifndef STEEL_RELEASE_H
#define STEEL_RELEASE_H

struct handler;
struct worker_addr;

/* Declares w dead after it failed a request (reason is kept in its
 * record); the spawner replaces it.  Logging the failure is the caller's;
 * a Redis failure is logged here. */
/* 0 when w's address is one of this deployment's (common/privsep.h:
 * worker_host or worker_hosts, a port in worker_port_range), else -1 after
 * logging: the caller treats w as a failed worker. */
int worker_addr_check(struct handler *h, const struct worker_addr *w);

void worker_failed(struct handler *h, const struct worker_addr *w,
                   const char *reason);

/* Sends DELETE /sessions/<sid> to w, then reads its /status.  Returns 1
 * when w says it is free and holds nothing, 0 when it is not clean (left
 * to the reaper), -1 when the DELETE failed (w was declared dead). */
/* Tells w to end session sid (DELETE /sessions/<sid>, under the worker
 * deadlines).  Returns 0 once it answered (it no longer holds sid), or -1
 * when it failed: logged and declared dead. */
int worker_forget(struct handler *h, const struct worker_addr *w,
                  const char *sid);
int worker_clean(struct handler *h, const struct worker_addr *w,
                 const char *sid);

/* The /status half of worker_clean, for a worker that answered its
 * DELETE already (worker_forget), then releasing -> idle when clean. */
void worker_release_forgotten(struct handler *h, const struct worker_addr *w,
                              const char *sid);

/* worker_clean, then releasing -> idle when w is clean. */
void worker_release(struct handler *h, const struct worker_addr *w,
                    const char *sid);

#endif
