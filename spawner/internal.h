/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * internal.h - what the parts of steel-spawner share: the supervisor's
 * state, the entries of its worker table, and what each file offers the
 * others.  Only spawner/ and its unit tests include it.
 *
 *   spawner.c  the main loop: set-up, one turn, reload, shutdown
 *   adopt.c    taking over the workers of an earlier spawner at start
 *   exit.c     exits, start failures (restart policy: pool.c), deadlines
 *   view.c     the pool as Redis sees it, the pool decision
 *   report.c   the pool state written back for /status (the heartbeat)
 *   rebuild.c  registering workers again whose records Redis forgot
 *   start.c    ports, starting workers, their /health probes
 *   wlog.c     the workers' log files, trimmed when written past
 *              worker_log_max (an inotify watch names the written ones)
 *   node.c     the node's identity checks and registration
 *   table.c    the worker table, its watches (epoll, pidfds, /health
 *              requests in flight), signals
 *   redis.c    the Redis connection, its failures logged once per outage
 *   launch.c   fork and exec of one worker (launch.h)
 *   pool.c     the decisions as pure functions (pool.h)
 *
 * Who calls whom: each file calls only files drawn below it; nothing
 * calls back up (table.c marks what it finds in the worker, and
 * start_collect() and exit_handle() return what happened, for their
 * callers to act on).  tests/spawner-layers.sh compares this picture
 * with the objects' symbols:
 *
 *   main.c ........ spawner
 *     |
 *   spawner.c ..... adopt exit view report node start table redis wlog
 *     |
 *   adopt.c ....... start table redis
 *   exit.c ........ report start table redis launch pool wlog
 *   view.c ........ report rebuild start table redis pool
 *     |
 *   report.c ...... node redis
 *     |
 *   node.c ........ redis
 *   rebuild.c ..... table redis
 *   start.c ....... table redis launch pool wlog
 *     |
 *   table.c ....... -
 *   redis.c ....... -
 *   launch.c ...... -
 *   pool.c ........ -
 *   wlog.c ........ -
 *
 * struct spawner is in parts, one per file (below): a part is written
 * only by its file; the others read it, or call the file's functions.
 *
 * A worker in the table goes through:
 *
 *              spawn              /health 2xx               adopted
 *   (none) ------------> STARTING ------------> RUNNING <------------ (none)
 *                           |                      |
 *                           | start timeout,       | retired, dead in Redis,
 *                           | dead in Redis,       | record gone, shutdown
 *                           | record gone,         |
 *                           v shutdown             v
 *                        STOPPING <----------------+
 *
 *   STARTING, RUNNING or STOPPING
 *                           |
 *                           | the process exited (pidfd readable, waitpid)
 *                           v
 *                  store_worker_gone ------------> (none)
 *                           | Redis unreachable
 *                           v
 *                         GONE (retried every turn until Redis answers)
 *
 *   from      event                                  to        function
 *   (none)    forked and registered in Redis         STARTING  start_spawn
 *   (none)    adopted at start: alive, leads its     RUNNING   adopt_run
 *             group, answers /health
 *   STARTING  /health 2xx, registered idle           RUNNING   start_collect
 *   STARTING  no /health within                      STOPPING  exit_timeouts
 *             worker_start_timeout_ms (SIGKILL)
 *   STARTING, marked dead in Redis (SIGKILL)         STOPPING  view_apply
 *   RUNNING
 *   STARTING, its Redis record disappeared:          same      rebuild_run
 *   RUNNING   registered again (RUNNING: with what
 *             its /status says)
 *   RUNNING   its record disappeared and /status       STOPPING  rebuild_run
 *             fails, or its id is another worker's
 *             now (SIGKILL)
 *   RUNNING   idle above the target: retired         STOPPING  view_plan
 *             (SIGTERM)
 *   any live  SIGTERM to the spawner (SIGTERM)       STOPPING  shutdown_workers
 *   STOPPING  grace over or lingering: SIGKILL       STOPPING  exit_timeouts
 *   any live  the process exited, record removed     (none)    exit_handle
 *   any live  the process exited, Redis unreachable  GONE      exit_handle
 *   GONE      Redis answers: record removed          (none)    exit_gone_retry
 *
 *   Every "-> STOPPING" goes through table_stop(); every "-> (none)"
 *   through table_remove().  "any live" is STARTING, RUNNING or STOPPING.
 */
