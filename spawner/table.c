/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * table.c - the worker table of steel-spawner, its watches and its
 * signals (internal.h has the states and their transitions), and the
 * handles a worker entry holds: its pidfd, its setup pipe and the
 * /health request start.c may have in flight for it (all released when
 * the entry is removed).
 *
 * The bottom layer: it calls no other file of spawner/.  What it finds
 * it marks in the worker (exited, err_ready) and its callers act on it.
 * It owns s->table.
 *
 * Invariants: the table is sorted by worker id and no two entries share
 * one; entries are removed by pointer, never by id; each worker's epoll
 * entries carry its serial (unique in this process), not its id or a
 * pointer, so an event of a removed worker finds nothing; a worker is
 * signalled only under the kill rule of common/proc.h, and a reaped child
 * not at all.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <unistd.h>

#include "internal.h"
#include "log.h"
#include "proc.h"

#define EVENTS_MAX 256 /* epoll room beyond two events per worker */

/* epoll data: worker serial << 1 | kind. */
#define WATCH_PIDFD 0
#define WATCH_ERRFD 1

void table_init(struct spawner *s)
{
    s->table.epfd = -1;
}

int table_open(struct spawner *s)
{
    s->table.multi = curl_multi_init();
    s->table.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (s->table.multi == NULL || s->table.epfd < 0) {
        log_warn("cannot set up the event loop");
        return -1;
    }
    curl_multi_setopt(s->table.multi, CURLMOPT_MAXCONNECTS, 16L);
    return 0;
}

void table_release(struct spawner *s)
{
    while (s->table.n > 0)
        table_remove(s, s->table.w[s->table.n - 1]);
    free(s->table.w);
    free(s->table.ev);
    if (s->table.multi != NULL)
        curl_multi_cleanup(s->table.multi);
    if (s->table.epfd >= 0)
        close(s->table.epfd);
}

