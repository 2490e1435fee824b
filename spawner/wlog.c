/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * wlog.c - the workers' log files: <worker_log_dir>/worker-<port>.log,
 * where each worker's stdout and stderr are appended (launch.c opens
 * them with O_APPEND), and their trimming: about once a second
 * (wlog_check, from the housekeeping) a log larger than worker_log_max is
 * truncated to zero; the worker keeps writing with O_APPEND, so it
 * continues at the new end.
 *
 * Only the logs that were written are looked at: an inotify watch on
 * worker_log_dir (IN_MODIFY) names them, so a pool of quiet workers costs
 * one read() a second however many workers it holds.  Every worker's log
 * is looked at after the watch was set up, when its queue overflowed,
 * and on every check while there is no watch (inotify refused: out of
 * watches, or a file system without it).
 *
 * A log that is looked at stays open (fds, O_WRONLY, never written): the
 * next look is an lseek() to its end and the trim an ftruncate(), with no
 * path to resolve and no permission hook (an fstat() has one), and a log
 * deleted while its worker writes is still bounded.  The fd is closed
 * when its port is given back or handed to a new worker (wlog_forget); at
 * most fds_max are kept, and none unless the open-file limit leaves room
 * for them beside the pidfds and connections (WLOG_FDS_ROOM); past that a
 * log is looked at through its name.
 *
 * The bottom layer: it calls no other file of spawner/.  It owns s->wlog.
 *
 * Invariants: only the logs of ports a worker of ours holds (the port map
 * of start.c) are truncated; a log written since the last check is looked
 * at by the next one, whatever the watch's queue did meanwhile.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "log.h"

#define WLOG_PREFIX "worker-"
#define WLOG_SUFFIX ".log"
#define WLOG_PORTS  65536
/* Logs are kept open only when RLIMIT_NOFILE is at least this many times
 * pool_max_workers (its pidfd, its log, a connection), plus 256. */
#define WLOG_FDS_ROOM 3

void wlog_init(struct spawner *s)
{
    s->wlog.fd = -1;
    s->wlog.dirfd = -1;
    s->wlog.all = 1;
}

void wlog_forget(struct spawner *s, int port)
{
    if (s->wlog.fds == NULL || port < 0 || port >= WLOG_PORTS ||
        s->wlog.fds[port] < 0)
        return;
    close(s->wlog.fds[port]);
    s->wlog.fds[port] = -1;
    s->wlog.nfds--;
}

void wlog_release(struct spawner *s)
{
    int port;

    for (port = 0; s->wlog.fds != NULL && port < WLOG_PORTS; port++)
        wlog_forget(s, port);
    free(s->wlog.fds);
    s->wlog.fds = NULL;
    s->wlog.fds_max = 0;
    if (s->wlog.fd >= 0)
        close(s->wlog.fd);
    if (s->wlog.dirfd >= 0)
        close(s->wlog.dirfd);
    s->wlog.fd = -1;
    s->wlog.dirfd = -1;
    s->wlog.n = 0;
    memset(s->wlog.marked, 0, sizeof(s->wlog.marked));
}

void wlog_open(struct spawner *s)
{
    struct rlimit rl;
    int port;

    wlog_release(s);
    s->wlog.all = 1; /* what was written before the watch */
    s->wlog.dirfd =
        open(s->c->worker_log_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->wlog.dirfd >= 0 && getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
        (rl.rlim_cur == RLIM_INFINITY ||
         rl.rlim_cur >= (rlim_t)(WLOG_FDS_ROOM * s->c->pool_max_workers + 256)))
        s->wlog.fds = malloc(WLOG_PORTS * sizeof(*s->wlog.fds));
    for (port = 0; s->wlog.fds != NULL && port < WLOG_PORTS; port++)
        s->wlog.fds[port] = -1;
    s->wlog.fds_max = s->wlog.fds != NULL ? s->c->pool_max_workers : 0;
    s->wlog.fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (s->wlog.fd < 0) {
        log_warn("inotify_init1: every worker log is checked each second");
        return;
    }
    if (inotify_add_watch(s->wlog.fd, s->c->worker_log_dir, IN_MODIFY) < 0) {
        log_warn("watching worker_log_dir %s: every worker log is checked "
                 "each second",
                 s->c->worker_log_dir);
        close(s->wlog.fd);
        s->wlog.fd = -1;
    }
}

int wlog_path(const struct spawner *s, int port, char *out, size_t size)
{
    int n = snprintf(out, size, "%s/worker-%d.log", s->c->worker_log_dir, port);

    return (n < 0 || (size_t)n >= size) ? -1 : 0;
}

