/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * procscan.h - the process table as the reaper sees it: whether a recorded
 * worker still runs, the worker processes of this node a pass looks at,
 * and the strays among them (processes of ours Redis does not know).
 * What makes a process a worker of this node, and how one is killed, is
 * common/proc.h's.
 *
 * A worker process is one the kernel placed in a worker group of this
 * node's cgroup subtree (without cgroups, worker_cgroup = off: one whose
 * environment says so).  What a pass costs: it reads the stat of each
 * recorded pid, and the cgroup of each child of this node's spawner (the
 * pid in P:pool:<node>), so it grows with the node's workers, not with
 * the host's processes.  A full scan lists the members of every worker
 * group (without cgroups: reads the environ of every process on the
 * host); the
 * reaper runs one at most every stray_scan_interval seconds (reaper.c).
 * A stray that is a child of the running spawner is thus found by the
 * next pass; any other (an orphan of a spawner that died) by the next
 * full scan.
 */
#ifndef STEEL_PROCSCAN_H
#define STEEL_PROCSCAN_H

#include <stddef.h>
#include <stdint.h>

#include "cgroup.h"
#include "conf.h"
#include "decide.h"
#include "proc.h"

/* A process of ours that Redis does not know is killed only once it is
 * this old (ms), as a guard against a spawner that registers late. */
#define PROCSCAN_STRAY_MIN_AGE_MS 1000

/* PROC_ALIVE when pid (> 0) runs with start time pstart and is no zombie,
 * else PROC_GONE. */
enum decide_proc procscan_check(long pid, unsigned long long pstart);

/* Lists worker processes of ours (prefix, node): with full set, every one
 * on the host (a scan of /proc); else the children of parent that are
 * (none when parent <= 0).  *out is a malloc'd array the caller frees
 * (NULL when empty), *n its length.  Processes that vanish or cannot be
 * read are skipped.  Returns 0, or -1 when /proc cannot be read or memory
 * ran out (logged). */
int procscan_run(const struct cgroup *cg, const char *prefix, const char *node,
                 long parent, int full, struct proc_worker **out, size_t *n);

/* The ids of the worker groups that exist (cg on), sorted, into *ids (a
 * malloc'd array the caller frees; NULL when none), *n its length.
 * Returns 0, or -1 when they cannot be read or memory ran out (logged). */
int procscan_group_ids(const struct cgroup *cg, long **ids, size_t *n);

/* Lists, as procscan_run does, the worker processes in the groups of
 * gids[0..ngids-1] (sorted) whose id is none of recs': the members of the
 * groups no record names, the only ones that may hold strays.  The
 * groups are listed before the records are read (a record is made before
 * its group), so a group of a worker started meanwhile is not among them.
 * Returns 0 or -1 as procscan_run. */
int procscan_unrecorded(const struct cgroup *cg, const char *prefix,
                        const char *node, const long *gids, size_t ngids,
                        const struct worker_rec *recs, size_t nrecs,
                        struct proc_worker **out, size_t *n);

/*
 * Finds this node's cgroup subtree (common/cgroup.h) into cg: the <base>
 * of the spawner pid (its /proc/<pid>/cgroup, "<base>/spawner"; a process
 * running steel-spawner as our own user, and <base> equal to cgroup_root
 * when that is set), else cgroup_root, else the last <base> found (kept
 * in base, base_size bytes), else as root the default subtree
 * (cgroup_default_root).  The pid comes from Redis: it only says where to
 * look; which pids are workers is the kernel's word (their groups).
 * cg->on stays 0 with worker_cgroup = off (the environment rule), or
 * when no <base>/workers exists (then cg->required is set: no process is
 * a worker).  Returns cg->on.
 */
int procscan_groups(struct cgroup *cg, char *base, size_t base_size,
                    const struct conf *c, long spawner);

/* What procscan_strays() did. */
struct procscan_strays {
    long killed; /* worker ids whose processes were killed (one each) */
    int young;   /* strays left alone for being younger than the guard */
};

/* Kills, under the kill rule, the processes of procs (reordered) whose id
 * no record of recs has, once they are PROCSCAN_STRAY_MIN_AGE_MS old, and
 * with cgroups (cg on) the whole group of that id, once every process
 * seen in it is that old; one log line per id.  Stops early on SIGTERM or once
 * the monotonic clock passes stop_ms.  Fills *out. */
void procscan_strays(const struct cgroup *cg, struct proc_worker *procs,
                     size_t nprocs, const struct worker_rec *recs, size_t nrecs,
                     int64_t stop_ms, struct procscan_strays *out);

#endif
