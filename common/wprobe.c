/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * wprobe.c - parallel probes over kept-alive connections (wprobe.h).
 *
 * Invariants: every socket is non-blocking and the one wait is a poll(2)
 * over the probes in flight, bounded by the nearest deadline, so no probe
 * waits past its own; a connection is kept only after an answer was read
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
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "util.h"
#include "wanswer.h"
#include "wconn.h"
#include "wprobe.h"

#define BUCKETS  4096 /* hash chains of the kept connections */
#define FD_SPARE 256  /* descriptors left to the rest of the process */

/* One connection to a worker, kept in the table between probes. */
struct kept {
    int fd;
    int port;
    int64_t opened; /* monotonic ms of its connect */
    int64_t used;   /* monotonic ms of its last answer */
    char host[WCONN_HOST_MAX];
    struct kept *next; /* in its chain */
};

enum phase { PH_FREE, PH_CONNECTING, PH_READING };

/* One probe in flight. */
struct slot {
    enum phase phase;
    struct probe *p;
    int fd;
    int64_t opened;        /* of fd */
    int reused;            /* fd was a kept connection */
    int retried;           /* already opened again once */
    int got;               /* a byte of the answer arrived */
    int64_t cdl, deadline; /* connect and total deadline (mono ms) */
    struct sockaddr_storage ss;
    socklen_t sl;
    char req[2048];
    size_t req_len;
    struct wanswer ans;
    struct buf body;
};

struct wprobe {
    struct kept *bucket[BUCKETS];
    struct kept *spare; /* entries not in use */
    size_t n;           /* kept connections */
    size_t cap;         /* most to keep this run */
    struct slot *slots;
    struct pollfd *pfd;
    size_t *pmap; /* pfd[i] is slots[pmap[i]] */
    size_t nslots;
    char in[WCONN_IN_MAX];
};

struct wprobe *wprobe_new(void)
{
    return calloc(1, sizeof(struct wprobe));
}

static void kept_close_all(struct wprobe *wp)
{
    size_t b;

    for (b = 0; b < BUCKETS; b++) {
        while (wp->bucket[b] != NULL) {
            struct kept *k = wp->bucket[b];

            wp->bucket[b] = k->next;
            close(k->fd);
            free(k);
        }
    }
    while (wp->spare != NULL) {
        struct kept *k = wp->spare;

        wp->spare = k->next;
        free(k);
    }
    wp->n = 0;
}

void wprobe_free(struct wprobe *wp)
{
    size_t i;

    if (wp == NULL)
        return;
    kept_close_all(wp);
    for (i = 0; i < wp->nslots; i++)
        buf_release(&wp->slots[i].body);
    free(wp->slots);
    free(wp->pfd);
    free(wp->pmap);
    free(wp);
}

size_t wprobe_kept(const struct wprobe *wp)
{
    return wp->n;
}

static size_t hash(const char *host, int port)
{
    size_t h = (size_t)port * 2654435761u;

    while (*host != '\0')
        h = h * 31 + (unsigned char)*host++;
    return h % BUCKETS;
}

/* 1 when idle connection fd has nothing to read: a worker that closed it
 * (end of stream) or wrote on it unasked makes it unusable. */
static int idle_clean(int fd)
{
    char c;
    ssize_t r = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);

    return r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

/* Takes the kept connection to host:port out of the table when it may
 * serve (*opened gets its connect time).  Returns its fd, or -1. */
