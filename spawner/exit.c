/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * exit.c - how workers end: exits seen through pidfds and waitpid(),
 * start failures counted for the restart policy (pool.h), the deadlines
 * of starting and stopping workers, and healthy starts (internal.h has
 * the states and their transitions).
 *
 * Invariants:
 *   - every worker process we started or adopted is in the table until it
 *     has exited and its record was removed from Redis, so its session
 *     answers 404 as soon as the process is gone;
 *   - a record is removed only while it still names our node and the
 *     worker's pid (store_worker_gone), so a worker of another node that
 *     got the same id is never touched;
 *   - only start failures slow refills or degrade the pool, each counted
 *     once per worker.  A start failed when the worker could not be
 *     executed, ended before /health, missed worker_start_timeout_ms, or
 *     died of its own within POOL_HEALTHY_MS of answering /health; a stop
 *     that was asked for (retired, drained: marked dead with a reason
 *     starting with "drain", its record vanished, shutdown) is never one.
 *
 * Children are reaped with waitpid(-1, WNOHANG); adopted workers
 * (children of an earlier spawner) are reaped by whoever inherited them.
 * It owns s->exit: the restart policy's state, the last failure, the
 * jitter.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "launch.h"
#include "log.h"
#include "proc.h"

void exit_init(struct spawner *s)
{
    uint32_t rnd = 0;

    restart_init(&s->exit.rs);
    if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd) || rnd == 0)
        rnd = (uint32_t)getpid() * 2654435761u + 1;
    s->exit.rnd = rnd;
}

void exit_reload(struct spawner *s)
{
    if (s->exit.rs.degraded)
        s->exit.rs.next_ms = 0; /* the operator may have fixed it: try now */
}

/* xorshift32 over s->exit.rnd: jitter needs spread, not secrecy. */
static uint32_t exit_random(struct spawner *s)
{
    s->exit.rnd ^= s->exit.rnd << 13;
    s->exit.rnd ^= s->exit.rnd >> 17;
    s->exit.rnd ^= s->exit.rnd << 5;
    return s->exit.rnd;
}

void exit_setup_report(struct spawner *s, struct worker *w)
{
    char lpath[CONF_STR_MAX + 32];
    int rc;

    if (w->err_fd < 0)
        return;
    if (wlog_path(s, w->port, lpath, sizeof(lpath)) < 0)
        lpath[0] = '\0';
    rc = launch_setup_error(w->err_fd, s->c->worker_bin, lpath, w->reason,
                            sizeof(w->reason), &w->fatal);
    if (rc < 0)
        return;
    table_unwatch(s, &w->err_fd);
}

void exit_setup_reports(struct spawner *s)
{
    size_t i;

    if (table_settled(s))
        return;
    for (i = 0; i < s->table.n; i++) {
        struct worker *w = s->table.w[i];

        if (!w->err_ready)
            continue;
        w->err_ready = 0;
        exit_setup_report(s, w);
    }
}

void exit_reap(struct spawner *s)
{
    pid_t pid;
    int status;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        struct worker *w = table_by_pid(s, (long)pid);

        if (w == NULL || !w->child || w->has_status)
            continue;
        w->status = status;
        w->has_status = 1;
        w->exited = 1;
        table_touch(s);
    }
}

/* Describes why w ended, for the log and the Redis record. */
static void exit_reason(const struct spawner *s, const struct worker *w,
                        char *out, size_t size)
{
    char st[64];

    if (w->has_status)
        launch_status_str(w->status, st, sizeof(st));
    else
        snprintf(st, sizeof(st), "exited (not our child: status unknown)");
    if (w->reason[0] != '\0')
        snprintf(out, size, "%s", w->reason);
    else if (w->oom)
        snprintf(out, size, "oom: over worker_cgroup_memory_mb (%ld MiB); %s",
                 s->c->worker_cgroup_memory_mb, st);
    else if (w->stop_why == SPAWNER_STOP_START_TIMEOUT)
        snprintf(out, size, "no answer to /health within %ld ms; %s",
                 s->c->worker_start_timeout_ms, st);
    else if (w->stop_why == SPAWNER_STOP_DEAD ||
             w->stop_why == SPAWNER_STOP_DRAIN)
        snprintf(out, size, "marked dead in redis (%s); %s",
                 w->dead_reason[0] != '\0' ? w->dead_reason : "no reason", st);
    else if (w->stop_why == SPAWNER_STOP_VANISHED)
        snprintf(out, size, "its redis record disappeared; %s", st);
    else if (w->stop_why == SPAWNER_STOP_RETIRE)
        snprintf(out, size, "retired; %s", st);
    else if (w->stop_why == SPAWNER_STOP_SHUTDOWN)
        snprintf(out, size, "stopped; %s", st);
    else if (w->ready_ms == 0)
        snprintf(out, size, "%s before answering /health", st);
    else
        snprintf(out, size, "%s", st);
}

