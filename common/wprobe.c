/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * wprobe.c - parallel probes over kept-alive connections (wprobe.h).
 *
 * Invariants: every socket is non-blocking and the one wait is an
 * epoll_wait(2) on the set of every descriptor the struct wprobe owns
 * (wprobe_int.h), bounded by the nearest deadline, so no probe waits past
 * its own; a connection is kept only after an answer was read
 * whole and exactly (wanswer_keep, no byte after it), so the next probe
 * never reads the remains of an earlier one; a kept connection is in the
 * table or in one probe's hands, never both; what a worker sends is held
 * within wanswer.h's bounds and WPROBE_BODY_MAX.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "util.h"
#include "wanswer.h"
#include "wconn.h"
#include "wprobe.h"
#include "wprobe_int.h"

#define FD_SPARE 256 /* descriptors left to the rest of the process */

struct wprobe *wprobe_new(void)
{
    struct wprobe *wp = calloc(1, sizeof(struct wprobe));

    if (wp != NULL)
        wp->ep = -1;
    return wp;
}

void wprobe_free(struct wprobe *wp)
{
    size_t i;

    if (wp == NULL)
        return;
    kept_close_all(wp);
    for (i = 0; i < wp->nslots; i++) {
        watch_close(wp, wp->slots[i].fd);
        buf_release(&wp->slots[i].body);
    }
    if (wp->ep >= 0)
        close(wp->ep);
    free(wp->slots);
    free(wp->fds);
    free(wp);
}

size_t wprobe_kept(const struct wprobe *wp)
{
    return wp->n;
}

/* Ends slot s's probe with result res; keep: its connection may serve
 * again. */
static void slot_finish(struct wprobe *wp, struct slot *s,
                        enum whttp_result res, int keep, int64_t now)
{
    struct probe *p = s->p;

    p->result = res;
    if (res == WHTTP_OK) {
        size_t n = s->body.len;

        p->status = s->ans.status;
        if (n > PROBE_BODY_MAX - 1) {
            n = PROBE_BODY_MAX - 1;
            p->body_truncated = 1;
        }
        if (n > 0)
            memcpy(p->body, s->body.data, n);
        p->body[n] = '\0';
        p->body_len = n;
    }
    if (s->fd >= 0) {
        if (keep)
            kept_put(wp, s->fd, p->host, p->port, s->opened, now);
        else
            watch_close(wp, s->fd);
    }
    s->fd = -1;
    s->phase = PH_FREE;
}

/* Sends the request on s->fd, which is connected, and starts reading.
 * Returns 0, or -1 when the send failed (the connection broke). */
static int slot_send(struct slot *s)
{
    ssize_t w;

    do
        w = send(s->fd, s->req, s->req_len, MSG_NOSIGNAL);
    while (w < 0 && errno == EINTR);
    if (w != (ssize_t)s->req_len)
        return -1; /* a fresh or drained socket takes 2 KiB at once */
    s->phase = PH_READING;
    s->got = 0;
    wanswer_init(&s->ans, 0, &s->body);
    return 0;
}

/* Opens a new connection for s and, when it connects at once, sends.
 * Returns 0 (in flight) or -1 (finished with a result). */
static int slot_open(struct wprobe *wp, struct slot *s, int64_t now)
{
    int one = 1, rc;

    s->reused = 0;
    s->fd =
        socket(s->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->fd < 0 && (errno == EMFILE || errno == ENFILE) &&
        kept_sweep(wp, now, 1))
        s->fd = socket(s->ss.ss_family,
                       SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->fd < 0) {
        slot_finish(wp, s, WHTTP_ERROR, 0, now);
        return -1;
    }
    s->opened = now;
    setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    rc = connect(s->fd, (const struct sockaddr *)&s->ss, s->sl);
    if (rc < 0 && errno != EINPROGRESS) {
        close(s->fd); /* never watched */
        s->fd = -1;
        slot_finish(wp, s, WHTTP_REFUSED, 0, now);
        return -1;
    }
    if (watch_add(wp, s->fd, rc == 0 ? EPOLLIN : EPOLLOUT,
                  (int)(s - wp->slots)) < 0) {
        s->fd = -1; /* closed */
        slot_finish(wp, s, WHTTP_ERROR, 0, now);
        return -1;
    }
    if (rc < 0) {
        s->phase = PH_CONNECTING;
        return 0;
    }
    if (slot_send(s) < 0) {
        slot_finish(wp, s, WHTTP_BROKEN, 0, now);
        return -1;
    }
    return 0;
}

