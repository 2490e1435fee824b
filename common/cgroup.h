/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * cgroup.h - a cgroup per worker: where the node's subtree is, the group
 * of each worker in it, its limits, its kill, its out-of-memory count,
 * and the identity rule "this process is worker W of this node".
 *
 * Layout, in every hierarchy used (cgroup v2, and cgroup v1 hierarchies
 * for the controllers v2 lacks):
 *
 *     <base>/spawner       the spawner itself
 *     <base>/workers/w<id> worker <id> and everything it starts
 *
 * <base> is a path relative to the hierarchy's root, as
 * /proc/<pid>/cgroup shows it: cgroup_root when set, else our own cgroup
 * when it was delegated (the unit's, systemd's Delegate=yes), else, as
 * root, /steel/<key_prefix>/<node_name> (cgroup_default_root).  The main
 * hierarchy (v2 when mounted, else the v1 pids, freezer or memory hierarchy)
 * gives identity and kill; each controller (memory, pids, cpu) comes from v2
 * when v2 has it, else from its v1 hierarchy, else it is missing (logged).
 *
 * The identity rule: a process is worker <id> of this node when its line
 * of the main hierarchy in /proc/<pid>/cgroup names <base>/workers/w<id>
 * or a group below it.  Nothing else (environment, Redis) decides.
 *
 * Every function takes its paths from struct cgroup, so the tests run
 * them on a directory tree that imitates cgroupfs (mountinfo and
 * /proc/self/cgroup are files read by path too).
 */
#ifndef STEEL_CGROUP_H
#define STEEL_CGROUP_H

#include <stddef.h>
#include <sys/types.h>

#define CGROUP_PATH_MAX 512
#define CGROUP_HIER_MAX 4 /* main + memory + pids + cpu */

enum cgroup_ctl {
    CGROUP_MEMORY,
    CGROUP_PIDS,
    CGROUP_CPU,
    CGROUP_NCTL,
};

/* One hierarchy the node uses. */
struct cgroup_hier {
    char mnt[CGROUP_PATH_MAX];  /* its mount point */
    char base[CGROUP_PATH_MAX]; /* <base>, from the hierarchy's root */
    char dir[CGROUP_PATH_MAX];  /* <base> on disk: under mnt */
    char ctls[128];             /* v1: its controllers ("pids"); v2: "" */
    int v2;                     /* 1: cgroup2 */
};

/* The node's subtree. */
struct cgroup {
    int on;                                   /* 0: no cgroups in use */
    char procroot[CGROUP_PATH_MAX];           /* "/proc"; the tests' fixture */
    struct cgroup_hier hier[CGROUP_HIER_MAX]; /* hier[0]: the main one */
    int nhier;                                /* entries used */
    int ctl[CGROUP_NCTL];                     /* index into hier, or -1 */
    int has_kill;                             /* main is v2 with cgroup.kill */
    int has_freeze; /* main is v2 with cgroup.freeze */
    int owns_base;  /* <base> is our own
                     * (delegated) cgroup */
    int lock_fd;    /* <base>/workers, flock'ed by the
                     * spawner that owns the subtree;
                     * -1: none */
    int required;   /* with on 0: cgroups are required
                     * but none was found, so no
                     * process is a worker */
};

/* Per-worker limits; 0 leaves one unset. */
struct cgroup_limits {
    long memory_mb;  /* memory.max (v2) / memory.limit_in_bytes (v1), no
                      * swap */
    long pids;       /* pids.max */
    long cpu_weight; /* cpu.weight 1..10000 (v1: cpu.shares scaled) */
    long cpu_pct;    /* cpu.max: percent of one CPU (v1: cfs quota) */
};

/*
 * Finds the hierarchies from a mountinfo file and a /proc/self/cgroup
 * file, and <base>: root when it is a path ("/steel/n1"), else our own
 * cgroup of each hierarchy (refused when that is "/": not delegated).
 * Fills cg (cg->on stays 0).  Returns 0, or -1 with the reason in err.
 */
int cgroup_detect(struct cgroup *cg, const char *mountinfo, const char *selfcg,
                  const char *root, char *err, size_t errsize);

/*
 * Makes <base>/workers in every hierarchy (and <base> when root was
 * given), takes an exclusive flock on the main one's (refused when
 * another spawner holds it: two nodes never share a subtree), moves the calling
 * process into <base>/spawner (so <base> holds no process, and the reaper finds
 * <base> from the spawner's pid), turns the controllers on for the workers'
 * groups where v2 has them, and notes cgroup.kill and cgroup.freeze.  Sets
 * cg->on.  Returns 0, or -1 with the reason in err (nothing writable).
 */
