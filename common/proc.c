/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * proc.c - worker processes in /proc, and the kill rule (proc.h).
 *
 * Invariants: every reading of /proc goes through read_file() with a
 * bounded buffer; a signal goes only to a process whose identity was just
 * checked (pidfd or start time); a process group is signalled only when
 * the process leads it, and never our own group or group 0 or 1.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <unistd.h>

#include "cgroup.h"
#include "log.h"
#include "proc.h"
#include "util.h"

#define PROC_ROOT "/proc"

/* Reads <root>/<pid>/<name> into buf (at most size bytes, no NUL
 * added).  Returns the length read, or -1 when it cannot be opened or
 * read. */
static ssize_t read_file(const char *root, long pid, const char *name,
                         char *buf, size_t size)
{
    char path[PATH_MAX];
    int n;

    if (pid > 0)
        n = snprintf(path, sizeof(path), "%s/%ld/%s", root, pid, name);
    else
        n = snprintf(path, sizeof(path), "%s/%s", root, name);
    if (n < 0 || (size_t)n >= sizeof(path))
        return -1;
    return read_path(path, buf, size);
}

int proc_stat_parse(const char *buf, size_t len, struct proc_stat *out)
{
    char tmp[PROC_STAT_MAX], *p, *end;
    int field;

    if (len == 0 || len >= sizeof(tmp))
        return -1;
    memcpy(tmp, buf, len);
    tmp[len] = '\0';
    p = strrchr(tmp, ')');
    if (p == NULL || p[1] != ' ' || p[2] == '\0')
        return -1;
    p += 2; /* field 3 */
    out->state = *p;
    for (field = 3; field < 22; field++) {
        if (field == 4 || field == 5) {
            long v;

            errno = 0;
            v = strtol(p, &end, 10);
            if (errno != 0 || end == p || *end != ' ')
                return -1;
            if (field == 4)
                out->ppid = v;
            else
                out->pgid = v;
        }
        p = strchr(p, ' ');
        if (p == NULL)
            return -1;
        p++;
    }
    errno = 0;
    out->start = strtoull(p, &end, 10);
    if (errno != 0 || end == p)
        return -1;
    return 0;
}

static int stat_read_at(const char *root, long pid, struct proc_stat *out)
{
    char buf[PROC_STAT_MAX];
    ssize_t n;

    if (pid <= 0)
        return -1;
    n = read_file(root, pid, "stat", buf, sizeof(buf) - 1);
    if (n <= 0)
        return -1;
    return proc_stat_parse(buf, (size_t)n, out);
}

int proc_stat_read(long pid, struct proc_stat *out)
{
    return stat_read_at(PROC_ROOT, pid, out);
}

int proc_start_time(long pid, unsigned long long *out)
{
    struct proc_stat st;

    if (proc_stat_read(pid, &st) < 0)
        return -1;
    *out = st.start;
    return 0;
}

/* 1 when st is of a process that still runs: not a zombie, not dead. */
static int stat_running(const struct proc_stat *st)
{
    return st->state != 'Z' && st->state != 'X';
}

int proc_alive(long pid, unsigned long long pstart)
{
    struct proc_stat st;

    return proc_stat_read(pid, &st) == 0 && stat_running(&st) &&
           st.start == pstart;
}

int64_t proc_age_ms(unsigned long long pstart)
{
    char buf[128], *end;
    ssize_t n;
    double up;
    long hz = sysconf(_SC_CLK_TCK);

    n = read_file(PROC_ROOT, 0, "uptime", buf, sizeof(buf) - 1);
    if (n <= 0 || hz <= 0)
        return -1;
    buf[n] = '\0';
    up = strtod(buf, &end);
    if (end == buf)
        return -1;
    return (int64_t)(up * 1000.0) -
           (int64_t)(pstart * 1000ULL / (unsigned long long)hz);
}

/* The value of the first name=... entry of buf, or NULL; *vlen receives
 * its length. */
static const char *environ_get(const char *buf, size_t len, const char *name,
                               size_t *vlen)
{
    size_t nlen = strlen(name), i = 0;

    while (i < len) {
        const char *e = buf + i;
        const char *end = memchr(e, '\0', len - i);
        size_t elen = end ? (size_t)(end - e) : len - i;

        if (elen > nlen && memcmp(e, name, nlen) == 0 && e[nlen] == '=') {
            *vlen = elen - nlen - 1;
            return e + nlen + 1;
        }
        i += elen + 1;
    }
    return NULL;
}

