/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * privsep.c - resolving worker_user and checking the daemons' capabilities
 * (privsep.h).
 *
 * Invariants: a worker user that is root, or the daemons' own user or
 * group, is refused, never silently accepted; the capability check reads
 * the effective set the kernel reports (/proc/self/status CapEff), so a
 * root daemon whose bounding set lacks a capability is refused too.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "hostrange.h"
#include "privsep.h"

/* Capability numbers (linux/capability.h). */
#define CAP_NR_KILL       5
#define CAP_NR_SETGID     6
#define CAP_NR_SETUID     7
#define CAP_NR_SYS_PTRACE 19

#define LOOKUP_BUF 16384

int privsep_resolve(const struct conf *c, struct privsep *ps, char *err,
                    size_t errsize)
{
    struct passwd pw, *pwp = NULL;
    struct group gr, *grp = NULL;
    char *buf;
    int rc = -1, e;

    memset(ps, 0, sizeof(*ps));
    ps->home[0] = '/';
    if (c->worker_user[0] == '\0')
        return 0;
    buf = malloc(LOOKUP_BUF);
    if (buf == NULL) {
        snprintf(err, errsize, "worker_user: out of memory");
        return -1;
    }
    e = getpwnam_r(c->worker_user, &pw, buf, LOOKUP_BUF, &pwp);
    if (pwp == NULL) {
        snprintf(err, errsize, "worker_user %s: %s", c->worker_user,
                 e != 0 ? strerror(e) : "no such user");
        goto out;
    }
    ps->uid = pw.pw_uid;
    ps->gid = pw.pw_gid;
    if (pw.pw_dir != NULL && pw.pw_dir[0] == '/' &&
        strlen(pw.pw_dir) < sizeof(ps->home))
        memcpy(ps->home, pw.pw_dir, strlen(pw.pw_dir) + 1);
    if (c->worker_group[0] != '\0') {
        e = getgrnam_r(c->worker_group, &gr, buf, LOOKUP_BUF, &grp);
        if (grp == NULL) {
            snprintf(err, errsize, "worker_group %s: %s", c->worker_group,
                     e != 0 ? strerror(e) : "no such group");
            goto out;
        }
        ps->gid = gr.gr_gid;
    }
    if (ps->uid == 0 || ps->uid == geteuid()) {
        snprintf(err, errsize,
                 "worker_user %s (uid %ld) must be neither root nor the "
                 "user steel-spawner and steel-reaper run as",
                 c->worker_user, (long)ps->uid);
        goto out;
    }
    if (ps->gid == 0 || ps->gid == getegid()) {
        snprintf(err, errsize,
                 "the workers' group (gid %ld) must be neither root's nor "
                 "the group steel-spawner and steel-reaper run as (it may "
                 "read the configuration); set worker_group",
                 (long)ps->gid);
        goto out;
    }
    ps->drop = 1;
    rc = 0;
out:
    free(buf);
    return rc;
}

/* The effective capability set of this process, or -1 when unreadable. */
static int caps_effective(unsigned long long *out)
{
    char line[256];
    FILE *f = fopen("/proc/self/status", "re");
    int rc = -1;

    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL) {
        char *end;

        if (strncmp(line, "CapEff:", 7) != 0)
            continue;
        errno = 0;
        *out = strtoull(line + 7, &end, 16);
        if (errno == 0 && end != line + 7)
            rc = 0;
        break;
    }
    fclose(f);
    return rc;
}

int privsep_caps_check(int need_setid, char *err, size_t errsize)
{
    static const struct {
        int nr;
        const char *name;
        int setid;
    } need[] = {
        {CAP_NR_KILL, "CAP_KILL", 0},
        {CAP_NR_SYS_PTRACE, "CAP_SYS_PTRACE", 0},
        {CAP_NR_SETUID, "CAP_SETUID", 1},
        {CAP_NR_SETGID, "CAP_SETGID", 1},
    };
    unsigned long long eff;
    char missing[128] = "";
    size_t i, used = 0;

    if (caps_effective(&eff) < 0) {
        snprintf(err, errsize, "cannot read the capabilities of this "
                               "process from /proc/self/status");
        return -1;
    }
    for (i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
        int w;

        if ((need[i].setid && !need_setid) || (eff >> need[i].nr) & 1)
            continue;
        w = snprintf(missing + used, sizeof(missing) - used, "%s%s",
                     used > 0 ? " " : "", need[i].name);
        if (w > 0 && (size_t)w < sizeof(missing) - used)
            used += (size_t)w;
    }
    if (used == 0)
        return 0;
    snprintf(err, errsize,
             "worker_user is set but this process lacks %s: run it as "
             "root or grant them (AmbientCapabilities= in its unit)",
             missing);
    return -1;
}

int privsep_daemon_check(const struct conf *c, int need_setid,
                         struct privsep *ps, char *err, size_t errsize)
{
    if (privsep_resolve(c, ps, err, errsize) < 0)
        return -1;
    if (!ps->drop)
        return 0;
    return privsep_caps_check(need_setid, err, errsize);
}

int privsep_worker_addr_ok(const struct conf *c, const char *host, int port)
{
    if (strcmp(host, c->worker_host) == 0 && port >= c->worker_port_min &&
        port <= c->worker_port_max)
        return 1;
    return hostrange_allows(c->worker_hosts, host, port, c->worker_port_min,
                            c->worker_port_max);
}
