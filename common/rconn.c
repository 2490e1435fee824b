/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * rconn.c - the Redis connection wrapper (rconn.h): connect and AUTH, the
 * stale-connection check, one command written and read in two steps so
 * that a failure is known to come before or after Redis had the whole
 * command, and the one retry that follows from it.
 *
 * Invariants: r->ctx is either NULL or a connected, authenticated context
 * with no error pending; every command runs under the configured deadline
 * (hiredis' socket timeout); a connection that failed once is never used
 * again; a command is sent at most twice, and twice only when Redis cannot
 * have run the first or running it twice changes nothing (rconn.h's
 * table).
 */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "log.h"
#include "rconn.h"
#include "util.h"

/* How one attempt at a command ended. */
enum rconn_outcome {
    RCONN_DONE,     /* a reply (maybe an error reply) */
    RCONN_NOCONN,   /* no connection could be made: not retried */
    RCONN_UNSENT,   /* the connection broke before the command left */
    RCONN_LOST,     /* it broke after: Redis may have run the command */
    RCONN_TIMEOUT,  /* a deadline passed: not retried */
    RCONN_REFUSED,  /* an error reply for which Redis ran nothing */
};

int rconn_init(struct rconn *r, const struct conf *c)
{
    char why[256];
    int n;

    memset(r, 0, sizeof(*r));
    snprintf(r->addr, sizeof(r->addr), "%s", c->redis);
    snprintf(r->user, sizeof(r->user), "%s", c->redis_user);
    snprintf(r->password, sizeof(r->password), "%s", c->redis_password);
    snprintf(r->master_name, sizeof(r->master_name), "%s",
             c->redis_master_name);
    r->timeout_ms = c->redis_timeout_ms;
    r->replicas = -1;
    r->check_open = c->worker_user[0] != '\0';
    r->allow_open = c->redis_allow_unauthenticated != 0;
    n = rconn_parse_sentinels(c->redis_sentinels, r->sentinels,
                              RCONN_SENTINELS_MAX, why, sizeof(why));
    if (n < 0) {
        snprintf(r->errstr, sizeof(r->errstr), "redis_sentinels: %s", why);
        return -1;
    }
    r->nsentinels = n;
    if (n > 0)
        snprintf(r->addr, sizeof(r->addr), "master %.200s", r->master_name);
    return 0;
}

int rconn_parse_sentinels(const char *list, struct rconn_sentinel *out,
                          int max, char *why, size_t whysize)
{
    const char *p = list;
    int n = 0;

    while (*p != '\0') {
        const char *end, *colon;
        size_t hlen;
        long port;
        char sport[8];

        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == '\0')
            break;
        end = p + strcspn(p, ", \t");
        colon = NULL;
        for (const char *q = p; q < end; q++)
            if (*q == ':')
                colon = q;
        if (colon == NULL || colon == p || end - colon - 1 < 1 ||
            end - colon - 1 >= (long)sizeof(sport)) {
            snprintf(why, whysize, "'%.*s' is not host:port", (int)(end - p),
                     p);
            return -1;
        }
        if (n == max) {
            snprintf(why, whysize, "more than %d Sentinels", max);
            return -1;
        }
        hlen = (size_t)(colon - p);
        if (hlen >= sizeof(out[n].host)) {
            snprintf(why, whysize, "host name too long");
            return -1;
        }
        memcpy(sport, colon + 1, (size_t)(end - colon - 1));
        sport[end - colon - 1] = '\0';
        if (parse_long(sport, 1, 65535, &port) < 0) {
            snprintf(why, whysize, "bad port '%s'", sport);
            return -1;
        }
        memcpy(out[n].host, p, hlen);
        out[n].host[hlen] = '\0';
        out[n].port = (int)port;
        n++;
        p = end;
    }
    return n;
}

static void rconn_drop(struct rconn *r)
{
    if (r->ctx != NULL)
        redisFree(r->ctx);
    r->ctx = NULL;
}

void rconn_release(struct rconn *r)
{
    rconn_drop(r);
}