int cgroup_setup(struct cgroup *cg, const char *root, char *err,
                 size_t errsize);

/* At the spawner's exit, when <base> is not our own cgroup (cgroup_root,
 * or the default subtree): moves us to the root of each hierarchy and
 * removes <base>/workers, <base>/spawner, <base> and each parent left
 * empty.  A group still busy stays (nothing is logged). */
void cgroup_teardown(const struct cgroup *cg);

/* For a process that only looks at the subtree (the reaper): cg from
 * cgroup_detect with <base> as root; notes its controllers, cgroup.kill
 * and cgroup.freeze and sets cg->on.  Returns 0, or -1 when
 * <base>/workers does not exist. */
int cgroup_open(struct cgroup *cg);

/* 1 when our own cgroup, the <base> of cg (detected without a root), was
 * delegated to us: systemd's trusted.delegate or user.delegate mark, a
 * directory owned by our (non-root) user, or the cgroup of the systemd
 * service we run in.  0 otherwise: then it is no place for workers. */
int cgroup_delegated(const struct cgroup *cg);

/* The subtree a spawner run as root takes when cgroup_root is empty and
 * nothing was delegated to it: "/steel/<prefix>/<node>", bytes other than
 * [A-Za-z0-9._-] replaced by '_' (no leading dot).  Returns 0, or -1. */
int cgroup_default_root(const char *prefix, const char *node, char *out,
                        size_t size);

/* The <base> of a spawner from its /proc/<pid>/cgroup under procroot: its
 * v2 path (else its v1 pids path) without the trailing "/spawner" that
 * cgroup_setup put it in.  Returns 0, or -1 (gone, or not in a
 * "<base>/spawner"). */
int cgroup_pid_base(const char *procroot, long pid, char *out, size_t size);

/* "memory pids cpu" as found, "-" for a missing one, into out. */
void cgroup_describe(const struct cgroup *cg, char *out, size_t size);

/* Makes the group of worker id in every hierarchy and writes its limits
 * (a limit whose controller is missing is skipped).  Returns 0, or -1
 * with the reason in err. */
int cgroup_worker_create(const struct cgroup *cg, long id,
                         const struct cgroup_limits *lim, char *err,
                         size_t errsize);

/* Moves pid into the group of worker id in every hierarchy (main last).
 * Returns 0, or -1 (errno set, not logged). */
int cgroup_worker_attach(const struct cgroup *cg, long id, pid_t pid);

/* Kills every process of the group of worker id: cgroup.kill, else
 * freeze, SIGKILL each pid of cgroup.procs, thaw, until empty or tries
 * run out.  Returns 1 when the group is empty (or gone), 0 when
 * processes remain, -1 on error (logged). */
int cgroup_worker_kill(const struct cgroup *cg, long id);

/* The pids (> 1) of worker id's group in the main hierarchy, as the
 * kernel lists them, into pids (at most max).  Returns the count, or -1
 * when the group is gone. */
int cgroup_worker_pids(const struct cgroup *cg, long id, long *pids, int max);

/* 1 when the group of worker id holds no process (or is gone), else 0. */
int cgroup_worker_empty(const struct cgroup *cg, long id);

/* Removes the group of worker id from every hierarchy.  Returns 0 (also
 * when already gone), or -1 (busy; errno set, not logged). */
int cgroup_worker_remove(const struct cgroup *cg, long id);

/* 1 when the kernel's OOM killer killed a process of worker id's group
 * (v2 memory.events oom_kill; v1 memory.oom_control oom_kill or
 * under_oom), else 0. */
int cgroup_worker_oom(const struct cgroup *cg, long id);

/* Calls fn for each worker group that exists (its id).  Returns the
 * number, or -1 when <base>/workers cannot be read. */
int cgroup_workers_each(const struct cgroup *cg, void (*fn)(long id, void *arg),
                        void *arg);

/* The identity rule on a /proc/<pid>/cgroup buffer: 1 with *id when it
 * names a worker group of cg, else 0. */
int cgroup_parse_worker(const struct cgroup *cg, const char *buf, size_t len,
                        long *id);

/* The identity rule on process pid under procroot ("/proc"): 1 with
 * *id, 0 when it is no worker of ours or is gone. */
int cgroup_pid_worker(const struct cgroup *cg, const char *procroot, long pid,
                      long *id);

#endif
