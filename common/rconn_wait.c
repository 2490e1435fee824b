/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * rconn_wait.c - a write made safe against a fail-over (rconn.h): WAIT
 * for the replicas on the connection that made the writes, and whether a
 * master that can confirm one is there at all.
 *
 * Invariants: WAIT is never sent again and never on another connection
 * (there it would vouch for nothing); its deadline is the WAIT's own plus
 * redis_timeout_ms; fewer replicas than asked drop the connection, so the
 * next command finds the master and counts its replicas again; r->ctx is
 * left NULL after any failure of the connection.
 */
#include "config.h"

#include <stdio.h>
#include <sys/time.h>

#include "rconn.h"
#include "util.h"

static void wait_drop(struct rconn *r)
{
    if (r->ctx != NULL)
        redisFree(r->ctx);
    r->ctx = NULL;
}

static int wait_fail(struct rconn *r, const char *detail)
{
    snprintf(r->errstr, sizeof(r->errstr), "redis %s: WAIT: %s", r->addr,
             detail);
    wait_drop(r);
    return -1;
}

static void rconn_set_timeout(struct rconn *r, long ms)
{
    struct timeval tv;

    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    redisSetTimeout(r->ctx, tv);
}

int rconn_writable(struct rconn *r)
{
    if (rconn_connect(r) < 0)
        return 0;
    if (r->nsentinels > 0 && r->replicas == RCONN_REPLICAS_MOVING) {
        wait_drop(r);
        return 0;
    }
    return 1;
}

int rconn_wait(struct rconn *r, int replicas, long ms)
{
    redisReply *reply;
    long n;

    if (replicas == RCONN_WAIT_ALL && r->nsentinels > 0 &&
        r->replicas == RCONN_REPLICAS_MOVING) {
        snprintf(r->errstr, sizeof(r->errstr),
                 "redis %s: WAIT: a replica reports a master's role (a "
                 "fail-over is under way)",
                 r->addr);
        wait_drop(r);
        return 0;
    }
    if (replicas == RCONN_WAIT_ALL)
        replicas = r->nsentinels > 0 && r->replicas >= 0 ? r->replicas : 1;
    if (replicas <= 0)
        return 1;
    if (r->ctx == NULL) {
        snprintf(r->errstr, sizeof(r->errstr),
                 "redis %s: WAIT: the connection of the writes is gone",
                 r->addr);
        return -1;
    }
    rconn_set_timeout(r, ms + r->timeout_ms);
    reply = redisCommand(r->ctx, "WAIT %d %ld", replicas, ms);
    r->used_ms = now_mono_ms();
    if (reply == NULL)
        return wait_fail(r, r->ctx->errstr);
    rconn_set_timeout(r, r->timeout_ms);
    if (reply->type != REDIS_REPLY_INTEGER) {
        snprintf(
            r->errstr, sizeof(r->errstr), "redis %s: WAIT: %.200s", r->addr,
            reply->type == REDIS_REPLY_ERROR ? reply->str : "not an integer");
        if (reply->type == REDIS_REPLY_ERROR &&
            rconn_error_needs_reconnect(reply->str))
            wait_drop(r);
        freeReplyObject(reply);
        return -1;
    }
    n = (long)reply->integer;
    freeReplyObject(reply);
    if (n >= replicas)
        return 1;
    snprintf(r->errstr, sizeof(r->errstr),
             "redis %s: WAIT: %ld of %d replica(s) acknowledged within %ld ms",
             r->addr, n, replicas, ms);
    wait_drop(r);
    return 0;
}
