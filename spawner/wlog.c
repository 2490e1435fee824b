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
 * is looked at (a stat each) after the watch was set up, when its queue
 * overflowed, and on every check while there is no watch (inotify
 * refused: out of watches, or a file system without it).
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
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "log.h"

#define WLOG_PREFIX "worker-"
#define WLOG_SUFFIX ".log"

void wlog_init(struct spawner *s)
{
    s->wlog.fd = -1;
    s->wlog.dirfd = -1;
    s->wlog.all = 1;
}

void wlog_release(struct spawner *s)
{
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
    wlog_release(s);
    s->wlog.all = 1; /* what was written before the watch */
    s->wlog.dirfd =
        open(s->c->worker_log_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
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

void wlog_trim(const struct spawner *s, int port)
{
    char path[CONF_STR_MAX + 32], name[32];
    struct stat st;
    int rc;

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
                wlog_trim(s, s->table.w[i]->port);
        }
        s->wlog.all = 0;
    } else {
        for (i = 0; i < s->wlog.n; i++) {
            if (s->start.ports.taken != NULL &&
                s->start.ports.taken[s->wlog.ports[i]])
                wlog_trim(s, s->wlog.ports[i]);
        }
    }
    for (i = 0; i < s->wlog.n; i++)
        s->wlog.marked[s->wlog.ports[i] >> 3] = 0;
    s->wlog.n = 0;
}
