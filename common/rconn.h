/*
 * rconn.h - one Redis connection with deadlines, AUTH, reconnect and Lua
 * script loading.
 *
 * A struct rconn belongs to one thread.  It connects lazily; after an I/O,
 * EOF or protocol error it drops the connection and the next call connects
 * again, so a Redis restart costs the callers one failed call each.
 */
#ifndef STEEL_RCONN_H
#define STEEL_RCONN_H

#include <stdarg.h>

#include <stdint.h>

#include <hiredis/hiredis.h>

#include "conf.h"

#define RCONN_MAX_SCRIPTS 64

/* A connection idle this long is checked before its next command. */
#define RCONN_IDLE_CHECK_MS 20

struct rconn {
    redisContext *ctx;         /* NULL while disconnected */
    char addr[CONF_STR_MAX];   /* host:port or socket path */
    char password[CONF_STR_MAX];
    long timeout_ms;           /* connect and per-command deadline */
    char errstr[1024];         /* what the last failure was */
    char sha[RCONN_MAX_SCRIPTS][41]; /* loaded scripts, "" until loaded */
    int64_t used_ms;           /* monotonic ms of the last command sent */
};

/* Copies the Redis settings of c; does not connect.  Returns 0. */
int rconn_init(struct rconn *r, const struct conf *c);
void rconn_release(struct rconn *r);

/* Connects now if not connected, or if the connection went stale while
 * it was idle: a connection unused for RCONN_IDLE_CHECK_MS or more is
 * first checked for an end of file or an error from the server (Redis
 * restarted, an idle timeout, a fail-over behind a proxy) and replaced,
 * so that a Redis blip costs no request that came after it.  Returns 0,
 * or -1 with r->errstr set. */
int rconn_connect(struct rconn *r);

/* Runs one command.  Returns the reply, which the caller frees with
 * freeReplyObject(), or NULL with r->errstr set on a connection failure or
 * when Redis answered with an error reply. */
redisReply *rconn_command(struct rconn *r, int argc, const char **argv,
                          const size_t *argvlen);
redisReply *rconn_commandf(struct rconn *r, const char *fmt, ...);
redisReply *rconn_vcommandf(struct rconn *r, const char *fmt, va_list ap);

/* 1 when a Redis error reply (its text) means this connection is to a
 * server that cannot serve us now (READONLY, LOADING, MASTERDOWN, NOAUTH
 * after a restart with a password): the connection is then dropped. */
int rconn_error_needs_reconnect(const char *err);

/* Runs Lua script number idx (0 <= idx < RCONN_MAX_SCRIPTS, source src)
 * with no KEYS and argc ARGV strings, loading it with SCRIPT LOAD the first
 * time and again after Redis forgot it (NOSCRIPT).  Returns like
 * rconn_command(). */
redisReply *rconn_eval(struct rconn *r, int idx, const char *src, int argc,
                       const char **argv);
/* The same with explicit argument lengths (argvlen may be NULL). */
redisReply *rconn_evalv(struct rconn *r, int idx, const char *src, int argc,
                        const char **argv, const size_t *argvlen);

#endif
