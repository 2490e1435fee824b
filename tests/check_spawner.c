/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * check_spawner.c - the spawner's pure decisions (spawner/pool.h): pool
 * sizing, backoff and the restart policy.  Port choice is in
 * check_ports.c; starting workers and the worker table are in
 * check_spawner_run.c.
 */
#include "config.h"

#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_suites.h"
#include "internal.h"
#include "launch.h"
#include "pool.h"
#include "proc.h"
#include "util.h"

static struct pool_counts counts(long idle, long starting, long total,
                                 long waiting, long expired, long target,
                                 long max)
{
    struct pool_counts c;

    memset(&c, 0, sizeof(c));
    c.idle = idle;
    c.starting = starting;
    c.total = total;
    c.waiting = waiting;
    c.idle_expired = expired;
    c.idle_target = target;
    c.max_workers = max;
    return c;
}

static struct pool_plan decide(struct pool_counts c)
{
    struct pool_plan p;

    pool_decide(&c, &p);
    return p;
}

/* ---- pool_decide -------------------------------------------------------- */

START_TEST(test_plan_fills_to_target)
{
    struct pool_plan p;

    p = decide(counts(0, 0, 0, 0, 0, 4, 64));
    ck_assert_int_eq(p.spawn, 4);
    ck_assert_int_eq(p.retire, 0);
    /* Starting workers count as coming idle. */
    p = decide(counts(1, 2, 3, 0, 0, 4, 64));
    ck_assert_int_eq(p.spawn, 1);
    p = decide(counts(4, 0, 10, 0, 0, 4, 64));
    ck_assert_int_eq(p.spawn, 0);
    ck_assert_int_eq(p.retire, 0);
    /* Busy workers do not count as idle. */
    p = decide(counts(0, 0, 10, 0, 0, 4, 64));
    ck_assert_int_eq(p.spawn, 4);
}
END_TEST

START_TEST(test_plan_demand)
{
    struct pool_plan p;

    /* 50 creates wait: spawn for them on top of the target. */
    p = decide(counts(0, 0, 4, 50, 0, 4, 200));
    ck_assert_int_eq(p.spawn, 54);
    /* ... but never more than POOL_STARTING_MAX starting at once. */
    p = decide(counts(0, 0, 0, 500, 0, 4, 1000));
    ck_assert_int_eq(p.spawn, POOL_STARTING_MAX);
    p = decide(counts(0, POOL_STARTING_MAX - 3, POOL_STARTING_MAX - 3, 500, 0,
                      4, 1000));
    ck_assert_int_eq(p.spawn, 3);
    /* Nothing is retired while creates wait, even expired idle ones. */
    p = decide(counts(10, 0, 10, 1, 10, 4, 64));
    ck_assert_int_eq(p.retire, 0);
}
END_TEST

START_TEST(test_plan_max)
{
    struct pool_plan p;

    p = decide(counts(0, 0, 62, 10, 0, 4, 64));
    ck_assert_int_eq(p.spawn, 2);
    p = decide(counts(0, 0, 64, 10, 0, 4, 64));
    ck_assert_int_eq(p.spawn, 0);
    /* Max lowered below the current size: idle ones go at once, grace or
     * not, busy ones stay. */
    p = decide(counts(3, 0, 10, 0, 0, 2, 8));
    ck_assert_int_eq(p.spawn, 0);
    ck_assert_int_eq(p.retire, 2);
    p = decide(counts(1, 0, 10, 0, 0, 0, 4));
    ck_assert_int_eq(p.retire, 1);
    /* Never negative, never more than idle. */
    p = decide(counts(0, 0, 100, 0, 0, 0, 4));
    ck_assert_int_eq(p.spawn, 0);
    ck_assert_int_eq(p.retire, 0);
}
END_TEST

