/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * procscan.h - the process table as the reaper sees it: whether a recorded
 * worker still runs, the worker processes of this node a pass looks at,
 * and the strays among them (processes of ours Redis does not know).
 * What makes a process a worker of this node, and how one is killed, is
 * common/proc.h's.
 *
 * What a pass costs: it reads the stat of each recorded pid, and the
 * environ of each child of this node's spawner (the pid in P:pool:<node>),
 * so it grows with the node's workers, not with the host's processes.
 * Only a full scan reads the environ of every process on the host; the
 * reaper runs one at most every stray_scan_interval seconds (reaper.c).
 * A stray that is a child of the running spawner is thus found by the
 * next pass; any other (an orphan of a spawner that died) by the next
 * full scan.
 */
#ifndef STEEL_PROCSCAN_H
#define STEEL_PROCSCAN_H

#include <stddef.h>
#include <stdint.h>

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
int procscan_run(const char *prefix, const char *node, long parent, int full,
                 struct proc_worker **out, size_t *n);

/* What procscan_strays() did. */
struct procscan_strays {
    long killed; /* worker ids whose processes were killed (one each) */
    int young;   /* strays left alone for being younger than the guard */
};

/* Kills, under the kill rule, the processes of procs (reordered) whose id
 * no record of recs has, once they are PROCSCAN_STRAY_MIN_AGE_MS old; one
 * log line per id.  Stops early on SIGTERM or once the monotonic clock
 * passes stop_ms.  Fills *out. */
void procscan_strays(struct proc_worker *procs, size_t nprocs,
                     const struct worker_rec *recs, size_t nrecs,
                     int64_t stop_ms, struct procscan_strays *out);

#endif