static int environ_is(const char *buf, size_t len, const char *name,
                      const char *want)
{
    size_t vlen = 0;
    const char *v = environ_get(buf, len, name, &vlen);

    return v != NULL && vlen == strlen(want) && memcmp(v, want, vlen) == 0;
}

int proc_environ_worker(const char *buf, size_t len, const char *prefix,
                        const char *node, char *id, size_t idsize)
{
    size_t vlen = 0, i;
    const char *v;

    if (!environ_is(buf, len, "STEEL_PREFIX", prefix) ||
        !environ_is(buf, len, "STEEL_NODE", node))
        return 0;
    v = environ_get(buf, len, "STEEL_WORKER_ID", &vlen);
    if (v == NULL || vlen == 0 || vlen >= idsize)
        return 0;
    for (i = 0; i < vlen; i++) {
        if (v[i] < '0' || v[i] > '9')
            return 0;
    }
    memcpy(id, v, vlen);
    id[vlen] = '\0';
    return 1;
}

int proc_environ_port(const char *buf, size_t len)
{
    size_t vlen = 0, i;
    const char *v = environ_get(buf, len, "PORT", &vlen);
    long port = 0;

    if (v == NULL || vlen == 0 || vlen > 5)
        return 0;
    for (i = 0; i < vlen; i++) {
        if (v[i] < '0' || v[i] > '9')
            return 0;
        port = port * 10 + (v[i] - '0');
    }
    return port >= 1 && port <= 65535 ? (int)port : 0;
}

int proc_status_uid(const char *buf, size_t len, uid_t *out)
{
    size_t i = 0;

    while (i < len) {
        const char *line = buf + i;
        const char *end = memchr(line, '\n', len - i);
        size_t llen = end ? (size_t)(end - line) : len - i;

        if (llen > 4 && memcmp(line, "Uid:", 4) == 0) {
            unsigned long long v = 0;
            size_t k = 4, digits = 0;

            while (k < llen && (line[k] == ' ' || line[k] == '\t'))
                k++;
            for (; k < llen && line[k] >= '0' && line[k] <= '9'; k++) {
                v = v * 10 + (unsigned long long)(line[k] - '0');
                if (++digits > 10)
                    return -1;
            }
            if (digits == 0 || v > 0xffffffffULL ||
                (k < llen && line[k] != ' ' && line[k] != '\t'))
                return -1;
            *out = (uid_t)v;
            return 0;
        }
        i += llen + 1;
    }
    return -1;
}

int proc_uid(long pid, uid_t *out)
{
    char buf[4096];
    ssize_t len = read_file(PROC_ROOT, pid, "status", buf, sizeof(buf));

    if (len <= 0)
        return -1;
    return proc_status_uid(buf, (size_t)len, out);
}

int proc_node_init(struct proc_node *pn, const char *prefix, const char *node)
{
    memset(pn, 0, sizeof(*pn));
    pn->root = PROC_ROOT;
    pn->prefix = prefix;
    pn->node = node;
    pn->self = (long)getpid();
    pn->env = malloc(PROC_ENVIRON_MAX);
    if (pn->env == NULL) {
        log_warnx("process scan: out of memory");
        return -1;
    }
    return 0;
}

void proc_node_release(struct proc_node *pn)
{
    free(pn->env);
    pn->env = NULL;
}