#ifndef STEEL_SPAWNER_INTERNAL_H
#define STEEL_SPAWNER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <sys/epoll.h>

#include "cgroup.h"
#include "conf.h"
#include "nodetoken.h"
#include "pool.h"
#include "privsep.h"
#include "rconn.h"
#include "store.h"
#include "store_nodes.h"
#include "whttp.h"

struct prog;

/* After events, the next view comes this soon after the last one. */
#define SPAWNER_VIEW_GAP_MS    10
#define SPAWNER_STOP_GRACE_MS  5000 /* SIGTERM to SIGKILL */
#define SPAWNER_KILL_REPEAT_MS 1000 /* SIGKILL again while it lingers */

/* Where a worker is in the table (see the diagram above). */
enum spawner_wstate {
    SPAWNER_W_STARTING, /* spawned; /health not answered yet */
    SPAWNER_W_RUNNING,  /* answered /health (or adopted) */
    SPAWNER_W_STOPPING, /* signalled; waiting for it to exit */
    SPAWNER_W_GONE,     /* exited; its record still has to leave Redis */
};

/* Why we stopped a worker; SPAWNER_STOP_NONE for a death we did not
 * cause. */
enum spawner_stop {
    SPAWNER_STOP_NONE = 0,
    SPAWNER_STOP_RETIRE,        /* idle above the target (not a failure) */
    SPAWNER_STOP_DEAD,          /* a handler or the reaper marked it dead */
    SPAWNER_STOP_DRAIN,         /* an operator drained it (not a failure) */
    SPAWNER_STOP_VANISHED,      /* its Redis record disappeared and it
                                 * could not be registered again (not a
                                 * failure) */
    SPAWNER_STOP_START_TIMEOUT, /* no /health within
                                 * worker_start_timeout_ms */
    SPAWNER_STOP_SHUTDOWN,      /* SIGTERM to the spawner (not a failure) */
    SPAWNER_STOP_PORT_TAKEN,    /* another process listens on its port
                                 * (not the worker's failure) */
};

/* A /health request in flight for a starting worker. */
struct start_probe {
    struct probe p;   /* first: the CURLOPT_PRIVATE of easy points here */
    CURL *easy;       /* in the spawner's multi handle */
    struct worker *w; /* the worker it asks */
};

struct worker {
    long id;                    /* worker id in Redis */
    uint64_t serial;            /* unique in this process: names its epoll
                                 * entries */
    char sid[WORKER_ID_MAX];    /* the same, as a string */
    long pid;                   /* leads its process group */
    unsigned long long pstart;  /* clock ticks since boot */
    int port;                   /* TCP port it listens on */
    uid_t uid;                  /* the uid it runs as: with
                                 * worker_uid_range its slot's */
    int child;                  /* 1: our child; 0: adopted */
    enum spawner_wstate state;  /* where it is in this table */
    enum spawner_stop stop_why; /* why we stopped it, if we did */
    int pidfd;                  /* readable once it exited; -1 */
    int err_fd;                 /* setup report pipe; -1 once read */
    int err_ready;              /* err_fd was readable at the last
                                 * table_events() */
    struct start_probe *probe;  /* /health request in flight, or NULL */
    int64_t spawn_ms;           /* monotonic ms of the spawn */
    int64_t ready_ms;           /* monotonic ms of the first /health; 0 */
    int healthy;                /* ran POOL_HEALTHY_MS after it, or
                                 * adopted */
    int64_t next_probe_ms;      /* monotonic ms of the next /health try */
    int64_t kill_at_ms;         /* monotonic ms to send SIGKILL (again) */
    unsigned long add_seq;      /* last view before it was registered */
    unsigned long seen_seq;     /* last view that listed it */
    enum worker_state rstate;   /* its state in Redis at that view */
    int64_t rsince_ms;          /* Redis ms it entered rstate */
    int exited;                 /* the process is gone */
    int has_status;             /* status holds the wait status */
    int status;                 /* from waitpid() */
    int fatal;                  /* setup failed in a way retries won't fix */
    int oom;                    /* the OOM killer struck its cgroup */
    int counted;                /* its failure was counted already */
    char reason[256];           /* setup failure reported by the child */
    char dead_reason[128];      /* the reason of its dead record, if any */
};

