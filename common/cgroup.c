/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * cgroup.c - a cgroup per worker (cgroup.h).
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
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "log.h"
#include "util.h"

#define FILE_MAX       (64 * 1024) /* bytes of one file read */
#define KILL_TRIES     200         /* rounds of the SIGKILL fallback */
#define KILL_ROUND_US  2000        /* between two rounds */
#define KILL_SETTLE_MS 20          /* after cgroup.kill, for the exits */

static const char *const ctl_names[CGROUP_NCTL] = {"memory", "pids", "cpu"};

/* Reads path into buf (size bytes, NUL added).  Returns the length, or -1. */
static ssize_t slurp(const char *path, char *buf, size_t size)
{
    size_t len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return -1;
    while (len + 1 < size) {
        ssize_t r = read(fd, buf + len, size - 1 - len);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            close(fd);
            return -1;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    buf[len] = '\0';
    return (ssize_t)len;
}

/* Writes s to path (cgroupfs takes one write).  Returns 0, or -1. */
static int put(const char *path, const char *s)
{
    size_t len = strlen(s);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ssize_t w;

    if (fd < 0)
        return -1;
    do {
        w = write(fd, s, len);
    } while (w < 0 && errno == EINTR);
    if (w != (ssize_t)len) {
        int e = w < 0 ? errno : EIO;

        close(fd);
        errno = e;
        return -1;
    }
    return close(fd);
}

/* 1 when token (a word between commas) is in list. */
static int has_token(const char *list, const char *token)
{
    size_t n = strlen(token);
    const char *p = list;

    while (*p != '\0') {
        size_t len = strcspn(p, ",");

        if (len == n && memcmp(p, token, n) == 0)
            return 1;
        p += len;
        if (*p == ',')
            p++;
    }
    return 0;
}

/* 1 when word is one of the blank-separated words of buf. */
static int has_word(const char *buf, const char *word)
{
    size_t n = strlen(word);
    const char *p = buf;

    while (*p != '\0') {
        size_t len;

        p += strspn(p, " \t\n");
        len = strcspn(p, " \t\n");
        if (len == n && memcmp(p, word, n) == 0)
            return 1;
        p += len;
    }
    return 0;
}

/* The path of <hierarchy h's dir><sub> into out.  Returns 0, or -1. */
static int hpath(const struct cgroup_hier *h, const char *sub, char *out,
                 size_t size)
{
    int n = snprintf(out, size, "%s%s", h->dir, sub);

    return (n < 0 || (size_t)n >= size) ? -1 : 0;
}

/* The path of worker id's group in h, and optionally a file of it. */
static int wpath(const struct cgroup_hier *h, long id, const char *file,
                 char *out, size_t size)
{
    int n = snprintf(out, size, "%s/workers/w%ld%s%s", h->dir, id,
                     file ? "/" : "", file ? file : "");

    return (n < 0 || (size_t)n >= size) ? -1 : 0;
}

/* ---- detection ----------------------------------------------------------- */

/* Our own path in the hierarchy of a /proc/self/cgroup buffer: the v2
 * line when ctl is NULL, else the v1 line whose controllers hold ctl. */
static int self_path(const char *buf, const char *ctl, char *out, size_t size)
{
    const char *line = buf;

    while (*line != '\0') {
        size_t len = strcspn(line, "\n");
        const char *c1 = memchr(line, ':', len), *c2;

        if (c1 != NULL &&
            (c2 = memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - line))) != NULL) {
            char ctls[128];
            size_t cl = (size_t)(c2 - c1 - 1),
                   pl = len - (size_t)(c2 + 1 - line);

            if (cl < sizeof(ctls) && pl < size) {
                memcpy(ctls, c1 + 1, cl);
                ctls[cl] = '\0';
                if ((ctl == NULL && cl == 0 && c1 - line == 1 &&
                     line[0] == '0') ||
                    (ctl != NULL && has_token(ctls, ctl))) {
                    memcpy(out, c2 + 1, pl);
                    out[pl] = '\0';
                    return 0;
                }
            }
        }
        line += len;
        if (*line == '\n')
            line++;
    }
    return -1;
}

/* One mountinfo line into its mount point, mount root, type and super
 * options.  Returns 0 for a cgroup or cgroup2 mount, else -1. */
static int mount_parse(char *line, char **mnt, char **mroot, int *v2,
                       char **opts)
{
    char *f[6], *sep, *p = line;
    int i;

    for (i = 0; i < 6; i++) {
        f[i] = strsep(&p, " ");
        if (f[i] == NULL)
            return -1;
    }
    sep = strstr(p ? p : "", "- ");
    if (sep == NULL)
        return -1;
    p = sep + 2;
    {
        char *type = strsep(&p, " "), *src = strsep(&p, " ");

        if (type == NULL || src == NULL || p == NULL)
            return -1;
        if (strcmp(type, "cgroup2") == 0)
            *v2 = 1;
        else if (strcmp(type, "cgroup") == 0)
            *v2 = 0;
        else
            return -1;
    }
    *mroot = f[3];
    *mnt = f[4];
    *opts = p;
    return 0;
}

