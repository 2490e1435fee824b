/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * pidwatch.c - worker processes watched through pidfds (pidwatch.h).
 *
 * Invariants: an entry's pidfd is in the epoll set until the kernel
 * reported its end or the entry went, never both closed and registered
 * (closing the only descriptor of a pidfd removes it from the set); an
 * entry is made only after /proc/<pid>/stat, read after the pidfd was
 * opened, showed the record's start time; the index holds every entry
 * once and is rebuilt whole when it grows or entries go.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <unistd.h>

#include "pidwatch.h"
#include "proc.h"

/* Ends collected per epoll_wait call. */
#define EVENTS_MAX 256

struct watched {
    long key;                 /* the worker id */
    long pid;                 /* the process */
    unsigned long long pstart; /* its start time (clock ticks since boot) */
    int fd;                   /* its pidfd */
    unsigned char ended;      /* the kernel said it ended */
    unsigned char asked;      /* pidwatch_alive asked since the last sweep */
};

struct pidwatch {
    int ep;               /* the epoll set of every pidfd not yet ended */
    struct watched *w;    /* the entries */
    size_t n, cap;        /* used, allocated */
    size_t *index;        /* open addressing: entry + 1, 0 for none */
    size_t nindex;        /* a power of two, at least 2 n */
};

static size_t slot_of(const struct pidwatch *pw, long key)
{
    uint64_t h = (uint64_t)key * 0x9e3779b97f4a7c15ULL;

    return (size_t)(h >> 32) & (pw->nindex - 1);
}

/* The entry of key, or NULL. */
static struct watched *find(const struct pidwatch *pw, long key)
{
    size_t i;

    if (pw->nindex == 0)
        return NULL;
    for (i = slot_of(pw, key); pw->index[i] != 0; i = (i + 1) & (pw->nindex - 1))
        if (pw->w[pw->index[i] - 1].key == key)
            return &pw->w[pw->index[i] - 1];
    return NULL;
}

/* Builds the index anew for room entries.  Returns 0 or -1 (memory; the
 * old index is kept). */
static int reindex(struct pidwatch *pw, size_t room)
{
    size_t size = 64, k, i, *idx;

    while (size < 2 * room)
        size *= 2;
    idx = calloc(size, sizeof(*idx));
    if (idx == NULL)
        return -1;
    free(pw->index);
    pw->index = idx;
    pw->nindex = size;
    for (k = 0; k < pw->n; k++) {
        for (i = slot_of(pw, pw->w[k].key); idx[i] != 0; i = (i + 1) & (size - 1))
            ;
        idx[i] = k + 1;
    }
    return 0;
}

struct pidwatch *pidwatch_new(void)
{
    struct pidwatch *pw;
    int fd;

    /* Our own pidfd tells whether the kernel has them at all. */
    fd = pidfd_open(getpid(), 0);
    if (fd < 0)
        return NULL;
    close(fd);
    pw = calloc(1, sizeof(*pw));
    if (pw == NULL)
        return NULL;
    pw->ep = epoll_create1(EPOLL_CLOEXEC);
    if (pw->ep < 0) {
        free(pw);
        return NULL;
    }
    return pw;
}

void pidwatch_free(struct pidwatch *pw)
{
    size_t k;

    if (pw == NULL)
        return;
    for (k = 0; k < pw->n; k++)
        close(pw->w[k].fd);
    close(pw->ep);
    free(pw->w);
    free(pw->index);
    free(pw);
}

void pidwatch_poll(struct pidwatch *pw)
{
    struct epoll_event ev[EVENTS_MAX];
    int n, i;

    if (pw == NULL)
        return;
    do {
        n = epoll_wait(pw->ep, ev, EVENTS_MAX, 0);
        for (i = 0; i < n; i++) {
            struct watched *w = find(pw, (long)ev[i].data.u64);

            if (w == NULL)
                continue;
            w->ended = 1;
            epoll_ctl(pw->ep, EPOLL_CTL_DEL, w->fd, NULL);
        }
    } while (n == EVENTS_MAX);
}

/* Opens a pidfd of pid and checks that it is the process started at
 * pstart.  Returns the pidfd, -1 when pid is not that process (or none),
 * -2 when no pidfd can be had. */
static int open_checked(long pid, unsigned long long pstart)
{
    struct proc_stat st;
    int fd;

    if (pid <= 0)
        return -1;
    fd = pidfd_open((pid_t)pid, 0);
    if (fd < 0)
        return errno == ESRCH || errno == EINVAL ? -1 : -2;
    /* Read after the open: if it shows pstart, the pidfd is of that
     * process (a pid is reused only after its process was reaped). */
    if (proc_stat_read(pid, &st) < 0 || st.state == 'Z' || st.state == 'X' ||
        st.start != pstart) {
        close(fd);
        return -1;
    }
    return fd;
}

int pidwatch_alive(struct pidwatch *pw, long key, long pid,
                   unsigned long long pstart)
{
    struct epoll_event ev;
    struct watched *w = find(pw, key);
    size_t i;
    int fd;

    if (w != NULL && w->pid == pid && w->pstart == pstart) {
        w->asked = 1;
        return !w->ended;
    }
    fd = open_checked(pid, pstart);
    if (fd == -2)
        return -1;
    if (fd < 0) {
        if (w != NULL)
            w->asked = 0; /* another process than the record's: swept */
        return 0;
    }
    if (w == NULL) {
        if (pw->n == pw->cap) {
            size_t cap = pw->cap ? 2 * pw->cap : 64;
            struct watched *nw = realloc(pw->w, cap * sizeof(*nw));

            if (nw == NULL) {
                close(fd);
                return -1;
            }
            pw->w = nw;
            pw->cap = cap;
        }
        if (2 * (pw->n + 1) > pw->nindex && reindex(pw, pw->n + 1) < 0) {
            close(fd);
            return -1;
        }
        w = &pw->w[pw->n];
        w->key = key;
        w->fd = -1;
        for (i = slot_of(pw, key); pw->index[i] != 0; i = (i + 1) & (pw->nindex - 1))
            ;
        pw->index[i] = ++pw->n;
    }
    if (w->fd >= 0)
        close(w->fd); /* leaves the epoll set with it */
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.u64 = (uint64_t)key;
    w->pid = pid;
    w->pstart = pstart;
    w->fd = fd;
    w->ended = 0;
    w->asked = 1;
    if (epoll_ctl(pw->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        /* Unwatchable: ended as soon as asked again, so it is read anew. */
        w->ended = 1;
        w->pstart = ~0ULL;
        return 1;
    }
    return 1;
}

void pidwatch_sweep(struct pidwatch *pw)
{
    size_t k, kept = 0;

    if (pw == NULL)
        return;
    for (k = 0; k < pw->n; k++) {
        if (!pw->w[k].asked) {
            close(pw->w[k].fd);
            continue;
        }
        pw->w[k].asked = 0;
        pw->w[kept++] = pw->w[k];
    }
    if (kept != pw->n) {
        pw->n = kept;
        reindex(pw, kept);
    }
}

long pidwatch_count(const struct pidwatch *pw)
{
    return pw != NULL ? (long)pw->n : 0;
}
