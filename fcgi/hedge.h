/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * hedge.h - when a create also tries a second worker (hedge.c).
 */
#ifndef STEEL_HEDGE_H
#define STEEL_HEDGE_H

struct conf;

/* Records the latency (ms) of a successful worker POST of this process. */
void hedge_latency_add(long ms);

/* The delay after which a create also tries a second worker, from the
 * recent create latencies of this process; -1 when hedging is off. */
long create_hedge_delay(const struct conf *c);

#endif
