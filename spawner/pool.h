/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * pool.h - the decisions of steel-spawner, as pure functions: how many
 * workers to start or stop, which worker ends are start failures, how long
 * to wait after them, when the pool is degraded, which port a new worker
 * gets.  Nothing here does I/O except
 * through the callback port_pick() is given, so the unit tests drive it
 * with plain numbers.
 */
#ifndef STEEL_POOL_H
#define STEEL_POOL_H

#include <stddef.h>
#include <stdint.h>

/* Start failures in a row after which the pool is degraded. */
#define POOL_DEGRADED_FAILS 5
/* ... and only when no healthy start came within this many ms: workers
 * that die at random still make healthy starts every few seconds. */
#define POOL_DEGRADED_QUIET_MS 10000
/* Shortest cool-down between two attempts while degraded, in ms. */
#define POOL_COOLDOWN_MIN_MS 1000
/* A worker that answered /health and then ran this long made a healthy
 * start; one that dies of its own sooner failed its start, in ms. */
#define POOL_HEALTHY_MS 1000
/* Workers starting at once (spawned, /health not yet answered). */
#define POOL_STARTING_MAX 64

/* What the spawner knows about its node at one tick. */
struct pool_counts {
    long idle;         /* workers of the node idle in Redis */
    long starting;     /* spawned, /health not answered yet */
    long total;        /* live worker processes, stopping ones included */
    long waiting;      /* creates waiting for a worker (P:waiters) */
    long idle_expired; /* idle workers unused for pool_idle_grace or more */
    long idle_target;  /* pool_idle_target */
    long max_workers;  /* pool_max_workers */
};

struct pool_plan {
    long spawn;  /* workers to start now */
    long retire; /* idle workers to stop now */
};

/* Decides what one tick does.  Enough workers are started that idle plus
 * starting reaches idle_target plus the creates waiting, never beyond
 * max_workers in all nor POOL_STARTING_MAX starting at once.  Idle workers
 * above that, unused for the grace period, are retired; and when the pool
 * is above max_workers (the limit was lowered) idle ones are retired at
 * once.  Nothing is retired while creates wait. */
void pool_decide(const struct pool_counts *c, struct pool_plan *out);

/* The delay before the refill after the fails-th consecutive failure:
 * min_ms doubled per failure, capped at max_ms, with jitter: a value in
 * [base/2, base] chosen by rnd (uniform over 32 bits), then kept within
 * [min_ms, max_ms].  0 when fails <= 0 or min_ms is 0. */
long pool_backoff_ms(long min_ms, long max_ms, long fails, uint32_t rnd);

/*
 * Restart policy: a worker binary that cannot produce healthy workers is
 * told apart from workers that die at random, which is the normal case.
 *
 * A start is healthy when the worker answered /health and then ran
 * POOL_HEALTHY_MS, or a session was bound to it (its Redis field
 * 'served', read when its process is gone: exit.c).  A start failed when
 * the worker
 *   - could not be executed at all (fatal: exec error, a setup step that
 *     retries will not fix),
 *   - exited or was killed before it answered /health,
 *   - did not answer /health within worker_start_timeout_ms,
 *   - or died of its own within POOL_HEALTHY_MS of its first /health
 *     answer without having served a session: an exit status, a signal
 *     other than SIGKILL, or marked dead by a handler or the reaper.
 * Every other end is a random death or a requested stop and changes
 * nothing here, so its slot is refilled at once: any death after a
 * healthy start (crash, SIGKILL, marked dead after failed requests, hung
 * and killed), a SIGKILL that nobody of ours sent to a worker that had
 * answered /health (an operator, the OOM killer), the end of an adopted
 * worker (status unknown), and the stops the spawner asked for (retired,
 * drained, record vanished, shutdown).
 *
 * Only start failures in a row count; a healthy start sets the count back
 * to 0.  The first start failure refills at once, so random start failures
 * never slow refills.  From the second in a row the next start waits
 * pool_backoff_ms(min_ms, max_ms, fails - 1).  At POOL_DEGRADED_FAILS in a
 * row, or at once when fatal, the pool is degraded, but not while a worker
 * that answered /health is alive within its POOL_HEALTHY_MS ("pending"): it
 * may yet make a healthy start, so the verdict waits for the next start
 * failure.  (Right after the spawner starts, every worker is within that
 * second; random deaths then must not look like a broken binary.)  Nor
 * while the last healthy start is less than POOL_DEGRADED_QUIET_MS old:
 * with many random faults a run of five failures happens now and then
 * between healthy starts, while a binary that broke produces none; one
 * that never made a healthy start is judged at the fifth.  While
 * degraded each start failure means a cool-down of max(max_ms,
 * POOL_COOLDOWN_MIN_MS), and one worker is on trial at a time (starting,
 * or answered /health and not yet healthy).  A healthy start ends the
 * degraded state; SIGHUP ends the cool-down.
 *
 *                start failure               start failure
 *                (refill at once)            (wait backoff)
 *   +---------+ -----------------> +---------+ ----+
 *   |   OK    |                    | FAILING |     |
 *   | fails 0 | <----------------- | fails   | <---+
 *   +---------+   healthy start    | >= 1    |
 *     ^     |                      +---------+
 *     |     |                           | 5th start failure in a row
 *     |     | fatal start failure       | (none pending), or fatal
 *     |     |                           v
 *     |     +--------------------> +----------+ ----+ start failure
 *     |                            | DEGRADED |     | (wait cool-down)
 *     +--------------------------- |          | <---+
 *            healthy start         +----------+
 *
 *   In every state a random death or a requested stop changes nothing.
 *
 *   from          event                          to        function
 *   any           a worker ended: which kind?    -         restart_classify
 *   OK            start failure                  FAILING   restart_failed
 *   FAILING       start failure, < 5 in a row,   FAILING   restart_failed
 *                 or one pending
 *   FAILING       5th start failure in a row     DEGRADED  restart_failed
 *                 (or later), none pending
 *   OK, FAILING   fatal start failure            DEGRADED  restart_failed
 *   DEGRADED      start failure                  DEGRADED  restart_failed
 *   FAILING       healthy start                  OK        restart_healthy
 *   DEGRADED      healthy start                  OK        restart_healthy
 *   any           random death, requested stop   same      (none)
 *   any           how many may start now?        -         restart_allowed
 */