static int kept_take(struct wprobe *wp, const char *host, int port, int64_t now,
                     int64_t *opened)
{
    struct kept **pp = &wp->bucket[hash(host, port)], *k;
    int fd;

    for (; (k = *pp) != NULL; pp = &k->next) {
        if (k->port == port && strcmp(k->host, host) == 0)
            break;
    }
    if (k == NULL)
        return -1;
    *pp = k->next;
    wp->n--;
    fd = k->fd;
    *opened = k->opened;
    k->next = wp->spare;
    wp->spare = k;
    if (now - *opened > WPROBE_AGE_MS || now - k->used > WPROBE_IDLE_MS ||
        !idle_clean(fd)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Keeps fd, connected to host:port since opened, or closes it when the
 * table is full. */
static void kept_put(struct wprobe *wp, int fd, const char *host, int port,
                     int64_t opened, int64_t now)
{
    struct kept *k = wp->spare;
    size_t b;

    if (wp->n >= wp->cap || strlen(host) >= sizeof(k->host)) {
        close(fd);
        return;
    }
    if (k != NULL)
        wp->spare = k->next;
    else if ((k = malloc(sizeof(*k))) == NULL) {
        close(fd);
        return;
    }
    k->fd = fd;
    k->port = port;
    k->opened = opened;
    k->used = now;
    snprintf(k->host, sizeof(k->host), "%s", host);
    b = hash(host, port);
    k->next = wp->bucket[b];
    wp->bucket[b] = k;
    wp->n++;
}

/* Closes the kept connections idle too long, and one more when evict is
 * set (a descriptor is needed).  Returns 1 when one was evicted. */
static int kept_sweep(struct wprobe *wp, int64_t now, int evict)
{
    size_t b;
    int done = 0;

    for (b = 0; b < BUCKETS; b++) {
        struct kept **pp = &wp->bucket[b], *k;

        while ((k = *pp) != NULL) {
            if (now - k->used > WPROBE_IDLE_MS || (evict && !done)) {
                done |= evict;
                *pp = k->next;
                close(k->fd);
                k->next = wp->spare;
                wp->spare = k;
                wp->n--;
                continue;
            }
            pp = &k->next;
        }
    }
    return done;
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
            close(s->fd);
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
    int one = 1;

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
    if (connect(s->fd, (const struct sockaddr *)&s->ss, s->sl) == 0) {
        if (slot_send(s) < 0) {
            slot_finish(wp, s, WHTTP_BROKEN, 0, now);
            return -1;
        }
        return 0;
    }
    if (errno != EINPROGRESS) {
        slot_finish(wp, s, WHTTP_REFUSED, 0, now);
        return -1;
    }
    s->phase = PH_CONNECTING;
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
    close(s->fd);
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
static int slot_event(struct wprobe *wp, struct slot *s, short revents,
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
    free(wp->pfd);
    free(wp->pmap);
    wp->pfd = calloc(m, sizeof(*wp->pfd));
    wp->pmap = calloc(m, sizeof(*wp->pmap));
    ns = realloc(wp->slots, m * sizeof(*ns));
    if (ns != NULL)
        wp->slots = ns;
    if (ns == NULL || wp->pfd == NULL || wp->pmap == NULL)
        return -1;
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
        size_t np = 0;
        int rc, wait;

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
            struct slot *s = &wp->slots[i];

            if (s->phase == PH_FREE)
                continue;
            if (slot_due(s) < due)
                due = slot_due(s);
            wp->pfd[np].fd = s->fd;
            wp->pfd[np].events = s->phase == PH_CONNECTING ? POLLOUT : POLLIN;
            wp->pfd[np].revents = 0;
            wp->pmap[np++] = i;
        }
        wait = due <= now ? 0 : due - now > 1000 ? 1000 : (int)(due - now);
        rc = poll(wp->pfd, np, wait);
        if (rc < 0 && errno != EINTR)
            rc = 0; /* treated as a wait that saw nothing */
        now = now_mono_ms();
        for (i = 0; i < np; i++) {
            struct slot *s = &wp->slots[wp->pmap[i]];

            if (rc > 0 && wp->pfd[i].revents != 0) {
                if (slot_event(wp, s, wp->pfd[i].revents, now) < 0)
                    active--;
            } else if (now >= slot_due(s)) {
                slot_expire(wp, s, now);
                active--;
            }
        }
    }
    return 0;
}
