/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * cgroup_worker.c - the group of one worker (cgroup.h): its making, its
 * limits, its members, its kill, its removal, its OOM count, and the
 * identity rule on /proc/<pid>/cgroup.
 *
 * Invariants: every path is built from struct cgroup with a truncation
 * check; a signal from the kill fallback goes only to a process held by a
 * pidfd and found, through that pidfd's pid, in the worker's group (a pid
 * read from cgroup.procs may be reused before the signal); nothing here
 * reads the environment of a process, or Redis.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "cgroup_int.h"
#include "log.h"
#include "util.h"

#define KILL_TRIES     200  /* rounds of the SIGKILL fallback */
#define KILL_ROUND_US  2000 /* between two rounds */
#define KILL_SETTLE_MS 20   /* after cgroup.kill, for the exits */

/* ---- worker groups ------------------------------------------------------ */

/* Writes a number to file of worker id's group in the hierarchy of ctl.
 * optional: a missing file is no error. */
static int limit_put(const struct cgroup *cg, enum cgroup_ctl ctl, long id,
                     const char *file, const char *value, int optional,
                     char *err, size_t errsize)
{
    char path[CGROUP_PATH_MAX + 64];

    if (cgroup_wpath(&cg->hier[cg->ctl[ctl]], id, file, path, sizeof(path)) < 0)
        return -1;
    if (optional && access(path, F_OK) < 0)
        return 0;
    if (cgroup_put(path, value) < 0) {
        snprintf(err, errsize, "cannot write %s to %s: %s", value, path,
                 strerror(errno));
        return -1;
    }
    return 0;
}

int cgroup_worker_create(const struct cgroup *cg, long id,
                         const struct cgroup_limits *lim, char *err,
                         size_t errsize)
{
    char path[CGROUP_PATH_MAX + 64], v[64];
    int i;

    for (i = 0; i < cg->nhier; i++) {
        if (cgroup_wpath(&cg->hier[i], id, NULL, path, sizeof(path)) < 0 ||
            (mkdir(path, 0755) < 0 && errno != EEXIST)) {
            snprintf(err, errsize, "cannot make %s: %s", path, strerror(errno));
            return -1;
        }
    }
    if (lim->memory_mb > 0 && cg->ctl[CGROUP_MEMORY] >= 0) {
        int v2 = cg->hier[cg->ctl[CGROUP_MEMORY]].v2;

        snprintf(v, sizeof(v), "%lld", (long long)lim->memory_mb << 20);
        if (limit_put(cg, CGROUP_MEMORY, id,
                      v2 ? "memory.max" : "memory.limit_in_bytes", v, 0, err,
                      errsize) < 0)
            return -1;
        /* No swap: the limit holds memory and swap together. */
        if (v2) {
            if (limit_put(cg, CGROUP_MEMORY, id, "memory.swap.max", "0", 1, err,
                          errsize) < 0 ||
                limit_put(cg, CGROUP_MEMORY, id, "memory.oom.group", "1", 1,
                          err, errsize) < 0)
                return -1;
        } else if (limit_put(cg, CGROUP_MEMORY, id,
                             "memory.memsw.limit_in_bytes", v, 1, err,
                             errsize) < 0 ||
                   limit_put(cg, CGROUP_MEMORY, id, "memory.swappiness", "0", 1,
                             err, errsize) < 0) {
            return -1;
        }
    }
    if (lim->pids > 0 && cg->ctl[CGROUP_PIDS] >= 0) {
        snprintf(v, sizeof(v), "%ld", lim->pids);
        if (limit_put(cg, CGROUP_PIDS, id, "pids.max", v, 0, err, errsize) < 0)
            return -1;
    }
    if (cg->ctl[CGROUP_CPU] >= 0) {
        int v2 = cg->hier[cg->ctl[CGROUP_CPU]].v2;

        if (lim->cpu_weight > 0) {
            long shares = lim->cpu_weight * 1024 / 100;

            snprintf(v, sizeof(v), "%ld",
                     v2 ? lim->cpu_weight : (shares < 2 ? 2 : shares));
            if (limit_put(cg, CGROUP_CPU, id, v2 ? "cpu.weight" : "cpu.shares",
                          v, 0, err, errsize) < 0)
                return -1;
        }
        if (lim->cpu_pct > 0) {
            snprintf(v, sizeof(v), v2 ? "%ld 100000" : "%ld",
                     lim->cpu_pct * 1000);
            if ((!v2 && limit_put(cg, CGROUP_CPU, id, "cpu.cfs_period_us",
                                  "100000", 0, err, errsize) < 0) ||
                limit_put(cg, CGROUP_CPU, id,
                          v2 ? "cpu.max" : "cpu.cfs_quota_us", v, 0, err,
                          errsize) < 0)
                return -1;
        }
    }
    return 0;
}

