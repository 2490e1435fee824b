/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * spawner.c - the supervisor of one node's workers (spawner.h): its
 * set-up, its loop, configuration reload and shutdown.  The other parts
 * are listed in internal.h, with the states a worker goes through and
 * who calls whom (this file calls every other; none calls it).  It owns
 * s->prog, s->c and s->loop (what set-up found, the loop's schedule).
 *
 * One thread, one loop.  Each turn it collects what happened (children
 * that exited, /health answers, setup failures reported by children),
 * reads the node's pool from Redis in one script (store_pool_view_since:
 * the records only when one changed, view.c), decides
 * how many workers to start or stop (pool.c) and waits at most TICK_MS in
 * curl_multi_poll() for the next event.  Nothing in the loop blocks
 * longer than one Redis command.
 *
 * Invariants:
 *   - every worker process we started or adopted is in the table until it
 *     has exited and its record was removed from Redis (exit.c);
 *   - no two workers in the table share an id, even after P:seq:worker
 *     went back (Redis lost its data): a new worker is registered above
 *     the highest id the table holds (start.c).  Besides, nothing trusts
 *     an id alone: entries are removed by pointer, epoll events name a
 *     worker by a serial number local to this process (table.c), and a
 *     record is removed or marked dead only while it still names our node
 *     and the worker's pid;
 *   - a worker is signalled only under the kill rule of common/proc.h, and
 *     an adopted one (not our child) only after its start time matched
 *     (adopt.c);
 *   - an idle worker is stopped only after store_retire() took it out of
 *     P:idle (view.c);
 *   - no two workers of ours share a port; a port that failed a start or
 *     a test bind is skipped for a while (pool.c);
 *   - only start failures slow refills or degrade the pool (pool.h
 *     restart policy, exit.c), so a worker binary that cannot run never
 *     makes a fork storm, and a worker that dies at random after a healthy
 *     start is replaced at once.
 *
 * Exits are seen through one pidfd per worker in an epoll set that the
 * poll waits on, so a death wakes the loop at once.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "internal.h"
#include "log.h"
#include "prog.h"
#include "spawner.h"
#include "util.h"

#define TICK_MS        100   /* longest wait of one turn */
#define VIEW_MS        100   /* the pool is read from Redis this often */
#define KILL_WAIT_MS   2000  /* after the last SIGKILL, at shutdown */
#define HOUSEKEEP_MS   1000  /* log sizes, pool report, busy groups */
#define ADOPT_RETRY_MS 1000  /* adoption while Redis is unreachable */
#define NODE_WATCH_MS  10000 /* the other nodes' addresses are checked */
#define SWEEP_MS       30000 /* worker groups swept when nothing asks for it */

