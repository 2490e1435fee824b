/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * portown.h - who listens on a TCP port, by what the kernel says: the
 * listening sockets on that port (IPv4 and IPv6), asked of sock_diag
 * (NETLINK_SOCK_DIAG, inet_diag: only the listeners of that port, so a
 * check costs the same however many sockets the host holds), or read
 * from /proc/net/tcp and /proc/net/tcp6 where netlink cannot answer; and
 * the processes that hold them (/proc/<pid>/fd).  steel-spawner takes a
 * worker as started only when every socket listening on its port is held
 * by the worker's own process tree, so a squatter that answers /health on
 * a worker's port (and would be sent sessions) is never registered idle.
 *
 * The fds of a worker of worker_user are readable only by its uid (the
 * directory /proc/<pid>/fd is its uid's, mode 0500) or with
 * CAP_DAC_READ_SEARCH, which the spawner does not hold: a spawner that is
 * not root checks through portown_check_as, as the workers' user; where
 * the fds still cannot be read (a worker that made itself undumpable), a
 * listener counts as the worker's when its socket's uid (idiag_uid, the
 * uid column of /proc/net/tcp) is the worker's uid.
 */
#ifndef STEEL_PORTOWN_H
#define STEEL_PORTOWN_H

#include <stddef.h>
#include <sys/types.h>

/* Listening sockets on one port that one check considers. */
#define PORTOWN_MAX_SOCKETS 64
/* Processes of a worker's tree whose fds are read. */
#define PORTOWN_MAX_PROCS 256

/* A listening socket: its inode and the uid that owns it. */
struct portown_sock {
    unsigned long inode;
    unsigned long uid;
};

/* Appends to socks (n of max used) every socket in state LISTEN on local
 * port port found in buf, a /proc/net/tcp or tcp6 text of len bytes (its
 * header line and malformed lines are skipped).  Returns 0, or -1 when
 * more than max were found. */
int portown_parse(const char *buf, size_t len, int port,
                  struct portown_sock *socks, size_t max, size_t *n);

/* portown_parse over the file path (/proc/net/tcp or tcp6), read a
 * piece at a time: memory stays bounded whatever the file's size.
 * Returns what portown_parse returns (0, or -1 when more than max
 * listeners were found), or -2 when path cannot be read (errno). */
int portown_scan(const char *path, int port, struct portown_sock *socks,
                 size_t max, size_t *n);

/* Appends to socks (n of max used) every socket of family (AF_INET or
 * AF_INET6) in state LISTEN on local port port, as sock_diag reports
 * them: one NETLINK_SOCK_DIAG dump filtered by the kernel, each reply
 * checked again for the port and the state.  Returns 0; -1 when more
 * than max were found; -2 when netlink cannot answer (errno: no socket,
 * the kernel's error such as ENOENT without inet_diag, EAGAIN when no
 * answer came within a second, EMSGSIZE, E2BIG for a dump longer than
 * its bound), and then n is as it was.  The netlink counterpart of
 * portown_scan; portown_check falls back to that one on -2. */
int portown_diag(int family, int port, struct portown_sock *socks, size_t max,
                 size_t *n);

/* 1 when at least one socket listens on port and every one of them is
 * held by pid or one of its descendants (by its uid where their fds
 * cannot be read); 0 when one is held by any other
 * process (or by none we can see); -1 when nothing listens on port or
 * neither sock_diag nor /proc/net can be read (not logged). */
int portown_check(long pid, int port);

/* portown_check in a child process that switched to uid and gid (no
 * supplementary groups) first: for a caller that is not root, of workers
 * that run as another user.  The same answers; -1 too when the child
 * could not run.  Blocks until the child ends. */
int portown_check_as(long pid, int port, uid_t uid, gid_t gid);

#endif
