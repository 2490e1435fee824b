/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * wprobe_int.h - inside wprobe.h's probes: the set of kept connections
 * and the descriptors it watches (wprobe_fds.c), shared with the probe
 * loop (wprobe.c).
 *
 * Every descriptor a struct wprobe owns is either kept (in the table,
 * idle) or in one slot's hands (a probe in flight), and is registered in
 * its epoll set from its socket(2) to its close: level-triggered, EPOLLOUT
 * while it connects and EPOLLIN otherwise.  So a probe on a kept
 * connection costs no epoll_ctl(2), one epoll_wait(2) returns only what
 * is ready, and a kept connection the worker closed or wrote on is closed
 * by the first wait that sees it.  An event carries the descriptor and
 * the generation of its registration, so an event read before a
 * descriptor was closed and its number reused is dropped, not given to
 * the new owner.
 */
#ifndef STEEL_WPROBE_INT_H
#define STEEL_WPROBE_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "buf.h"
#include "wanswer.h"
#include "wconn.h"
#include "whttp.h"

#define WPROBE_BUCKETS 4096 /* hash chains of the kept connections */
#define WPROBE_EVENTS  64   /* events one epoll_wait(2) takes */

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

#define OWNER_NONE (-1) /* not ours (or closed) */
#define OWNER_KEPT (-2) /* idle in the table */

/* Who holds a descriptor: OWNER_KEPT, a slot's index, or OWNER_NONE. */
struct fdref {
    int owner;
    uint32_t gen;   /* of its registration */
    struct kept *k; /* its entry while kept */
};

struct wprobe {
    struct kept *bucket[WPROBE_BUCKETS];
    struct kept *spare; /* entries not in use */
    size_t n;           /* kept connections */
    size_t cap;         /* most to keep this run */
    struct slot *slots;
    size_t nslots;
    int ep;              /* the epoll set; -1 until the first run */
    struct fdref *fds;   /* indexed by descriptor */
    size_t nfds;         /* entries of fds */
    uint32_t gen;        /* the last registration's */
    struct epoll_event ev[WPROBE_EVENTS];
    char in[WCONN_IN_MAX];
};

/* ---- the watched descriptors (wprobe_fds.c) ---- */

/* Registers new descriptor fd for events (EPOLLIN or EPOLLOUT), held by
 * owner.  Returns 0, or -1 (fd is then closed). */
int watch_add(struct wprobe *wp, int fd, uint32_t events, int owner);
/* Changes what fd waits for. */
void watch_mod(struct wprobe *wp, int fd, uint32_t events);
/* Hands fd to owner (OWNER_KEPT or a slot). */
void watch_own(struct wprobe *wp, int fd, int owner);
/* Forgets fd and closes it. */
void watch_close(struct wprobe *wp, int fd);
/* The owner an event is for, or OWNER_NONE when it is stale; *fd gets
 * its descriptor. */
int watch_owner(const struct wprobe *wp, const struct epoll_event *ev,
                int *fd);

/* ---- the kept connections (wprobe_fds.c) ---- */

/* Takes the kept connection to host:port out of the table when it may
 * serve (*opened gets its connect time).  Returns its fd, or -1. */
int kept_take(struct wprobe *wp, const char *host, int port, int64_t now,
              int64_t *opened);
/* Keeps fd, connected to host:port since opened, or closes it when the
 * table is full. */
void kept_put(struct wprobe *wp, int fd, const char *host, int port,
              int64_t opened, int64_t now);
/* Closes the kept connections idle too long, and one more when evict is
 * set (a descriptor is needed).  Returns 1 when one was evicted. */
int kept_sweep(struct wprobe *wp, int64_t now, int evict);
/* Closes kept connection fd, which became readable while idle. */
void kept_drop(struct wprobe *wp, int fd);
/* Closes every kept connection. */
void kept_close_all(struct wprobe *wp);

#endif
