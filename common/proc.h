/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * proc.h - worker processes as /proc shows them: what /proc/<pid>/stat
 * and /proc/<pid>/environ say, which processes are workers of this node,
 * and the one rule for signalling a worker.  The spawner, the reaper and
 * the tests use it.
 *
 * A worker process of this node is a process other than ourselves that is
 * no zombie and that the kernel placed in the group of a worker of this
 * node's cgroup subtree (common/cgroup.h: /proc/<pid>/cgroup names
 * <base>/workers/w<id>).  Only when the node runs without cgroups
 * (worker_cgroup = off, development) is it one whose environment holds, each
 * first of its name (as getenv(3) reads them), STEEL_PREFIX=<key_prefix>
 * STEEL_NODE=<node_name> STEEL_WORKER_ID=<decimal id shorter than
 * WORKER_ID_MAX> (the spawner sets all three, spawner/launch.c).  It is the
 * process of a worker record only while its start time (field 22 of stat)
 * equals the record's pstart, so a reused pid is never taken for it.
 *
 * The kill rule: a worker is signalled only after its identity was
 * checked, through a pidfd of it when one is held (the pidfd names that
 * very process), else by its start time with a zombie counted as gone; and
 * its process group is signalled only when it leads that group (pgid ==
 * pid) and the group is neither 0, 1 nor our own.  Otherwise the process
 * alone gets the signal.
 *
 * The parsers take buffers, and struct proc_node reads below any root, so
 * the tests run the rules without real processes.
 */
#ifndef STEEL_PROC_H
#define STEEL_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cgroup.h"
#include "store.h"

/* Bytes of /proc/<pid>/environ read; the spawner appends our variables
 * after the inherited ones, well inside this. */
#define PROC_ENVIRON_MAX (256 * 1024)

/* Bytes of /proc/<pid>/stat read (the command name is at most 64). */
#define PROC_STAT_MAX 1024

/* What /proc/<pid>/stat says. */
struct proc_stat {
    char state;               /* field 3: R, S, D, Z (zombie), X (dead) */
    long ppid;                /* field 4: parent pid */
    long pgid;                /* field 5: process group */
    unsigned long long start; /* field 22: clock ticks since boot */
};

/* Parses a stat buffer of len bytes (no NUL needed).  The command name
 * (field 2) may hold blanks and parentheses: fields are counted from its
 * last ')'.  Returns 0, or -1 when the buffer is malformed. */
int proc_stat_parse(const char *buf, size_t len, struct proc_stat *out);

/* Reads and parses /proc/<pid>/stat.  Returns 0, or -1 when there is no
 * such process (or pid <= 0). */
int proc_stat_read(long pid, struct proc_stat *out);

/* The start time of pid (clock ticks since boot) into *out.  Returns 0,
 * or -1 when there is no such process. */
int proc_start_time(long pid, unsigned long long *out);

/* 1 when pid (> 0) runs, is no zombie and started at pstart, else 0. */
int proc_alive(long pid, unsigned long long pstart);

/* Milliseconds since a process with start time pstart started, or -1
 * when /proc/uptime cannot be read. */
int64_t proc_age_ms(unsigned long long pstart);

/* The worker rule on an environment buffer (NUL-separated NAME=VALUE of
 * len bytes; the last entry may lack its NUL): returns 1 when it names a
 * worker of prefix and node and copies its id (NUL-terminated) to id of
 * idsize bytes, else 0. */
int proc_environ_worker(const char *buf, size_t len, const char *prefix,
                        const char *node, char *id, size_t idsize);

/* The PORT of an environment buffer as proc_environ_worker takes it: a
 * decimal in 1..65535, else 0. */
int proc_environ_port(const char *buf, size_t len);

/* The real uid in a /proc/<pid>/status buffer of len bytes (its "Uid:"
 * line).  Returns 0, or -1 when there is none that parses. */
int proc_status_uid(const char *buf, size_t len, uid_t *out);

/* The real uid of process pid.  Returns 0, or -1 (gone, unreadable). */
int proc_uid(long pid, uid_t *out);

/* A worker process of this node. */
struct proc_worker {
    long pid;
    long pgid;                 /* its process group */
    unsigned long long pstart; /* clock ticks since boot */
    char id[WORKER_ID_MAX];    /* its STEEL_WORKER_ID */
    int port;                  /* its PORT, 0 when absent or not a port */
};