static int rconn_fail(struct rconn *r, const char *what, const char *detail)
{
    snprintf(r->errstr, sizeof(r->errstr), "redis %s: %s: %s", r->addr, what,
             detail);
    rconn_drop(r);
    return -1;
}

/* 1 when the idle connection of r can no longer be used: the server
 * closed it or reset it, or sent something nobody asked for (Redis speaks
 * only when spoken to, so the stream would be out of step). */
static int rconn_stale(const struct rconn *r)
{
    struct pollfd pfd;
    char c;
    ssize_t n;

    pfd.fd = r->ctx->fd;
    pfd.events = POLLIN;
    pfd.revents = 0;
    if (poll(&pfd, 1, 0) <= 0)
        return 0;
    if (pfd.revents & (POLLERR | POLLHUP | POLLNVAL))
        return 1;
    n = recv(pfd.fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
}

/* rconn_open's check of a TCP server, before AUTH: PING must be refused
 * (NOAUTH).  Returns 0, or -1 after rconn_fail. */
static int rconn_open_check(struct rconn *r)
{
    static int warned; /* once per process */
    redisReply *reply = redisCommand(r->ctx, "PING");
    int open;

    if (reply == NULL)
        return rconn_fail(r, "PING", r->ctx->errstr);
    open = reply->type != REDIS_REPLY_ERROR;
    freeReplyObject(reply);
    if (!open)
        return 0;
    if (r->allow_open) {
        if (!__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED))
            log_warnx("redis %s answers without authentication, and "
                      "workers run on this host (worker_user): any of them "
                      "can read and change every session; used because "
                      "redis_allow_unauthenticated = yes",
                      r->addr);
        return 0;
    }
    r->open_refused = 1;
    return rconn_fail(r, "connect",
                      "answers without authentication, and workers run on "
                      "this host (worker_user), so any of them could use "
                      "it: give Redis ACL users or a password "
                      "(redis_user_<program>, redis_password), or use its "
                      "unix socket; redis_allow_unauthenticated = yes "
                      "accepts it");
}

int rconn_check_start(const struct conf *c, char *err, size_t errsize)
{
    struct rconn r;
    int rc = 0;

    if (c->worker_user[0] == '\0')
        return 0;
    if (rconn_init(&r, c) < 0) {
        snprintf(err, errsize, "%s", r.errstr);
        return -1;
    }
    if (rconn_connect(&r) < 0) {
        if (r.open_refused) {
            snprintf(err, errsize, "%s", r.errstr);
            rc = -1;
        } else {
            log_info("%s; its authentication is checked on every connect",
                     r.errstr);
        }
    }
    rconn_release(&r);
    return rc;
}

int rconn_open(struct rconn *r, const char *host, int port, const char *path)
{
    struct timeval tv;
    redisReply *reply;

    tv.tv_sec = r->timeout_ms / 1000;
    tv.tv_usec = (r->timeout_ms % 1000) * 1000;
    if (path != NULL)
        r->ctx = redisConnectUnixWithTimeout(path, tv);
    else
        r->ctx = redisConnectWithTimeout(host, port, tv);
    if (r->ctx == NULL)
        return rconn_fail(r, "connect", "out of memory");
    if (r->ctx->err)
        return rconn_fail(r, "connect", r->ctx->errstr);
    if (redisSetTimeout(r->ctx, tv) != REDIS_OK)
        return rconn_fail(r, "connect", "cannot set timeout");
    if (path == NULL)
        redisEnableKeepAlive(r->ctx);
    r->open_refused = 0;
    if (path == NULL && r->check_open && rconn_open_check(r) < 0)
        return -1;
    if (r->password[0] != '\0') {
        if (r->user[0] != '\0')
            reply = redisCommand(r->ctx, "AUTH %s %s", r->user, r->password);
        else
            reply = redisCommand(r->ctx, "AUTH %s", r->password);
        if (reply == NULL)
            return rconn_fail(r, "AUTH", r->ctx->errstr);
        if (reply->type == REDIS_REPLY_ERROR) {
            char msg[200];

            snprintf(msg, sizeof(msg), "%s", reply->str);
            freeReplyObject(reply);
            return rconn_fail(r, "AUTH", msg);
        }
        freeReplyObject(reply);
    }
    return 0;
}

