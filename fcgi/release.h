/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * release.h - what becomes of a worker after its session ended or after it
 * failed a request: cleaned and given back, or declared dead (release.c).
 * Called by the session handlers, the create and the cleanup threads.
 */
#ifndef STEEL_RELEASE_H
#define STEEL_RELEASE_H

#include "wcall.h"

struct handler;
struct worker_addr;

/* Declares w dead after it failed a request (reason is kept in its
 * record); the spawner replaces it.  Logging the failure is the caller's;
 * a Redis failure is logged here. */
void worker_failed(struct handler *h, const struct worker_addr *w,
                   const char *reason);

/* Logs that w failed call what with verdict v (wcall.h) and declares it
 * dead: the table of wcall.h for every verdict but ok and not found. */
void worker_call_failed(struct handler *h, const struct worker_addr *w,
                        const char *what, enum wcall_verdict v,
                        const struct wcall_reply *rep);

/* Tells w to end session sid (DELETE /sessions/<sid>, under the worker
 * deadlines).  Returns 0 once it answered ok or not found (it no longer
 * holds sid), or -1 when it failed: logged and declared dead. */
int worker_forget(struct handler *h, const struct worker_addr *w,
                  const char *sid);

/* worker_forget, then reads w's /status.  Returns 1 when w says it is
 * free and holds nothing, 0 when it is not clean (left to the reaper), -1
 * when a call failed (w was declared dead). */
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
