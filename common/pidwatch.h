/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * pidwatch.h - whether the process of a worker record still runs, from a
 * pidfd held across reaper passes instead of a read of /proc/<pid>/stat
 * per worker per pass.  The kernel makes a pidfd readable when its process
 * ends (a zombie included), and one epoll set over every held pidfd says
 * which ended: a pass costs a syscall plus a lookup per worker whatever
 * the node holds, and /proc is read only when a record names a process
 * not yet watched.
 *
 * A process is watched under a key (the worker id) with the pid and start
 * time its record names.  It is taken for that record's process only when
 * /proc/<pid>/stat, read after its pidfd was opened, shows that start time
 * and no zombie: the pidfd then names that very process, and a pid reused
 * later is never taken for it.
 *
 * Without pidfd_open(2) (a kernel older than 5.3), or with no descriptor
 * left, pidwatch_alive() answers -1 and the caller reads /proc itself.
 */
#ifndef STEEL_PIDWATCH_H
#define STEEL_PIDWATCH_H

struct pidwatch;

/* A new, empty watch; NULL when pidfds or epoll are not available (or no
 * memory): then every caller reads /proc itself. */
struct pidwatch *pidwatch_new(void);

/* Closes every pidfd and frees pw (NULL is fine). */
void pidwatch_free(struct pidwatch *pw);

/* Collects the ends the kernel reported since the last call (one
 * epoll_wait that does not block).  Call once at the start of a pass. */
void pidwatch_poll(struct pidwatch *pw);

/* Whether the process that key's record names (pid, started at pstart in
 * clock ticks since boot) still runs.  Watches it from now on when it is
 * new under key, or another than the one watched there.  Returns 1 alive,
 * 0 gone (ended, a zombie, or pid is another process now), -1 when it
 * cannot tell (no pidfd: out of descriptors, or no memory). */
int pidwatch_alive(struct pidwatch *pw, long key, long pid,
                   unsigned long long pstart);

/* Stops watching every key that pidwatch_alive() was not asked about
 * since the last sweep (records gone), closing their pidfds.  Call once
 * at the end of a pass that asked about every record. */
void pidwatch_sweep(struct pidwatch *pw);

/* The number of processes watched. */
long pidwatch_count(const struct pidwatch *pw);

#endif