/* Connects to the one configured server. */
static int rconn_open_direct(struct rconn *r)
{
    const char *path = NULL;
    char host[CONF_STR_MAX];
    long port = 6379;
    const char *colon;
    size_t hlen;

    if (strncmp(r->addr, "unix:", 5) == 0)
        path = r->addr + 5;
    else if (r->addr[0] == '/')
        path = r->addr;
    if (path != NULL)
        return rconn_open(r, NULL, 0, path);
    colon = strrchr(r->addr, ':');
    hlen = colon ? (size_t)(colon - r->addr) : strlen(r->addr);
    if (hlen == 0 || hlen >= sizeof(host))
        return rconn_fail(r, "connect", "bad address");
    memcpy(host, r->addr, hlen);
    host[hlen] = '\0';
    if (colon != NULL && parse_long(colon + 1, 1, 65535, &port) < 0)
        return rconn_fail(r, "connect", "bad port");
    return rconn_open(r, host, (int)port, NULL);
}

int rconn_connect(struct rconn *r)
{
    int64_t now = now_mono_ms();

    if (r->ctx != NULL) {
        int64_t idle = now - r->used_ms;

        r->used_ms = now;
        if (r->nsentinels > 0 &&
            now - r->checked_ms >= RCONN_SENTINEL_RECHECK_MS) {
            r->checked_ms = now;
            if (rconn_sentinel_moved(r, RCONN_SENTINEL_RECHECK_TIMEOUT_MS)) {
                log_info("redis %s: Sentinel names another master; "
                         "reconnecting", r->addr);
                rconn_drop(r);
            }
        }
        if (r->ctx != NULL &&
            (idle < RCONN_IDLE_CHECK_MS || !rconn_stale(r)))
            return 0;
        if (r->ctx != NULL)
            log_debug("redis %s: the idle connection was closed; "
                      "reconnecting", r->addr);
        rconn_drop(r);
    }
    r->used_ms = now;
    if (r->nsentinels > 0) {
        if (rconn_sentinel_connect(r) < 0)
            return -1;
        r->checked_ms = now_mono_ms();
    } else if (rconn_open_direct(r) < 0) {
        return -1;
    }
    /* Scripts are loaded per connection: the server may be a new one. */
    memset(r->sha, 0, sizeof(r->sha));
    return 0;
}

int rconn_error_needs_reconnect(const char *err)
{
    static const char *const codes[] = {"READONLY", "LOADING", "MASTERDOWN",
                                        "NOAUTH"};
    size_t i;

    for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        size_t n = strlen(codes[i]);

        if (strncmp(err, codes[i], n) == 0 && (err[n] == ' ' || err[n] == '\0'))
            return 1;
    }
    return 0;
}

int rconn_command_safe(const char *name, size_t len)
{
    /* Read-only, or idempotent: the second run finds the first's result
     * and leaves it as it is. */
    static const char *const safe[] = {
        "PING",  "ECHO",   "TIME",      "INFO",      "ROLE",  "DBSIZE",
        "GET",   "MGET",   "EXISTS",    "TTL",       "PTTL",  "TYPE",
        "HGET",  "HMGET",  "HGETALL",   "HLEN",      "HEXISTS",
        "SCARD", "SMEMBERS", "SISMEMBER", "LLEN",    "LRANGE", "LINDEX",
        "ZCARD", "ZSCORE", "ZRANGE",    "ZREVRANGE", "ZRANGEBYSCORE",
        "ZCOUNT", "SCAN",  "SSCAN",     "HSCAN",     "ZSCAN",
        "DEL",   "UNLINK", "HDEL",      "SREM",      "ZREM",  "SCRIPT",
    };
    size_t i;

    for (i = 0; i < sizeof(safe) / sizeof(safe[0]); i++) {
        if (strlen(safe[i]) == len && strncasecmp(name, safe[i], len) == 0)
            return 1;
    }
    return 0;
}