/* Fills h for a mount: mount point, <base> (root, or own), dir. */
static int hier_fill(struct cgroup_hier *h, const char *mnt, const char *mroot,
                     const char *base, int v2, const char *ctls)
{
    size_t rl = strlen(mroot);
    const char *rest = base;
    int n;

    /* A mount of a subdirectory (a container): paths below it only. */
    if (strcmp(mroot, "/") != 0) {
        if (strncmp(base, mroot, rl) != 0 ||
            (base[rl] != '\0' && base[rl] != '/'))
            return -1;
        rest = base + rl;
    }
    memset(h, 0, sizeof(*h));
    h->v2 = v2;
    n = snprintf(h->mnt, sizeof(h->mnt), "%s", mnt);
    if (n < 0 || (size_t)n >= sizeof(h->mnt))
        return -1;
    n = snprintf(h->base, sizeof(h->base), "%s", base);
    if (n < 0 || (size_t)n >= sizeof(h->base))
        return -1;
    n = snprintf(h->ctls, sizeof(h->ctls), "%s", ctls);
    if (n < 0 || (size_t)n >= sizeof(h->ctls))
        return -1;
    n = snprintf(h->dir, sizeof(h->dir), "%s%s", mnt,
                 strcmp(rest, "/") == 0 ? "" : rest);
    return (n < 0 || (size_t)n >= sizeof(h->dir)) ? -1 : 0;
}

int cgroup_detect(struct cgroup *cg, const char *mountinfo, const char *selfcg,
                  const char *root, char *err, size_t errsize)
{
    char *mi = NULL, *self = NULL, *line, *p;
    int i, rc = -1, have_v2 = 0, pids_main = -1;

    memset(cg, 0, sizeof(*cg));
    snprintf(cg->procroot, sizeof(cg->procroot), "/proc");
    for (i = 0; i < CGROUP_NCTL; i++)
        cg->ctl[i] = -1;
    mi = malloc(FILE_MAX);
    self = malloc(FILE_MAX);
    if (mi == NULL || self == NULL) {
        snprintf(err, errsize, "out of memory");
        goto out;
    }
    if (slurp(mountinfo, mi, FILE_MAX) < 0 ||
        slurp(selfcg, self, FILE_MAX) < 0) {
        snprintf(err, errsize, "cannot read %s or %s: %s", mountinfo, selfcg,
                 strerror(errno));
        goto out;
    }
    cg->nhier = 1; /* hier[0] is the main one, filled below */
    for (p = mi; (line = strsep(&p, "\n")) != NULL;) {
        char *mnt, *mroot, *opts, own[CGROUP_PATH_MAX], ctls[128] = "";
        const char *base;
        int v2, k;

        if (mount_parse(line, &mnt, &mroot, &v2, &opts) < 0)
            continue;
        if (v2) {
            if (have_v2 || self_path(self, NULL, own, sizeof(own)) < 0)
                continue;
        } else {
            /* The controllers this node uses that this hierarchy has. */
            for (k = 0; k < CGROUP_NCTL; k++) {
                if (has_token(opts, ctl_names[k])) {
                    snprintf(ctls, sizeof(ctls), "%s", ctl_names[k]);
                    break;
                }
            }
            if (k == CGROUP_NCTL ||
                self_path(self, ctl_names[k], own, sizeof(own)) < 0)
                continue;
            if (cg->nhier >= CGROUP_HIER_MAX)
                continue;
        }
        base = root != NULL && root[0] != '\0' ? root : own;
        if (strcmp(base, "/") == 0) {
            /* Our own cgroup is the root: nothing was delegated. */
            if (v2)
                have_v2 = -1;
            continue;
        }
        if (v2) {
            if (hier_fill(&cg->hier[0], mnt, mroot, base, 1, "") == 0)
                have_v2 = 1;
        } else if (hier_fill(&cg->hier[cg->nhier], mnt, mroot, base, 0, ctls) ==
                   0) {
            if (strcmp(ctls, "pids") == 0)
                pids_main = cg->nhier;
            cg->nhier++;
        }
    }
    if (have_v2 != 1 && pids_main < 0) {
        snprintf(err, errsize,
                 have_v2 == -1 ? "our own cgroup is the root of the cgroup2 "
                                 "hierarchy (nothing delegated; set "
                                 "cgroup_root)"
                               : "no cgroup2 or cgroup v1 pids hierarchy "
                                 "we can use");
        goto out;
    }
    if (have_v2 != 1) {
        /* v1 only: the pids hierarchy is the main one. */
        cg->hier[0] = cg->hier[pids_main];
        memmove(&cg->hier[pids_main], &cg->hier[pids_main + 1],
                (size_t)(cg->nhier - pids_main - 1) * sizeof(cg->hier[0]));
        cg->nhier--;
    }
    rc = 0;
out:
    free(mi);
    free(self);
    return rc;
}

