/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * wpool.c - the process's idle connections to workers (wpool.h).
 *
 * Invariants: every entry in use is in exactly one hash chain and in the
 * LRU list, ordered from the least to the most recently put back; every
 * other entry is on the free list; a descriptor is in the pool or in one
 * caller's hands, never both; nothing is closed under the lock.
 */
#include "config.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "util.h"
#include "wconn.h"
#include "wpool.h"

#define BUCKETS     1024 /* hash chains */
#define FD_SPARE    256  /* descriptors left to the rest of the process */
#define STALE_BATCH 16   /* stale connections closed per take or put */

struct entry {
    int fd;
    int port;
    int64_t since; /* monotonic ms it was put back */
    int chain;     /* next in its hash chain, -1 */
    int prev, next; /* in the LRU list (or next free), -1 */
    char host[WCONN_HOST_MAX];
};

static struct entry ent[WPOOL_MAX];
static int bucket[BUCKETS];
static int lru_first = -1, lru_last = -1; /* least, most recently put */
static int free_first = -1;
static int used, room;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* The room: WPOOL_MAX, or half of what RLIMIT_NOFILE leaves. */
static void pool_init(void)
{
    struct rlimit rl;
    int i;

    room = WPOOL_MAX;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        long left = (long)rl.rlim_cur - FD_SPARE;

        if (left / 2 < room)
            room = left / 2 > 16 ? (int)(left / 2) : 16;
    }
    for (i = 0; i < BUCKETS; i++)
        bucket[i] = -1;
    for (i = WPOOL_MAX - 1; i >= 0; i--) {
        ent[i].next = free_first;
        free_first = i;
    }
}

static unsigned hash(const char *host, int port)
{
    uint32_t h = 2166136261u;

    for (; *host != '\0'; host++)
        h = (h ^ (unsigned char)*host) * 16777619u;
    h = (h ^ (uint32_t)port) * 16777619u;
    return (h ^ (h >> 15)) % BUCKETS;
}

/* Takes entry i out of its chain and the LRU list onto the free list;
 * returns its descriptor. */
static int unlink_entry(int i)
{
    struct entry *e = &ent[i];
    int *p = &bucket[hash(e->host, e->port)];

    while (*p != i)
        p = &ent[*p].chain;
    *p = e->chain;
    if (e->prev >= 0)
        ent[e->prev].next = e->next;
    else
        lru_first = e->next;
    if (e->next >= 0)
        ent[e->next].prev = e->prev;
    else
        lru_last = e->prev;
    e->next = free_first;
    free_first = i;
    used--;
    return e->fd;
}

/* Takes up to STALE_BATCH connections idle too long off the LRU list's
 * head into out.  Returns how many. */
static int take_stale(int64_t now, int *out)
{
    int n = 0;

    while (n < STALE_BATCH && lru_first >= 0 &&
           now - ent[lru_first].since > WPOOL_IDLE_MS)
        out[n++] = unlink_entry(lru_first);
    return n;
}

static void close_all(const int *fds, int n)
{
    int i;

    for (i = 0; i < n; i++)
        close(fds[i]);
}

int wpool_take(const char *host, int port)
{
    int stale[STALE_BATCH], nstale, i, fd = -1;

    pthread_once(&once, pool_init);
    pthread_mutex_lock(&lock);
    nstale = take_stale(now_mono_ms(), stale);
    for (i = bucket[hash(host, port)]; i >= 0; i = ent[i].chain) {
        if (ent[i].port == port && strcmp(ent[i].host, host) == 0) {
            fd = unlink_entry(i);
            break;
        }
    }
    pthread_mutex_unlock(&lock);
    close_all(stale, nstale);
    return fd;
}

void wpool_put(int fd, const char *host, int port)
{
    int stale[STALE_BATCH + 1], nstale, i;
    unsigned b;
    int64_t now = now_mono_ms();

    pthread_once(&once, pool_init);
    if (strlen(host) >= WCONN_HOST_MAX) {
        close(fd);
        return;
    }
    pthread_mutex_lock(&lock);
    nstale = take_stale(now, stale);
    if (used >= room || free_first < 0)
        stale[nstale++] = unlink_entry(lru_first);
    i = free_first;
    free_first = ent[i].next;
    ent[i].fd = fd;
    ent[i].port = port;
    ent[i].since = now;
    snprintf(ent[i].host, sizeof(ent[i].host), "%s", host);
    b = hash(host, port);
    ent[i].chain = bucket[b];
    bucket[b] = i;
    ent[i].prev = lru_last;
    ent[i].next = -1;
    if (lru_last >= 0)
        ent[lru_last].next = i;
    else
        lru_first = i;
    lru_last = i;
    used++;
    pthread_mutex_unlock(&lock);
    close_all(stale, nstale);
}

void wpool_flush(void)
{
    int fd;

    pthread_once(&once, pool_init);
    for (;;) {
        pthread_mutex_lock(&lock);
        fd = lru_first >= 0 ? unlink_entry(lru_first) : -1;
        pthread_mutex_unlock(&lock);
        if (fd < 0)
            return;
        close(fd);
    }
}

int wpool_size(void)
{
    int n;

    pthread_once(&once, pool_init);
    pthread_mutex_lock(&lock);
    n = used;
    pthread_mutex_unlock(&lock);
    return n;
}