/* One attempt: connect if needed, write cmd (len bytes, RESP), read the
 * reply into *out.  Only RCONN_DONE leaves a reply and a connection. */
static enum rconn_outcome rconn_try(struct rconn *r, const char *cmd,
                                    size_t len, const char *what,
                                    redisReply **out)
{
    void *reply = NULL;
    int done = 0, e;

    *out = NULL;
    if (rconn_connect(r) < 0)
        return RCONN_NOCONN;
    if (redisAppendFormattedCommand(r->ctx, cmd, len) != REDIS_OK) {
        rconn_fail(r, what, "out of memory");
        return RCONN_NOCONN;
    }
    do {
        if (redisBufferWrite(r->ctx, &done) == REDIS_ERR) {
            e = errno;
            rconn_fail(r, what, r->ctx->errstr);
            return e == EAGAIN || e == EWOULDBLOCK ? RCONN_TIMEOUT
                                                   : RCONN_UNSENT;
        }
    } while (!done);
    for (;;) {
        if (redisGetReplyFromReader(r->ctx, &reply) == REDIS_ERR) {
            rconn_fail(r, what, r->ctx->errstr);
            return RCONN_LOST;
        }
        if (reply != NULL)
            break;
        if (redisBufferRead(r->ctx) == REDIS_ERR) {
            /* errno means something only for an I/O error: an end of
             * file leaves whatever an earlier call put there. */
            int timeout = r->ctx->err == REDIS_ERR_IO &&
                          (errno == EAGAIN || errno == EWOULDBLOCK);

            rconn_fail(r, what, r->ctx->errstr);
            return timeout ? RCONN_TIMEOUT : RCONN_LOST;
        }
    }
    *out = reply;
    if ((*out)->type == REDIS_REPLY_ERROR &&
        rconn_error_needs_reconnect((*out)->str))
        return RCONN_REFUSED;
    return RCONN_DONE;
}

/* Runs cmd (RESP, len bytes) with the one retry rconn.h allows; safe: a
 * retry after a read failure is allowed.  what names it in errors. */
static redisReply *rconn_exec(struct rconn *r, const char *cmd, size_t len,
                              int safe, const char *what)
{
    redisReply *reply;
    enum rconn_outcome o;
    int attempt;

    for (attempt = 0;; attempt++) {
        o = rconn_try(r, cmd, len, what, &reply);
        if (o == RCONN_DONE)
            break;
        if (o == RCONN_REFUSED) {
            /* A server that became a replica, is loading its data or lost
             * its primary answers every write with an error while the
             * socket stays open: drop the connection so that the next
             * one reaches whatever is primary now. */
            snprintf(r->errstr, sizeof(r->errstr), "redis %s: %s: %s",
                     r->addr, what, reply->str);
            rconn_drop(r);
            if (attempt == 0) {
                freeReplyObject(reply);
                r->retries++;
                log_debug("redis %s: %s refused (%.40s); retrying on a new "
                          "connection", r->addr, what, r->errstr);
                continue;
            }
            break;
        }
        if (attempt > 0 || o == RCONN_NOCONN || o == RCONN_TIMEOUT ||
            (o == RCONN_LOST && !safe))
            return NULL;
        r->retries++;
        log_debug("redis: %s: retrying once on a new connection (%s)", what,
                  r->errstr);
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        snprintf(r->errstr, sizeof(r->errstr), "redis %s: %s: %s", r->addr,
                 what, reply->str);
        freeReplyObject(reply);
        return NULL;
    }
    return reply;
}

/* The name of the command cmd (RESP: *N, $len, name) into name. */
static void rconn_cmd_name(const char *cmd, size_t len, char *name,
                           size_t size)
{
    const char *p = memchr(cmd, '\n', len), *q;
    size_t n = 0;

    name[0] = '\0';
    if (p == NULL || (q = memchr(p + 1, '\n', len - (size_t)(p + 1 - cmd))) ==
                         NULL)
        return;
    q++;
    while (q < cmd + len && *q != '\r' && n + 1 < size)
        name[n++] = *q++;
    name[n] = '\0';
}