int proc_node_worker(struct proc_node *pn, long pid, struct proc_worker *out)
{
    struct proc_stat st;
    ssize_t len;
    long id;

    if (pid <= 0 || pid == pn->self)
        return 0;
    memset(out, 0, sizeof(*out));
    if (pn->cg != NULL && !pn->cg->on && pn->cg->required)
        return 0;
    if (pn->cg != NULL && pn->cg->on) {
        /* The kernel's word alone: the group it placed pid in. */
        if (cgroup_pid_worker(pn->cg, pn->root, pid, &id) != 1)
            return 0;
        snprintf(out->id, sizeof(out->id), "%ld", id);
        /* PORT for the log and the probes only; it names nothing. */
        len = read_file(pn->root, pid, "environ", pn->env, PROC_ENVIRON_MAX);
        if (len > 0)
            out->port = proc_environ_port(pn->env, (size_t)len);
    } else {
        len = read_file(pn->root, pid, "environ", pn->env, PROC_ENVIRON_MAX);
        if (len <= 0 ||
            !proc_environ_worker(pn->env, (size_t)len, pn->prefix, pn->node,
                                 out->id, sizeof(out->id)))
            return 0;
        out->port = proc_environ_port(pn->env, (size_t)len);
    }
    if (stat_read_at(pn->root, pid, &st) < 0 || !stat_running(&st))
        return 0;
    out->pid = pid;
    out->pgid = st.pgid;
    out->pstart = st.start;
    return 1;
}

/* proc_node_scan with cgroups: the members of every worker group. */
struct group_scan {
    struct proc_node *pn;
    void (*fn)(const struct proc_worker *w, void *arg);
    void *arg;
    int found;
};

static void group_scan_one(long id, void *arg)
{
    struct group_scan *gs = arg;
    long pids[1024];
    int i, n;

    n = cgroup_worker_pids(gs->pn->cg, id, pids,
                           (int)(sizeof(pids) / sizeof(pids[0])));
    for (i = 0; i < n; i++) {
        struct proc_worker w;

        if (proc_node_worker(gs->pn, pids[i], &w) == 1) {
            gs->found++;
            gs->fn(&w, gs->arg);
        }
    }
}

int proc_node_scan_groups(struct proc_node *pn, const long *ids, size_t n,
                          void (*fn)(const struct proc_worker *w, void *arg),
                          void *arg)
{
    struct group_scan gs = {pn, fn, arg, 0};
    size_t i;

    if (pn->cg == NULL || !pn->cg->on)
        return 0;
    for (i = 0; i < n; i++)
        group_scan_one(ids[i], &gs);
    return gs.found;
}

int proc_node_scan(struct proc_node *pn,
                   void (*fn)(const struct proc_worker *w, void *arg),
                   void *arg)
{
    struct dirent *de;
    DIR *d;
    int found = 0;

    if (pn->cg != NULL && !pn->cg->on && pn->cg->required)
        return 0;
    if (pn->cg != NULL && pn->cg->on) {
        struct group_scan gs = {pn, fn, arg, 0};

        if (cgroup_workers_each(pn->cg, group_scan_one, &gs) < 0) {
            log_warn("cannot read the worker groups of %s",
                     pn->cg->hier[0].dir);
            return -1;
        }
        return gs.found;
    }
    d = opendir(pn->root);
    if (d == NULL) {
        log_warn("cannot read %s", pn->root);
        return -1;
    }
    while ((de = readdir(d)) != NULL) {
        struct proc_worker w;
        long pid;

        if (de->d_name[0] < '1' || de->d_name[0] > '9' ||
            parse_long(de->d_name, 1, 0x7fffffffL, &pid) < 0)
            continue;
        if (proc_node_worker(pn, pid, &w) != 1)
            continue;
        found++;
        fn(&w, arg);
    }
    closedir(d);
    return found;
}

/* Applies the worker rule to every pid of one children list (decimal
 * pids separated by blanks; an entry cut off at the end of buf is
 * dropped when truncated).  Returns the number found. */
static int children_list(struct proc_node *pn, char *buf, size_t len,
                         int truncated,
                         void (*fn)(const struct proc_worker *w, void *arg),
                         void *arg)
{
    char *p = buf, *end = buf + len;
    int found = 0;

    if (truncated) {
        while (end > buf && end[-1] != ' ')
            end--;
    }
    *end = '\0';
    while (p < end) {
        struct proc_worker w;
        char *q;
        long pid;

        while (p < end && *p == ' ')
            p++;
        if (p == end)
            break;
        errno = 0;
        pid = strtol(p, &q, 10);
        if (q == p || errno != 0)
            break;
        p = q;
        if (proc_node_worker(pn, pid, &w) == 1) {
            found++;
            fn(&w, arg);
        }
    }
    return found;
}