/* Creates path and its missing parents.  Returns 0 or -1 (errno set). */
static int mkdir_p(const char *path)
{
    char tmp[CONF_STR_MAX];
    size_t i, len = strlen(path);

    if (len == 0 || len >= sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(tmp, path, len + 1);
    for (i = 1; i <= len; i++) {
        if (tmp[i] != '/' && tmp[i] != '\0')
            continue;
        tmp[i] = '\0';
        if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
            return -1;
        tmp[i] = path[i];
    }
    return 0;
}

/* After events, the next view comes SPAWNER_VIEW_GAP_MS after the last. */
static void view_soon(struct spawner *s)
{
    if (s->loop.view_due_ms > s->loop.last_view_ms + SPAWNER_VIEW_GAP_MS)
        s->loop.view_due_ms = s->loop.last_view_ms + SPAWNER_VIEW_GAP_MS;
}

/* ---- configuration reload ----------------------------------------------- */

static void reload(struct spawner *s, int64_t now)
{
    struct conf *old = malloc(sizeof(*old));
    struct conf *c = s->c;

    if (old == NULL) {
        log_warnx("reload: out of memory; keeping the old configuration");
        return;
    }
    memcpy(old, c, sizeof(*old));
    if (prog_reload(s->prog) < 0) {
        free(old);
        return;
    }
    if (old->node_drain != c->node_drain)
        log_info("node %s: %s", c->node_name,
                 c->node_drain ? "draining: no new sessions; idle workers "
                                 "stop now, busy ones when their session "
                                 "ends"
                               : "drain ended: back in service");
    if (strcmp(old->redis, c->redis) != 0 ||
        strcmp(old->redis_password, c->redis_password) != 0 ||
        old->redis_timeout_ms != c->redis_timeout_ms ||
        strcmp(old->key_prefix, c->key_prefix) != 0 ||
        strcmp(old->node_name, c->node_name) != 0) {
        log_warnx("reload: redis, redis_password, redis_timeout_ms, "
                  "key_prefix and node_name change only with a restart; "
                  "keeping their old values");
        memcpy(c->redis, old->redis, sizeof(c->redis));
        memcpy(c->redis_password, old->redis_password,
               sizeof(c->redis_password));
        c->redis_timeout_ms = old->redis_timeout_ms;
        memcpy(c->key_prefix, old->key_prefix, sizeof(c->key_prefix));
        memcpy(c->node_name, old->node_name, sizeof(c->node_name));
    }
    if (strcmp(old->worker_user, c->worker_user) != 0 ||
        strcmp(old->worker_group, c->worker_group) != 0 ||
        old->worker_uid_min != c->worker_uid_min ||
        old->worker_uid_max != c->worker_uid_max ||
        strcmp(old->worker_home_dir, c->worker_home_dir) != 0) {
        log_warnx("reload: worker_user, worker_group, worker_uid_range and "
                  "worker_home_dir change only with a restart; keeping "
                  "their old values");
        memcpy(c->worker_user, old->worker_user, sizeof(c->worker_user));
        memcpy(c->worker_group, old->worker_group, sizeof(c->worker_group));
        c->worker_uid_min = old->worker_uid_min;
        c->worker_uid_max = old->worker_uid_max;
        memcpy(c->worker_home_dir, old->worker_home_dir,
               sizeof(c->worker_home_dir));
    }
    if (c->worker_uid_min != 0 &&
        c->pool_max_workers > c->worker_uid_max - c->worker_uid_min + 1) {
        log_warnx("reload: pool_max_workers %ld exceeds the slots of "
                  "worker_uid_range; keeping %ld",
                  c->pool_max_workers, old->pool_max_workers);
        c->pool_max_workers = old->pool_max_workers;
        if (c->pool_idle_target > c->pool_max_workers)
            c->pool_idle_target = c->pool_max_workers;
    }
    free(old);
    spawner_redis_reload(s);
    start_reload(s);
    if (mkdir_p(c->worker_log_dir) < 0)
        log_warn("cannot create worker_log_dir %s", c->worker_log_dir);
    wlog_open(s);
    exit_reload(s);
    view_reload(s);
    s->loop.view_due_ms = now;
    /* Say "draining" (or not) before the next view retires anything. */
    if (s->loop.adopted)
        report_pool(s, NULL);
    log_info("pool: idle target %ld, at most %ld workers, idle grace %ld s",
             c->pool_idle_target, c->pool_max_workers, c->pool_idle_grace);
}

/* ---- start, loop, stop -------------------------------------------------- */

/* Finds and makes the node's subtree: cgroup_root; else our own cgroup
 * when it was delegated; else, as root, cgroup_default_root's.  Returns
 * 0 or -1 with the reason in err. */
static int groups_find(struct spawner *s, char *err, size_t errsize)
{
    const struct conf *c = s->c;
    struct cgroup *cg = &s->loop.cg;
    char root[CGROUP_PATH_MAX];

    if (c->cgroup_root[0] == '\0') {
        if (cgroup_detect(cg, "/proc/self/mountinfo", "/proc/self/cgroup", "",
                          err, errsize) == 0) {
            if (cgroup_delegated(cg))
                return cgroup_setup(cg, NULL, err, errsize);
            snprintf(err, errsize, "our own cgroup %.400s was not delegated",
                     cg->hier[0].base);
        }
        if (geteuid() != 0 || cgroup_default_root(c->key_prefix, c->node_name,
                                                  root, sizeof(root)) < 0)
            return -1;
        log_info("cgroup_root is empty and nothing was delegated to us: "
                 "workers' cgroups go under %s",
                 root);
    } else {
        snprintf(root, sizeof(root), "%s", c->cgroup_root);
    }
    if (cgroup_detect(cg, "/proc/self/mountinfo", "/proc/self/cgroup", root,
                      err, errsize) < 0)
        return -1;
    return cgroup_setup(cg, root, err, errsize);
}

/* Sets up the workers' cgroups (common/cgroup.h).  Without one the
 * spawner refuses to start; worker_cgroup = off (development, refused
 * with worker_user) runs workers without, with a loud warning.  Returns
 * 0 or -1 (logged). */
static int groups_setup(struct spawner *s)
{
    const struct conf *c = s->c;
    struct cgroup *cg = &s->loop.cg;
    char err[512], what[CGROUP_PATH_MAX + 128];

    memset(cg, 0, sizeof(*cg));
    if (strcmp(c->worker_cgroup, "off") == 0) {
        log_warnx("NO CGROUP FOR WORKERS: worker_cgroup = off: workers run "
                  "without limits or group kill, and are told apart by their "
                  "environment (development only)");
        return 0;
    }
    if (groups_find(s, err, sizeof(err)) == 0) {
        cgroup_describe(cg, what, sizeof(what));
        log_info("workers run in cgroups: %s", what);
        if (c->worker_cgroup_memory_mb > 0 && cg->ctl[CGROUP_MEMORY] < 0)
            log_warnx("no memory controller: worker_cgroup_memory_mb is "
                      "not enforced");
        if (c->worker_cgroup_pids > 0 && cg->ctl[CGROUP_PIDS] < 0)
            log_warnx("no pids controller: worker_cgroup_pids is not "
                      "enforced");
        return 0;
    }
    memset(cg, 0, sizeof(*cg));
    log_warnx("NO CGROUP FOR WORKERS: %s; refusing to start (run under "
              "systemd with Delegate=yes, set cgroup_root to a subtree we may "
              "write, or, for development without worker_user, "
              "worker_cgroup = off)",
              err);
    return -1;
}

struct sweep {
    struct spawner *s;
    long left; /* groups it could not remove */
};

static void sweep_one(long id, void *arg)
{
    struct sweep *sw = arg;

    if (table_get(sw->s, id) != NULL)
        return;
    /* No worker of ours: whatever is in its group is a stray. */
    if (cgroup_worker_kill(&sw->s->loop.cg, id) == 1 &&
        cgroup_worker_remove(&sw->s->loop.cg, id) == 0)
        log_debug("worker %ld: its cgroup removed", id);
    else
        sw->left++;
}

/* Removes the groups of workers the table no longer holds, killing what
 * is left in them.  Returns how many it could not remove. */
static long groups_sweep(struct spawner *s)
{
    struct sweep sw = {s, 0};

    if (s->loop.cg.on)
        cgroup_workers_each(&s->loop.cg, sweep_one, &sw);
    return sw.left;
}

/* The sweep reads every group of the node: it runs after adoption, while
 * groups are left that a worker's end could not remove (exit.c counts
 * them), and every SWEEP_MS besides (a group nothing told us of). */
static void groups_housekeep(struct spawner *s, int64_t now)
{
    if (now < s->loop.sweep_due_ms && s->exit.groups_busy == s->loop.swept_busy)
        return;
    s->loop.swept_busy = s->exit.groups_busy;
    s->loop.sweep_due_ms =
        now + (groups_sweep(s) > 0 ? HOUSEKEEP_MS : SWEEP_MS);
}

struct spawner *spawner_new(struct prog *p)
{
    struct spawner *s = calloc(1, sizeof(*s));
    struct rlimit rl;
    char err[512];
    int fd;

    if (s == NULL) {
        log_warnx("out of memory");
        return NULL;
    }
    s->prog = p;
    s->c = &p->conf;
    table_init(s);
    wlog_init(s);
    exit_init(s);
    if (privsep_daemon_check(s->c, 1, &s->loop.ps, err, sizeof(err)) < 0) {
        log_warnx("%s", err);
        free(s);
        return NULL;
    }
    if (s->loop.ps.slots)
        log_info("workers run as one uid per slot, %ld-%ld (gid %ld of %s), "
                 "their homes in %s",
                 (long)s->loop.ps.uid_lo, (long)s->loop.ps.uid_hi,
                 (long)s->loop.ps.gid, s->c->worker_user,
                 s->c->worker_home_dir);
    else if (s->loop.ps.drop)
        log_info("workers run as %s (uid %ld, gid %ld)", s->c->worker_user,
                 (long)s->loop.ps.uid, (long)s->loop.ps.gid);
    if (!s->loop.ps.slots)
        log_warnx("WORKERS NOT ISOLATED FROM EACH OTHER: %s; any worker may "
                  "signal, trace and read the others (set worker_user and "
                  "worker_uid_range)",
                  s->loop.ps.drop  ? "they share one uid (no "
                                     "worker_uid_range)"
                  : geteuid() == 0 ? "they run as root (no worker_user)"
                                   : "they run as this user (no worker_user)");
    if (!s->loop.ps.drop && geteuid() != 0) {
        const char *home = getenv("HOME");

        /* As before: the spawner's user and its home. */
        if (home != NULL && home[0] == '/' &&
            strlen(home) < sizeof(s->loop.ps.home))
            memcpy(s->loop.ps.home, home, strlen(home) + 1);
    }
    if (groups_setup(s) < 0)
        goto fail;
    /* Children inherit 0-2 only through the log file; keep them taken so
     * no pipe ever lands there. */
    for (fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) < 0) {
            log_warn("/dev/null");
            goto fail;
        }
    }
    /* A pidfd per worker and connections while they start: raise our
     * own limit; workers get worker_nofile or the limit we started with. */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        s->loop.nofile_inherit = (long)rl.rlim_cur;
        prog_raise_nofile();
    }
    if (start_init(s) < 0)
        goto fail;
    spawner_redis_init(s);
    if (node_init(s) < 0)
        goto fail;
    if (table_open(s) < 0)
        goto fail;
    if (mkdir_p(s->c->worker_log_dir) < 0)
        log_warn("cannot create worker_log_dir %s", s->c->worker_log_dir);
    wlog_open(s);
    return s;
