/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * wconn.c - a kept-alive HTTP/1.1 connection to a worker (wconn.h).
 *
 * Invariants: every wait is a poll(2) bounded by what is left of the
 * request's deadline (the connect deadline too while connecting); the
 * socket is non-blocking, so no call sleeps outside those polls.  A
 * connection goes back to the pool only after an answer was read whole
 * and exactly: a timeout, an error, a body over the limit, bytes after
 * the answer or a "Connection: close" close it, so the next request never
 * reads the remains of an earlier one.  A pooled connection is used by
 * one request at a time (taken out of the pool under its lock).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util.h"
#include "wconn.h"
#include "wpool.h"

void wconn_pool_flush(void)
{
    wpool_flush();
}

int wconn_pool_size(void)
{
    return wpool_size();
}

void wconn_init(struct wconn *c)
{
    c->fd = -1;
}

void wconn_close(struct wconn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

/* ms left until deadline, at least 0. */
static int left_ms(int64_t deadline)
{
    int64_t d = deadline - now_mono_ms();

    return d <= 0 ? 0 : d > 3600000 ? 3600000 : (int)d;
}

/* 0 when fd became ready for events before deadline, -2 on the deadline,
 * -1 on an error. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    struct pollfd p;
    int rc;

    p.fd = fd;
    p.events = events;
    for (;;) {
        p.revents = 0;
        rc = poll(&p, 1, left_ms(deadline));
        if (rc > 0)
            return 0;
        if (rc == 0)
            return -2;
        if (errno != EINTR)
            return -1;
    }
}

int wconn_parse_addr(const char *host, int port, struct sockaddr_storage *ss,
                     socklen_t *len)
{
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

    memset(ss, 0, sizeof(*ss));
    if (port <= 0 || port > 65535 || strlen(host) >= WCONN_HOST_MAX)
        return -1;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        *len = sizeof(*a4);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *len = sizeof(*a6);
        return 0;
    }
    return -1;
}

/* Opens c->fd to ss.  Returns WHTTP_OK, WHTTP_REFUSED (any failure to
 * connect, as libcurl reports it), WHTTP_CONNECT_TIMEOUT (connect_deadline
 * passed), WHTTP_TIMEOUT (the total deadline, deadline, passed first) or
 * WHTTP_ERROR. */
static enum whttp_result open_conn(struct wconn *c,
                                   const struct sockaddr_storage *ss,
                                   socklen_t sl, int64_t connect_deadline,
                                   int64_t deadline)
{
    int fd, one = 1, err = 0, rc;
    socklen_t el = sizeof(err);

    fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return WHTTP_ERROR;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (const struct sockaddr *)ss, sl) < 0) {
        if (errno != EINPROGRESS) {
            close(fd);
            return WHTTP_REFUSED;
        }
        rc = wait_fd(fd, POLLOUT,
                     connect_deadline < deadline ? connect_deadline : deadline);
        if (rc < 0) {
            close(fd);
            if (rc != -2)
                return WHTTP_ERROR;
            return connect_deadline <= deadline ? WHTTP_CONNECT_TIMEOUT
                                                : WHTTP_TIMEOUT;
        }
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err != 0) {
            close(fd);
            return WHTTP_REFUSED;
        }
    }
    c->fd = fd;
    return WHTTP_OK;
}

static enum whttp_result send_all(struct wconn *c, const char *p, size_t n,
                                  int64_t deadline)
{
    while (n > 0) {
        ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);

        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int rc = wait_fd(c->fd, POLLOUT, deadline);

            if (rc < 0)
                return rc == -2 ? WHTTP_TIMEOUT : WHTTP_ERROR;
            continue;
        }
        return WHTTP_BROKEN;
    }
    return WHTTP_OK;
}

/* Reads what has arrived into c->in, polling first when wait says the
 * bytes are unlikely to be there yet.  Returns the count, 0 at the end
 * of the stream, -1 on an error (a reset included), -2 on the deadline. */