START_TEST(test_plan_grace)
{
    struct pool_plan p;

    /* 10 idle, target 4: only the ones past the grace period go. */
    p = decide(counts(10, 0, 10, 0, 0, 4, 64));
    ck_assert_int_eq(p.retire, 0);
    p = decide(counts(10, 0, 10, 0, 3, 4, 64));
    ck_assert_int_eq(p.retire, 3);
    p = decide(counts(10, 0, 10, 0, 10, 4, 64));
    ck_assert_int_eq(p.retire, 6);
    /* Starting ones will be idle too. */
    p = decide(counts(4, 2, 6, 0, 4, 4, 64));
    ck_assert_int_eq(p.retire, 2);
    /* Target 0 empties the pool. */
    p = decide(counts(5, 0, 5, 0, 5, 0, 64));
    ck_assert_int_eq(p.retire, 5);
}
END_TEST

/* ---- backoff and restart policy ----------------------------------------- */

START_TEST(test_backoff_growth)
{
    /* rnd at the top of its range gives the undiscounted base. */
    uint32_t top = UINT32_MAX;

    ck_assert_int_eq(pool_backoff_ms(100, 30000, 0, top), 0);
    ck_assert_int_le(pool_backoff_ms(100, 30000, 1, top), 100);
    ck_assert_int_ge(pool_backoff_ms(100, 30000, 2, top), 199);
    ck_assert_int_le(pool_backoff_ms(100, 30000, 2, top), 200);
    ck_assert_int_ge(pool_backoff_ms(100, 30000, 5, top), 1599);
    ck_assert_int_eq(pool_backoff_ms(100, 30000, 30, top), 30000 - 1);
    ck_assert_int_le(pool_backoff_ms(100, 30000, 1000, top), 30000);
    ck_assert_int_eq(pool_backoff_ms(0, 30000, 5, top), 0);
}
END_TEST

START_TEST(test_backoff_jitter_bounds)
{
    uint32_t rnd = 12345;
    long fails;
    int i;

    for (fails = 1; fails < 40; fails++) {
        long base = 100;
        long j;

        for (j = 1; j < fails && base < 5000; j++)
            base *= 2;
        if (base > 5000)
            base = 5000;
        for (i = 0; i < 200; i++) {
            long d;

            rnd = rnd * 1103515245u + 12345u;
            d = pool_backoff_ms(100, 5000, fails, rnd);
            ck_assert_int_ge(d, 100);
            ck_assert_int_le(d, 5000);
            ck_assert_int_ge(d, base / 2);
            ck_assert_int_le(d, base);
        }
    }
    /* rnd 0 gives half the base (above the minimum). */
    ck_assert_int_eq(pool_backoff_ms(100, 5000, 4, 0), 400);
    /* Large values do not overflow. */
    ck_assert_int_le(pool_backoff_ms(3600000, 3600000, 100000, rnd), 3600000);
    ck_assert_int_ge(pool_backoff_ms(3600000, 3600000, 100000, rnd), 3600000);
}
END_TEST

/* A worker's end, as the spawner describes it to the policy. */
static struct restart_facts ended(int ready, long ran_ms, int status)
{
    struct restart_facts f;

    memset(&f, 0, sizeof(f));
    f.ready = ready;
    f.ran_ms = ran_ms;
    f.has_status = 1;
    f.status = status;
    return f;
}

#define EXIT1 (1 << 8)

/* What the spawner does with one end: classify it, count a start
 * failure.  Returns restart_failed()'s answer, or -1 for no failure. */
static int feed(struct restart *rs, const struct restart_facts *f, int64_t now)
{
    enum restart_end end = restart_classify(f);

    if (end == RESTART_END_NONE)
        return -1;
    return restart_failed(rs, 100, 1000, now, UINT32_MAX,
                          end == RESTART_END_FATAL, 0);
}

/* Which ends are start failures.  Columns: ready, ran_ms, status
 * (-1: unknown), healthy, marked_dead, requested, fatal, the answer. */