/* A kept connection broke before any byte of the answer: once more on a
 * new one.  Returns 1 when that was done (0 or -1 as slot_open), 2 when
 * it may not be retried. */
static int slot_retry(struct wprobe *wp, struct slot *s, int64_t now)
{
    if (!s->reused || s->got || s->retried)
        return 2;
    s->retried = 1;
    watch_close(wp, s->fd);
    s->fd = -1;
    return slot_open(wp, s, now) < 0 ? -1 : 1;
}

/* Starts probe p in free slot s.  Returns 0 (in flight) or -1 (finished
 * at once). */
static int slot_start(struct wprobe *wp, struct slot *s, struct probe *p,
                      const char *method, long connect_ms, long total_ms,
                      int64_t now)
{
    int n;

    s->p = p;
    s->fd = -1;
    s->retried = 0;
    s->got = 0;
    s->cdl = now + connect_ms;
    s->deadline = now + total_ms;
    p->status = 0;
    p->body[0] = '\0';
    p->body_len = 0;
    p->body_truncated = 0;
    wconn_parse_addr(p->host, p->port, &s->ss, &s->sl); /* checked by the caller */
    n = snprintf(s->req, sizeof(s->req),
                 s->ss.ss_family == AF_INET6
                     ? "%s %s HTTP/1.1\r\nHost: [%s]:%d\r\nAccept: */*\r\n\r\n"
                     : "%s %s HTTP/1.1\r\nHost: %s:%d\r\nAccept: */*\r\n\r\n",
                 method, p->path, p->host, p->port);
    if (n < 0 || (size_t)n >= sizeof(s->req)) {
        slot_finish(wp, s, WHTTP_ERROR, 0, now);
        return -1;
    }
    s->req_len = (size_t)n;
    s->fd = kept_take(wp, p->host, p->port, now, &s->opened);
    if (s->fd >= 0) {
        s->reused = 1;
        watch_own(wp, s->fd, (int)(s - wp->slots));
        if (slot_send(s) == 0)
            return 0;
        switch (slot_retry(wp, s, now)) {
        case 1:
            return 0;
        case 2:
            slot_finish(wp, s, WHTTP_BROKEN, 0, now);
            break;
        }
        return -1;
    }
    return slot_open(wp, s, now);
}

/* Slot s's descriptor is ready (revents).  Returns 0 while in flight, -1
 * once finished. */
static int slot_event(struct wprobe *wp, struct slot *s, uint32_t revents,
                      int64_t now)
{
    if (s->phase == PH_CONNECTING) {
        int err = 0;
        socklen_t el = sizeof(err);

        if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 ||
            err != 0) {
            slot_finish(wp, s, WHTTP_REFUSED, 0, now);
            return -1;
        }
        watch_mod(wp, s->fd, EPOLLIN);
        if (slot_send(s) < 0) {
            slot_finish(wp, s, WHTTP_BROKEN, 0, now);
            return -1;
        }
        return 0;
    }
    (void)revents;
    for (;;) {
        ssize_t r = recv(s->fd, wp->in, sizeof(wp->in), 0);
        size_t used;
        int rc;

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (r <= 0 && !s->got) {
            rc = slot_retry(wp, s, now);
            if (rc != 2)
                return rc == 1 ? 0 : -1;
        }
        if (r < 0) {
            slot_finish(wp, s, WHTTP_BROKEN, 0, now);
            return -1;
        }
        if (r == 0) {
            if (wanswer_eof(&s->ans) < 0)
                slot_finish(wp, s, s->ans.result, 0, now);
            else
                slot_finish(wp, s, WHTTP_OK, 0, now);
            return -1;
        }
        s->got = 1;
        rc = wanswer_feed(&s->ans, wp->in, (size_t)r, &used);
        if (rc < 0) {
            slot_finish(wp, s, s->ans.result, 0, now);
            return -1;
        }
        if (rc == 0) {
            slot_finish(wp, s, WHTTP_OK,
                        wanswer_keep(&s->ans) && used == (size_t)r, now);
            return -1;
        }
        if ((size_t)r < sizeof(wp->in))
            return 0; /* the rest is not there yet */
    }
}

