/*
 * procscan.h - the process table as the reaper sees it: which processes
 * are workers of this node (by their environment), whether a recorded
 * worker still runs, and killing one safely.
 *
 * A worker is recognised by STEEL_PREFIX=<key_prefix>, STEEL_NODE=<node>
 * and STEEL_WORKER_ID=<id> in /proc/<pid>/environ (the spawner sets them).
 * A process is "the worker" only while its start time (field 22 of
 * /proc/<pid>/stat) equals the recorded pstart, so a reused pid is never
 * mistaken for it, and a zombie counts as gone.
 *
 * The parsers take buffers, so the tests run them without /proc.
 */
#ifndef STEEL_PROCSCAN_H
#define STEEL_PROCSCAN_H

#include <stddef.h>
#include <stdint.h>

#include "decide.h"
#include "store.h"

/* One process whose environment names our prefix and node. */
struct procscan_entry {
    long pid;
    long pgid;                 /* its process group */
    unsigned long long pstart; /* clock ticks since boot */
    char id[WORKER_ID_MAX];    /* its STEEL_WORKER_ID */
};

/* Reads an environ buffer (NUL-separated NAME=VALUE, the last entry may
 * lack its NUL).  Returns 1 when the first STEEL_PREFIX equals prefix, the
 * first STEEL_NODE equals node and the first STEEL_WORKER_ID is a decimal
 * id shorter than idsize (copied to id); 0 otherwise. */
int procscan_environ(const char *buf, size_t len, const char *prefix,
                     const char *node, char *id, size_t idsize);

/* Parses a /proc/<pid>/stat buffer into its state letter (field 3), its
 * process group (field 5) and its start time (field 22).  Returns 0, or
 * -1 when the buffer is malformed. */
int procscan_stat(const char *buf, size_t len, char *state, long *pgid,
                  unsigned long long *start);

/* PROC_ALIVE when pid (> 0) runs with start time pstart and is no zombie,
 * else PROC_GONE. */
enum decide_proc procscan_check(long pid, unsigned long long pstart);

/* Milliseconds since a process with start time pstart started, or -1 when
 * the clock cannot be read. */
int64_t procscan_age_ms(unsigned long long pstart);

/* Lists every process of ours (prefix, node).  *out is a malloc'd array
 * the caller frees (NULL when empty), *n its length.  Processes that
 * vanish or cannot be read during the scan are skipped.  Returns 0, or -1
 * when /proc cannot be read (logged). */
int procscan_run(const char *prefix, const char *node,
                 struct procscan_entry **out, size_t *n);

/* SIGKILLs pid's process group when pid leads one, else pid alone, after
 * checking that pid still has start time pstart and is no zombie.  Never
 * signals process group 0 or 1 or our own group.  Returns 1 when a signal
 * was sent, 0 when the process was already gone, -1 on a kill(2) error
 * (errno set, not logged). */
int procscan_kill(long pid, unsigned long long pstart);

#endif
