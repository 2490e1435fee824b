/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * wconn.h - kept-alive HTTP/1.1 connections to workers, for the requests
 * without a body that every GET and DELETE of a session sends
 * (whttp_request uses them; creates and probes stay on libcurl).  Idle
 * connections are shared by the threads of a process (wpool.h: found by a
 * hash of the address, at most WPOOL_MAX); a struct wconn is one thread's
 * request in flight.
 *
 * It costs a send(2) and a poll(2)+recv(2) per request where libcurl
 * spends about forty microseconds of its own on each transfer.  Deadlines,
 * results and the body limit are whttp's: a connect deadline, a total
 * deadline over everything, the body bounded by its struct buf.
 *
 * A connection that served a request before and is found closed or reset
 * before any byte of the answer (the worker dropped an idle connection)
 * is opened again and the request sent once more, within the same total
 * deadline: only GET and DELETE come here, and both are idempotent.
 *
 * Answers are read by wanswer.h, which bounds what a worker can make us
 * hold (lines, headers, interim answers, chunks, the body) and says
 * WHTTP_ERROR for anything that is not HTTP/1.x, as with libcurl.
 */
#ifndef STEEL_WCONN_H
#define STEEL_WCONN_H

#include <stddef.h>
#include <sys/socket.h>

#include "buf.h"
#include "wanswer.h"
#include "whttp.h"

#define WCONN_IN_MAX   16384 /* bytes one recv(2) takes */
#define WCONN_HOST_MAX 64    /* an IPv6 literal with its zone fits */

struct wconn {
    int fd;                /* -1: no connection */
    struct wanswer ans;    /* reads the answer in flight */
    char in[WCONN_IN_MAX]; /* what one recv(2) brought */
};

void wconn_init(struct wconn *c);
/* Closes the connection c has in hand (not the idle ones). */
void wconn_close(struct wconn *c);

/* A numeric host (IPv4 or IPv6, shorter than WCONN_HOST_MAX) and port
 * 1-65535 as a socket address.  Returns 0, or -1 for anything else (a
 * host name: the caller uses libcurl). */
int wconn_parse_addr(const char *host, int port, struct sockaddr_storage *ss,
                     socklen_t *len);

/* Closes every idle connection; how many there are. */
void wconn_pool_flush(void);
int wconn_pool_size(void);

/* Sends method path (no body) to host:port over c, opening or reusing the
 * connection, and reads the answer's status into *status and its body
 * into body (reset first).  Returns 0 with the outcome in *res, or -1 when
 * host is not a numeric address (the caller then uses libcurl, which
 * resolves names). */
int wconn_request(struct wconn *c, const char *method, const char *host,
                  int port, const char *path, long connect_ms, long total_ms,
                  struct buf *body, long *status, enum whttp_result *res);

#endif
