/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * cgroup_int.h - what cgroup.c (the node's subtree) and cgroup_worker.c
 * (one worker's group) share: file reads and writes on cgroupfs, word
 * tests, and the paths built from struct cgroup.  Not for other modules.
 */
#ifndef STEEL_CGROUP_INT_H
#define STEEL_CGROUP_INT_H

#include <stddef.h>
#include <sys/types.h>

#include "cgroup.h"

#define CGROUP_FILE_MAX (64 * 1024) /* bytes of one file read */

/* "memory", "pids", "cpu", by enum cgroup_ctl. */
extern const char *const cgroup_ctl_names[CGROUP_NCTL];

/* Reads path into buf (size bytes, NUL added).  Returns the length, or -1. */
ssize_t cgroup_slurp(const char *path, char *buf, size_t size);
/* Writes s to path (cgroupfs takes one write).  Returns 0, or -1. */
int cgroup_put(const char *path, const char *s);
/* 1 when token (a word between commas) is in list. */
int cgroup_has_token(const char *list, const char *token);
/* 1 when word is one of the blank-separated words of buf. */
int cgroup_has_word(const char *buf, const char *word);
/* <h's dir><sub> into out.  Returns 0, or -1 (too long). */
int cgroup_hpath(const struct cgroup_hier *h, const char *sub, char *out,
                 size_t size);
/* Worker id's group in h, and optionally a file of it.  Returns 0 or -1. */
int cgroup_wpath(const struct cgroup_hier *h, long id, const char *file,
                 char *out, size_t size);
/* The path of a /proc/<pid>/cgroup buffer in one hierarchy: the v2 line
 * when ctl is NULL, else the v1 line whose controllers hold ctl.  Returns
 * 0, or -1 when there is none. */
int cgroup_self_path(const char *buf, const char *ctl, char *out, size_t size);

#endif