/* Stops that were asked for are no failures, whatever the age. */
static int stop_requested(const struct worker *w)
{
    return w->stop_why == SPAWNER_STOP_RETIRE ||
           w->stop_why == SPAWNER_STOP_SHUTDOWN ||
           w->stop_why == SPAWNER_STOP_DRAIN ||
           w->stop_why == SPAWNER_STOP_VANISHED ||
           w->stop_why == SPAWNER_STOP_PORT_TAKEN;
}

/* Live workers that answered /health and may yet make a healthy start. */
static long pending_count(const struct spawner *s)
{
    long n = 0;
    size_t i;

    for (i = 0; i < s->table.n; i++)
        n += s->table.w[i]->state == SPAWNER_W_RUNNING &&
             !s->table.w[i]->exited && !s->table.w[i]->healthy;
    return n;
}

/* w made a healthy start at now, by serving a session (served) or by
 * running POOL_HEALTHY_MS: the restart policy's count goes back to 0. */
static void start_healthy(struct spawner *s, struct worker *w, int served,
                          int64_t now)
{
    long fails = s->exit.rs.fails;

    w->healthy = 1;
    if (restart_healthy(&s->exit.rs, now)) {
        if (served)
            log_info("pool ok again: worker %s (pid %ld, port %d) served a "
                     "session",
                     w->sid, w->pid, w->port);
        else
            log_info("pool ok again: worker %s (pid %ld, port %d) answered "
                     "/health and ran %d ms",
                     w->sid, w->pid, w->port, POOL_HEALTHY_MS);
        report_pool(s, NULL);
    } else if (fails > 0) {
        log_debug("worker %s made a healthy start: start failure count "
                  "reset",
                  w->sid);
    }
}

/* Counts w's end (why) for the restart policy, once per worker, when it
 * was a start failure (pool.h); served: a session was bound to it, so
 * whatever ended it, the binary works (a healthy start). */
static void failure_count(struct spawner *s, struct worker *w, const char *why,
                          int64_t now, int served)
{
    struct restart_facts f;
    enum restart_end end;
    long ran = w->ready_ms != 0 ? (long)(now - w->ready_ms) : 0;

    if (w->counted)
        return;
    w->counted = 1;
    if (served && w->ready_ms != 0 && !w->healthy)
        start_healthy(s, w, 1, now);
    memset(&f, 0, sizeof(f));
    f.requested = stop_requested(w);
    f.fatal = w->fatal;
    f.ready = w->ready_ms != 0;
    f.healthy = w->healthy;
    f.ran_ms = ran;
    f.marked_dead = w->stop_why == SPAWNER_STOP_DEAD;
    f.has_status = w->has_status;
    f.status = w->status;
    end = restart_classify(&f);
    if (end == RESTART_END_NONE)
        return;
    /* A setup report names the file already; other reasons get the
     * binary in front, and a death after /health its age. */
    if (w->reason[0] != '\0')
        snprintf(s->exit.fail_reason, sizeof(s->exit.fail_reason), "%s", why);
    else if (f.ready)
        snprintf(s->exit.fail_reason, sizeof(s->exit.fail_reason),
                 "%.150s: %.120s %ld ms after answering /health",
                 s->c->worker_bin, why, ran);
    else
        snprintf(s->exit.fail_reason, sizeof(s->exit.fail_reason),
                 "%.150s: %.160s", s->c->worker_bin, why);
    if (restart_failed(&s->exit.rs, s->c->restart_backoff_min_ms,
                       s->c->restart_backoff_max_ms, now, exit_random(s),
                       end == RESTART_END_FATAL, pending_count(s))) {
        log_warnx("pool degraded: %s (start failures in a row: %ld); "
                  "retrying one worker at a time every %ld ms",
                  s->exit.fail_reason, s->exit.rs.fails,
                  (long)(s->exit.rs.next_ms - now));
        report_pool(s, NULL);
    }
}

/* Its process is gone: what else ran in w's cgroup goes too, and the
 * group with it (a group still busy is removed by the housekeeping
 * sweep, spawner.c).  Notes an OOM kill first. */
static void group_end(struct spawner *s, struct worker *w)
{
    const struct cgroup *cg = &s->loop.cg;
    int i;

    if (!cg->on)
        return;
    w->oom = cgroup_worker_oom(cg, w->id);
    for (i = 0; i < 50 && cgroup_worker_kill(cg, w->id) == 0; i++)
        ;
    if (cgroup_worker_remove(cg, w->id) < 0) {
        log_debug("worker %s: its cgroup is still busy: %s", w->sid,
                  strerror(errno));
        s->exit.groups_busy++;
    }
}

/* The kind of end of w for the P:stats counter worker_exits:<kind>
 * (steel_worker_exits_total{kind} in /metrics), prior the state its
 * record had: "stopped" when asked for, "start_failed" before /health,
 * "killed" when declared dead first (a hang kill by the reaper, a worker
 * a handler found failing), else "crashed": it ended on its own. */
static const char *exit_kind(const struct worker *w, enum worker_state prior)
{
    if (w->oom)
        return "oom";
    if (stop_requested(w))
        return "stopped";
    if (w->ready_ms == 0 || w->stop_why == SPAWNER_STOP_START_TIMEOUT)
        return "start_failed";
    if (w->stop_why == SPAWNER_STOP_DEAD || prior == WORKER_DEAD)
        return "killed";
    return "crashed";
}

