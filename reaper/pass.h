/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * pass.h - what the files of one reaper pass share (reaper.h has the pass
 * and its bounds): reaper.c runs the pass and its steps without HTTP,
 * kill.c the kills, rounds.c the HTTP rounds.  Not for other modules.
 */
#ifndef STEEL_REAPER_PASS_H
#define STEEL_REAPER_PASS_H

#include <stddef.h>
#include <stdint.h>

#include "decide.h"
#include "proc.h"
#include "reaper.h"
#include "store.h"

/* One worker of the pass. */
struct pass_worker {
    struct worker_rec *w;           /* the snapshot record */
    struct decide_plan plan;        /* what decide_plan said */
    enum worker_state state;        /* its state after the pass's own changes */
    int64_t since;                  /* since for store_mark_dead_if; -1 when the
                                       pass itself changed the state */
    struct decide_status st;        /* the first GET /status */
    char detail[96];                /* why a probe failed, for the log */
    char path[16 + SESSION_ID_MAX]; /* "/sessions/<sid>" for a clean */
    int cleaning;                   /* in the DELETE round */
    int del_ok;                     /* the DELETE got an HTTP answer */
};

/* reaper.c: 1 when the pass must stop changing things: SIGTERM, or too
 * close to the expiry of its lock. */
int pass_late(const struct reaper *rp);
/* reaper.c: "worker <id> (pid <pid>, port <port>)" into out. */
void pass_label(char *out, size_t size, const struct worker_rec *w);
/* reaper.c: counts one repair of kind.  Returns 0 or -1 (Redis). */
int pass_repair_count(struct reaper *rp, const char *kind, long n);

/* kill.c: SIGKILL to w's process, and its whole worker group, when the
 * kernel says it is that worker of this node.  Returns what proc_kill
 * returns, 0 when the process is not ours. */
int kill_worker(const struct reaper *rp, const struct worker_rec *w,
                const char *lbl);
/* kill.c: the facts about w's process for decide_plan.  seen: the
 * pass's process list holds w's pid with w's start time (read from /proc
 * a moment before, not a zombie), so it runs without another read. */
enum decide_proc kill_record_proc(const struct reaper *rp,
                                  const struct worker_rec *w, int seen);
/* kill.c: marks it dead if it is still as the pass saw it, then kills it
 * and counts the repair of kind.  Returns 0 (also when it moved on) or -1
 * (Redis). */
int kill_if(struct reaper *rp, struct pass_worker *it, const char *kind,
            const char *reason);
/* kill.c: step 4, the strays among procs (reordered).  Returns 0 or -1
 * (Redis). */
int kill_strays(struct reaper *rp, struct proc_worker *procs, size_t nprocs,
                const struct worker_rec *recs, size_t nrecs, int full);

/* view.c: the node's records into rp->view (read whole, or only the
 * session keys that may have ended; whole always with rp->once).
 * Returns 0 or -1 (Redis; the view is dropped, so the next read is
 * whole). */
int view_read(struct reaper *rp);
/* view.c: forgets the version, so the next read is whole. */
void view_drop(struct reaper_view *v);
/* view.c: frees the records. */
void view_release(struct reaper_view *v);

/* rounds.c: steps 5 and 6 on the first n items.  Returns 0 or -1
 * (Redis). */
int rounds_http(struct reaper *rp, struct pass_worker *items, size_t n);

#endif
