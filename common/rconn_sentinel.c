/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * rconn_sentinel.c - the client side of the Sentinel protocol that
 * hiredis 0.14 lacks: which server is the master now (rconn.h).
 *
 * A Sentinel is asked SENTINEL get-master-addr-by-name <redis_master_name>
 * over a connection of its own, opened and closed for the question, under
 * RCONN_SENTINEL_TIMEOUT_MS (or the shorter re-check deadline).  The
 * address it names is used only after ROLE, asked on the authenticated
 * connection, says "master": a Sentinel that has not yet seen a fail-over
 * names the old master, which by then may be a replica.
 *
 * Invariants: the Sentinels are asked in turn, starting with the one that
 * answered last, each at most once per connect, and one master address is
 * tried at most once per connect, so a connect takes at most
 * nsentinels x RCONN_SENTINEL_TIMEOUT_MS plus one redis_timeout_ms per
 * distinct address named; a Sentinel is never sent the Redis password
 * (Sentinels are asked without AUTH); r->ctx is left NULL on failure.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "log.h"
#include "rconn.h"
#include "util.h"

/* The masters this process saw replaced (a connection of any thread found
 * another one), until a Sentinel reports them as replicas: an old master
 * lingers for seconds, still a master, listed under the new one. */
#define OLD_MASTERS 4
static pthread_mutex_t old_lock = PTHREAD_MUTEX_INITIALIZER;
static char old_masters[OLD_MASTERS][CONF_STR_MAX];
static int old_next;

static void old_master_add(const char *addr)
{
    int i;

    pthread_mutex_lock(&old_lock);
    for (i = 0; i < OLD_MASTERS && strcmp(old_masters[i], addr) != 0; i++)
        ;
    if (i == OLD_MASTERS) {
        snprintf(old_masters[old_next], sizeof(old_masters[0]), "%s", addr);
        old_next = (old_next + 1) % OLD_MASTERS;
    }
    pthread_mutex_unlock(&old_lock);
}

/* 1 when addr is an old master not yet seen as a replica; forget: it is
 * one now, and a later promotion of it is a fail-over like any other. */
static int old_master_known(const char *addr, int forget)
{
    int i, rc = 0;

    if (addr[0] == '\0')
        return 0;
    pthread_mutex_lock(&old_lock);
    for (i = 0; i < OLD_MASTERS; i++) {
        if (strcmp(old_masters[i], addr) == 0) {
            rc = 1;
            if (forget)
                old_masters[i][0] = '\0';
        }
    }
    pthread_mutex_unlock(&old_lock);
    return rc;
}

/* The value of field name in one entry of SENTINEL replicas (a flat
 * array of names and values), or "". */
static const char *entry_field(const redisReply *e, const char *name)
{
    size_t j;

    for (j = 0; j + 1 < e->elements; j += 2) {
        if (e->element[j]->type == REDIS_REPLY_STRING &&
            e->element[j + 1]->type == REDIS_REPLY_STRING &&
            strcmp(e->element[j]->str, name) == 0)
            return e->element[j + 1]->str;
    }
    return "";
}

/* The replicas of a SENTINEL replicas answer that count for a WAIT on
 * master (ip:port): those that report following it, unless the Sentinel
 * holds them down (s_down, o_down: silent for down-after-milliseconds).
 * A replica that is only disconnected, or whose link is down, still
 * counts: during a fail-over the promoted one drops its clients, the
 * Sentinels' links included, and it must not be left out then.  An
 * entry that reports a master's role is either prev, the master this
 * connection had before, or another old master this process saw
 * replaced, lingering until Sentinel turns it into a replica (seconds),
 * which is left out, or a replica being promoted
 * while this Sentinel still names the old master: then no WAIT on that
 * master can make a write safe, and the answer is RCONN_REPLICAS_MOVING.
 * -1 for an answer that is not a list. */
static int replicas_up(const redisReply *reply, const char *master,
                       const char *prev)
{
    const char *flags;
    char follows[CONF_STR_MAX];
    size_t i;
    int n = 0;

    if (reply->type != REDIS_REPLY_ARRAY)
        return -1;
    for (i = 0; i < reply->elements; i++) {
        const redisReply *e = reply->element[i];

        if (e->type != REDIS_REPLY_ARRAY)
            continue;
        flags = entry_field(e, "flags");
        if (strstr(flags, "s_down") != NULL || strstr(flags, "o_down") != NULL)
            continue;
        if (strcmp(entry_field(e, "role-reported"), "slave") != 0) {
            if (strcmp(entry_field(e, "name"), prev) == 0 ||
                old_master_known(entry_field(e, "name"), 0))
                continue;
            return RCONN_REPLICAS_MOVING;
        }
        snprintf(follows, sizeof(follows), "%s:%s",
                 entry_field(e, "master-host"), entry_field(e, "master-port"));
        if (strcmp(follows, master) != 0)
            continue;
        /* A replica of this master now (a new entry reports a replica's
         * role before the Sentinel has heard from it: not that). */
        old_master_known(entry_field(e, "name"), 1);
        n++;
    }
    return n;
}