int cgroup_worker_attach(const struct cgroup *cg, long id, pid_t pid)
{
    char path[CGROUP_PATH_MAX + 64], v[32];
    int i;

    snprintf(v, sizeof(v), "%ld", (long)pid);
    /* The controllers first: once in the main group it is a worker. */
    for (i = cg->nhier - 1; i >= 0; i--) {
        if (cgroup_wpath(&cg->hier[i], id, "cgroup.procs", path, sizeof(path)) <
            0) {
            errno = ENAMETOOLONG;
            return -1;
        }
        if (cgroup_put(path, v) < 0)
            return -1;
    }
    return 0;
}

int cgroup_worker_pids(const struct cgroup *cg, long id, long *pids, int max)
{
    char path[CGROUP_PATH_MAX + 64], *buf, *p, *end;
    int n = 0;

    buf = malloc(CGROUP_FILE_MAX);
    if (buf == NULL ||
        cgroup_wpath(&cg->hier[0], id, "cgroup.procs", path, sizeof(path)) <
            0 ||
        cgroup_slurp(path, buf, CGROUP_FILE_MAX) < 0) {
        free(buf);
        return -1;
    }
    for (p = buf; n < max;) {
        long v;

        errno = 0;
        v = strtol(p, &end, 10);
        if (end == p || errno != 0)
            break;
        if (v > 1)
            pids[n++] = v;
        p = end;
    }
    free(buf);
    return n;
}

int cgroup_worker_empty(const struct cgroup *cg, long id)
{
    long pid;

    return cgroup_worker_pids(cg, id, &pid, 1) <= 0;
}

/* SIGKILL to pid when it is, through a pidfd that pins it, still in
 * worker id's group.  Returns 1 when sent. */
static int kill_member(const struct cgroup *cg, long id, long pid)
{
    int fd = pidfd_open((pid_t)pid, 0), rc = 0;
    long got;

    if (fd < 0)
        return 0;
    if (cgroup_pid_worker(cg, cg->procroot, pid, &got) == 1 && got == id)
        rc = pidfd_send_signal(fd, SIGKILL, NULL, 0) == 0;
    close(fd);
    return rc;
}

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

int cgroup_worker_kill(const struct cgroup *cg, long id)
{
    char path[CGROUP_PATH_MAX + 64];
    long pids[256];
    int t, n;

    if (cg->has_kill) {
        if (cgroup_wpath(&cg->hier[0], id, "cgroup.kill", path, sizeof(path)) <
            0)
            return -1;
        if (cgroup_put(path, "1") < 0 && errno != ENOENT) {
            log_warn("worker %ld: cannot write %s", id, path);
            return -1;
        }
        for (t = 0; t < KILL_SETTLE_MS && !cgroup_worker_empty(cg, id); t++)
            sleep_us(1000);
        return cgroup_worker_empty(cg, id);
    }
    /* Frozen, nothing in the group can fork while we read and kill. */
    if (cg->has_freeze && cgroup_wpath(&cg->hier[0], id, "cgroup.freeze", path,
                                       sizeof(path)) == 0)
        cgroup_put(path, "1");
    for (t = 0; t < KILL_TRIES; t++) {
        int i;

        n = cgroup_worker_pids(cg, id, pids,
                               (int)(sizeof(pids) / sizeof(pids[0])));
        if (n <= 0)
            break;
        for (i = 0; i < n; i++)
            kill_member(cg, id, pids[i]);
        sleep_us(KILL_ROUND_US);
    }
    if (cg->has_freeze && cgroup_wpath(&cg->hier[0], id, "cgroup.freeze", path,
                                       sizeof(path)) == 0)
        cgroup_put(path, "0");
    return cgroup_worker_empty(cg, id);
}