/* The workers of one node, and what it takes to look for them. */
struct proc_node {
    const char *root;   /* "/proc"; the tests point it at a fixture */
    const struct cgroup *cg; /* the node's subtree, borrowed; NULL, or off
                              * and not required: the environment rule */
    const char *prefix; /* key_prefix, borrowed */
    const char *node;   /* node_name, borrowed */
    long self;          /* our own pid: never one of them */
    char *env;          /* PROC_ENVIRON_MAX bytes for one environ */
};

/* Sets pn up for prefix and node (borrowed: they must outlive pn).
 * Returns 0, or -1 when out of memory (logged).  Release with
 * proc_node_release(). */
int proc_node_init(struct proc_node *pn, const char *prefix, const char *node);
void proc_node_release(struct proc_node *pn);

/* Applies the worker rule to one pid: returns 1 and fills *out when pid is
 * a worker process of this node, 0 when it is not or has vanished.  Reads
 * that one process's environ and stat only. */
int proc_node_worker(struct proc_node *pn, long pid, struct proc_worker *out);

/* Bytes of one /proc/<pid>/task/<tid>/children read: room for about
 * 16000 children of one thread. */
#define PROC_CHILDREN_MAX (128 * 1024)

/* Calls fn for every worker process of this node among the children of
 * parent (every thread's, from <root>/<parent>/task/<tid>/children), so
 * the cost is that of parent's children, not of the host's processes.  A
 * child that vanishes, or a parent that does not exist, is skipped;
 * children past PROC_CHILDREN_MAX bytes of one thread's list are not seen
 * (logged).  Returns the number found, or -1 when out of memory
 * (logged). */
int proc_node_children(struct proc_node *pn, long parent,
                       void (*fn)(const struct proc_worker *w, void *arg),
                       void *arg);

/* Calls fn for every worker process of this node: with cgroups, the
 * members of each worker group as the kernel lists them; else every
 * process under pn->root.  A process that vanishes during the scan is
 * skipped.  Returns the number
 * found, or -1 when the root cannot be read (logged). */
int proc_node_scan(struct proc_node *pn,
                   void (*fn)(const struct proc_worker *w, void *arg),
                   void *arg);

/* Calls fn for every worker process of this node in the worker groups
 * ids[0..n-1] only (pn->cg on), as proc_node_scan does for them all: a
 * reaper pass reads the members of the groups no record names, not of
 * every group.  A group that is gone is skipped.  Returns the number
 * found. */
int proc_node_scan_groups(struct proc_node *pn, const long *ids, size_t n,
                          void (*fn)(const struct proc_worker *w, void *arg),
                          void *arg);

/* The one check before a daemon signals a process that a Redis record
 * (or its own table built from one) names: 1 when pid, started at
 * pstart, is by what the kernel says a worker process of this node -- it
 * runs as a uid of uid_lo..uid_hi (worker_user's, the slots' of
 * worker_uid_range, or the daemon's own when worker_user is empty;
 * struct privsep) and sits in a worker group of cg's subtree (that of worker id
 * when id is not NULL); none when cg is off but required (no subtree
 * found); without cgroups (cg NULL, or off: worker_cgroup = off) its
 * environment names prefix, node and id as the spawner sets
 * them.  0 when it is not, has vanished or cannot be read (logged at
 * debug level): Redis alone, or what a process writes in its own
 * environment, never makes a process a worker. */
int proc_is_node_worker(long pid, unsigned long long pstart,
                        const struct cgroup *cg, const char *prefix,
                        const char *node, const char *id, uid_t uid_lo,
                        uid_t uid_hi);

/* The group decision of the kill rule: -pid when pid leads its process
 * group (pgid == pid) and that group is neither 0, 1 nor own_pgid, else
 * pid.  0 when pid <= 1 (nothing may be signalled). */
long proc_kill_target(long pid, long pgid, long own_pgid);

/* Sends sig to the worker process pid that started at pstart, under the
 * kill rule.  pidfd: a pidfd of the process, or -1 (then the start time
 * and zombie checks decide).  Returns 1 when a signal was sent, 0 when
 * the process is gone or is another one, -1 on another kill error (errno
 * set, not logged). */
int proc_kill(long pid, unsigned long long pstart, int pidfd, int sig);

#endif
