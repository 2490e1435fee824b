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
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "conf.h"
#include "hostrange.h"
#include "log.h"
#include "privsep.h"
#include "util.h"

/* Capability numbers (linux/capability.h). */
#define CAP_NR_KILL       5
#define CAP_NR_SETGID     6
#define CAP_NR_SETUID     7
#define CAP_NR_SYS_PTRACE 19

#define LOOKUP_BUF 16384

int privsep_uid_ok(const struct privsep *ps, uid_t uid)
{
    return uid >= ps->uid_lo && uid <= ps->uid_hi;
}

int privsep_subid_overlap(const char *text, size_t len, unsigned long lo,
                          unsigned long hi)
{
    size_t i = 0;

    while (i < len) {
        size_t end = i;
        char line[256], *f1, *f2, *e1, *e2;
        unsigned long first, count;

        while (end < len && text[end] != '\n')
            end++;
        if (end - i < sizeof(line)) {
            memcpy(line, text + i, end - i);
            line[end - i] = '\0';
            f1 = strchr(line, ':');
            f2 = f1 != NULL ? strchr(f1 + 1, ':') : NULL;
            if (f2 != NULL) {
                errno = 0;
                first = strtoul(f1 + 1, &e1, 10);
                count = strtoul(f2 + 1, &e2, 10);
                if (errno == 0 && e1 == f2 && e2 != f2 + 1 && count > 0 &&
                    first <= hi && lo <= first + (count - 1))
                    return 1;
            }
        }
        i = end + 1;
    }
    return 0;
}

/* 1 when the subordinate-id file path (absent: none) overlaps lo..hi. */
static int subid_file_overlap(const char *path, unsigned long lo,
                              unsigned long hi)
{
    char buf[65536];
    ssize_t n = read_path(path, buf, sizeof(buf));

    return n > 0 && privsep_subid_overlap(buf, (size_t)n, lo, hi);
}

/* worker_uid_range: mapped uids that nothing else uses.  Returns 0, or
 * -1 with a message in err. */
static int range_check(const struct privsep *ps, const struct conf *c,
                       char *err, size_t errsize)
{
    struct passwd *p;
    int clash = 0;
    char name[64] = "";
    unsigned long puid = 0;

    if (privsep_uid_ok(ps, geteuid()) || privsep_uid_ok(ps, ps->uid)) {
        snprintf(err, errsize,
                 "worker_uid_range %ld-%ld holds the uid of worker_user or "
                 "of steel-spawner and steel-reaper",
                 c->worker_uid_min, c->worker_uid_max);
        return -1;
    }
    /* The whole user database once (not one lookup per uid). */
    setpwent();
    while (!clash && (p = getpwent()) != NULL) {
        if (privsep_uid_ok(ps, p->pw_uid)) {
            clash = 1;
            snprintf(name, sizeof(name), "%s", p->pw_name);
            puid = (unsigned long)p->pw_uid;
        }
    }
    endpwent();
    if (clash) {
        snprintf(err, errsize,
                 "worker_uid_range %ld-%ld holds uid %lu of user %s: the "
                 "range must be uids no account uses",
                 c->worker_uid_min, c->worker_uid_max, puid, name);
        return -1;
    }
    if (subid_file_overlap("/etc/subuid", (unsigned long)ps->uid_lo,
                           (unsigned long)ps->uid_hi)) {
        snprintf(err, errsize,
                 "worker_uid_range %ld-%ld overlaps /etc/subuid: a user's "
                 "namespaces could run processes as a worker's uid",
                 c->worker_uid_min, c->worker_uid_max);
        return -1;
    }
    return 0;
}

