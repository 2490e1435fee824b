/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * cgroup.c - a cgroup per worker (cgroup.h): the hierarchies, the node's
 * subtree and its set-up; one worker's group is cgroup_worker.c's.
 *
 * Invariants: every path is built from struct cgroup with a truncation
 * check; nothing here reads the environment of a process, or Redis.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cgroup.h"
#include "cgroup_int.h"
#include "log.h"
#include "util.h"

const char *const cgroup_ctl_names[CGROUP_NCTL] = {"memory", "pids", "cpu"};

/* Reads path into buf (size bytes, NUL added).  Returns the length, or -1. */
ssize_t cgroup_slurp(const char *path, char *buf, size_t size)
{
    ssize_t n = size > 0 ? read_path(path, buf, size - 1) : -1;

    if (n < 0)
        return -1;
    buf[n] = '\0';
    return n;
}

/* Writes s to path (cgroupfs takes one write).  Returns 0, or -1. */
int cgroup_put(const char *path, const char *s)
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
int cgroup_has_token(const char *list, const char *token)
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
int cgroup_has_word(const char *buf, const char *word)
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
int cgroup_hpath(const struct cgroup_hier *h, const char *sub, char *out,
                 size_t size)
{
    int n = snprintf(out, size, "%s%s", h->dir, sub);

    return (n < 0 || (size_t)n >= size) ? -1 : 0;
}

/* The path of worker id's group in h, and optionally a file of it. */
int cgroup_wpath(const struct cgroup_hier *h, long id, const char *file,
                 char *out, size_t size)
{
    int n = snprintf(out, size, "%s/workers/w%ld%s%s", h->dir, id,
                     file ? "/" : "", file ? file : "");

    return (n < 0 || (size_t)n >= size) ? -1 : 0;
}

/* ---- detection ----------------------------------------------------------- */

/* Our own path in the hierarchy of a /proc/self/cgroup buffer: the v2
 * line when ctl is NULL, else the v1 line whose controllers hold ctl. */
int cgroup_self_path(const char *buf, const char *ctl, char *out, size_t size)
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
                    (ctl != NULL && cgroup_has_token(ctls, ctl))) {
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
    cg->lock_fd = -1;
    snprintf(cg->procroot, sizeof(cg->procroot), "/proc");
    for (i = 0; i < CGROUP_NCTL; i++)
        cg->ctl[i] = -1;
    mi = malloc(CGROUP_FILE_MAX);
    self = malloc(CGROUP_FILE_MAX);
    if (mi == NULL || self == NULL) {
        snprintf(err, errsize, "out of memory");
        goto out;
    }
    if (cgroup_slurp(mountinfo, mi, CGROUP_FILE_MAX) < 0 ||
        cgroup_slurp(selfcg, self, CGROUP_FILE_MAX) < 0) {
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
            if (have_v2 || cgroup_self_path(self, NULL, own, sizeof(own)) < 0)
                continue;
        } else {
            /* The controllers this node uses that this hierarchy has. */
            for (k = 0; k < CGROUP_NCTL; k++) {
                if (cgroup_has_token(opts, cgroup_ctl_names[k])) {
                    snprintf(ctls, sizeof(ctls), "%s", cgroup_ctl_names[k]);
                    break;
                }
            }
            if (k == CGROUP_NCTL || cgroup_self_path(self, cgroup_ctl_names[k],
                                                     own, sizeof(own)) < 0)
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
                cgroup_put(file, word);
            tmp[i] = c;
            if (c == '\0')
                break;
        }
    }
}

/* Notes the controllers of the workers' groups (v2 first, then the v1
 * hierarchies), cgroup.kill and cgroup.freeze. */
