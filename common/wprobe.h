/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * wprobe.h - parallel probes (whttp.h's struct probe) over kept-alive
 * connections that a daemon holds from one round to the next: the
 * reaper's /status and DELETE rounds.  probe_run (libcurl) makes a handle
 * and a connection per probe, about 250 µs of CPU each; a kept connection
 * costs a send(2), a recv(2) and a share of one epoll_wait(2).
 *
 * A struct wprobe belongs to one thread.  Its connections are found again
 * by host and port; one that was idle more than WPROBE_IDLE_MS, that
 * served for more than WPROBE_AGE_MS (so a worker that stopped accepting
 * connections, but still answers on an open one, fails a probe within
 * that time, as a new client would see it), or that has something to
 * read while idle (the worker closed it, or wrote unasked) is closed
 * rather than used.  A kept connection found closed or reset before any
 * byte of the answer is opened again and the request sent once more,
 * within the same deadline (GET /status and DELETE are idempotent).  At
 * most WPROBE_KEEP_MAX are kept, and fewer when the open-file limit is
 * lower.
 *
 * Results are probe_run's: WHTTP_REFUSED when the connect fails,
 * WHTTP_CONNECT_TIMEOUT past connect_ms, WHTTP_TIMEOUT past total_ms
 * (each counted from the probe's own start), WHTTP_BROKEN when the
 * connection ends before the answer, WHTTP_ERROR for what is not HTTP
 * (wanswer.h bounds what a worker can make us hold).  A body longer than
 * PROBE_BODY_MAX - 1 is cut (body_truncated) up to WPROBE_BODY_MAX bytes;
 * past that the probe is WHTTP_TOO_BIG.  Probes of a host that is not a
 * numeric address go to probe_run_method (libcurl resolves names).
 */
#ifndef STEEL_WPROBE_H
#define STEEL_WPROBE_H

#include <stddef.h>

#include "whttp.h"

#define WPROBE_IDLE_MS  60000 /* an idle connection is closed after this */
#define WPROBE_AGE_MS  120000 /* a connection serves this long at most:
                                 a reconnect costs about as much as three
                                 probes; at 30 s and probe_interval 2 s,
                                 close and connect were 18 % of the
                                 reaper's CPU at 1000 workers (perf) */
#define WPROBE_KEEP_MAX 16384 /* connections kept */
#define WPROBE_BODY_MAX 65536 /* bytes of an answer's body read at most */

struct wprobe;

/* A new set of kept connections, freed with wprobe_free (which closes
 * them), or NULL when out of memory. */
struct wprobe *wprobe_new(void);
void wprobe_free(struct wprobe *wp);

/* How many connections wp keeps. */
size_t wprobe_kept(const struct wprobe *wp);

/* Sends method (GET or DELETE, no body) p[i].path to every p[i] at once,
 * at most max_parallel in flight (0 = all), over wp's connections, and
 * keeps those whose answer allows it.  Returns 0 once every probe has a
 * result, or -1 when memory ran out (each p[i].result is then
 * WHTTP_ERROR).  Takes at most about total_ms when max_parallel >= n. */
int wprobe_run(struct wprobe *wp, const char *method, struct probe *p, size_t n,
               long connect_ms, long total_ms, size_t max_parallel);

#endif