static ssize_t fill(struct wconn *c, int64_t deadline, int wait)
{
    if (wait) {
        int rc = wait_fd(c->fd, POLLIN, deadline);

        if (rc < 0)
            return rc;
    }
    for (;;) {
        ssize_t r = recv(c->fd, c->in, sizeof(c->in), 0);

        if (r >= 0)
            return r;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            int rc = wait_fd(c->fd, POLLIN, deadline);

            if (rc < 0)
                return rc;
            continue;
        }
        return -1;
    }
}

/* One answer, read by c->ans (wanswer.h: every bound on what a worker
 * can make us hold is there).  *got is set once a byte of it arrived;
 * *keep says whether the connection may serve the next request: the
 * answer allows it and no byte followed it. */
static enum whttp_result read_answer(struct wconn *c, const char *method,
                                     struct buf *body, long *status, int *got,
                                     int *keep, int64_t deadline)
{
    struct wanswer *a = &c->ans;
    int wait = 1; /* the worker is at work */

    wanswer_init(a, strcmp(method, "HEAD") == 0, body);
    for (;;) {
        ssize_t r = fill(c, deadline, wait);
        size_t used;
        int rc;

        wait = 0;
        if (r < 0)
            return r == -2 ? WHTTP_TIMEOUT : WHTTP_BROKEN;
        if (r == 0) {
            if (wanswer_eof(a) < 0)
                return a->result;
            *status = a->status;
            return WHTTP_OK;
        }
        *got = 1;
        rc = wanswer_feed(a, c->in, (size_t)r, &used);
        if (rc < 0)
            return a->result;
        if (rc == 0) {
            *status = a->status;
            *keep = wanswer_keep(a) && used == (size_t)r;
            return WHTTP_OK;
        }
    }
}

/* 1 when idle connection fd has nothing to read: a worker that closed it
 * (end of stream) or wrote on it unasked (a 408 before closing) makes it
 * unusable, and reading that as the next answer would be wrong. */
static int idle_clean(int fd)
{
    char c;
    ssize_t r = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);

    return r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

int wconn_request(struct wconn *c, const char *method, const char *host,
                  int port, const char *path, long connect_ms, long total_ms,
                  struct buf *body, long *status, enum whttp_result *res)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    char req[2048];
    int64_t start = now_mono_ms(), deadline = start + total_ms;
    int n, attempt;

    if (wconn_parse_addr(host, port, &ss, &sl) < 0)
        return -1;
    *status = 0;
    buf_reset(body);
    n = snprintf(req, sizeof(req),
                 ss.ss_family == AF_INET6
                     ? "%s %s HTTP/1.1\r\nHost: [%s]:%d\r\nAccept: */*\r\n\r\n"
                     : "%s %s HTTP/1.1\r\nHost: %s:%d\r\nAccept: */*\r\n\r\n",
                 method, path, host, port);
    if (n < 0 || (size_t)n >= sizeof(req)) {
        *res = WHTTP_ERROR;
        return 0;
    }
    wconn_close(c);
    while ((c->fd = wpool_take(host, port)) >= 0 && !idle_clean(c->fd))
        wconn_close(c);
    for (attempt = 0;; attempt++) {
        int reused = c->fd >= 0, got = 0, keep = 0;
        int64_t cdl = start + connect_ms;

        if (!reused) {
            *res = open_conn(c, &ss, sl, cdl, deadline);
            if (*res != WHTTP_OK)
                return 0;
        }
        *res = send_all(c, req, (size_t)n, deadline);
        if (*res == WHTTP_OK)
            *res = read_answer(c, method, body, status, &got, &keep, deadline);
        if (*res == WHTTP_OK) {
            if (keep) {
                wpool_put(c->fd, host, port);
                c->fd = -1;
            }
            wconn_close(c);
            return 0;
        }
        wconn_close(c);
        /* A kept connection the worker had closed: once more, on a
         * connection of its own (another kept one may be as stale). */
        if (*res != WHTTP_BROKEN || !reused || got || attempt > 0)
            break;
        *status = 0;
    }
    *status = 0;
    return 0;
}