fail:
    spawner_free(s);
    return NULL;
}

void spawner_free(struct spawner *s)
{
    if (s == NULL)
        return;
    table_release(s);
    wlog_release(s);
    spawner_redis_release(s);
    start_release(s);
    free(s);
}

/* Waits up to ms for an exit or a setup report. */
static void wait_events(struct spawner *s, long ms)
{
    struct curl_waitfd wfd;
    int numfds;

    if (ms < 0)
        ms = 0;
    wfd.fd = s->table.epfd;
    wfd.events = CURL_WAIT_POLLIN;
    wfd.revents = 0;
    curl_multi_poll(s->table.multi, &wfd, 1, (int)ms, &numfds);
}

/* SIGTERM: no more spawns; every worker out of Redis' idle list, then
 * SIGTERM to each group, SIGKILL to what is left after SPAWNER_STOP_GRACE_MS,
 * and every record removed. */
static void shutdown_workers(struct spawner *s)
{
    int64_t now = now_mono_ms(), end;
    size_t i, total = table_live(s);
    int redis_ok = 1;

    s->loop.stopping = 1;
    log_info("stopping %zu workers", total);
    for (i = 0; i < s->table.n; i++) {
        struct worker *w = s->table.w[i];

        if (w->state == SPAWNER_W_GONE || w->exited)
            continue;
        /* Out of P:idle first: no create is handed a stopping worker. */
        if (redis_ok &&
            store_mark_dead_of(&s->redis.store, w->sid, s->c->node_name, w->pid,
                               "spawner stopping", NULL) < 0) {
            spawner_redis_failed(s, "marking workers dead");
            redis_ok = 0;
        }
        table_stop(s, w, SPAWNER_STOP_SHUTDOWN, SIGTERM, now);
    }
    end = now + SPAWNER_STOP_GRACE_MS + KILL_WAIT_MS;
    while (table_live(s) > 0 && now < end) {
        wait_events(s, 50);
        now = now_mono_ms();
        table_events(s);
        exit_setup_reports(s);
        exit_reap(s);
        exit_handle(s, now);
        exit_timeouts(s, now);
    }
    exit_gone_retry(s);
    if (table_live(s) > 0)
        log_warnx("%zu workers did not exit after SIGKILL", table_live(s));
    report_pool(s, "stopped");
    log_info("stopped %zu workers", total - table_live(s));
}