/*
 * The supervisor's state, in parts.  Each part is written by one file
 * only (its owner, named with it); the others read it, or change it
 * through the owner's functions.  prog and c are spawner.c's (c changes
 * on SIGHUP, in reload()); everyone reads them.
 */

/* redis.c's: the connection and its outage state. */
struct spawner_redis {
    struct store store; /* this thread's connection */
    int down;           /* a Redis failure was logged */
};

/* table.c's: the workers and their watches. */
struct spawner_table {
    struct worker **w;      /* sorted by id; ids are unique */
    size_t n, cap;          /* entries used, allocated */
    uint64_t serial;        /* the last worker serial handed out */
    int epfd;               /* pidfds and setup pipes */
    struct epoll_event *ev; /* room for what epfd reports */
    size_t evcap;           /* entries in ev */
    CURLM *multi;           /* /health probes of starting workers */
    int settled;            /* every worker was settled at the last
                               table_settled() and nothing touched the
                               table since */
    unsigned long touches;  /* table_touch() calls */
    size_t unsettled;       /* the workers before this index were settled
                               at the last table_settled() */
};

/* start.c's: the ports of new workers. */
struct spawner_start {
    struct port_map ports; /* which ports are ours or cooling */
    int ports_logged;      /* "no free port" was logged */
    unsigned char *held;   /* [65536]: 1 while a port was last found held
                              by another process (logged once) */
    unsigned char *slots;  /* worker_uid_range: [uids], scratch of
                              slot_pick */
    int *cleaner;          /* [uids]: pidfd of the child emptying the
                              slot's home after its worker ended, -1 */
    pid_t *cleaner_pid;    /* [uids]: its pid */
    long slot_next;        /* the slot tried first next time: the least
                              recently used come first */
};

/* wlog.c's: which worker logs were written since the last check. */
#define WLOG_CHANGED_MAX 1024 /* logs noted; more: every log is checked */
struct spawner_wlog {
    int fd;    /* inotify watch of worker_log_dir; -1: none (every
                  log is checked each time) */
    int dirfd; /* worker_log_dir, for fstatat(); -1: paths */
    int all;   /* the next check looks at every worker's log */
    size_t n;  /* entries of ports */
    int ports[WLOG_CHANGED_MAX];     /* logs written, by port */
    unsigned char marked[65536 / 8]; /* bit per port: in ports */
    int *fds;     /* [65536]: the log of each port looked at, kept open
                     (O_WRONLY), -1; NULL: none kept */
    long nfds;    /* fds open */
    long fds_max; /* at most this many kept */
};

/* exit.c's: the restart policy's state. */
struct spawner_exit {
    struct restart rs;         /* backoff and degraded state */
    char fail_reason[320];     /* the last failure, shown when degraded */
    uint32_t rnd;              /* jitter generator state */
    unsigned long groups_busy; /* worker groups an end could not remove
                                  (still busy): the sweep's (spawner.c) */
};

/* view.c's: what the last view of the pool said. */
struct spawner_view {
    unsigned long seq;       /* views taken */
    unsigned long clean_seq; /* last view that missed no record */
    long waiting;            /* this node's share of the waiting creates */
    int64_t redis_now_ms;    /* Redis clock at the last view */
    char ver[32];            /* P:ver:<node> at the last view that read
                                every record; "": read them next time */
    int64_t full_due_ms;     /* mono ms of the next view that reads every
                                record whatever P:ver:<node> says */
    int quiet;               /* the last view changed nothing: it is the
                                one before it again (seq did not move) */
    int counted;             /* the counts below were taken of a settled
                                table (view_count) */
    unsigned long touches;   /* table.touches at that count */
    struct pool_counts pc;   /* that count, without waiters and sizes */
    long trial;              /* workers on trial (pool.h) at that count */
    long taken;              /* workers taking a waiter's place: neither
                                idle, starting nor gone */
    int64_t expire_ms;       /* Redis ms the first idle worker counted
                                within its grace runs out of it */
};

