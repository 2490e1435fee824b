/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * wpool.h - the idle kept-alive connections to workers of one process,
 * shared by its threads (wconn.h takes and gives them back).
 *
 * One connection per request in flight is taken out and put back after an
 * answer read whole, so the GETs of a session, its DELETE and the /status
 * that follows share connections whatever thread serves them.  Found by a
 * hash of the worker's address, so a take or a put costs the same with
 * ten workers or ten thousand.  Bounded: at most WPOOL_MAX connections,
 * and no more than half of the descriptors RLIMIT_NOFILE leaves; the
 * least recently used is closed to make room, and one idle for longer than
 * WPOOL_IDLE_MS is closed instead of used (a worker may have dropped it).
 */
#ifndef STEEL_WPOOL_H
#define STEEL_WPOOL_H

#define WPOOL_MAX     4096  /* idle connections at most */
#define WPOOL_IDLE_MS 30000 /* idle longer than this: closed */

/* An idle connection to host:port (the most recently put back), taken out
 * of the pool, or -1. */
int wpool_take(const char *host, int port);

/* Puts fd, connected to host:port and between answers, into the pool; the
 * pool closes it when it must make room or it stays idle too long. */
void wpool_put(int fd, const char *host, int port);

/* Closes every idle connection. */
void wpool_flush(void);

/* The number of idle connections. */
int wpool_size(void);

#endif
