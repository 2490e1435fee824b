/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * hedge.c - the hedge delay of create.c: after how long without an answer
 * a create also tries another worker, from the recent latencies of this
 * process's successful creates (hedge.h).
 *
 * The delay is twice the 95th percentile of the last LAT_SAMPLES
 * latencies, never below create_hedge_min_ms nor above three quarters of
 * worker_timeout_ms; before LAT_MIN_SAMPLES, HEDGE_COLD times the
 * minimum.  The ring is shared by the process's create threads, under
 * one mutex; the percentile is sorted out of it every P95_EVERY adds (so
 * at most that many latencies late), not on every create.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "hedge.h"

#define LAT_SAMPLES     128 /* recent create latencies kept */
#define LAT_MIN_SAMPLES 16  /* before that, the delay is HEDGE_COLD x min */
#define HEDGE_COLD      2

#define P95_EVERY       8   /* the percentile is sorted anew this often */

static pthread_mutex_t lat_lock = PTHREAD_MUTEX_INITIALIZER;
static long lat_ring[LAT_SAMPLES]; /* ms of successful worker POSTs */
static size_t lat_n, lat_next, lat_fresh;
static long lat_p95 = -1; /* of the ring, as of the last sort; -1: none */

static int long_cmp(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;

    return (x > y) - (x < y);
}

void hedge_latency_add(long ms)
{
    long copy[LAT_SAMPLES];
    size_t n = 0;

    pthread_mutex_lock(&lat_lock);
    lat_ring[lat_next] = ms;
    lat_next = (lat_next + 1) % LAT_SAMPLES;
    if (lat_n < LAT_SAMPLES)
        lat_n++;
    /* Sorted at LAT_MIN_SAMPLES, then one add in P95_EVERY, not on every
     * create. */
    if (lat_n >= LAT_MIN_SAMPLES &&
        (__atomic_load_n(&lat_p95, __ATOMIC_RELAXED) < 0 ||
         ++lat_fresh >= P95_EVERY)) {
        lat_fresh = 0;
        n = lat_n;
        memcpy(copy, lat_ring, n * sizeof(copy[0]));
    }
    pthread_mutex_unlock(&lat_lock);
    if (n > 0) {
        qsort(copy, n, sizeof(copy[0]), long_cmp);
        __atomic_store_n(&lat_p95, copy[(n * 95) / 100], __ATOMIC_RELAXED);
    }
}

long create_hedge_delay(const struct conf *c)
{
    long p95 = __atomic_load_n(&lat_p95, __ATOMIC_RELAXED);
    long delay, cap;

    if (c->create_hedge_min_ms <= 0)
        return -1;
    if (p95 < 0)
        delay = c->create_hedge_min_ms * HEDGE_COLD;
    else
        delay = 2 * p95;
    cap = c->worker_timeout_ms * 3 / 4;
    if (delay > cap)
        delay = cap;
    if (delay < c->create_hedge_min_ms)
        delay = c->create_hedge_min_ms;
    return delay;
}
