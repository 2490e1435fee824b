/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * pool.c - pool sizing, the restart policy (which ends are start
 * failures, backoff, degraded state) and port choice (pool.h).
 *
 * Invariants: pool_decide() never asks for more workers than max_workers in
 * all, nor for retiring more idle workers than there are; a delay from
 * pool_backoff_ms() stays within [min_ms, max_ms]; only start failures
 * delay spawns or degrade the pool, and the first one in a row delays
 * nothing; while degraded, restart_allowed() lets at most one worker be on
 * trial at a time.
 */
#include "config.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "pool.h"

#define PORT_SLOTS 65536

static long lmin(long a, long b)
{
    return a < b ? a : b;
}

static long lmax(long a, long b)
{
    return a > b ? a : b;
}

void pool_decide(const struct pool_counts *c, struct pool_plan *out)
{
    long want = c->idle_target + c->waiting;
    long spawn, retire = 0;

    spawn = want - (c->idle + c->starting);
    spawn = lmin(spawn, c->max_workers - c->total);
    spawn = lmin(spawn, POOL_STARTING_MAX - c->starting);
    out->spawn = lmax(spawn, 0);

    if (c->waiting <= 0) {
        long surplus = c->idle + c->starting - c->idle_target;
        long over = c->total - c->max_workers;

        retire = lmin(surplus, c->idle_expired);
        if (over > 0)
            retire = lmax(retire, over);
        retire = lmin(retire, c->idle);
    }
    out->retire = lmax(retire, 0);
}

long pool_backoff_ms(long min_ms, long max_ms, long fails, uint32_t rnd)
{
    long base = min_ms, delay, i;

    if (fails <= 0 || min_ms <= 0)
        return 0;
    if (max_ms < min_ms)
        max_ms = min_ms;
    for (i = 1; i < fails && base < max_ms; i++)
        base = base > max_ms / 2 ? max_ms : base * 2;
    base = lmin(base, max_ms);
    /* Jitter in [base/2, base] spreads refills of several slots. */
    delay = base / 2 + (long)(((uint64_t)(base - base / 2) * rnd) >> 32);
    return lmin(lmax(delay, min_ms), max_ms);
}

void restart_init(struct restart *rs)
{
    memset(rs, 0, sizeof(*rs));
}

enum restart_end restart_classify(const struct restart_facts *f)
{
    if (f->fatal)
        return RESTART_END_FATAL;
    if (f->requested)
        return RESTART_END_NONE;
    if (!f->ready)
        return RESTART_END_FAILED;
    if (f->healthy || f->ran_ms >= POOL_HEALTHY_MS)
        return RESTART_END_NONE;
    if (f->marked_dead)
        return RESTART_END_FAILED;
    /* An adopted worker's status is unknown; a SIGKILL none of ours sent
     * came from outside (an operator, the OOM killer): neither says
     * anything about the binary. */
    if (!f->has_status ||
        (WIFSIGNALED(f->status) && WTERMSIG(f->status) == SIGKILL))
        return RESTART_END_NONE;
    return RESTART_END_FAILED;
}

int restart_failed(struct restart *rs, long min_ms, long max_ms, int64_t now,
                   uint32_t rnd, int fatal, long pending)
{
    int entered = 0;
    long delay;

    rs->fails++;
    /* The first start failure in a row refills at once. */
    delay = pool_backoff_ms(min_ms, max_ms, rs->fails - 1, rnd);
    if (!rs->degraded &&
        (fatal || (rs->fails >= POOL_DEGRADED_FAILS && pending == 0 &&
                   (rs->healthy_ms == 0 ||
                    now - rs->healthy_ms >= POOL_DEGRADED_QUIET_MS)))) {
        rs->degraded = 1;
        entered = 1;
    }
    if (rs->degraded)
        delay = lmax(delay, lmax(max_ms, POOL_COOLDOWN_MIN_MS));
    rs->next_ms = now + delay;
    return entered;
}

int restart_healthy(struct restart *rs, int64_t now)
{
    int left = rs->degraded;

    rs->healthy_ms = now > 0 ? now : 1;
    rs->fails = 0;
    rs->degraded = 0;
    rs->next_ms = 0;
    return left;
}

long restart_allowed(const struct restart *rs, int64_t now, long on_trial,
                     long want)
{
    if (want <= 0 || now < rs->next_ms)
        return 0;
    if (rs->degraded)
        return on_trial > 0 ? 0 : 1;
    return want;
}

int port_map_init(struct port_map *pm, int min, int max)
{
    memset(pm, 0, sizeof(*pm));
    pm->taken = calloc(PORT_SLOTS, sizeof(*pm->taken));
    pm->cool_until = calloc(PORT_SLOTS, sizeof(*pm->cool_until));
    if (pm->taken == NULL || pm->cool_until == NULL) {
        port_map_release(pm);
        return -1;
    }
    port_map_range(pm, min, max);
    return 0;
}

void port_map_release(struct port_map *pm)
{
    free(pm->taken);
    free(pm->cool_until);
    pm->taken = NULL;
    pm->cool_until = NULL;
}

void port_map_range(struct port_map *pm, int min, int max)
{
    pm->min = min < 1 ? 1 : min;
    pm->max = max >= PORT_SLOTS ? PORT_SLOTS - 1 : max;
    if (pm->next < pm->min || pm->next > pm->max)
        pm->next = pm->min;
}

int port_pick(struct port_map *pm, int64_t now,
              int (*is_free)(int port, void *arg), void *arg)
{
    long span = (long)pm->max - pm->min + 1, i;
    int port = pm->next;

    for (i = 0; i < span; i++, port = port >= pm->max ? pm->min : port + 1) {
        if (pm->taken[port] || pm->cool_until[port] > now)
            continue;
        if (is_free != NULL && !is_free(port, arg)) {
            pm->cool_until[port] = now + POOL_PORT_COOL_MS;
            continue;
        }
        pm->taken[port] = 1;
        pm->next = port >= pm->max ? pm->min : port + 1;
        return port;
    }
    return -1;
}

void port_take(struct port_map *pm, int port)
{
    if (port > 0 && port < PORT_SLOTS)
        pm->taken[port] = 1;
}

void port_release(struct port_map *pm, int port)
{
    if (port > 0 && port < PORT_SLOTS)
        pm->taken[port] = 0;
}

void port_cool(struct port_map *pm, int port, int64_t until)
{
    if (port > 0 && port < PORT_SLOTS)
        pm->cool_until[port] = until;
}