/* node.c's: this node among the others. */
struct spawner_node {
    char hostid[NODE_HOSTID_MAX]; /* this host's identity (nodeid.h) */
    int registered;               /* node_register() succeeded */
    struct nodetoken token;       /* this instance's and the previous
                                   * one's (the token file) */
    char token_path[CONF_STR_MAX + 256]; /* its file in node_token_dir */
    int taken;                           /* another process holds the node_name:
                                          * this spawner stops, exit 1 */
    int64_t wait_since_ms;               /* monotonic ms the start-up wait for a
                                          * stale heartbeat of this host began */
    long refused_nodes;                  /* other nodes whose workers this
                                          * node's worker_hosts refuses, at the
                                          * last node_watch */
    long nonlo_nodes;             /* other nodes with a non-loopback
                                   * worker_host, at the last node_watch */
};

/* spawner.c's: what set-up found, and the loop's schedule. */
struct spawner_loop {
    struct privsep ps;         /* whom workers run as */
    struct cgroup cg;          /* the workers' cgroups; cg.on 0: none */
    long nofile_inherit;       /* our own soft limit at start */
    int adopted;               /* adoption at start is done */
    int stopping;              /* SIGTERM: no more spawns */
    int64_t last_view_ms;      /* monotonic ms of the last view */
    int64_t view_due_ms;       /* monotonic ms of the next view */
    int64_t housekeep_due_ms;  /* monotonic ms of the next housekeeping */
    int64_t adopt_due_ms;      /* monotonic ms of the next adoption try */
    int64_t node_watch_due_ms; /* monotonic ms of the next node_watch */
    int64_t sweep_due_ms;      /* monotonic ms of the next sweep of the
                                  worker groups */
    unsigned long swept_busy;  /* exit.groups_busy at the last sweep */
};

struct spawner {
    struct prog *prog;          /* options and configuration */
    struct conf *c;             /* &prog->conf: reloaded on SIGHUP */
    struct spawner_loop loop;   /* spawner.c */
    struct spawner_redis redis; /* redis.c */
    struct spawner_table table; /* table.c */
    struct spawner_start start; /* start.c */
    struct spawner_exit exit;   /* exit.c */
    struct spawner_view view;   /* view.c */
    struct spawner_node node;   /* node.c */
    struct spawner_wlog wlog;   /* wlog.c */
};

/* redis.c: the connection */
/* store_init() for s->c (an error shows at the first command). */
void spawner_redis_init(struct spawner *s);
/* Takes the node timings of a reloaded s->c. */
void spawner_redis_reload(struct spawner *s);
void spawner_redis_release(struct spawner *s);
/* Logs a Redis failure (what was being done, and store_strerror) once
 * until Redis answers again. */
void spawner_redis_failed(struct spawner *s, const char *what);
/* Redis answered: logs "answers again" after a failure. */
void spawner_redis_worked(struct spawner *s);

/* table.c: the table and its watches; calls no other part */
/* Before anything can fail: s->table holds nothing to release. */
void table_init(struct spawner *s);
/* Opens the epoll set and the /health multi handle.  Returns 0, or -1
 * (logged). */
int table_open(struct spawner *s);
/* Removes every worker (table_remove), closes the watches. */
void table_release(struct spawner *s);
struct worker *table_get(const struct spawner *s, long id);
/* The worker whose process is pid, among those not reaped yet. */
struct worker *table_by_pid(const struct spawner *s, long pid);
/* The highest worker id in the table, 0 when it is empty. */
long table_max_id(const struct spawner *s);
/* Workers not GONE. */
size_t table_live(const struct spawner *s);
/* 1 when every worker is settled: RUNNING, healthy, not exited, its exit
 * watched, no setup report or probe pending, no deadline; the turn's
 * per-worker passes (exit.c, start.c) then have nothing to do and
 * return at once.  O(1) until table_touch(); else one pass over the
 * table, until the first worker that is not.  Whatever can unsettle a
 * worker goes through table_insert, table_watch, table_events or
 * table_stop, or calls table_touch(). */
