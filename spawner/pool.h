/*
 * pool.h - the decisions of steel-spawner, as pure functions: how many
 * workers to start or stop, how long to wait after failures, when the pool
 * is degraded, which port a new worker gets.  Nothing here does I/O except
 * through the callback port_pick() is given, so the unit tests drive it
 * with plain numbers.
 */
#ifndef STEEL_POOL_H
#define STEEL_POOL_H

#include <stddef.h>
#include <stdint.h>

/* Consecutive failures after which the pool is degraded. */
#define POOL_DEGRADED_FAILS 5
/* Shortest cool-down between two attempts while degraded, in ms. */
#define POOL_COOLDOWN_MIN_MS 1000
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
 * Restart policy.  Each failure (a worker that could not be started, or
 * that died before it had run restart_stable_s) counts; the next spawn
 * waits for the backoff.  Failures that point at the worker binary itself
 * (a start that failed, an exit with a status, a crash signal) also count
 * toward degradation; a healthy worker killed from outside (SIGKILL by an
 * operator, the OOM killer or a test) only slows refills.  After
 * POOL_DEGRADED_FAILS such failures in a row, or at once when the worker
 * binary cannot be executed at all, the pool is degraded: one attempt at a time, at most one per cool-down
 * (max(backoff_max_ms, POOL_COOLDOWN_MIN_MS)).  A worker that answers
 * /health ends the degraded state; one that then runs restart_stable_s
 * resets the count.
 *
 *            failure (count < limit)       failure (count >= limit or fatal)
 *   ok ---------------------------> ok ---------------------------> degraded
 *    ^                                                                  |
 *    +------------------- a worker answered /health -------------------+
 */
struct restart {
    long fails;           /* consecutive failures (backoff) */
    long bad;             /* consecutive failures of the binary itself */
    int64_t last_fail_ms; /* monotonic ms of the last failure */
    int64_t next_ms;      /* monotonic ms before which nothing is spawned */
    int degraded;         /* 1 while degraded */
};

void restart_init(struct restart *rs);

/* Records a failure at now.  fatal: the binary cannot run at all;
 * binary: the failure points at the binary (see above).  Returns 1 when
 * this failure made the pool degraded, else 0. */
int restart_failed(struct restart *rs, long min_ms, long max_ms, int64_t now,
                   uint32_t rnd, int fatal, int binary);

/* A worker answered /health: spawning may resume at once.  Returns 1 when
 * this ended the degraded state, else 0. */
int restart_ready(struct restart *rs);

/* A worker started after the last failure has run restart_stable_s. */
void restart_stable(struct restart *rs);

/* How many of want spawns may start at now with starting workers already
 * starting. */
long restart_allowed(const struct restart *rs, int64_t now, long starting,
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