/* ---- set-up ------------------------------------------------------------- */

/* mkdir -p of the part of dir below mnt. */
static int mkdir_below(const char *mnt, const char *dir)
{
    char tmp[CGROUP_PATH_MAX];
    size_t i, ml = strlen(mnt);

    if (snprintf(tmp, sizeof(tmp), "%s", dir) >= (int)sizeof(tmp))
        return -1;
    for (i = ml + 1; tmp[i - 1] != '\0'; i++) {
        if (tmp[i] != '/' && tmp[i] != '\0')
            continue;
        if (tmp[i] == '\0') {
            if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
                return -1;
            break;
        }
        tmp[i] = '\0';
        if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
            return -1;
        tmp[i] = '/';
    }
    return 0;
}

/* +ctl into the cgroup.subtree_control of every directory from mnt down
 * to dir (an ancestor that holds processes refuses: ignored). */
static void v2_enable(const char *mnt, const char *dir, const char *ctl)
{
    char tmp[CGROUP_PATH_MAX], file[CGROUP_PATH_MAX + 32], word[32];
    size_t i, ml = strlen(mnt);

    snprintf(word, sizeof(word), "+%s", ctl);
    if (snprintf(tmp, sizeof(tmp), "%s", dir) >= (int)sizeof(tmp))
        return;
    for (i = ml;; i++) {
        if (tmp[i] == '/' || tmp[i] == '\0') {
            char c = tmp[i];

            tmp[i] = '\0';
            snprintf(file, sizeof(file), "%s/cgroup.subtree_control", tmp);
            if (access(file, F_OK) == 0)
                put(file, word);
            tmp[i] = c;
            if (c == '\0')
                break;
        }
    }
}

int cgroup_setup(struct cgroup *cg, const char *root, char *err, size_t errsize)
{
    char path[CGROUP_PATH_MAX + 64], buf[512], pid[32];
    int owns = root == NULL || root[0] == '\0', i, k;

    snprintf(pid, sizeof(pid), "%ld", (long)getpid());
    for (i = 0; i < cg->nhier; i++) {
        struct cgroup_hier *h = &cg->hier[i];

        if ((!owns && mkdir_below(h->mnt, h->dir) < 0) ||
            hpath(h, "/workers", path, sizeof(path)) < 0 ||
            (mkdir(path, 0755) < 0 && errno != EEXIST)) {
            snprintf(err, errsize, "cannot make %s/workers: %s", h->dir,
                     strerror(errno));
            return -1;
        }
        if (!owns)
            continue;
        /* No internal processes (v2): we leave <base> for a leaf. */
        if (hpath(h, "/spawner", path, sizeof(path)) < 0 ||
            (mkdir(path, 0755) < 0 && errno != EEXIST) ||
            hpath(h, "/spawner/cgroup.procs", path, sizeof(path)) < 0 ||
            put(path, pid) < 0) {
            snprintf(err, errsize, "cannot move into %s/spawner: %s", h->dir,
                     strerror(errno));
            return -1;
        }
    }
    cg->owns_base = owns;
    if (cg->hier[0].v2) {
        for (k = 0; k < CGROUP_NCTL; k++) {
            hpath(&cg->hier[0], "/workers", path, sizeof(path));
            v2_enable(cg->hier[0].mnt, path, ctl_names[k]);
        }
        hpath(&cg->hier[0], "/workers/cgroup.controllers", path, sizeof(path));
        if (slurp(path, buf, sizeof(buf)) < 0)
            buf[0] = '\0';
        for (k = 0; k < CGROUP_NCTL; k++) {
            if (has_word(buf, ctl_names[k]))
                cg->ctl[k] = 0;
        }
        hpath(&cg->hier[0], "/workers/cgroup.kill", path, sizeof(path));
        cg->has_kill = access(path, F_OK) == 0;
        hpath(&cg->hier[0], "/workers/cgroup.freeze", path, sizeof(path));
        cg->has_freeze = access(path, F_OK) == 0;
    }
    for (k = 0; k < CGROUP_NCTL; k++) {
        for (i = 0; i < cg->nhier && cg->ctl[k] < 0; i++) {
            if (!cg->hier[i].v2 && has_token(cg->hier[i].ctls, ctl_names[k]))
                cg->ctl[k] = i;
        }
    }
    cg->on = 1;
    return 0;
}

