/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * spawner.h - steel-spawner: the supervisor of one node's worker
 * processes.  main.c parses the options and hands over to these.
 */
#ifndef STEEL_SPAWNER_H
#define STEEL_SPAWNER_H

struct prog;
struct spawner;

/* Sets up the supervisor for p's configuration (which it reads again on
 * SIGHUP): raises its own open-file limit, creates worker_log_dir, opens
 * the Redis connection lazily.  Returns a spawner the caller frees with
 * spawner_free(), or NULL after logging why. */
struct spawner *spawner_new(struct prog *p);

/* Runs until SIGTERM or SIGINT: adopts the workers Redis knows for this
 * node, keeps the pool sized, replaces workers that die; then stops every
 * worker and removes them from Redis.  Returns 0. */
int spawner_run(struct spawner *s);

void spawner_free(struct spawner *s);

#endif