void wlog_trim(struct spawner *s, int port)
{
    char path[CONF_STR_MAX + 32], name[32];
    struct stat st;
    int rc;

    wlog_forget(s, port); /* a new worker: maybe another file by now */
    if (s->c->worker_log_max <= 0 || wlog_path(s, port, path, sizeof(path)))
        return;
    /* Through the directory: one name to look up, not the whole path. */
    snprintf(name, sizeof(name), "worker-%d.log", port);
    rc = s->wlog.dirfd >= 0 ? fstatat(s->wlog.dirfd, name, &st, 0)
                            : stat(path, &st);
    if (rc < 0 || st.st_size <= s->c->worker_log_max)
        return;
    if (truncate(path, 0) < 0)
        log_warn("truncating %s", path);
    else
        log_debug("%s reached %lld bytes; truncated", path,
                  (long long)st.st_size);
}

/* Looks at the log of port through the fd kept for it (opened now when
 * there is room), else through its name. */
static void wlog_look(struct spawner *s, int port)
{
    char name[32];
    off_t size;
    int *fd;

    if (s->c->worker_log_max <= 0)
        return;
    if (s->wlog.fds == NULL || port < 0 || port >= WLOG_PORTS) {
        wlog_trim(s, port);
        return;
    }
    fd = &s->wlog.fds[port];
    if (*fd < 0 && s->wlog.nfds < s->wlog.fds_max) {
        snprintf(name, sizeof(name), "worker-%d.log", port);
        *fd = openat(s->wlog.dirfd, name,
                     O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (*fd >= 0)
            s->wlog.nfds++;
    }
    if (*fd < 0) {
        wlog_trim(s, port);
        return;
    }
    /* Its size: the end, which costs less than an fstat(). */
    size = lseek(*fd, 0, SEEK_END);
    if (size < 0 || size <= s->c->worker_log_max)
        return;
    if (ftruncate(*fd, 0) < 0)
        log_warn("truncating the log of port %d", port);
    else
        log_debug("the log of port %d reached %lld bytes; truncated", port,
                  (long long)size);
}

/* The port of a log's file name "worker-<port>.log", or -1. */
static int wlog_port(const char *name)
{
    size_t plen = strlen(WLOG_PREFIX);
    char *end;
    long port;

    if (strncmp(name, WLOG_PREFIX, plen) != 0 || name[plen] < '0' ||
        name[plen] > '9')
        return -1;
    errno = 0;
    port = strtol(name + plen, &end, 10);
    if (errno != 0 || port < 1 || port > 65535 || strcmp(end, WLOG_SUFFIX) != 0)
        return -1;
    return (int)port;
}

/* Notes port's log as written (all of them when the list is full). */
static void wlog_mark(struct spawner *s, int port)
{
    unsigned char bit = (unsigned char)(1u << (port & 7));

    if (s->wlog.marked[port >> 3] & bit)
        return;
    if (s->wlog.n == WLOG_CHANGED_MAX) {
        s->wlog.all = 1;
        return;
    }
    s->wlog.marked[port >> 3] |= bit;
    s->wlog.ports[s->wlog.n++] = port;
}

/* Reads what the watch queued: the logs written since the last read. */
static void wlog_drain(struct spawner *s)
{
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

    for (;;) {
        ssize_t len = read(s->wlog.fd, buf, sizeof(buf));
        const char *p;

        if (len < 0 && errno == EINTR)
            continue;
        if (len <= 0) {
            if (len < 0 && errno != EAGAIN)
                log_warn("reading the worker_log_dir watch");
            return;
        }
        for (p = buf; p < buf + len;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            int port;

            p += sizeof(*ev) + ev->len;
            if (ev->mask & IN_Q_OVERFLOW)
                s->wlog.all = 1;
            if (ev->mask & IN_IGNORED) {
                /* The directory went away: no watch until a reload. */
                log_warnx("worker_log_dir %s is no longer watched: every "
                          "worker log is checked each second",
                          s->c->worker_log_dir);
                close(s->wlog.fd);
                s->wlog.fd = -1;
                if (s->wlog.dirfd >= 0)
                    close(s->wlog.dirfd); /* paths from now on */
                s->wlog.dirfd = -1;
                s->wlog.all = 1;
                return;
            }
            if (ev->len > 0 && (port = wlog_port(ev->name)) > 0)
                wlog_mark(s, port);
        }
    }
}

void wlog_check(struct spawner *s)
{
    size_t i;

    if (s->wlog.fd >= 0)
        wlog_drain(s);
    if (s->wlog.fd < 0 || s->wlog.all) {
        for (i = 0; i < s->table.n; i++) {
            if (s->table.w[i]->state != SPAWNER_W_GONE)
                wlog_look(s, s->table.w[i]->port);
        }
        s->wlog.all = 0;
    } else {
        for (i = 0; i < s->wlog.n; i++) {
            if (s->start.ports.taken != NULL &&
                s->start.ports.taken[s->wlog.ports[i]])
                wlog_look(s, s->wlog.ports[i]);
        }
    }
    for (i = 0; i < s->wlog.n; i++)
        s->wlog.marked[s->wlog.ports[i] >> 3] = 0;
    s->wlog.n = 0;
}