struct restart {
    long fails;         /* start failures in a row */
    int64_t next_ms;    /* monotonic ms before which nothing is spawned */
    int degraded;       /* 1 while degraded */
    int64_t healthy_ms; /* monotonic ms of the last healthy start, 0: none */
};

/* What the spawner knows about a worker that ended. */
struct restart_facts {
    int requested;   /* we stopped it on purpose: retired, drained, its
                      * record vanished, shutdown */
    int fatal;       /* its setup failed in a way retries will not fix */
    int ready;       /* it answered /health */
    int healthy;     /* it made a healthy start already, or was adopted */
    int64_t ran_ms;  /* ms from its first /health answer to its end */
    int marked_dead; /* a handler or the reaper marked it dead */
    int has_status;  /* status is known (our child, reaped) */
    int status;      /* its wait status */
};

enum restart_end {
    RESTART_END_NONE,   /* random death or requested stop: no failure */
    RESTART_END_FAILED, /* a start failure */
    RESTART_END_FATAL,  /* a start failure that retries will not fix */
};

void restart_init(struct restart *rs);

/* Which kind of end f describes (see above). */
enum restart_end restart_classify(const struct restart_facts *f);

/* Records a start failure at now; fatal: RESTART_END_FATAL; pending:
 * other workers alive that answered /health less than POOL_HEALTHY_MS ago.
 * Returns 1 when this failure made the pool degraded, else 0. */
int restart_failed(struct restart *rs, long min_ms, long max_ms, int64_t now,
                   uint32_t rnd, int fatal, long pending);

/* A worker made a healthy start at now: the count goes back to 0 and
 * spawning may resume at once.  Returns 1 when this ended the degraded
 * state. */
int restart_healthy(struct restart *rs, int64_t now);

/* How many of want spawns may start at now, with on_trial workers
 * starting or not yet healthy. */
long restart_allowed(const struct restart *rs, int64_t now, long on_trial,
                     long want);

/*
 * Ports.  A port is taken while a worker of ours uses it, and cooling
 * (skipped) for a while after a worker failed on it or a test bind found it
 * held by someone else.  The search goes round the range from where the
 * last one stopped, so a port just freed is not handed out again at once.
 */
#define POOL_PORT_COOL_MS 10000

struct port_map {
    int min, max;         /* worker_port_range */
    int next;             /* where the next search starts */
    unsigned char *taken; /* [65536]: 1 while a worker of ours has it */
    int64_t *cool_until;  /* [65536]: monotonic ms it is skipped until */
};

/* Returns 0, or -1 when out of memory. */
int port_map_init(struct port_map *pm, int min, int max);
void port_map_release(struct port_map *pm);
/* Changes the range; taken ports outside it stay taken until released. */
void port_map_range(struct port_map *pm, int min, int max);

/* Finds a port that is neither taken nor cooling and for which
 * is_free(port, arg) returns 1 (a test bind); a port it refuses cools.
 * Marks the port taken and returns it, or -1 when none is left. */
int port_pick(struct port_map *pm, int64_t now,
              int (*is_free)(int port, void *arg), void *arg);
/* Marks port taken (a worker adopted at start holds it). */
void port_take(struct port_map *pm, int port);
void port_release(struct port_map *pm, int port);
void port_cool(struct port_map *pm, int port, int64_t until);

#endif