static redisReply *rconn_exec_named(struct rconn *r, char *cmd, int len)
{
    char name[32];
    redisReply *reply;

    if (len < 0) {
        snprintf(r->errstr, sizeof(r->errstr), "redis: cannot format the "
                 "command");
        return NULL;
    }
    rconn_cmd_name(cmd, (size_t)len, name, sizeof(name));
    reply = rconn_exec(r, cmd, (size_t)len,
                       rconn_command_safe(name, strlen(name)),
                       name[0] ? name : "command");
    free(cmd);
    return reply;
}

redisReply *rconn_command(struct rconn *r, int argc, const char **argv,
                          const size_t *argvlen)
{
    char *cmd = NULL;
    int len = redisFormatCommandArgv(&cmd, argc, argv, argvlen);

    return rconn_exec_named(r, cmd, len);
}

redisReply *rconn_commandf(struct rconn *r, const char *fmt, ...)
{
    va_list ap;
    redisReply *reply;

    va_start(ap, fmt);
    reply = rconn_vcommandf(r, fmt, ap);
    va_end(ap);
    return reply;
}

redisReply *rconn_vcommandf(struct rconn *r, const char *fmt, va_list ap)
{
    char *cmd = NULL;
    int len = redisvFormatCommand(&cmd, fmt, ap);

    return rconn_exec_named(r, cmd, len);
}

static int rconn_load(struct rconn *r, int idx, const char *src)
{
    redisReply *reply;

    reply = rconn_commandf(r, "SCRIPT LOAD %s", src);
    if (reply == NULL)
        return -1;
    if (reply->type != REDIS_REPLY_STRING || reply->len != 40) {
        freeReplyObject(reply);
        snprintf(r->errstr, sizeof(r->errstr), "redis %s: SCRIPT LOAD: "
                 "unexpected reply", r->addr);
        return -1;
    }
    memcpy(r->sha[idx], reply->str, 40);
    r->sha[idx][40] = '\0';
    freeReplyObject(reply);
    return 0;
}

redisReply *rconn_evalv(struct rconn *r, int idx, const char *src, int argc,
                        const char **argv, const size_t *argvlen, int safe)
{
    const char *args[24];
    size_t lens[24];
    redisReply *reply;
    char *cmd;
    int attempt, i, len;

    if (idx < 0 || idx >= RCONN_MAX_SCRIPTS || argc < 0 ||
        argc > (int)(sizeof(args) / sizeof(args[0])) - 3) {
        snprintf(r->errstr, sizeof(r->errstr), "rconn_eval: bad arguments");
        return NULL;
    }
    for (attempt = 0; attempt < 2; attempt++) {
        /* Connected first: a new connection forgets the loaded SHAs. */
        if (rconn_connect(r) < 0)
            return NULL;
        if (r->sha[idx][0] == '\0' && rconn_load(r, idx, src) < 0)
            return NULL;
        args[0] = "EVALSHA";
        args[1] = r->sha[idx];
        args[2] = "0";
        for (i = 0; i < 3; i++)
            lens[i] = strlen(args[i]);
        for (i = 0; i < argc; i++) {
            args[3 + i] = argv[i];
            lens[3 + i] = argvlen ? argvlen[i] : strlen(argv[i]);
        }
        cmd = NULL;
        len = redisFormatCommandArgv(&cmd, argc + 3, args, lens);
        if (len < 0) {
            snprintf(r->errstr, sizeof(r->errstr), "redis: cannot format "
                     "EVALSHA");
            return NULL;
        }
        reply = rconn_exec(r, cmd, (size_t)len, safe, "EVALSHA");
        free(cmd);
        /* A retry on a new connection finds no script: NOSCRIPT, which
         * Redis answers without running anything.  Load it and go on. */
        if (reply == NULL && strstr(r->errstr, ": NOSCRIPT") != NULL) {
            r->sha[idx][0] = '\0';
            continue;
        }
        return reply;
    }
    snprintf(r->errstr, sizeof(r->errstr), "redis %s: script keeps "
             "disappearing", r->addr);
    return NULL;
}
