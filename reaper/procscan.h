/*
 * procscan.h - the process table as the reaper sees it: the worker
 * processes of this node, and whether a recorded worker still runs.  What
 * makes a process a worker of this node, and how one is killed, is
 * common/proc.h's.
 */
#ifndef STEEL_PROCSCAN_H
#define STEEL_PROCSCAN_H

#include <stddef.h>

#include "decide.h"
#include "proc.h"

/* PROC_ALIVE when pid (> 0) runs with start time pstart and is no zombie,
 * else PROC_GONE. */
enum decide_proc procscan_check(long pid, unsigned long long pstart);

/* Lists every worker process of ours (prefix, node).  *out is a malloc'd
 * array the caller frees (NULL when empty), *n its length.  Processes that
 * vanish or cannot be read during the scan are skipped.  Returns 0, or -1
 * when /proc cannot be read or memory ran out (logged). */
int procscan_run(const char *prefix, const char *node, struct proc_worker **out,
                 size_t *n);

#endif