void cgroup_describe(const struct cgroup *cg, char *out, size_t size)
{
    const struct cgroup_hier *m = &cg->hier[0];
    int k, n;

    n = snprintf(out, size, "%s %s%s (%s)", m->v2 ? "cgroup2" : "cgroup v1",
                 m->mnt, m->base, cg->has_kill ? "cgroup.kill" : "kill by pid");
    for (k = 0; k < CGROUP_NCTL && n >= 0 && (size_t)n < size; k++) {
        int i = cg->ctl[k];

        n += snprintf(out + n, size - (size_t)n, ", %s: %s", ctl_names[k],
                      i < 0            ? "missing"
                      : cg->hier[i].v2 ? "v2"
                                       : "v1");
    }
}

/* ---- worker groups ------------------------------------------------------ */

/* Writes a number to file of worker id's group in the hierarchy of ctl.
 * optional: a missing file is no error. */
static int limit_put(const struct cgroup *cg, enum cgroup_ctl ctl, long id,
                     const char *file, const char *value, int optional,
                     char *err, size_t errsize)
{
    char path[CGROUP_PATH_MAX + 64];

    if (wpath(&cg->hier[cg->ctl[ctl]], id, file, path, sizeof(path)) < 0)
        return -1;
    if (optional && access(path, F_OK) < 0)
        return 0;
    if (put(path, value) < 0) {
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
        if (wpath(&cg->hier[i], id, NULL, path, sizeof(path)) < 0 ||
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
        if (wpath(&cg->hier[i], id, "cgroup.procs", path, sizeof(path)) < 0) {
            errno = ENAMETOOLONG;
            return -1;
        }
        if (put(path, v) < 0)
            return -1;
    }
    return 0;
}

/* Reads the pids of worker id's main group into pids (at most max).
 * Returns the count, or -1 when the group is gone. */
static int group_pids(const struct cgroup *cg, long id, long *pids, int max)
{
    char path[CGROUP_PATH_MAX + 64], *buf, *p, *end;
    int n = 0;

    buf = malloc(FILE_MAX);
    if (buf == NULL ||
        wpath(&cg->hier[0], id, "cgroup.procs", path, sizeof(path)) < 0 ||
        slurp(path, buf, FILE_MAX) < 0) {
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

    return group_pids(cg, id, &pid, 1) <= 0;
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
        if (wpath(&cg->hier[0], id, "cgroup.kill", path, sizeof(path)) < 0)
            return -1;
        if (put(path, "1") < 0 && errno != ENOENT) {
            log_warn("worker %ld: cannot write %s", id, path);
            return -1;
        }
        for (t = 0; t < KILL_SETTLE_MS && !cgroup_worker_empty(cg, id); t++)
            sleep_us(1000);
        return cgroup_worker_empty(cg, id);
    }
    /* Frozen, nothing in the group can fork while we read and kill. */
    if (cg->has_freeze &&
        wpath(&cg->hier[0], id, "cgroup.freeze", path, sizeof(path)) == 0)
        put(path, "1");
    for (t = 0; t < KILL_TRIES; t++) {
        int i;

        n = group_pids(cg, id, pids, (int)(sizeof(pids) / sizeof(pids[0])));
        if (n <= 0)
            break;
        for (i = 0; i < n; i++)
            kill_member(cg, id, pids[i]);
        sleep_us(KILL_ROUND_US);
    }
    if (cg->has_freeze &&
        wpath(&cg->hier[0], id, "cgroup.freeze", path, sizeof(path)) == 0)
        put(path, "0");
    return cgroup_worker_empty(cg, id);
}

int cgroup_worker_remove(const struct cgroup *cg, long id)
{
    char path[CGROUP_PATH_MAX + 64];
    int i, rc = 0;

    for (i = 0; i < cg->nhier; i++) {
        if (wpath(&cg->hier[i], id, NULL, path, sizeof(path)) < 0)
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
    if (wpath(h, id, h->v2 ? "memory.events" : "memory.oom_control", path,
              sizeof(path)) < 0 ||
        slurp(path, buf, sizeof(buf)) < 0)
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

    if (hpath(&cg->hier[0], "/workers", path, sizeof(path)) < 0 ||
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
    if (self_path(tmp, h->v2 ? NULL : h->ctls, path, sizeof(path)) < 0)
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
    n = slurp(path, buf, sizeof(buf));
    if (n <= 0)
        return 0;
    return cgroup_parse_worker(cg, buf, (size_t)n, id);
}