static void features(struct cgroup *cg)
{
    char path[CGROUP_PATH_MAX + 64], buf[512];
    int i, k;

    if (cg->hier[0].v2) {
        cgroup_hpath(&cg->hier[0], "/workers/cgroup.controllers", path,
                     sizeof(path));
        if (cgroup_slurp(path, buf, sizeof(buf)) < 0)
            buf[0] = '\0';
        for (k = 0; k < CGROUP_NCTL; k++) {
            if (cgroup_has_word(buf, cgroup_ctl_names[k]))
                cg->ctl[k] = 0;
        }
        cgroup_hpath(&cg->hier[0], "/workers/cgroup.kill", path, sizeof(path));
        cg->has_kill = access(path, F_OK) == 0;
        cgroup_hpath(&cg->hier[0], "/workers/cgroup.freeze", path,
                     sizeof(path));
        cg->has_freeze = access(path, F_OK) == 0;
    }
    for (k = 0; k < CGROUP_NCTL; k++) {
        for (i = 0; i < cg->nhier && cg->ctl[k] < 0; i++) {
            if (!cg->hier[i].v2 &&
                cgroup_has_token(cg->hier[i].ctls, cgroup_ctl_names[k]))
                cg->ctl[k] = i;
        }
    }
}

/* Takes the flock of <base>/workers (path) into cg->lock_fd.  Returns 0,
 * or -1 with the reason in err. */
static int lock_workers(struct cgroup *cg, const char *path, char *err,
                        size_t errsize)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd < 0) {
        snprintf(err, errsize, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        char procs[CGROUP_PATH_MAX + 64], buf[64];
        long pid = 0;

        /* The holder sits in <base>/spawner. */
        if (cgroup_hpath(&cg->hier[0], "/spawner/cgroup.procs", procs,
                         sizeof(procs)) == 0 &&
            cgroup_slurp(procs, buf, sizeof(buf)) > 0)
            pid = strtol(buf, NULL, 10);
        snprintf(err, errsize,
                 "cgroup subtree %.300s is in use by steel-spawner pid %ld on "
                 "this host (each node_name needs a cgroup subtree of its "
                 "own: cgroup_root)",
                 cg->hier[0].dir, pid);
        close(fd);
        return -1;
    }
    if (cg->lock_fd >= 0)
        close(cg->lock_fd);
    cg->lock_fd = fd;
    return 0;
}

int cgroup_setup(struct cgroup *cg, const char *root, char *err, size_t errsize)
{
    char path[CGROUP_PATH_MAX + 64], pid[32];
    int owns = root == NULL || root[0] == '\0', i, k;

    snprintf(pid, sizeof(pid), "%ld", (long)getpid());
    for (i = 0; i < cg->nhier; i++) {
        struct cgroup_hier *h = &cg->hier[i];

        if ((!owns && mkdir_below(h->mnt, h->dir) < 0) ||
            cgroup_hpath(h, "/workers", path, sizeof(path)) < 0 ||
            (mkdir(path, 0755) < 0 && errno != EEXIST)) {
            snprintf(err, errsize, "cannot make %s/workers: %s", h->dir,
                     strerror(errno));
            return -1;
        }
        if (i == 0 && lock_workers(cg, path, err, errsize) < 0)
            return -1;
        /* No internal processes (v2): we leave <base> for a leaf, which
         * also tells the reaper where <base> is (cgroup_pid_base). */
        if (cgroup_hpath(h, "/spawner", path, sizeof(path)) < 0 ||
            (mkdir(path, 0755) < 0 && errno != EEXIST) ||
            cgroup_hpath(h, "/spawner/cgroup.procs", path, sizeof(path)) < 0 ||
            cgroup_put(path, pid) < 0) {
            snprintf(err, errsize, "cannot move into %s/spawner: %s", h->dir,
                     strerror(errno));
            return -1;
        }
    }
    cg->owns_base = owns;
    if (cg->hier[0].v2) {
        for (k = 0; k < CGROUP_NCTL; k++) {
            cgroup_hpath(&cg->hier[0], "/workers", path, sizeof(path));
            v2_enable(cg->hier[0].mnt, path, cgroup_ctl_names[k]);
        }
    }
    features(cg);
    cg->on = 1;
    return 0;
}