static const struct {
    int ready;
    long ran_ms;
    int status, healthy, marked, requested, fatal;
    enum restart_end want;
} ends[] = {
    /* After a healthy start: crashed, killed, own signal, hung and
     * killed by the reaper, an adopted worker (status unknown). */
    {1, POOL_HEALTHY_MS, EXIT1, 0, 0, 0, 0, RESTART_END_NONE},
    {1, 60000, SIGSEGV, 0, 0, 0, 0, RESTART_END_NONE},
    {1, 5000, SIGKILL, 0, 0, 0, 0, RESTART_END_NONE},
    {1, 2000, SIGKILL, 0, 1, 0, 0, RESTART_END_NONE},
    {1, 10, EXIT1, 1, 0, 0, 0, RESTART_END_NONE},
    {1, 10, -1, 1, 0, 0, 0, RESTART_END_NONE},
    /* A SIGKILL none of ours sent, right after /health: from outside. */
    {1, 100, SIGKILL, 0, 0, 0, 0, RESTART_END_NONE},
    /* Requested stops, at any age, even before /health. */
    {0, 0, SIGKILL, 0, 0, 1, 0, RESTART_END_NONE},
    {1, 5, SIGTERM, 0, 0, 1, 0, RESTART_END_NONE},
    /* Ended before /health: exited, killed, start timeout, marked dead
     * while starting. */
    {0, 0, EXIT1, 0, 0, 0, 0, RESTART_END_FAILED},
    {0, 0, SIGKILL, 0, 0, 0, 0, RESTART_END_FAILED},
    {0, 0, -1, 0, 0, 0, 0, RESTART_END_FAILED},
    {0, 0, SIGKILL, 0, 1, 0, 0, RESTART_END_FAILED},
    /* Died of its own right after /health. */
    {1, 0, EXIT1, 0, 0, 0, 0, RESTART_END_FAILED},
    {1, POOL_HEALTHY_MS - 1, SIGSEGV, 0, 0, 0, 0, RESTART_END_FAILED},
    {1, 300, SIGKILL, 0, 1, 0, 0, RESTART_END_FAILED},
    /* Cannot be executed: fatal, whatever else is known. */
    {0, 0, 127 << 8, 0, 0, 0, 1, RESTART_END_FATAL},
};

START_TEST(test_restart_classify)
{
    struct restart_facts f =
        ended(ends[_i].ready, ends[_i].ran_ms, ends[_i].status);

    f.has_status = ends[_i].status >= 0;
    f.healthy = ends[_i].healthy;
    f.marked_dead = ends[_i].marked;
    f.requested = ends[_i].requested;
    f.fatal = ends[_i].fatal;
    ck_assert_msg(restart_classify(&f) == ends[_i].want, "case %d", _i);
}
END_TEST

/* Random deaths after health never degrade the pool and never delay a
 * refill, however many and whatever else happened. */
START_TEST(test_restart_random_deaths)
{
    const int statuses[] = {EXIT1, SIGSEGV, SIGABRT, SIGKILL, 2 << 8};
    struct restart rs;
    struct restart_facts f;
    int64_t now = 1000, next;
    int i;

    restart_init(&rs);
    for (i = 0; i < 1000; i++) {
        f = ended(1, POOL_HEALTHY_MS + i, statuses[i % 5]);
        f.marked_dead = i % 3 == 0;
        ck_assert_int_eq(feed(&rs, &f, now), -1);
        ck_assert_int_eq(rs.fails, 0);
        ck_assert_int_eq(rs.degraded, 0);
        ck_assert_int_eq(restart_allowed(&rs, now, 0, 4), 4);
        now += 7;
    }
    /* Amid start failures they neither add to the count nor to the
     * wait. */
    f = ended(0, 0, EXIT1);
    ck_assert_int_eq(feed(&rs, &f, now), 0);
    ck_assert_int_eq(feed(&rs, &f, now), 0);
    ck_assert_int_eq(rs.fails, 2);
    next = rs.next_ms;
    for (i = 0; i < 100; i++) {
        f = ended(1, 2 * POOL_HEALTHY_MS, statuses[i % 5]);
        ck_assert_int_eq(feed(&rs, &f, now), -1);
    }
    ck_assert_int_eq(rs.fails, 2);
    ck_assert_int_eq(rs.next_ms, next);
    ck_assert_int_eq(rs.degraded, 0);
}
END_TEST

