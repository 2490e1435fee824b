/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * redis.c - steel-spawner's connection to Redis (struct spawner_redis):
 * its set-up, what a reload changes in it, and the one log line per
 * outage that every other part reports its Redis failures through.
 *
 * Invariants: a Redis failure is logged once until Redis answers again
 * (then "answers again" is logged once); only this file writes
 * s->redis, the other parts use s->redis.store through store.h.
 */
#include "config.h"

#include "internal.h"
#include "log.h"

void spawner_redis_init(struct spawner *s)
{
    store_init(&s->redis.store, s->c);
}

void spawner_redis_reload(struct spawner *s)
{
    s->redis.store.node_stale_ms = s->c->node_stale_ms;
    s->redis.store.node_gone_ms = s->c->node_gone_after * 1000;
}

void spawner_redis_release(struct spawner *s)
{
    store_release(&s->redis.store);
}

void spawner_redis_failed(struct spawner *s, const char *what)
{
    if (!s->redis.down)
        log_warnx("%s: %s", what, store_strerror(&s->redis.store));
    s->redis.down = 1;
}

void spawner_redis_worked(struct spawner *s)
{
    if (s->redis.down)
        log_info("redis %s answers again", s->redis.store.redis.addr);
    s->redis.down = 0;
}
