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
 */
#ifndef STEEL_PRIVSEP_H
#define STEEL_PRIVSEP_H

#include <stddef.h>
#include <sys/types.h>

struct conf;

/* Whom workers run as. */
struct privsep {
    int drop;       /* 1: switch to uid:gid in the child; 0: stay */
    uid_t uid;      /* worker_user's uid */
    gid_t gid;      /* worker_group's gid, or the user's primary group */
    char home[256]; /* the user's home directory ("/" when unknown) */
};

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

/* 1 when a worker record's address is one steel-fcgi may call: host is
 * worker_host and port inside worker_port_range, or host is an entry of
 * worker_hosts and port inside that entry's range (HOST:LOW-HIGH, the
 * other node's worker_port_range), or inside worker_port_range for an
 * entry without one (hostrange.h); else 0.  A record pointing elsewhere (written by whoever reached Redis)
 * must not steer requests to another host or service. */
int privsep_worker_addr_ok(const struct conf *c, const char *host, int port);

#endif