/* Backoff starts with the second start failure in a row. */
START_TEST(test_restart_backoff_from_second)
{
    struct restart rs;
    struct restart_facts f = ended(0, 0, EXIT1);
    int64_t now = 50000;
    long n;

    restart_init(&rs);
    /* The first refills at once. */
    ck_assert_int_eq(feed(&rs, &f, now), 0);
    ck_assert_int_eq(rs.next_ms, now);
    ck_assert_int_eq(restart_allowed(&rs, now, 0, 4), 4);
    /* From the second: min_ms, doubling up to max_ms. */
    for (n = 2; n < POOL_DEGRADED_FAILS; n++) {
        ck_assert_int_eq(feed(&rs, &f, now), 0);
        ck_assert_int_eq(rs.next_ms - now,
                         pool_backoff_ms(100, 1000, n - 1, UINT32_MAX));
        ck_assert_int_ge(rs.next_ms - now, 100);
        ck_assert_int_eq(restart_allowed(&rs, now, 0, 4), 0);
        ck_assert_int_eq(restart_allowed(&rs, rs.next_ms, 0, 4), 4);
    }
    /* A healthy start: the next first failure refills at once again. */
    ck_assert_int_eq(restart_healthy(&rs, now), 0);
    ck_assert_int_eq(restart_allowed(&rs, now, 0, 4), 4);
    ck_assert_int_eq(feed(&rs, &f, now), 0);
    ck_assert_int_eq(restart_allowed(&rs, now, 0, 4), 4);
    ck_assert_int_eq(feed(&rs, &f, now), 0);
    ck_assert_int_eq(restart_allowed(&rs, now, 0, 4), 0);
}
END_TEST

START_TEST(test_restart_degrades_after_failures)
{
    struct restart rs;
    struct restart_facts f = ended(0, 0, EXIT1);
    int64_t now = 1000000;
    int i;

    restart_init(&rs);
    ck_assert_int_eq(restart_allowed(&rs, now, 0, 4), 4);
    for (i = 1; i < POOL_DEGRADED_FAILS; i++) {
        ck_assert_int_eq(feed(&rs, &f, now), 0);
        ck_assert(!rs.degraded);
    }
    ck_assert_int_eq(feed(&rs, &f, now), 1);
    ck_assert(rs.degraded);
    ck_assert_int_eq(rs.fails, POOL_DEGRADED_FAILS);
    /* Degraded: a cool-down of at least POOL_COOLDOWN_MIN_MS, then one
     * worker on trial at a time (starting, or not yet healthy). */
    ck_assert_int_ge(rs.next_ms - now, POOL_COOLDOWN_MIN_MS);
    ck_assert_int_eq(restart_allowed(&rs, now + 500, 0, 4), 0);
    ck_assert_int_eq(restart_allowed(&rs, rs.next_ms, 0, 4), 1);
    ck_assert_int_eq(restart_allowed(&rs, rs.next_ms, 1, 4), 0);
    /* Further failures do not "enter" again (one log line). */
    ck_assert_int_eq(feed(&rs, &f, now), 0);
    ck_assert(rs.degraded);
    /* A worker that answered /health is not enough: only a healthy
     * start ends it, and lets refills go at once. */
    ck_assert_int_eq(restart_healthy(&rs, now), 1);
    ck_assert(!rs.degraded);
    ck_assert_int_eq(rs.fails, 0);
    ck_assert_int_eq(restart_allowed(&rs, now, 0, 4), 4);
    ck_assert_int_eq(restart_healthy(&rs, now), 0);
}
END_TEST