int privsep_resolve(const struct conf *c, struct privsep *ps, char *err,
                    size_t errsize)
{
    struct passwd pw, *pwp = NULL;
    struct group gr, *grp = NULL;
    char *buf;
    int rc = -1, e;

    memset(ps, 0, sizeof(*ps));
    ps->home[0] = '/';
    ps->uid_lo = ps->uid_hi = geteuid();
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
    ps->uid_lo = ps->uid_hi = ps->uid;
    if (c->worker_uid_min != 0) {
        ps->uid_lo = (uid_t)c->worker_uid_min;
        ps->uid_hi = (uid_t)c->worker_uid_max;
        ps->slots = 1;
        if (range_check(ps, c, err, errsize) < 0)
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

/* POSIX ACL xattr (linux/posix_acl_xattr.h), little-endian on disk. */
#define ACL_XATTR_VERSION 2
#define ACL_USER_OBJ      0x01
#define ACL_USER          0x02
#define ACL_GROUP_OBJ     0x04
#define ACL_MASK          0x10
#define ACL_OTHER         0x20
#define ACL_UNDEFINED_ID  0xffffffffu

/* Gives uid, and no one else but the owner, rwx on the directory fd
 * (an access ACL: owner rwx, user:uid rwx, group and other nothing).
 * Returns 0, or -1 with errno (EOPNOTSUPP: no ACLs on this file
 * system). */
static int acl_grant(int fd, uid_t uid)
{
    static const struct {
        uint16_t tag, perm;
    } ent[] = {{ACL_USER_OBJ, 7}, {ACL_USER, 7}, {ACL_GROUP_OBJ, 0},
               {ACL_MASK, 7},     {ACL_OTHER, 0}};
    unsigned char buf[4 + 5 * 8], *p = buf + 4;
    uint32_t v = ACL_XATTR_VERSION;
    size_t i;

    memset(buf, 0, sizeof(buf));
    for (i = 0; i < 4; i++)
        buf[i] = (unsigned char)(v >> (8 * i));
    for (i = 0; i < sizeof(ent) / sizeof(ent[0]); i++, p += 8) {
        uint32_t id = ent[i].tag == ACL_USER ? (uint32_t)uid : ACL_UNDEFINED_ID;
        int b;

        p[0] = (unsigned char)ent[i].tag;
        p[1] = (unsigned char)(ent[i].tag >> 8);
        p[2] = (unsigned char)ent[i].perm;
        for (b = 0; b < 4; b++)
            p[4 + b] = (unsigned char)(id >> (8 * b));
    }
    return fsetxattr(fd, "system.posix_acl_access", buf, sizeof(buf), 0);
}

int privsep_slot_home(const struct privsep *ps, const char *base, uid_t uid,
                      char *out, size_t size)
{
    struct stat st;
    char name[32];
    int bfd, fd = -1, n, rc = -1;

    if (mkdir(base, 0711) == 0 && chmod(base, 0711) < 0) {
        log_warn("worker_home_dir %s: chmod", base);
        return -1;
    }
    bfd = open(base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (bfd < 0 || fstat(bfd, &st) < 0) {
        log_warn("worker_home_dir %s", base);
        goto out;
    }
    if ((st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & 022)) {
        log_warnx("worker_home_dir %s: must be a directory of root or of "
                  "this user that no one else may write",
                  base);
        goto out;
    }
    snprintf(name, sizeof(name), "%lu", (unsigned long)uid);
    n = snprintf(out, size, "%s/%s", base, name);
    if (n < 0 || (size_t)n >= size) {
        log_warnx("worker_home_dir %s is too long", base);
        goto out;
    }
    if (mkdirat(bfd, name, 0700) < 0 && errno != EEXIST) {
        log_warn("worker slot home %s", out);
        goto out;
    }
    fd = openat(bfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0) {
        log_warn("worker slot home %s", out);
        goto out;
    }
    if (st.st_uid == geteuid()) {
        int acl = fchmod(fd, 0700) < 0 ? -1 : acl_grant(fd, uid);

        if (acl == 0) {
            rc = 0;
            goto out;
        }
        if (errno != EOPNOTSUPP) {
            log_warn("worker slot home %s: access for uid %lu", out,
                     (unsigned long)uid);
            goto out;
        }
    }
    /* No ACLs here, or a home given to uid before. */
    if ((st.st_uid != uid || st.st_gid != ps->gid) &&
        fchown(fd, uid, ps->gid) < 0) {
        log_warn("worker slot home %s: no ACLs on this file system, and "
                 "chown to %lu:%lu",
                 out, (unsigned long)uid, (unsigned long)ps->gid);
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    if (bfd >= 0)
        close(bfd);
    return rc;
}

int privsep_worker_addr_ok(const struct conf *c, const char *host, int port)
{
    if (strcmp(host, c->worker_host) == 0 && port >= c->worker_port_min &&
        port <= c->worker_port_max)
        return 1;
    return hostrange_allows(c->worker_hosts, host, port, c->worker_port_min,
                            c->worker_port_max);
}