int spawner_run(struct spawner *s)
{
    log_info("node %s: pool idle target %ld, at most %ld workers, ports "
             "%ld-%ld, worker %s",
             s->c->node_name, s->c->pool_idle_target, s->c->pool_max_workers,
             s->c->worker_port_min, s->c->worker_port_max, s->c->worker_bin);
    if (s->c->node_drain)
        log_info("node %s: draining (node_drain = yes): no new sessions",
                 s->c->node_name);
    while (!prog_got_term) {
        int64_t now = now_mono_ms(), due;
        size_t i;
        int settled;

        if (prog_got_hup) {
            prog_got_hup = 0;
            reload(s, now);
        }
        table_events(s);
        exit_setup_reports(s);
        /* waitpid(-1) walks every child: only after a SIGCHLD.  A worker's
         * exit is seen through its pidfd and reaped by exit_handle(). */
        if (prog_got_chld) {
            prog_got_chld = 0;
            exit_reap(s);
        }
        /* A worker turned RUNNING or gone: the pool changed. */
        if (start_collect(s, now) > 0)
            view_soon(s);
        if (exit_handle(s, now) > 0)
            view_soon(s);
        exit_healthy(s, now);
        if (!s->loop.adopted && now >= s->loop.adopt_due_ms) {
            int reg = s->node.registered ? 1 : node_register(s, 1);

            if (reg < 0)
                return -1; /* nothing of the node's was touched */
            if (reg == 0 || adopt_run(s, now) < 0)
                s->loop.adopt_due_ms = now + ADOPT_RETRY_MS;
            else
                s->loop.adopted = 1;
            s->loop.view_due_ms = now;
        }
        exit_timeouts(s, now);
        if (s->loop.adopted && now >= s->loop.view_due_ms) {
            s->loop.last_view_ms = now;
            if (view_apply(s, now) == 0)
                view_plan(s, now);
            s->loop.view_due_ms = now + VIEW_MS;
        }
        exit_gone_retry(s);
        start_probes(s, now);
        if (s->loop.adopted && now >= s->loop.housekeep_due_ms) {
            view_housekeep(s);
            wlog_check(s);
            groups_housekeep(s, now);
            s->loop.housekeep_due_ms = now + HOUSEKEEP_MS;
        }
        if (s->loop.adopted && now >= s->loop.node_watch_due_ms) {
            node_watch(s);
            s->loop.node_watch_due_ms = now + NODE_WATCH_MS;
        }

        settled = table_settled(s); /* no worker is STARTING */
        due = now + TICK_MS;
        if (s->loop.adopted && s->loop.view_due_ms < due)
            due = s->loop.view_due_ms;
        for (i = 0; !settled && i < s->table.n; i++) {
            const struct worker *w = s->table.w[i];

            if (w->state == SPAWNER_W_STARTING && w->probe == NULL &&
                w->next_probe_ms < due)
                due = w->next_probe_ms;
        }
        if (!prog_got_term && !prog_got_hup)
            wait_events(s, (long)(due - now_mono_ms()));
    }
    shutdown_workers(s);
    groups_sweep(s);
    cgroup_teardown(&s->loop.cg);
    return s->node.taken ? -1 : 0;
}