int proc_node_children(struct proc_node *pn, long parent,
                       void (*fn)(const struct proc_worker *w, void *arg),
                       void *arg)
{
    char dir[PATH_MAX], name[PATH_MAX], *buf;
    struct dirent *de;
    DIR *d;
    int found = 0, n;

    if (parent <= 0)
        return 0;
    n = snprintf(dir, sizeof(dir), "%s/%ld/task", pn->root, parent);
    if (n < 0 || (size_t)n >= sizeof(dir))
        return 0;
    d = opendir(dir);
    if (d == NULL)
        return 0; /* no such process: no children */
    buf = malloc(PROC_CHILDREN_MAX + 1);
    if (buf == NULL) {
        closedir(d);
        log_warnx("process scan: out of memory");
        return -1;
    }
    while ((de = readdir(d)) != NULL) {
        ssize_t len;

        if (de->d_name[0] < '1' || de->d_name[0] > '9')
            continue;
        n = snprintf(name, sizeof(name), "task/%s/children", de->d_name);
        if (n < 0 || (size_t)n >= sizeof(name))
            continue;
        len = read_file(pn->root, parent, name, buf, PROC_CHILDREN_MAX);
        if (len <= 0)
            continue;
        if (len == PROC_CHILDREN_MAX)
            log_warnx("process %ld has more children than one pass reads",
                      parent);
        found += children_list(pn, buf, (size_t)len, len == PROC_CHILDREN_MAX,
                               fn, arg);
    }
    closedir(d);
    free(buf);
    return found;
}

int proc_is_node_worker(long pid, unsigned long long pstart,
                        const struct cgroup *cg, const char *prefix,
                        const char *node, const char *id, uid_t uid_lo,
                        uid_t uid_hi)
{
    struct proc_node pn;
    struct proc_worker w;
    uid_t real;
    int ok;

    if (pid <= 1 || proc_uid(pid, &real) < 0 || real < uid_lo ||
        real > uid_hi) {
        log_debug("process %ld: not of the workers' user; not signalled", pid);
        return 0;
    }
    if (proc_node_init(&pn, prefix, node) < 0)
        return 0;
    pn.cg = cg;
    ok = proc_node_worker(&pn, pid, &w) == 1 && w.pstart == pstart &&
         (id == NULL || strcmp(w.id, id) == 0);
    proc_node_release(&pn);
    /* The uid again: the pid may have been another process's at first. */
    if (ok && (proc_uid(pid, &real) < 0 || real < uid_lo || real > uid_hi))
        ok = 0;
    if (!ok)
        log_debug("process %ld: not worker %s of node %s; not signalled", pid,
                  id != NULL ? id : "?", node);
    return ok;
}

long proc_kill_target(long pid, long pgid, long own_pgid)
{
    if (pid <= 1)
        return 0;
    if (pgid == pid && pgid > 1 && pgid != own_pgid)
        return -pid;
    return pid;
}

/* kill(2), or pidfd_send_signal(2) when target is the process itself and
 * a pidfd of it is held. */
static int send_to(long target, int pidfd, int sig)
{
    if (target > 0 && pidfd >= 0)
        return pidfd_send_signal(pidfd, sig, NULL, 0);
    return kill((pid_t)target, sig);
}

int proc_kill(long pid, unsigned long long pstart, int pidfd, int sig)
{
    struct proc_stat st;
    long target;
    int have_stat;

    if (pid <= 1)
        return 0;
    if (pidfd >= 0 && pidfd_send_signal(pidfd, 0, NULL, 0) < 0)
        return errno == ESRCH ? 0 : -1;
    have_stat = proc_stat_read(pid, &st) == 0;
    if (pidfd < 0 && (!have_stat || !stat_running(&st) || st.start != pstart))
        return 0;
    /* Without its stat (reaped meanwhile) the group is unknown: the
     * process alone. */
    target = have_stat ? proc_kill_target(pid, st.pgid, (long)getpgrp()) : pid;
    if (target < 0) {
        if (kill((pid_t)target, sig) == 0)
            return 1;
        if (errno != ESRCH)
            return -1;
    }
    if (send_to(pid, pidfd, sig) == 0)
        return 1;
    return errno == ESRCH ? 0 : -1;
}