/* The probe of slot s ran out of time. */
static void slot_expire(struct wprobe *wp, struct slot *s, int64_t now)
{
    enum whttp_result res = WHTTP_TIMEOUT;

    if (s->phase == PH_CONNECTING && s->cdl <= s->deadline)
        res = WHTTP_CONNECT_TIMEOUT;
    slot_finish(wp, s, res, 0, now);
}

static int64_t slot_due(const struct slot *s)
{
    if (s->phase == PH_CONNECTING && s->cdl < s->deadline)
        return s->cdl;
    return s->deadline;
}

/* Makes room for m slots.  Returns 0 or -1. */
static int slots_reserve(struct wprobe *wp, size_t m)
{
    struct slot *ns;
    size_t i;

    if (m <= wp->nslots)
        return 0;
    ns = realloc(wp->slots, m * sizeof(*ns));
    if (ns == NULL)
        return -1;
    wp->slots = ns;
    for (i = wp->nslots; i < m; i++) {
        memset(&wp->slots[i], 0, sizeof(wp->slots[i]));
        wp->slots[i].fd = -1;
        buf_init(&wp->slots[i].body, WPROBE_BODY_MAX);
    }
    wp->nslots = m;
    return 0;
}

/* How many connections may be kept beside max_parallel in flight. */
static size_t keep_cap(size_t max_parallel)
{
    struct rlimit rl;
    rlim_t room;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
        return WPROBE_KEEP_MAX;
    if (rl.rlim_cur <= FD_SPARE + max_parallel)
        return 0;
    room = rl.rlim_cur - FD_SPARE - max_parallel;
    return room < WPROBE_KEEP_MAX ? (size_t)room : WPROBE_KEEP_MAX;
}

/* Handles what one wait returned.  Returns how many probes finished. */
static size_t run_events(struct wprobe *wp, int nev, int64_t now)
{
    size_t done = 0;
    int i, fd, owner;

    for (i = 0; i < nev; i++) {
        owner = watch_owner(wp, &wp->ev[i], &fd);
        if (owner == OWNER_KEPT)
            kept_drop(wp, fd); /* closed or written on while idle */
        else if (owner >= 0 && (size_t)owner < wp->nslots &&
                 wp->slots[owner].phase != PH_FREE &&
                 slot_event(wp, &wp->slots[owner], wp->ev[i].events, now) < 0)
            done++;
    }
    return done;
}

int wprobe_run(struct wprobe *wp, const char *method, struct probe *p, size_t n,
               long connect_ms, long total_ms, size_t max_parallel)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    size_t next = 0, active = 0, i;
    int64_t now = now_mono_ms();

    for (i = 0; i < n; i++) {
        p[i].result = WHTTP_ERROR;
        if (wconn_parse_addr(p[i].host, p[i].port, &ss, &sl) < 0)
            return probe_run_method(method, p, n, connect_ms, total_ms,
                                    max_parallel);
    }
    if (n == 0)
        return 0;
    if (wp->ep < 0 && (wp->ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
        return -1;
    if (max_parallel == 0 || max_parallel > n)
        max_parallel = n;
    if (slots_reserve(wp, max_parallel) < 0)
        return -1;
    wp->cap = keep_cap(max_parallel);
    kept_sweep(wp, now, 0);
    while (wp->n > wp->cap)
        kept_sweep(wp, now, 1);

    while (next < n || active > 0) {
        int64_t due = INT64_MAX;
        int nev, wait;

        for (i = 0; i < max_parallel && next < n; i++) {
            if (wp->slots[i].phase != PH_FREE)
                continue;
            if (slot_start(wp, &wp->slots[i], &p[next++], method, connect_ms,
                           total_ms, now) == 0)
                active++;
        }
        if (active == 0)
            continue;
        for (i = 0; i < max_parallel; i++) {
            if (wp->slots[i].phase != PH_FREE && slot_due(&wp->slots[i]) < due)
                due = slot_due(&wp->slots[i]);
        }
        wait = due <= now ? 0 : due - now > 1000 ? 1000 : (int)(due - now);
        nev = epoll_wait(wp->ep, wp->ev, WPROBE_EVENTS, wait);
        now = now_mono_ms();
        if (nev > 0)
            active -= run_events(wp, nev, now);
        for (i = 0; i < max_parallel; i++) {
            struct slot *s = &wp->slots[i];

            if (s->phase != PH_FREE && now >= slot_due(s)) {
                slot_expire(wp, s, now);
                active--;
            }
        }
    }
    return 0;
}