int table_settled(struct spawner *s);
/* Something may have unsettled a worker, or changed the table: the next
 * table_settled() looks, and the views count the table again. */
void table_touch(struct spawner *s);
/* Adds w (sorted by id) and gives it a serial.  Returns 0, or -1 when out
 * of memory (w is then still the caller's). */
int table_insert(struct spawner *s, struct worker *w);
/* Cancels w's /health request in flight, if any. */
void table_probe_cancel(struct spawner *s, struct worker *w);
/* Takes w out (by pointer, not by id), cancels its probe, closes its fds
 * and frees it. */
void table_remove(struct spawner *s, struct worker *w);
/* Watches w's setup pipe (when open) and opens and watches its pidfd; a
 * process already gone is marked exited. */
void table_watch(struct spawner *s, struct worker *w);
/* Stops watching *fd, closes it and sets it to -1 (-1: nothing). */
void table_unwatch(struct spawner *s, int *fd);
/* Reads what the epoll set has ready: marks exits (exited) and setup
 * reports to read (err_ready; exit_setup_reports() reads them). */
void table_events(struct spawner *s);
/* Sends sig to w under the kill rule (common/proc.h). */
void table_signal(struct worker *w, int sig);
/* SIGKILL to w under the kill rule, and to every process of its cgroup
 * (common/cgroup.h) when workers have one. */
void table_kill(struct spawner *s, struct worker *w);
/* Any live state -> STOPPING: cancels the probe, sends sig, sets the
 * SIGKILL deadline. */
void table_stop(struct spawner *s, struct worker *w, enum spawner_stop why,
                int sig, int64_t now);

/* start.c: ports, starts, /health probes, worker logs */
/* The port map of s->c.  Returns 0, or -1 (logged) when out of memory. */
int start_init(struct spawner *s);
/* Takes a reloaded s->c's port range. */
void start_reload(struct spawner *s);
void start_release(struct spawner *s);
/* Notes port as an adopted worker's. */
void start_port_take(struct spawner *s, int port);
/* Gives back the port of a worker that ended, and closes its log
 * (wlog_forget); failed (it never answered /health): the port cools for
 * POOL_PORT_COOL_MS first. */
void start_port_release(struct spawner *s, int port, int failed, int64_t now);
/* With worker_uid_range, after w exited and its cgroup was killed:
 * empties w's slot's home in a child as the slot's uid; the slot is not
 * handed out again until the child ended. */
void start_slot_end(struct spawner *s, const struct worker *w);
/* Starts one worker.  Returns 0, or -1 when it could not (logged). */
int start_spawn(struct spawner *s, int64_t now);
/* Sends the /health probes that are due. */
void start_probes(struct spawner *s, int64_t now);
/* Collects finished /health probes: STARTING -> RUNNING on a 2xx.
 * Returns how many workers turned RUNNING. */
int start_collect(struct spawner *s, int64_t now);

/* wlog.c: the workers' log files */
/* Before anything can fail: no watch; the first check looks at every
 * log. */
void wlog_init(struct spawner *s);
/* (Re)watches worker_log_dir (at start and after a reload); the next
 * check looks at every log.  Without a watch (logged) every check does. */
void wlog_open(struct spawner *s);
void wlog_release(struct spawner *s);
/* <worker_log_dir>/worker-<port>.log into out.  Returns 0, or -1 when it
 * does not fit. */
int wlog_path(const struct spawner *s, int port, char *out, size_t size);
/* Before a worker starts on port: forgets the log kept open for port,
 * and truncates the file when it grew past worker_log_max. */
void wlog_trim(struct spawner *s, int port);
/* Closes the log kept open for port (its worker ended). */
void wlog_forget(struct spawner *s, int port);
/* Truncates the logs of our workers that grew past worker_log_max: those
 * written since the last check (or all of them, see wlog_open). */
void wlog_check(struct spawner *s);

