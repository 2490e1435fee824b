/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * privsep.h - the user workers run as (worker_user, worker_group) and what
 * the daemons need to manage workers of another user.
 *
 * With worker_user set, steel-spawner starts every worker as that user and
 * group with no supplementary groups and no capabilities
 * (spawner/launch.c).  The user must not be root and neither it nor the
 * group may be the daemons' own, so a worker can read nothing the daemons'
 * group can (the configuration file) and signal none of their processes.
 * Managing such workers takes, in the daemon's effective set:
 *     CAP_KILL        signal a process of another user
 *     CAP_SYS_PTRACE  read its /proc/<pid>/environ (common/proc.h: how a
 *                     worker process of this node is recognised)
 *     CAP_SETUID, CAP_SETGID   (steel-spawner only) switch to it
 * Root has them all unless a bounding set took them away.  With
 * worker_user empty workers run as the spawner, as before, and nothing is
 * checked.
 *
 * One uid per worker slot (worker_uid_range = LOW-HIGH, with worker_user
 * for the group): worker slot i runs as uid LOW + i, in worker_user's
 * group (or worker_group), so no worker can signal, trace or read the
 * memory or /proc files of another (they are other users to each
 * other).  The uids are mapped, not accounts: privsep_resolve refuses a
 * range where the user database names any uid, or that overlaps
 * /etc/subuid (a user's namespaces could run processes as those uids),
 * and one that holds our own uid.  A slot's home is <worker_home_dir>/
 * <uid>: the spawner's, 0700, with an ACL that lets the slot's uid in
 * (spawner/start.c; no CAP_CHOWN).  It is emptied as the slot's uid
 * when its worker ended, and again by each new worker of the slot before
 * it runs the browser (spawner/launch.c).
 */
#ifndef STEEL_PRIVSEP_H
#define STEEL_PRIVSEP_H

#include <stddef.h>
#include <sys/types.h>

struct conf;

/* Whom workers run as. */
struct privsep {
    int drop;       /* 1: switch to uid:gid in the child; 0: stay */
    int slots;      /* 1: one uid per slot, uid_lo + slot (uid unused) */
    uid_t uid;      /* worker_user's uid */
    uid_t uid_lo;   /* the uids workers run as: uid..uid, or */
    uid_t uid_hi;   /* worker_uid_range; without drop our own euid */
    gid_t gid;      /* worker_group's gid, or the user's primary group */
    char home[256]; /* the user's home directory ("/" when unknown) */
};

/* 1 when uid is one workers run as (ps->uid_lo..ps->uid_hi), else 0. */
int privsep_uid_ok(const struct privsep *ps, uid_t uid);

/* 1 when the range lo..hi meets one of the "name:first:count" lines of
 * the subordinate-id file text (/etc/subuid, /etc/subgid) of len bytes;
 * else 0.  Malformed lines are skipped. */
int privsep_subid_overlap(const char *text, size_t len, unsigned long lo,
                          unsigned long hi);

/* Resolves worker_user and worker_group into *ps (ps->drop = 0 when
 * worker_user is empty) and checks them against the calling process: the
 * user must exist and be neither root nor our effective user, the group
 * neither 0 nor our effective group.  Returns 0, or -1 with a message in
 * err. */
int privsep_resolve(const struct conf *c, struct privsep *ps, char *err,
                    size_t errsize);

/* Checks that the calling process can manage workers of another user:
 * CAP_KILL and CAP_SYS_PTRACE, and with need_setid CAP_SETUID and
 * CAP_SETGID, in its effective set.  Returns 0, or -1 with the missing
 * capabilities named in err. */
int privsep_caps_check(int need_setid, char *err, size_t errsize);

/* For a daemon at start: when worker_user is set, privsep_resolve() and
 * privsep_caps_check(need_setid).  Returns 0 (also when worker_user is
 * empty), or -1 with a message in err. */
int privsep_daemon_check(const struct conf *c, int need_setid,
                         struct privsep *ps, char *err, size_t errsize);

/* Makes the home of slot uid, <base>/<uid> (its path in out, size
 * bytes): base a directory of ours or root's that no one else may write
 * (made 0711 when missing); the home a directory of ours, 0700, with an
 * access ACL that gives uid rwx and no one else anything (no CAP_CHOWN
 * needed, and a worker cannot open its home to others: it does not own
 * it).  Where the file system has no ACLs, the home is given to uid and
 * ps->gid instead (root or CAP_CHOWN).  The worker's child empties it
 * (spawner/launch.c).  Returns 0, or -1 (logged). */
int privsep_slot_home(const struct privsep *ps, const char *base, uid_t uid,
                      char *out, size_t size);

/* 1 when a worker record's address is one steel-fcgi may call: host is
 * worker_host and port inside worker_port_range, or host is an entry of
 * worker_hosts and port inside that entry's range (HOST:LOW-HIGH, the
 * other node's worker_port_range), or inside worker_port_range for an
 * entry without one (hostrange.h); else 0.  A record pointing elsewhere (written by whoever reached Redis)
 * must not steer requests to another host or service. */
int privsep_worker_addr_ok(const struct conf *c, const char *host, int port);

#endif
