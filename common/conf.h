/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * conf.h - steel-orchestrator.conf, read by every program.
 *
 * The file is "key = value" lines, '#' starts a comment, blank lines are
 * ignored.  "include = PATH" reads another file at that point (a relative
 * PATH is taken from the including file's directory), for secrets kept
 * in a file of their own; a directive set in two files is set twice.  Every directive, its type, range and default is in the table in
 * conf.c and documented in etc/steel-orchestrator.conf; an unknown
 * directive, a repeated one or a bad value is an error that names the file
 * and the line.
 */
#ifndef STEEL_CONF_H
#define STEEL_CONF_H

#include <stddef.h>

#define CONF_STR_MAX 512
/* Most uids worker_uid_range may hold. */
#define CONF_UID_SLOTS_MAX 100000

struct conf {
    /* Redis */
    char redis[CONF_STR_MAX];          /* host:port, or /path for a socket */
    char redis_user[CONF_STR_MAX];     /* ACL user; empty: AUTH <password> */
    char redis_password[CONF_STR_MAX]; /* empty: no AUTH */
    /* The ACL user of each program; empty: redis_user/redis_password.
     * conf_for_program() copies a program's pair over those two. */
    char redis_user_fcgi[CONF_STR_MAX];
    char redis_password_fcgi[CONF_STR_MAX];
    char redis_user_spawner[CONF_STR_MAX];
    char redis_password_spawner[CONF_STR_MAX];
    char redis_user_reaper[CONF_STR_MAX];
    char redis_password_reaper[CONF_STR_MAX];
    long redis_allow_unauthenticated; /* 1: with worker_user, a Redis
                                       * that answers on TCP without
                                       * AUTH is used (with a warning) */
    char redis_sentinels[CONF_STR_MAX]; /* host:port,...; empty: use redis */
    char redis_master_name[CONF_STR_MAX]; /* the master the Sentinels watch */
    long redis_timeout_ms;             /* connect and command deadline */
    char redis_wait_replicas[8];       /* "auto" or a count: replicas that
                                        * acknowledge a create's writes
                                        * before its 201 (conf_wait_replicas) */
    long redis_wait_ms;                /* the longest WAIT for them, ms */
    char key_prefix[64];               /* every key starts "<prefix>:" */
    char node_name[256];               /* this host's name in Redis */

    /* Sessions */
    long session_ttl;          /* seconds of inactivity before a 404 */
    long session_max_lifetime; /* seconds after create; 0 = no cap */
    long max_body;             /* bytes of a create body */

    /* Pool */
    long pool_idle_target; /* idle workers kept warm, per node */
    long pool_max_workers; /* workers in all, per node */
    long pool_idle_grace;  /* seconds an idle surplus lives */
    long create_wait;      /* seconds a create waits for a worker */
    long create_attempts;  /* workers one create tries at most */
    long create_queue_max; /* creates waiting at once, all nodes */
    long create_hedge_min_ms; /* floor of the hedge delay; 0 = no hedge */

    /* Workers */
    char worker_bin[CONF_STR_MAX];  /* the steel-browser executable */
    long worker_port_min;           /* worker_port_range, low end */
    long worker_port_max;           /* worker_port_range, high end */
    char worker_host[256];          /* advertised address of workers */
    long worker_connect_timeout_ms; /* connect deadline to a worker */
    long worker_timeout_ms;         /* whole-request deadline to a worker */
    long worker_start_timeout_ms;   /* spawn to first /health ok */
    char worker_log_dir[CONF_STR_MAX]; /* per-worker stdout/stderr files */
    char node_token_dir[CONF_STR_MAX]; /* where the spawner keeps its
                                        * instance token (nodetoken.h),
                                        * for the reaper and its next
                                        * start; under /run */
    long worker_log_max;               /* bytes kept per worker log */
    long worker_nofile;                /* RLIMIT_NOFILE; 0 = inherit */
    long worker_memory_mb;             /* RLIMIT_AS in MiB; 0 = none */
    long worker_nproc;                 /* RLIMIT_NPROC (threads of the
                                        * workers' user); 0 = inherit */
    long worker_core_mb;               /* RLIMIT_CORE in MiB; 0 = none */
    char worker_cgroup[16];            /* "required" or "off" (dev, no
                                        * worker_user: no cgroups) */
    char cgroup_root[CONF_STR_MAX];    /* the node's subtree in each
                                        * hierarchy; empty: our own
                                        * (delegated) cgroup */
    long worker_cgroup_memory_mb;      /* memory (no swap) per worker in
                                        * MiB; 0 = none */
    long worker_cgroup_pids;           /* processes and threads per
                                        * worker; 0 = none */
    long worker_cpu_weight;            /* cpu.weight 1..10000; 0 = unset */
    long worker_cpu_max_pct;           /* percent of one CPU; 0 = none */
    char worker_user[64];              /* run workers as; empty: as the
                                        * spawner */
    char worker_group[64];             /* their group; empty: the
                                        * user's primary group */
    long worker_uid_min;               /* worker_uid_range: slot i runs
                                        * as worker_uid_min + i; 0: all
                                        * as worker_user */
    long worker_uid_max;               /* its high end (adjacent to
                                        * worker_uid_min: one directive) */
    char worker_home_dir[CONF_STR_MAX]; /* with worker_uid_range: slot
                                         * homes <dir>/<uid>, 0700 */
    char worker_env[CONF_STR_MAX];     /* blank-separated NAME, PREFIX*
                                        * or NAME=VALUE: what of the
                                        * environment workers get */
    char worker_hosts[CONF_STR_MAX];   /* blank-separated hosts handlers
                                        * may address besides
                                        * worker_host */
    long restart_backoff_min_ms;       /* ms before the refill after the
                                        * second start failure in a row */
    long restart_backoff_max_ms;       /* cap of the exponential backoff */
    long restart_stable_s;             /* deprecated: read, not used */

    /* Reaper */
    long reap_interval;    /* seconds between passes */
    long probe_timeout_ms; /* deadline of one health probe */
    long probe_interval;   /* seconds between two probes of a worker that
                              answered its last one (idle or busy) */
    long probe_failures;   /* consecutive failures before a kill */
    long probe_parallel;   /* probes of one pass in flight at once */
    long stray_scan_interval; /* seconds between full /proc scans for
                               * strays; 0 = every pass */
    long node_stale_ms;  /* a node whose heartbeat is older is stale:
                          * no create claims its workers */
    long node_gone_after; /* seconds after its last heartbeat a node is
                           * gone and other nodes' reapers remove its
                           * records */
    long node_drain;      /* 1: this node takes no new sessions, its
                           * spawner retires its idle workers (SIGHUP) */

    /* Handlers */
    long fcgi_threads;               /* accept threads per steel-fcgi */
    long fcgi_create_threads;        /* create threads per steel-fcgi */
    char api_token[CONF_STR_MAX];    /* empty: no client auth */
    char admin_token[CONF_STR_MAX];  /* empty: api_token guards admin */

    char log_level[16]; /* error, warn, info, debug */
};

/* Fills c with every default.  Returns 0, or -1 when the host name cannot
 * be read. */
int conf_defaults(struct conf *c);

/* Reads path over the defaults.  Returns 0, or -1 with a message of the
 * form "PATH:LINE: ..." in err (errsize bytes).  On error *c holds
 * defaults and whatever came before the bad line; callers that reload
 * parse into a fresh struct and swap only on success. */
int conf_load(struct conf *c, const char *path, char *err, size_t errsize);

/* Parses one "key = value" text the same way (name is used in messages). */
int conf_parse(struct conf *c, const char *name, const char *text,
               char *err, size_t errsize);

/* Makes the Redis user of program (its name, "steel-fcgi",
 * "steel-spawner", "steel-reaper") the one redis_user/redis_password
 * name: when its redis_user_<x> or redis_password_<x> is set, that pair
 * replaces the shared one.  Other names change nothing. */
void conf_for_program(struct conf *c, const char *program);

/* Checks relations between directives (ranges, min <= max). */
int conf_validate(const struct conf *c, char *err, size_t errsize);

/* The most replicas redis_wait_replicas may name. */
#define CONF_WAIT_REPLICAS_MAX 16

/* conf_wait_replicas: every replica the Sentinels list as up. */
#define CONF_WAIT_ALL (-2)

/* The replicas that must acknowledge a create's writes before its 201:
 * redis_wait_replicas, where auto is CONF_WAIT_ALL with redis_sentinels
 * (a fail-over promotes one of them, whichever: what it lacks is lost)
 * and 0 without.  Returns the count or CONF_WAIT_ALL, or -1 when the
 * value is neither auto nor 0..CONF_WAIT_REPLICAS_MAX. */
int conf_wait_replicas(const struct conf *c);

#endif