/* exit.c: exits, start failures, deadlines */
/* The restart policy at rest; seeds the jitter. */
void exit_init(struct spawner *s);
/* After a reload: a degraded pool tries again now (the operator may have
 * fixed the cause). */
void exit_reload(struct spawner *s);
/* Reads w's setup report if one is there, and closes the pipe at EOF. */
void exit_setup_report(struct spawner *s, struct worker *w);
/* Reads the setup reports table_events() found (err_ready). */
void exit_setup_reports(struct spawner *s);
/* Reaps our children: waitpid(-1, WNOHANG), which walks all of them;
 * the loop calls it only after a SIGCHLD. */
void exit_reap(struct spawner *s);
/* Every exited worker: logged, counted, its record removed.  Returns
 * how many were handled (removed, or GONE until Redis answers). */
int exit_handle(struct spawner *s, int64_t now);
/* Records whose removal failed while Redis was unreachable. */
void exit_gone_retry(struct spawner *s);
/* Start timeouts, SIGKILL deadlines, adopted workers without a pidfd. */
void exit_timeouts(struct spawner *s, int64_t now);
/* Workers that ran POOL_HEALTHY_MS after /health made a healthy start. */
void exit_healthy(struct spawner *s, int64_t now);

/* view.c: the pool view, the decision, the report */
/* Reads the pool; stops workers others marked dead or removed.  Returns
 * 0, or -1 when Redis did not answer. */
int view_apply(struct spawner *s, int64_t now);
/* Starts and retires workers as pool_decide() says. */
void view_plan(struct spawner *s, int64_t now);
/* The configuration changed: the next view counts the table again. */
void view_reload(struct spawner *s);
/* P:gen, pool report. */
void view_housekeep(struct spawner *s);

/* report.c */
/* Writes the pool state (NULL: "draining", "ok" or "degraded") to
 * Redis; registers the node again when its record was removed. */
void report_pool(struct spawner *s, const char *state);

/* rebuild.c */
/* Registers again the n workers of lost (STARTING or RUNNING) whose
 * records vanished: RUNNING ones with what their /status says; those that
 * fail it are stopped.  Then notes the node in P:gen.  Returns 0, or -1
 * when Redis failed (the next view tries again). */
int rebuild_run(struct spawner *s, struct worker **lost, size_t n, int64_t now);
/* The epoch ms of the "created_at" of a worker's session reply body:
 * seconds or milliseconds as a JSON number, or an RFC 3339 string (Z, an
 * offset, or none for UTC); -1 when it has none that parses. */
int64_t rebuild_created_ms(const char *body, size_t len);
/* node.c */
/* At start: reads this host's identity, checks that worker_host is an
 * address of this host, and makes this instance's token (its file in
 * node_token_dir renewed).  Returns 0, or -1 (logged): the spawner must not
 * start. */
int node_init(struct spawner *s);
/* Registers the node (store_node_register).  at_start: also refuses a
 * loopback worker_host among nodes with other addresses.  Any claimant
 * that heartbeats under node_name with another instance token is
 * refused (at start after waiting up to node_stale_ms for a heartbeat of
 * this host's id whose token this host no longer knows), as is another
 * running spawner of this host.  Returns 1 registered, 0 not now (Redis
 * failed, or waiting), -1 refused (logged); not at start a refusal sets
 * node.taken (node_taken). */
int node_register(struct spawner *s, int at_start);
/* Another process took the node_name (a heartbeat or a registration was
 * refused): logs it once, sets node.taken and asks the loop to stop. */
void node_taken(struct spawner *s, const struct node_rec *other);
/* Warns when other nodes publish a worker_host and worker_port_range
 * that worker_host/worker_hosts here refuse (each, when their count
 * grew), and when nodes with a non-loopback worker_host joined while this
 * node's is loopback. */
void node_watch(struct spawner *s);

/* adopt.c */
/* Takes over the workers Redis knows for this node that are alive and
 * answer /health; removes the others; kills our processes Redis does not
 * know.  Returns 0, or -1 when Redis failed (tried again later). */
int adopt_run(struct spawner *s, int64_t now);

#endif