/* Asks Sentinel i for the master, under timeout_ms, and, when replicas is
 * not NULL, first for its replicas (replicas_up into *replicas, -1 when
 * that answer is not usable).  The replicas come first: a fail-over
 * between the two answers then names the new master with the old one's
 * replicas, whose promoted one cannot acknowledge, so a WAIT asks too
 * much (and the create tries again), never too little.  Returns 1 with
 * host (size bytes) and *port set, 0 when it knows no such master, -1
 * when it does not answer (why says what happened). */
static int sentinel_ask(struct rconn *r, int i, long timeout_ms, char *host,
                        size_t size, int *port, int *replicas, char *why,
                        size_t whysize)
{
    const struct rconn_sentinel *s = &r->sentinels[i];
    struct timeval tv;
    redisContext *c;
    redisReply *reply, *list = NULL;
    long lport;
    int rc = -1;

    tv.tv_sec = timeout_ms / 1000;
    tv.tv_usec = (timeout_ms % 1000) * 1000;
    c = redisConnectWithTimeout(s->host, s->port, tv);
    if (c == NULL || c->err) {
        snprintf(why, whysize, "Sentinel %s:%d: %s", s->host, s->port,
                 c ? c->errstr : "out of memory");
        goto out;
    }
    if (redisSetTimeout(c, tv) != REDIS_OK) {
        snprintf(why, whysize, "Sentinel %s:%d: cannot set timeout", s->host,
                 s->port);
        goto out;
    }
    if (replicas != NULL) {
        *replicas = -1;
        list = redisCommand(c, "SENTINEL replicas %s", r->master_name);
        if (list == NULL) {
            snprintf(why, whysize, "Sentinel %s:%d: %s", s->host, s->port,
                     c->errstr);
            goto out;
        }
    }
    reply = redisCommand(c, "SENTINEL get-master-addr-by-name %s",
                         r->master_name);
    if (reply == NULL) {
        snprintf(why, whysize, "Sentinel %s:%d: %s", s->host, s->port,
                 c->errstr);
        goto out;
    }
    if (reply->type == REDIS_REPLY_NIL) {
        snprintf(why, whysize, "Sentinel %s:%d knows no master %.200s", s->host,
                 s->port, r->master_name);
        rc = 0;
    } else if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
               reply->element[0]->type == REDIS_REPLY_STRING &&
               reply->element[1]->type == REDIS_REPLY_STRING &&
               reply->element[0]->len < size &&
               parse_long(reply->element[1]->str, 1, 65535, &lport) == 0) {
        *port = (int)lport;
        memcpy(host, reply->element[0]->str, reply->element[0]->len);
        host[reply->element[0]->len] = '\0';
        rc = 1;
        if (list != NULL) {
            char master[CONF_STR_MAX];

            snprintf(master, sizeof(master), "%s:%d", host, *port);
            /* The master before this one: r->master when it moved. */
            *replicas = replicas_up(
                list, master,
                strcmp(master, r->master) != 0 ? r->master : r->prev_master);
        }
    } else {
        snprintf(why, whysize, "Sentinel %s:%d: unexpected answer%s%.100s",
                 s->host, s->port,
                 reply->type == REDIS_REPLY_ERROR ? ": " : "",
                 reply->type == REDIS_REPLY_ERROR ? reply->str : "");
    }
    freeReplyObject(reply);
out:
    if (list != NULL)
        freeReplyObject(list);
    if (c != NULL)
        redisFree(c);
    return rc;
}

/* 0 when r->ctx is a master (or may not ask ROLE: a replica would then
 * refuse the first write with READONLY, which reconnects), else -1 with
 * why set. */
