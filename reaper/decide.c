/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * decide.c - the reaper's decisions as pure functions (decide.h).
 *
 * Invariants: nothing here does I/O or keeps state, so a decision depends
 * only on its arguments; every kill or repair names a kind from the fixed
 * list below (they become P:stats "repairs:<kind>" counters):
 *
 *   no-process      record whose process is gone
 *   dead-gone       dead record whose process is gone
 *   dead-alive      dead record whose process outlived dead_grace
 *   starting-stuck  starting past start_deadline
 *   creating-stuck  creating past create_deadline (handler died)
 *   hung            probe_failures failed probes in a row
 *   session-lost    busy, but the worker holds another session or none
 *   idle-session    idle, but the worker holds a session
 *   bad-status      the worker names a session id we cannot address
 *   reclaim-failed  DELETE + /status did not leave the worker clean
 *   stray           (reaper.c) a worker process Redis does not know
 *   session-index   (reaper.c) stale entries of P:sessions
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "decide.h"
#include "util.h"

void decide_limits_init(struct decide_limits *l, const struct conf *c)
{
    int64_t margin = DECIDE_MARGIN_MS + (int64_t)c->reap_interval * 1000;

    l->start_deadline = c->worker_start_timeout_ms + margin;
    l->create_deadline =
        (int64_t)c->create_wait * 1000 + c->worker_timeout_ms + margin;
    l->release_grace = 2 * (int64_t)c->worker_timeout_ms + margin;
    l->dead_grace = c->worker_timeout_ms + margin;
    l->probe_failures = c->probe_failures;
    l->probe_every = (c->probe_interval + c->reap_interval - 1) /
                     (c->reap_interval > 0 ? c->reap_interval : 1);
    if (l->probe_every < 1)
        l->probe_every = 1;
}

int decide_probe_due(const struct worker_rec *w, long pass,
                     const struct decide_limits *l)
{
    long id = 0;

    if (l->probe_every <= 1 || w->fails > 0 ||
        (w->state != WORKER_IDLE && w->state != WORKER_BUSY))
        return 1;
    if (parse_long(w->id, 0, 0x7fffffffffffL, &id) < 0)
        return 1;
    return (id + pass) % l->probe_every == 0;
}

static struct decide_plan plan(enum decide_plan_act act, const char *kind,
                               const char *reason)
{
    struct decide_plan p;

    p.act = act;
    p.kind = kind;
    p.reason = reason;
    return p;
}

struct decide_plan decide_plan(const struct worker_rec *w,
                               enum decide_proc proc,
                               const struct decide_limits *l)
{
    int64_t age = w->now_ms - w->since_ms;
    int gone = proc == PROC_GONE || w->pid <= 0;

    switch (w->state) {
    case WORKER_STARTING:
        if (age <= l->start_deadline)
            return plan(PLAN_SKIP, NULL, NULL);
        if (gone)
            return plan(PLAN_GONE, "starting-stuck", "never started");
        return plan(PLAN_KILL, "starting-stuck", "starting too long");
    case WORKER_DEAD:
        if (gone)
            return plan(PLAN_GONE, "dead-gone", "no process");
        if (age > l->dead_grace)
            return plan(PLAN_KILL_DEAD, "dead-alive", "dead but still running");
        return plan(PLAN_SKIP, NULL, NULL);
    default:
        break;
    }
    if (gone)
        return plan(PLAN_GONE, "no-process", "no process");
    switch (w->state) {
    case WORKER_IDLE:
        return plan(PLAN_PROBE, NULL, NULL);
    case WORKER_BUSY:
        if (!w->session_alive)
            return plan(PLAN_EXPIRE, NULL, "session expired");
        return plan(PLAN_PROBE, NULL, NULL);
    case WORKER_CREATING:
        if (age > l->create_deadline)
            return plan(PLAN_HOLD, "creating-stuck", "creating too long");
        return plan(PLAN_SKIP, NULL, NULL);
    case WORKER_RELEASING:
        if (w->session[0] == '\0' || age > l->release_grace)
            return plan(PLAN_PROBE, NULL, NULL);
        return plan(PLAN_WATCH, NULL, NULL);
    default:
        return plan(PLAN_SKIP, NULL, NULL);
    }
}

void decide_status_from(struct decide_status *st, enum wcall_verdict v,
                        const struct wcall_reply *rep)
{
    memset(st, 0, sizeof(*st));
    switch (v) {
    case WCALL_OK:
        break;
    case WCALL_NOT_FOUND:
    case WCALL_REFUSED:
    case WCALL_UNREACHABLE:
    case WCALL_TIMED_OUT:
    case WCALL_GARBAGE:
        return; /* one failed probe */
    }
    st->answered = 1;
    st->available = rep->available;
    snprintf(st->sid, sizeof(st->sid), "%s", rep->sid);
    st->sid_valid =
        st->sid[0] == '\0' || session_id_valid(st->sid, strlen(st->sid));
}

void decide_status_parse(struct decide_status *st, int ok, long status,
                         const char *body, size_t len, int truncated)
{
    struct wcall_reply rep;
    enum wcall_verdict v;

    v = wcall_judge(WCALL_STATUS, NULL, ok ? WHTTP_OK : WHTTP_ERROR, status,
                    body, len, truncated, &rep);
    decide_status_from(st, v, &rep);
}

static struct decide_judgement judgement(enum decide_verdict v,
                                         const char *kind, const char *reason)
{
    struct decide_judgement j;

    j.verdict = v;
    j.kind = kind;
    j.reason = reason;
    return j;
}

struct decide_judgement decide_judge(enum worker_state state,
                                     const char *session,
                                     const struct decide_status *st)
{
    if (!st->answered)
        return judgement(VERDICT_FAILED, NULL, "no valid /status answer");
    switch (state) {
    case WORKER_BUSY:
        if (strcmp(st->sid, session) == 0)
            return judgement(VERDICT_OK, NULL, NULL);
        return judgement(VERDICT_KILL, "session-lost",
                         st->sid[0] != '\0' ? "worker holds another session"
                                            : "worker lost its session");
    case WORKER_IDLE:
    case WORKER_RELEASING:
        if (st->sid[0] == '\0') {
            if (!st->available)
                return judgement(VERDICT_FAILED, NULL,
                                 "unavailable without a session");
            if (state == WORKER_IDLE)
                return judgement(VERDICT_OK, NULL, NULL);
            return judgement(VERDICT_RELEASE, NULL, NULL);
        }
        if (!st->sid_valid)
            return judgement(VERDICT_KILL, "bad-status",
                             "worker names an unusable session id");
        if (state == WORKER_IDLE)
            return judgement(VERDICT_CLEAN, "idle-session",
                             "idle worker holds a session");
        return judgement(VERDICT_CLEAN, NULL, "worker still holds a session");
    default:
        return judgement(VERDICT_OK, NULL, NULL);
    }
}

struct decide_judgement decide_recheck(int del_ok,
                                       const struct decide_status *st)
{
    if (!del_ok)
        return judgement(VERDICT_KILL, "reclaim-failed", "no answer to DELETE");
    if (!st->answered)
        return judgement(VERDICT_KILL, "reclaim-failed",
                         "no answer to /status after DELETE");
    if (st->sid[0] != '\0' || !st->available)
        return judgement(VERDICT_KILL, "reclaim-failed",
                         "still not available after DELETE");
    return judgement(VERDICT_RELEASE, NULL, NULL);
}
