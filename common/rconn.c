/*
 * rconn.c - the Redis connection wrapper (rconn.h).
 *
 * Invariants: r->ctx is either NULL or a connected context with no error
 * pending; every command runs under the configured deadline (hiredis'
 * socket timeout); a connection that failed once is never used again.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "log.h"
#include "rconn.h"
#include "util.h"

int rconn_init(struct rconn *r, const struct conf *c)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->addr, sizeof(r->addr), "%s", c->redis);
    snprintf(r->password, sizeof(r->password), "%s", c->redis_password);
    r->timeout_ms = c->redis_timeout_ms;
    return 0;
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

int rconn_connect(struct rconn *r)
{
    struct timeval tv;
    const char *path = NULL;
    char host[CONF_STR_MAX];
    long port = 6379;
    redisReply *reply;
    int64_t now = now_mono_ms();

    if (r->ctx != NULL) {
        int64_t idle = now - r->used_ms;

        r->used_ms = now;
        if (idle < RCONN_IDLE_CHECK_MS || !rconn_stale(r))
            return 0;
        log_debug("redis %s: the idle connection was closed; reconnecting",
                  r->addr);
        rconn_drop(r);
    }
    r->used_ms = now;
    tv.tv_sec = r->timeout_ms / 1000;
    tv.tv_usec = (r->timeout_ms % 1000) * 1000;
    if (strncmp(r->addr, "unix:", 5) == 0)
        path = r->addr + 5;
    else if (r->addr[0] == '/')
        path = r->addr;

    if (path != NULL) {
        r->ctx = redisConnectUnixWithTimeout(path, tv);
    } else {
        const char *colon = strrchr(r->addr, ':');
        size_t hlen = colon ? (size_t)(colon - r->addr) : strlen(r->addr);

        if (hlen == 0 || hlen >= sizeof(host))
            return rconn_fail(r, "connect", "bad address");
        memcpy(host, r->addr, hlen);
        host[hlen] = '\0';
        if (colon != NULL && parse_long(colon + 1, 1, 65535, &port) < 0)
            return rconn_fail(r, "connect", "bad port");
        r->ctx = redisConnectWithTimeout(host, (int)port, tv);
    }
    if (r->ctx == NULL)
        return rconn_fail(r, "connect", "out of memory");
    if (r->ctx->err)
        return rconn_fail(r, "connect", r->ctx->errstr);
    if (redisSetTimeout(r->ctx, tv) != REDIS_OK)
        return rconn_fail(r, "connect", "cannot set timeout");
    if (path == NULL)
        redisEnableKeepAlive(r->ctx);
    if (r->password[0] != '\0') {
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

/* Takes ownership of reply; returns it when it is not an error reply. */
static redisReply *rconn_check(struct rconn *r, redisReply *reply,
                               const char *what)
{
    if (reply == NULL) {
        rconn_fail(r, what, r->ctx ? r->ctx->errstr : "no connection");
        return NULL;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        snprintf(r->errstr, sizeof(r->errstr), "redis %s: %s: %s", r->addr,
                 what, reply->str);
        /* A server that became a replica, is loading its data or lost its
         * primary answers every write with an error while the socket stays
         * open (behind a virtual IP or proxy after a fail-over): drop the
         * connection so the next call reaches whatever is primary now. */
        if (rconn_error_needs_reconnect(reply->str))
            rconn_drop(r);
        freeReplyObject(reply);
        return NULL;
    }
    return reply;
}

redisReply *rconn_command(struct rconn *r, int argc, const char **argv,
                          const size_t *argvlen)
{
    if (rconn_connect(r) < 0)
        return NULL;
    return rconn_check(r, redisCommandArgv(r->ctx, argc, argv, argvlen),
                       argc > 0 ? argv[0] : "command");
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
    if (rconn_connect(r) < 0)
        return NULL;
    return rconn_check(r, redisvCommand(r->ctx, fmt, ap), "command");
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

redisReply *rconn_eval(struct rconn *r, int idx, const char *src, int argc,
                       const char **argv)
{
    return rconn_evalv(r, idx, src, argc, argv, NULL);
}

redisReply *rconn_evalv(struct rconn *r, int idx, const char *src, int argc,
                        const char **argv, const size_t *argvlen)
{
    const char *args[24];
    size_t lens[24];
    redisReply *reply;
    int attempt, i;

    if (idx < 0 || idx >= RCONN_MAX_SCRIPTS || argc < 0 || argc > 20) {
        snprintf(r->errstr, sizeof(r->errstr), "rconn_eval: bad arguments");
        return NULL;
    }
    for (attempt = 0; attempt < 2; attempt++) {
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
        reply = redisCommandArgv(r->ctx, argc + 3, args, lens);
        if (reply == NULL) {
            rconn_fail(r, "EVALSHA", r->ctx ? r->ctx->errstr
                                             : "no connection");
            return NULL;
        }
        if (reply->type == REDIS_REPLY_ERROR &&
            strncmp(reply->str, "NOSCRIPT", 8) == 0) {
            freeReplyObject(reply);
            r->sha[idx][0] = '\0';
            continue;
        }
        return rconn_check(r, reply, "EVALSHA");
    }
    snprintf(r->errstr, sizeof(r->errstr), "redis %s: script keeps "
             "disappearing", r->addr);
    return NULL;
}