/* Index of worker id, or -1. */
static long table_find(const struct spawner *s, long id)
{
    size_t lo = 0, hi = s->table.n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (s->table.w[mid]->id == id)
            return (long)mid;
        if (s->table.w[mid]->id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

struct worker *table_get(const struct spawner *s, long id)
{
    long i = table_find(s, id);

    return i < 0 ? NULL : s->table.w[i];
}

/* A reaped pid (has_status, GONE) may belong to another process by now. */
struct worker *table_by_pid(const struct spawner *s, long pid)
{
    size_t i;

    for (i = 0; i < s->table.n; i++) {
        const struct worker *w = s->table.w[i];

        if (w->pid == pid && w->state != SPAWNER_W_GONE && !w->has_status)
            return s->table.w[i];
    }
    return NULL;
}

/* The worker with serial, or NULL. */
static struct worker *table_by_serial(const struct spawner *s, uint64_t serial)
{
    size_t i;

    for (i = 0; i < s->table.n; i++) {
        if (s->table.w[i]->serial == serial)
            return s->table.w[i];
    }
    return NULL;
}

long table_max_id(const struct spawner *s)
{
    return s->table.n > 0 ? s->table.w[s->table.n - 1]->id : 0;
}

size_t table_live(const struct spawner *s)
{
    size_t i, live = 0;

    for (i = 0; i < s->table.n; i++) {
        if (s->table.w[i]->state != SPAWNER_W_GONE)
            live++;
    }
    return live;
}

/* Needs nothing of the turn: running, its healthy start behind it, its
 * exit watched through a pidfd (or, for a child, waitpid), nothing to
 * read, no deadline. */
static int worker_settled(const struct worker *w)
{
    return w->state == SPAWNER_W_RUNNING && w->healthy && !w->exited &&
           !w->err_ready && w->err_fd < 0 && w->probe == NULL &&
           (w->pidfd >= 0 || w->child);
}

/* Untouched, a settled worker stays settled: the look goes on from the
 * first worker the last one found unsettled. */
int table_settled(struct spawner *s)
{
    size_t i;

    if (s->table.settled)
        return 1;
    for (i = s->table.unsettled; i < s->table.n; i++) {
        if (!worker_settled(s->table.w[i])) {
            s->table.unsettled = i;
            return 0;
        }
    }
    s->table.settled = 1;
    return 1;
}

void table_touch(struct spawner *s)
{
    s->table.settled = 0;
    s->table.unsettled = 0;
    s->table.touches++;
}

int table_insert(struct spawner *s, struct worker *w)
{
    size_t pos = s->table.n;

    if (s->table.n == s->table.cap) {
        size_t cap = s->table.cap ? s->table.cap * 2 : 64;
        struct worker **nw = realloc(s->table.w, cap * sizeof(*nw));

        if (nw == NULL)
            return -1;
        s->table.w = nw;
        s->table.cap = cap;
    }
    while (pos > 0 && s->table.w[pos - 1]->id > w->id)
        pos--;
    memmove(&s->table.w[pos + 1], &s->table.w[pos],
            (s->table.n - pos) * sizeof(*s->table.w));
    s->table.w[pos] = w;
    s->table.n++;
    w->serial = ++s->table.serial;
    table_touch(s);
    return 0;
}

void table_unwatch(struct spawner *s, int *fd)
{
    if (*fd < 0)
        return;
    /* Explicitly: a child between fork and exec holds a copy of the fd,
     * and the epoll entry lives as long as any copy does. */
    epoll_ctl(s->table.epfd, EPOLL_CTL_DEL, *fd, NULL);
    close(*fd);
    *fd = -1;
}

void table_probe_cancel(struct spawner *s, struct worker *w)
{
    if (w->probe == NULL)
        return;
    probe_cancel(s->table.multi, w->probe->easy);
    free(w->probe);
    w->probe = NULL;
}

void table_remove(struct spawner *s, struct worker *w)
{
    size_t i;

    table_probe_cancel(s, w);
    table_unwatch(s, &w->pidfd);
    table_unwatch(s, &w->err_fd);
    table_touch(s);
    for (i = 0; i < s->table.n; i++) {
        if (s->table.w[i] == w) {
            memmove(&s->table.w[i], &s->table.w[i + 1],
                    (s->table.n - i - 1) * sizeof(*s->table.w));
            s->table.n--;
            break;
        }
    }
    free(w);
}

static void watch_fd(struct spawner *s, struct worker *w, int fd, int kind)
{
    struct epoll_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.u64 = (w->serial << 1) | (uint64_t)kind;
    if (epoll_ctl(s->table.epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
        log_warn("worker %s (pid %ld, port %d): epoll_ctl", w->sid, w->pid,
                 w->port);
}

void table_watch(struct spawner *s, struct worker *w)
{
    table_touch(s);
    if (w->err_fd >= 0)
        watch_fd(s, w, w->err_fd, WATCH_ERRFD);
    w->pidfd = pidfd_open((pid_t)w->pid, 0);
    if (w->pidfd < 0) {
        if (errno == ESRCH)
            w->exited = 1;
        else
            log_warn("worker %s (pid %ld, port %d): pidfd_open", w->sid, w->pid,
                     w->port);
        return;
    }
    watch_fd(s, w, w->pidfd, WATCH_PIDFD);
}

/* The fds are level-triggered and a pidfd stays readable until the worker
 * is handled, so one call with room for two events per worker sees them
 * all; calling again before handling them would only repeat them. */
void table_events(struct spawner *s)
{
    size_t want = 2 * s->table.n + EVENTS_MAX;
    int n, i;

    if (s->table.evcap < want) {
        struct epoll_event *ev = realloc(s->table.ev, want * sizeof(*ev));

        if (ev != NULL) {
            s->table.ev = ev;
            s->table.evcap = want;
        }
    }
    if (s->table.ev == NULL)
        return;
    n = epoll_wait(s->table.epfd, s->table.ev, (int)s->table.evcap, 0);
    if (n > 0)
        table_touch(s);
    for (i = 0; i < n; i++) {
        struct worker *w = table_by_serial(s, s->table.ev[i].data.u64 >> 1);

        if (w == NULL)
            continue;
        if ((s->table.ev[i].data.u64 & 1) == WATCH_ERRFD)
            w->err_ready = 1;
        else
            w->exited = 1;
    }
}

void table_signal(struct worker *w, int sig)
{
    /* A reaped child's pid may be another process's already. */
    if (w->child && w->has_status)
        return;
    proc_kill(w->pid, w->pstart, w->pidfd, sig);
}

void table_kill(struct spawner *s, struct worker *w)
{
    table_signal(w, SIGKILL);
    /* Whatever it started, however it left its process group. */
    if (s->loop.cg.on)
        cgroup_worker_kill(&s->loop.cg, w->id);
}

void table_stop(struct spawner *s, struct worker *w, enum spawner_stop why,
                int sig, int64_t now)
{
    table_probe_cancel(s, w);
    table_touch(s);
    if (w->state != SPAWNER_W_STOPPING || why == SPAWNER_STOP_SHUTDOWN)
        w->stop_why = why;
    w->state = SPAWNER_W_STOPPING;
    if (sig == SIGKILL)
        table_kill(s, w);
    else
        table_signal(w, sig);
    w->kill_at_ms =
        now + (sig == SIGKILL ? SPAWNER_KILL_REPEAT_MS : SPAWNER_STOP_GRACE_MS);
}