/* A healthy start between start failures resets the count. */
START_TEST(test_restart_healthy_resets)
{
    struct restart rs;
    struct restart_facts f = ended(0, 0, EXIT1);
    int64_t now = 0;
    int round, i;

    restart_init(&rs);
    for (round = 0; round < 50; round++) {
        for (i = 1; i < POOL_DEGRADED_FAILS; i++)
            ck_assert_int_eq(feed(&rs, &f, now += 10), 0);
        ck_assert_int_eq(restart_healthy(&rs, now), 0);
        ck_assert_int_eq(rs.fails, 0);
    }
    ck_assert(!rs.degraded);
    now += POOL_DEGRADED_QUIET_MS;
    for (i = 1; i < POOL_DEGRADED_FAILS; i++)
        ck_assert_int_eq(feed(&rs, &f, now), 0);
    ck_assert_int_eq(feed(&rs, &f, now), 1);
}
END_TEST

/* After a healthy start, a run of start failures degrades the pool only
 * once no healthy start came for POOL_DEGRADED_QUIET_MS: random deaths
 * make runs of five now and then, a binary that broke makes no healthy
 * start at all. */
START_TEST(test_restart_quiet)
{
    struct restart rs;
    struct restart_facts f = ended(0, 0, EXIT1);
    int64_t now = 500000, t0;
    int i;

    restart_init(&rs);
    ck_assert_int_eq(restart_healthy(&rs, now), 0);
    t0 = now;
    for (i = 0; i < 3 * POOL_DEGRADED_FAILS; i++)
        ck_assert_int_eq(feed(&rs, &f, now += 100), 0);
    ck_assert(!rs.degraded);
    /* The backoff still grew with the run. */
    ck_assert_int_ge(rs.next_ms - now, 100);
    /* The next failure after the quiet time degrades. */
    now = t0 + POOL_DEGRADED_QUIET_MS;
    ck_assert_int_eq(feed(&rs, &f, now), 1);
    ck_assert(rs.degraded);
    /* A healthy start ends it and starts a new quiet time. */
    ck_assert_int_eq(restart_healthy(&rs, now), 1);
    for (i = 0; i < POOL_DEGRADED_FAILS; i++)
        ck_assert_int_eq(feed(&rs, &f, now + 1 + i), 0);
    ck_assert(!rs.degraded);
}
END_TEST

/* Workers that answer /health and die right after count: a binary that
 * crashes once it serves is caught like one that cannot start. */
START_TEST(test_restart_early_deaths)
{
    struct restart rs;
    struct restart_facts early = ended(1, 200, EXIT1);
    struct restart_facts late = ended(1, POOL_HEALTHY_MS, EXIT1);
    struct restart_facts hung = ended(1, 400, SIGKILL);
    int i;

    hung.marked_dead = 1;
    restart_init(&rs);
    for (i = 1; i < POOL_DEGRADED_FAILS - 1; i++)
        ck_assert_int_eq(feed(&rs, &early, 0), 0);
    /* Deaths past the window do not break the streak, nor add to it. */
    ck_assert_int_eq(feed(&rs, &late, 0), -1);
    ck_assert_int_eq(rs.fails, POOL_DEGRADED_FAILS - 2);
    ck_assert_int_eq(feed(&rs, &hung, 0), 0);
    ck_assert_int_eq(feed(&rs, &early, 0), 1);
    ck_assert(rs.degraded);
}
END_TEST