int cgroup_worker_remove(const struct cgroup *cg, long id)
{
    char path[CGROUP_PATH_MAX + 64];
    int i, rc = 0;

    for (i = 0; i < cg->nhier; i++) {
        if (cgroup_wpath(&cg->hier[i], id, NULL, path, sizeof(path)) < 0)
            continue;
        if (rmdir(path) < 0 && errno != ENOENT) {
            int e = errno;

            rc = -1;
            errno = e;
        }
    }
    return rc;
}

/* The number after "key " on a line of buf, or -1. */
static long field_of(const char *buf, const char *key)
{
    size_t kl = strlen(key);
    const char *p = buf;

    while (*p != '\0') {
        if (strncmp(p, key, kl) == 0 && p[kl] == ' ')
            return strtol(p + kl + 1, NULL, 10);
        p += strcspn(p, "\n");
        if (*p == '\n')
            p++;
    }
    return -1;
}

int cgroup_worker_oom(const struct cgroup *cg, long id)
{
    char path[CGROUP_PATH_MAX + 64], buf[1024];
    const struct cgroup_hier *h;

    if (cg->ctl[CGROUP_MEMORY] < 0)
        return 0;
    h = &cg->hier[cg->ctl[CGROUP_MEMORY]];
    if (cgroup_wpath(h, id, h->v2 ? "memory.events" : "memory.oom_control",
                     path, sizeof(path)) < 0 ||
        cgroup_slurp(path, buf, sizeof(buf)) < 0)
        return 0;
    if (field_of(buf, "oom_kill") > 0)
        return 1;
    return !h->v2 && field_of(buf, "under_oom") > 0;
}

int cgroup_workers_each(const struct cgroup *cg, void (*fn)(long id, void *arg),
                        void *arg)
{
    char path[CGROUP_PATH_MAX + 64];
    struct dirent *de;
    DIR *d;
    int n = 0;

    if (cgroup_hpath(&cg->hier[0], "/workers", path, sizeof(path)) < 0 ||
        (d = opendir(path)) == NULL)
        return -1;
    while ((de = readdir(d)) != NULL) {
        long id;

        if (de->d_name[0] != 'w' ||
            parse_long(de->d_name + 1, 0, 0x7fffffffffffL, &id) < 0)
            continue;
        n++;
        fn(id, arg);
    }
    closedir(d);
    return n;
}

/* ---- identity ------------------------------------------------------------ */

int cgroup_parse_worker(const struct cgroup *cg, const char *buf, size_t len,
                        long *id)
{
    const struct cgroup_hier *h = &cg->hier[0];
    char tmp[8192], path[CGROUP_PATH_MAX], prefix[CGROUP_PATH_MAX + 16];
    size_t pl;
    long v = 0;
    int n, digits = 0;
    const char *p;

    if (!cg->on || len >= sizeof(tmp))
        return 0;
    memcpy(tmp, buf, len);
    tmp[len] = '\0';
    if (cgroup_self_path(tmp, h->v2 ? NULL : h->ctls, path, sizeof(path)) < 0)
        return 0;
    n = snprintf(prefix, sizeof(prefix), "%s/workers/w", h->base);
    if (n < 0 || (size_t)n >= sizeof(prefix))
        return 0;
    pl = (size_t)n;
    if (strncmp(path, prefix, pl) != 0)
        return 0;
    for (p = path + pl; *p >= '0' && *p <= '9' && digits < 15; p++, digits++)
        v = v * 10 + (*p - '0');
    if (digits == 0 || (*p != '\0' && *p != '/'))
        return 0;
    *id = v;
    return 1;
}

int cgroup_pid_worker(const struct cgroup *cg, const char *procroot, long pid,
                      long *id)
{
    char path[CGROUP_PATH_MAX + 32], buf[4096];
    ssize_t n;

    if (pid <= 0 || snprintf(path, sizeof(path), "%s/%ld/cgroup", procroot,
                             pid) >= (int)sizeof(path))
        return 0;
    n = cgroup_slurp(path, buf, sizeof(buf));
    if (n <= 0)
        return 0;
    return cgroup_parse_worker(cg, buf, (size_t)n, id);
}