/* The process of w is gone: log it, count a failure, remove its record.
 * Returns 1 when w was removed from the table (and freed), 0 when it stays
 * as GONE until Redis answers. */
static int worker_exited(struct spawner *s, struct worker *w, int64_t now)
{
    char why[320];
    enum worker_state prior = WORKER_DEAD;
    int requested = stop_requested(w), was_degraded = s->exit.rs.degraded;
    int rc, served = 0;

    exit_setup_report(s, w);
    group_end(s, w);
    start_slot_end(s, w);
    table_probe_cancel(s, w);
    table_unwatch(s, &w->pidfd);
    table_unwatch(s, &w->err_fd);
    exit_reason(s, w, why, sizeof(why));
    start_port_release(s, w->port, w->ready_ms == 0, now);

    if (w->stop_why == SPAWNER_STOP_SHUTDOWN || (!requested && was_degraded))
        log_debug("worker %s (pid %ld, port %d): %s", w->sid, w->pid, w->port,
                  why);
    else
        log_info("worker %s (pid %ld, port %d): %s", w->sid, w->pid, w->port,
                 why);
    rc = store_worker_gone(&s->redis.store, w->sid, s->c->node_name, w->pid,
                           why, &prior, &served);
    /* Whether it served is unknown when Redis failed: counted as not. */
    failure_count(s, w, why, now, rc == 1 && served);
    if (rc < 0) {
        /* Its pid stays for the retry's check; table_by_pid() skips it. */
        spawner_redis_failed(s, "removing a worker that exited");
        w->state = SPAWNER_W_GONE;
        return 0;
    }
    spawner_redis_worked(s);
    /* Counted only when the record was ours (a vanished one is not). */
    if (rc == 1 && w->stop_why != SPAWNER_STOP_SHUTDOWN) {
        char field[64];

        snprintf(field, sizeof(field), "worker_exits:%s", exit_kind(w, prior));
        if (store_count(&s->redis.store, field, 1) < 0)
            spawner_redis_failed(s, "counting a worker exit");
    }
    table_remove(s, w);
    return 1;
}

int exit_handle(struct spawner *s, int64_t now)
{
    size_t i = 0;
    int handled = 0;

    if (table_settled(s))
        return 0;
    while (i < s->table.n) {
        struct worker *w = s->table.w[i];

        if (w->state == SPAWNER_W_GONE || !w->exited) {
            i++;
            continue;
        }
        if (w->child && !w->has_status) {
            int status;
            pid_t r = waitpid((pid_t)w->pid, &status, WNOHANG);

            if (r == 0) {
                i++;
                continue;
            }
            if (r == (pid_t)w->pid) {
                w->status = status;
                w->has_status = 1;
            }
        }
        if (worker_exited(s, w, now) == 0)
            i++;
        handled++;
    }
    return handled;
}

void exit_gone_retry(struct spawner *s)
{
    size_t i = 0;

    if (table_settled(s))
        return;
    while (i < s->table.n) {
        struct worker *w = s->table.w[i];
        int rc;

        if (w->state != SPAWNER_W_GONE) {
            i++;
            continue;
        }
        rc = store_worker_gone(&s->redis.store, w->sid, s->c->node_name, w->pid,
                               "exited", NULL, NULL);
        if (rc < 0) {
            spawner_redis_failed(s, "removing a worker that exited");
            return;
        }
        spawner_redis_worked(s);
        table_remove(s, w);
    }
}

void exit_timeouts(struct spawner *s, int64_t now)
{
    size_t i;

    if (table_settled(s))
        return;
    for (i = 0; i < s->table.n; i++) {
        struct worker *w = s->table.w[i];

        if (w->state == SPAWNER_W_GONE || w->exited)
            continue;
        if (!w->child && w->pidfd < 0 && !proc_alive(w->pid, w->pstart)) {
            w->exited = 1;
            continue;
        }
        if (w->state == SPAWNER_W_STARTING &&
            now - w->spawn_ms >= s->c->worker_start_timeout_ms) {
            char why[128];

            /* Counted now, so that the refill already waits. */
            table_stop(s, w, SPAWNER_STOP_START_TIMEOUT, SIGKILL, now);
            snprintf(why, sizeof(why), "no answer to /health within %ld ms",
                     s->c->worker_start_timeout_ms);
            failure_count(s, w, why, now, 0);
        } else if (w->state == SPAWNER_W_STOPPING && now >= w->kill_at_ms) {
            table_kill(s, w);
            w->kill_at_ms = now + SPAWNER_KILL_REPEAT_MS;
        }
    }
}

/* A healthy start sets the start failure count back to 0. */
void exit_healthy(struct spawner *s, int64_t now)
{
    size_t i;

    if (table_settled(s))
        return;
    for (i = 0; i < s->table.n; i++) {
        struct worker *w = s->table.w[i];

        if (w->state != SPAWNER_W_RUNNING || w->exited || w->healthy ||
            now - w->ready_ms < POOL_HEALTHY_MS)
            continue;
        start_healthy(s, w, 0, now);
    }
}