START_TEST(test_restart_fatal)
{
    struct restart rs;

    restart_init(&rs);
    /* A binary that cannot be executed degrades the pool at once. */
    ck_assert_int_eq(restart_failed(&rs, 100, 300, 5000, 0, 1, 0), 1);
    ck_assert(rs.degraded);
    ck_assert_int_eq(rs.fails, 1);
    ck_assert_int_eq(rs.next_ms, 5000 + POOL_COOLDOWN_MIN_MS);
    /* The cool-down follows restart_backoff_max_ms when it is longer. */
    restart_init(&rs);
    restart_failed(&rs, 100, 30000, 0, UINT32_MAX, 1, 0);
    ck_assert_int_eq(rs.next_ms, 30000);
    ck_assert_int_eq(restart_allowed(&rs, 0, 0, 0), 0);
    /* ... also after a streak of ordinary failures, and while workers
     * that answered /health are pending. */
    restart_init(&rs);
    restart_failed(&rs, 100, 300, 0, 0, 0, 0);
    ck_assert(!rs.degraded);
    ck_assert_int_eq(restart_failed(&rs, 100, 300, 0, 0, 1, 3), 1);
}
END_TEST

/* While a worker that answered /health may still make a healthy start,
 * the streak is no verdict yet: at start-up every worker is within its
 * first second, and random deaths must not degrade the pool then. */
START_TEST(test_restart_pending_holds)
{
    const int64_t Q = 1 + POOL_DEGRADED_QUIET_MS;
    struct restart rs;
    int i;

    restart_init(&rs);
    for (i = 1; i < POOL_DEGRADED_FAILS; i++)
        ck_assert_int_eq(restart_failed(&rs, 100, 1000, 0, 0, 0, 0), 0);
    /* The 5th and later ones, with a candidate alive: not yet. */
    ck_assert_int_eq(restart_failed(&rs, 100, 1000, 0, 0, 0, 1), 0);
    ck_assert_int_eq(restart_failed(&rs, 100, 1000, 0, 0, 0, 2), 0);
    ck_assert(!rs.degraded);
    /* Backoff still follows the streak. */
    ck_assert_int_eq(rs.next_ms, pool_backoff_ms(100, 1000, rs.fails - 1, 0));
    /* The candidate made its healthy start: the streak is over. */
    ck_assert_int_eq(restart_healthy(&rs, 1), 0);
    ck_assert_int_eq(rs.fails, 0);
    /* Had it died instead, the next failure with none left decides
     * (once the healthy start is POOL_DEGRADED_QUIET_MS old). */
    for (i = 1; i < POOL_DEGRADED_FAILS; i++)
        ck_assert_int_eq(restart_failed(&rs, 100, 1000, Q, 0, 0, 1), 0);
    ck_assert_int_eq(restart_failed(&rs, 100, 1000, Q, 0, 0, 1), 0);
    ck_assert_int_eq(restart_failed(&rs, 100, 1000, Q, 0, 0, 0), 1);
    ck_assert(rs.degraded);
}
END_TEST

Suite *spawner_suite(void)
{
    Suite *s = suite_create("spawner");
    TCase *plan = tcase_create("plan");
    TCase *restart = tcase_create("restart");

    tcase_add_test(plan, test_plan_fills_to_target);
    tcase_add_test(plan, test_plan_demand);
    tcase_add_test(plan, test_plan_max);
    tcase_add_test(plan, test_plan_grace);
    tcase_add_test(restart, test_backoff_growth);
    tcase_add_test(restart, test_backoff_jitter_bounds);
    tcase_add_loop_test(restart, test_restart_classify, 0,
                        (int)(sizeof(ends) / sizeof(ends[0])));
    tcase_add_test(restart, test_restart_random_deaths);
    tcase_add_test(restart, test_restart_backoff_from_second);
    tcase_add_test(restart, test_restart_degrades_after_failures);
    tcase_add_test(restart, test_restart_healthy_resets);
    tcase_add_test(restart, test_restart_quiet);
    tcase_add_test(restart, test_restart_early_deaths);
    tcase_add_test(restart, test_restart_fatal);
    tcase_add_test(restart, test_restart_pending_holds);
    suite_add_tcase(s, plan);
    suite_add_tcase(s, restart);
    return s;
}
