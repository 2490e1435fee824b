/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * wprobe_fds.c - the descriptors of wprobe.h's probes: their epoll
 * registration and the table of kept connections (wprobe_int.h).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wprobe.h"
#include "wprobe_int.h"

/* ---- the watched descriptors ---- */

/* Makes fds cover descriptor fd.  Returns 0 or -1. */
static int fds_cover(struct wprobe *wp, int fd)
{
    struct fdref *n;
    size_t m, i;

    if ((size_t)fd < wp->nfds)
        return 0;
    m = wp->nfds ? wp->nfds : 256;
    while (m <= (size_t)fd)
        m *= 2;
    n = realloc(wp->fds, m * sizeof(*n));
    if (n == NULL)
        return -1;
    for (i = wp->nfds; i < m; i++) {
        n[i].owner = OWNER_NONE;
        n[i].gen = 0;
        n[i].k = NULL;
    }
    wp->fds = n;
    wp->nfds = m;
    return 0;
}

int watch_add(struct wprobe *wp, int fd, uint32_t events, int owner)
{
    struct epoll_event ev;

    if (fd < 0 || fds_cover(wp, fd) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    wp->gen++;
    memset(&ev, 0, sizeof(ev));
    ev.events = events;
    ev.data.u64 = (uint64_t)wp->gen << 32 | (uint32_t)fd;
    if (epoll_ctl(wp->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        close(fd);
        return -1;
    }
    wp->fds[fd].owner = owner;
    wp->fds[fd].gen = wp->gen;
    wp->fds[fd].k = NULL;
    return 0;
}

void watch_mod(struct wprobe *wp, int fd, uint32_t events)
{
    struct epoll_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.events = events;
    ev.data.u64 = (uint64_t)wp->fds[fd].gen << 32 | (uint32_t)fd;
    epoll_ctl(wp->ep, EPOLL_CTL_MOD, fd, &ev);
}

void watch_own(struct wprobe *wp, int fd, int owner)
{
    wp->fds[fd].owner = owner;
    wp->fds[fd].k = NULL;
}

void watch_close(struct wprobe *wp, int fd)
{
    if (fd < 0)
        return;
    /* Explicitly: a copy of fd elsewhere would keep it in the set. */
    epoll_ctl(wp->ep, EPOLL_CTL_DEL, fd, NULL);
    if ((size_t)fd < wp->nfds) {
        wp->fds[fd].owner = OWNER_NONE;
        wp->fds[fd].k = NULL;
    }
    close(fd);
}

int watch_owner(const struct wprobe *wp, const struct epoll_event *ev, int *fd)
{
    uint32_t gen = (uint32_t)(ev->data.u64 >> 32);

    *fd = (int)(uint32_t)ev->data.u64;
    if (*fd < 0 || (size_t)*fd >= wp->nfds || wp->fds[*fd].gen != gen)
        return OWNER_NONE;
    return wp->fds[*fd].owner;
}

/* ---- the kept connections ---- */

static size_t hash(const char *host, int port)
{
    size_t h = (size_t)port * 2654435761u;

    while (*host != '\0')
        h = h * 31 + (unsigned char)*host++;
    return h % WPROBE_BUCKETS;
}

/* 1 when idle connection fd has nothing to read: a worker that closed it
 * (end of stream) or wrote on it unasked makes it unusable. */
static int idle_clean(int fd)
{
    char c;
    ssize_t r = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);

    return r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

/* Unlinks *pp (k) from its chain to the spare list. */
static void kept_unlink(struct wprobe *wp, struct kept **pp, struct kept *k)
{
    *pp = k->next;
    k->next = wp->spare;
    wp->spare = k;
    wp->n--;
}

int kept_take(struct wprobe *wp, const char *host, int port, int64_t now,
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
    fd = k->fd;
    *opened = k->opened;
    kept_unlink(wp, pp, k);
    if (now - *opened > WPROBE_AGE_MS || now - k->used > WPROBE_IDLE_MS ||
        !idle_clean(fd)) {
        watch_close(wp, fd);
        return -1;
    }
    wp->fds[fd].k = NULL;
    return fd;
}

void kept_put(struct wprobe *wp, int fd, const char *host, int port,
              int64_t opened, int64_t now)
{
    struct kept *k = wp->spare;
    size_t b;

    if (wp->n >= wp->cap || strlen(host) >= sizeof(k->host)) {
        watch_close(wp, fd);
        return;
    }
    if (k != NULL)
        wp->spare = k->next;
    else if ((k = malloc(sizeof(*k))) == NULL) {
        watch_close(wp, fd);
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
    wp->fds[fd].owner = OWNER_KEPT;
    wp->fds[fd].k = k;
}

int kept_sweep(struct wprobe *wp, int64_t now, int evict)
{
    size_t b;
    int done = 0;

    for (b = 0; b < WPROBE_BUCKETS; b++) {
        struct kept **pp = &wp->bucket[b], *k;

        while ((k = *pp) != NULL) {
            if (now - k->used > WPROBE_IDLE_MS || (evict && !done)) {
                done |= evict;
                kept_unlink(wp, pp, k);
                watch_close(wp, k->fd);
                continue;
            }
            pp = &k->next;
        }
    }
    return done;
}

void kept_drop(struct wprobe *wp, int fd)
{
    struct kept *k = wp->fds[fd].k, **pp;

    if (k == NULL)
        return;
    for (pp = &wp->bucket[hash(k->host, k->port)]; *pp != NULL;
         pp = &(*pp)->next) {
        if (*pp == k) {
            kept_unlink(wp, pp, k);
            break;
        }
    }
    watch_close(wp, fd);
}

void kept_close_all(struct wprobe *wp)
{
    size_t b;

    for (b = 0; b < WPROBE_BUCKETS; b++) {
        while (wp->bucket[b] != NULL) {
            struct kept *k = wp->bucket[b];

            wp->bucket[b] = k->next;
            watch_close(wp, k->fd);
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
