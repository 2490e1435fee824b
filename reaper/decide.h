/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * decide.h - what the reaper does with one worker, as pure functions of
 * the worker's Redis record, the facts about its process and what its
 * GET /status answered.  No I/O here: reaper.c gathers the facts, asks
 * these functions and carries the answer out, and the unit tests feed
 * them records directly.
 *
 * One pass asks three questions per worker:
 *
 *   decide_plan     before any HTTP: record + process facts -> remove the
 *                   record, kill, expire, hold, probe or leave it
 *   decide_judge    after GET /status: is the answer consistent with the
 *                   record?  -> fine, probe failed, release, clean (DELETE
 *                   the session the worker holds) or kill
 *   decide_recheck  after DELETE + GET /status of a clean -> release or kill
 *
 * Plan per state (proc = the recorded pid runs with the recorded start
 * time and is no zombie; age = now - since):
 *
 *   starting   age <= start_deadline: skip (the spawner's business);
 *              beyond it: no proc (or placeholder pid) -> gone, else kill
 *   dead       no proc -> gone; proc and age > dead_grace -> kill only
 *   other      no proc -> gone ("no process")
 *   idle       probe
 *   busy       session key alive -> probe; gone -> expire, then reclaim
 *   creating   age > create_deadline -> hold (to releasing), then reclaim;
 *              else skip (a handler is talking to it)
 *   releasing  no session recorded (a failed idle probe, a hold) or
 *              age > release_grace -> reclaim; else watch: the handler
 *              that ended the session releases it itself, the probe only
 *              counts failures (a hung worker is killed in time whoever
 *              releases it)
 *
 * "reclaim" and "probe" both start with GET /status; the judge tells them
 * apart by the state the record has after the plan.
 */
#ifndef STEEL_DECIDE_H
#define STEEL_DECIDE_H

#include <stdint.h>

#include "conf.h"
#include "store.h"
#include "wcall.h"

/* Slack added to every deadline below, in ms, on top of one interval. */
#define DECIDE_MARGIN_MS 2000

/* Deadlines derived from the configuration, in ms. */
struct decide_limits {
    int64_t start_deadline;  /* starting this long: the spawner is gone */
    int64_t create_deadline; /* creating this long: the handler died */
    int64_t release_grace;   /* a handler's release gets this long */
    int64_t dead_grace;      /* a dead worker's process gets this long */
    long probe_failures;     /* consecutive failed probes before a kill */
    long probe_every;        /* passes between two probes of a worker that
                                answered (probe_interval / reap_interval,
                                rounded up; at least 1) */
};

/* Fills l from the configuration. */
void decide_limits_init(struct decide_limits *l, const struct conf *c);

enum decide_plan_act {
    PLAN_SKIP = 0,  /* nothing this pass */
    PLAN_GONE,      /* no process: store_worker_gone */
    PLAN_KILL,      /* store_mark_dead_if the record as seen, then kill */
    PLAN_KILL_DEAD, /* already dead, process alive too long: kill only */
    PLAN_EXPIRE,    /* busy, session key gone: store_expire, then reclaim */
    PLAN_HOLD,      /* creating too long: store_hold, then reclaim */
    PLAN_PROBE,     /* GET /status and judge (idle, busy, releasing) */
    PLAN_WATCH,     /* GET /status for liveness only (a handler's release) */
};

struct decide_plan {
    enum decide_plan_act act;
    const char *kind;   /* repair kind ("no-process", ...) or NULL */
    const char *reason; /* one phrase for the log and the dead record */
};

/* Facts about a worker's process. */
enum decide_proc {
    PROC_ALIVE = 0, /* pid runs, start time matches, not a zombie */
    PROC_GONE,      /* no such pid, another start time, or a zombie */
};

/* 1 when pass number pass (counted by the caller from any start) probes
 * w on its plan PLAN_PROBE: always for a worker whose last probe failed
 * and for one being released; an idle or busy worker that answered once
 * every l->probe_every passes, at a pass set by its id, so each pass
 * probes an even share of the node. */
int decide_probe_due(const struct worker_rec *w, long pass,
                     const struct decide_limits *l);

/* Returns the plan for w (now_ms on the Redis clock, w->now_ms). */
struct decide_plan decide_plan(const struct worker_rec *w,
                               enum decide_proc proc,
                               const struct decide_limits *l);

/* What a GET /status said. */
struct decide_status {
    int answered;  /* HTTP 200 with a body jsonx_worker_status accepts */
    int available; /* its "available" */
    char sid[SESSION_ID_MAX + 1]; /* its "session_id", "" for null */
    int sid_valid; /* sid is "" or an id we can address (session_id_valid) */
};

/* Fills st from the verdict v of a GET /status (common/wcall.h) and its
 * reply: only WCALL_OK is an answer; every other verdict is a failed
 * probe (answered 0), as wcall.h's table says for the reaper. */
void decide_status_from(struct decide_status *st, enum wcall_verdict v,
                        const struct wcall_reply *rep);

/* decide_status_from of wcall_judge's verdict on a probe's outcome: ok is
 * 1 when the transfer ended with a response, status its HTTP status,
 * body/len the (possibly truncated) body.  Always succeeds: a bad answer
 * leaves answered 0. */
void decide_status_parse(struct decide_status *st, int ok, long status,
                         const char *body, size_t len, int truncated);

enum decide_verdict {
    VERDICT_OK = 0,  /* consistent; a failure count, if any, is reset */
    VERDICT_FAILED,  /* no usable answer: one more failed probe */
    VERDICT_RELEASE, /* releasing and clean: store_released */
    VERDICT_CLEAN,   /* holds st->sid that nobody maps: DELETE it, recheck */
    VERDICT_KILL,    /* inconsistent beyond repair: mark dead, kill */
};

struct decide_judgement {
    enum decide_verdict verdict;
    const char *kind; /* repair kind, or NULL for routine outcomes */
    const char *reason;
};

/* Judges st against a record in state (idle, busy or releasing) that maps
 * session (the live session for busy, else ignored). */
struct decide_judgement decide_judge(enum worker_state state,
                                     const char *session,
                                     const struct decide_status *st);

/* After a clean: del_ok is 1 when the DELETE's verdict was ok or not
 * found (wcall_failed is 0), st is
 * the GET /status that followed.  Returns VERDICT_RELEASE or
 * VERDICT_KILL. */
struct decide_judgement decide_recheck(int del_ok,
                                       const struct decide_status *st);

#endif