void cgroup_teardown(const struct cgroup *cg)
{
    char path[CGROUP_PATH_MAX + 64], pid[32];
    size_t ml;
    int i;

    if (!cg->on || cg->owns_base)
        return;
    snprintf(pid, sizeof(pid), "%ld", (long)getpid());
    for (i = 0; i < cg->nhier; i++) {
        const struct cgroup_hier *h = &cg->hier[i];

        snprintf(path, sizeof(path), "%s/cgroup.procs", h->mnt);
        if (cgroup_put(path, pid) < 0)
            continue;
        if (cgroup_hpath(h, "/workers", path, sizeof(path)) == 0)
            rmdir(path);
        if (cgroup_hpath(h, "/spawner", path, sizeof(path)) == 0)
            rmdir(path);
        /* <base>, then each parent that is left empty. */
        snprintf(path, sizeof(path), "%s", h->dir);
        ml = strlen(h->mnt);
        while (strlen(path) > ml && rmdir(path) == 0)
            *strrchr(path, '/') = '\0';
    }
}

int cgroup_open(struct cgroup *cg)
{
    char path[CGROUP_PATH_MAX + 64];
    struct stat st;

    if (cgroup_hpath(&cg->hier[0], "/workers", path, sizeof(path)) < 0 ||
        stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
        return -1;
    features(cg);
    cg->on = 1;
    return 0;
}

int cgroup_delegated(const struct cgroup *cg)
{
    const struct cgroup_hier *h = &cg->hier[0];
    const char *inv = getenv("INVOCATION_ID");
    size_t bl = strlen(h->base);
    struct stat st;
    char v[8];

    /* systemd marks a cgroup it delegates (Delegate=yes). */
    if (getxattr(h->dir, "trusted.delegate", v, sizeof(v)) > 0 ||
        getxattr(h->dir, "user.delegate", v, sizeof(v)) > 0)
        return 1;
    /* A delegated cgroup is handed to the unit's user. */
    if (geteuid() != 0 && stat(h->dir, &st) == 0 && st.st_uid == geteuid())
        return 1;
    /* The cgroup of a systemd service (ours has Delegate=yes). */
    return inv != NULL && inv[0] != '\0' && bl > 8 &&
           strcmp(h->base + bl - 8, ".service") == 0;
}

int cgroup_default_root(const char *prefix, const char *node, char *out,
                        size_t size)
{
    int n = snprintf(out, size, "/steel/%s/%s", prefix, node);
    char *p;

    if (n < 0 || (size_t)n >= size || prefix[0] == '\0' || node[0] == '\0')
        return -1;
    for (p = out + 7; *p != '\0'; p++) {
        if (p == out + 7 + strlen(prefix))
            continue; /* the slash between the two */
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' ||
              (*p == '.' && p[-1] != '/')))
            *p = '_';
    }
    return 0;
}

int cgroup_pid_base(const char *procroot, long pid, char *out, size_t size)
{
    char path[CGROUP_PATH_MAX + 32], buf[4096], own[CGROUP_PATH_MAX];
    ssize_t n;
    size_t ol;

    if (pid <= 1 || snprintf(path, sizeof(path), "%s/%ld/cgroup", procroot,
                             pid) >= (int)sizeof(path))
        return -1;
    n = cgroup_slurp(path, buf, sizeof(buf));
    if (n <= 0 || ((cgroup_self_path(buf, NULL, own, sizeof(own)) < 0 ||
                    strcmp(own, "/") == 0) &&
                   cgroup_self_path(buf, "pids", own, sizeof(own)) < 0))
        return -1;
    ol = strlen(own);
    if (ol <= 8 || strcmp(own + ol - 8, "/spawner") != 0 || ol - 8 >= size)
        return -1;
    memcpy(out, own, ol - 8);
    out[ol - 8] = '\0';
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

        n +=
            snprintf(out + n, size - (size_t)n, ", %s: %s", cgroup_ctl_names[k],
                     i < 0            ? "missing"
                     : cg->hier[i].v2 ? "v2"
                                      : "v1");
    }
}