static int master_confirm(struct rconn *r, char *why, size_t whysize)
{
    redisReply *reply = redisCommand(r->ctx, "ROLE");
    int rc = -1;

    if (reply == NULL) {
        snprintf(why, whysize, "%.200s: ROLE: %.200s", r->addr, r->ctx->errstr);
        return -1;
    }
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements >= 1 &&
        reply->element[0]->type == REDIS_REPLY_STRING) {
        if (strcmp(reply->element[0]->str, "master") == 0)
            rc = 0;
        else
            snprintf(why, whysize, "%.200s is no master (role %.20s)", r->addr,
                     reply->element[0]->str);
    } else if (reply->type == REDIS_REPLY_ERROR &&
               strncmp(reply->str, "NOPERM", 6) == 0) {
        log_debug("redis %s: ROLE not allowed to redis_user; trusting the "
                  "Sentinel", r->addr);
        rc = 0;
    } else {
        snprintf(why, whysize, "%.200s: ROLE: unexpected answer", r->addr);
    }
    freeReplyObject(reply);
    return rc;
}

static long sentinel_timeout(const struct rconn *r, long cap)
{
    return r->timeout_ms < cap ? r->timeout_ms : cap;
}

int rconn_sentinel_connect(struct rconn *r)
{
    char tried[RCONN_SENTINELS_MAX][CONF_STR_MAX];
    char host[256], why[512] = "no Sentinel configured";
    int k, j, i, port, ntried = 0, rc, replicas;
    long timeout = sentinel_timeout(r, RCONN_SENTINEL_TIMEOUT_MS);

    for (k = 0; k < r->nsentinels; k++) {
        i = (r->sentinel_next + k) % r->nsentinels;
        rc = sentinel_ask(r, i, timeout, host, sizeof(host), &port, &replicas,
                          why, sizeof(why));
        if (rc <= 0)
            continue;
        snprintf(r->addr, sizeof(r->addr), "%s:%d", host, port);
        for (j = 0; j < ntried && strcmp(tried[j], r->addr) != 0; j++)
            ;
        if (j < ntried)
            continue;
        snprintf(tried[ntried++], sizeof(tried[0]), "%s", r->addr);
        if (rconn_open(r, host, port, NULL) < 0) {
            snprintf(why, sizeof(why), "%.400s", r->errstr);
            continue;
        }
        if (master_confirm(r, why, sizeof(why)) < 0) {
            redisFree(r->ctx);
            r->ctx = NULL;
            continue;
        }
        if (strcmp(r->master, r->addr) != 0) {
            if (r->master[0] != '\0')
                log_info("redis master %s moved from %s to %s (Sentinel "
                         "%s:%d)", r->master_name, r->master, r->addr,
                         r->sentinels[i].host, r->sentinels[i].port);
            snprintf(r->prev_master, sizeof(r->prev_master), "%s", r->master);
            if (r->master[0] != '\0')
                old_master_add(r->master);
            snprintf(r->master, sizeof(r->master), "%s", r->addr);
        }
        r->sentinel_next = i;
        r->replicas = replicas;
        return 0;
    }
    snprintf(r->errstr, sizeof(r->errstr),
             "redis master %.200s: none found through %d Sentinels (last: %.500s)",
             r->master_name, r->nsentinels, why);
    return -1;
}

int rconn_sentinel_moved(struct rconn *r, long timeout_ms)
{
    char host[256], addr[CONF_STR_MAX], why[512];
    int port, i = r->sentinel_next, replicas;
    long timeout = sentinel_timeout(r, timeout_ms);

    if (sentinel_ask(r, i, timeout, host, sizeof(host), &port, &replicas, why,
                     sizeof(why)) <= 0) {
        /* Ask another one next time; keep what works meanwhile. */
        r->sentinel_next = (i + 1) % r->nsentinels;
        log_debug("redis master %s: %s", r->master_name, why);
        return 0;
    }
    snprintf(addr, sizeof(addr), "%s:%d", host, port);
    if (strcmp(addr, r->addr) != 0)
        return 1;
    /* The same master: its replicas as this Sentinel sees them now (asked
     * first, so a promoted one still counted). */
    if (replicas != -1)
        r->replicas = replicas;
    return 0;
}

int rconn_recheck(struct rconn *r)
{
    int64_t now = now_mono_ms();

    if (r->nsentinels == 0 || r->ctx == NULL ||
        now - r->missed_ms < RCONN_RECHECK_MISS_MS)
        return 0;
    r->missed_ms = now;
    r->checked_ms = now;
    if (!rconn_sentinel_moved(r, RCONN_SENTINEL_TIMEOUT_MS))
        return 0;
    log_info("redis %s: Sentinel names another master; reconnecting", r->addr);
    redisFree(r->ctx);
    r->ctx = NULL;
    return 1;
}
