/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * rconn.h - one Redis connection with deadlines, AUTH (a password, or an
 * ACL user and its password), reconnect, one safe retry, Lua script
 * loading and, with redis_sentinels, the master found through Sentinel
 * (rconn_sentinel.c); the WAIT of a create's writes (rconn_wait.c).
 *
 * A struct rconn belongs to one thread.  It connects lazily; after an I/O,
 * EOF or protocol error it drops the connection and the next call connects
 * again.
 *
 * Retry.  A command that fails on a connection that was up is sent once
 * more on a new connection when that cannot do a write twice:
 *
 *   failure                                   retried
 *   ----------------------------------------  --------------------------
 *   connect (no server, AUTH refused, no      never: the server is not
 *   master from any Sentinel)                 there; fail fast
 *   write (reset, broken pipe) before the     always: Redis runs only a
 *   whole command left                        complete command
 *   read: EOF or reset after the write        only a retry-safe command
 *   read or write deadline                    never: Redis may be slow, a
 *                                             retry would double the wait
 *   READONLY, LOADING, MASTERDOWN, NOAUTH     always: Redis refused it
 *   (the server cannot serve us now)          without running it
 *
 * Retry-safe: a read-only command, an idempotent one (rconn_command_safe
 * lists them by name), or a script its caller marks so (store_core.h says
 * which scripts are and why).  A retried idempotent write may answer 0
 * where the first, lost answer would have been 1; the callers of those
 * ignore the count.
 *
 * Sentinel.  With sentinels set, every connect asks the Sentinels in turn
 * (SENTINEL get-master-addr-by-name, each under RCONN_SENTINEL_TIMEOUT_MS
 * at most), connects to the address named, authenticates and checks with
 * ROLE that it is a master; a Sentinel naming no master or a server that
 * is no master sends it to the next Sentinel.  A fail-over is followed on
 * connection loss (Sentinel kills the clients of both servers it
 * reconfigures), on READONLY and the other refusals above, and, for a
 * connection in use, by asking a Sentinel again at most every
 * RCONN_SENTINEL_RECHECK_MS for the master's address: what a subscriber to
 * +switch-master would learn, without a subscription per thread.  Each of
 * these questions also counts the master's replicas that are up (for
 * rconn_wait's RCONN_WAIT_ALL).
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

/* Sentinels one configuration names at most. */
#define RCONN_SENTINELS_MAX 8
/* Deadline of one Sentinel's answer (capped by redis_timeout_ms). */
#define RCONN_SENTINEL_TIMEOUT_MS 500
/* A connection in use asks a Sentinel again this often whether its
 * server is still the master. */
#define RCONN_SENTINEL_RECHECK_MS 1000
/* Deadline of that re-check: a Sentinel that does not answer in time
 * leaves the connection as it is. */
#define RCONN_SENTINEL_RECHECK_TIMEOUT_MS 100
/* rconn_recheck asks at most this often per connection. */
#define RCONN_RECHECK_MISS_MS 100

struct rconn_sentinel {
    char host[256];
    int port;
};

struct rconn {
    redisContext *ctx;         /* NULL while disconnected */
    char addr[CONF_STR_MAX];   /* host:port or socket path; with Sentinels
                                * the master last found */
    char user[CONF_STR_MAX];   /* ACL user; "" for AUTH <password> */
    char password[CONF_STR_MAX];
    long timeout_ms;           /* connect and per-command deadline */
    char errstr[1024];         /* what the last failure was */
    char sha[RCONN_MAX_SCRIPTS][41]; /* loaded scripts, "" until loaded */
    int64_t used_ms;           /* monotonic ms of the last command sent */
    unsigned long retries;     /* commands sent a second time */
    /* Sentinel mode (nsentinels > 0) */
    char master_name[CONF_STR_MAX];
    struct rconn_sentinel sentinels[RCONN_SENTINELS_MAX];
    int nsentinels;
    char master[CONF_STR_MAX]; /* the master last confirmed, "" before */
    int sentinel_next;         /* the one to ask first */
    int64_t checked_ms;        /* monotonic ms the master was last confirmed */
    int replicas;              /* replicas up when it was found (rconn_wait's
                                * RCONN_WAIT_ALL); -1 unknown,
                                * RCONN_REPLICAS_MOVING */
    char prev_master[CONF_STR_MAX]; /* the master before r->master */
    int64_t missed_ms;              /* monotonic ms of the last rconn_recheck */
    /* worker_user is set: a worker of this host could reach a TCP Redis
     * too, so one that answers without AUTH is refused ... */
    int check_open;
    int allow_open;            /* ... unless redis_allow_unauthenticated */
    int open_refused;          /* the last connect failed for that */
};

/* Copies the Redis settings of c; does not connect.  Returns 0, or -1 with
 * r->errstr set when redis_sentinels cannot be parsed. */
int rconn_init(struct rconn *r, const struct conf *c);
void rconn_release(struct rconn *r);

/* Parses "host:port,host:port,..." (blanks allowed around entries) into
 * out (max entries).  Returns the number of entries, or -1 with why
 * (whysize bytes) set. */
int rconn_parse_sentinels(const char *list, struct rconn_sentinel *out,
                          int max, char *why, size_t whysize);

/* The start-up check of a program: with worker_user set, connects once
 * (rconn_open's check).  Returns -1 with err set only when Redis answers
 * on TCP without authentication and redis_allow_unauthenticated is not
 * set; a Redis that cannot be reached yet is checked on every later
 * connect instead (0, logged). */
int rconn_check_start(const struct conf *c, char *err, size_t errsize);

/* Connects now if not connected, or if the connection went stale while
 * it was idle: a connection unused for RCONN_IDLE_CHECK_MS or more is
 * first checked for an end of file or an error from the server (Redis
 * restarted, an idle timeout, a fail-over behind a proxy) and replaced,
 * so that a Redis blip costs no request that came after it.  Returns 0,
 * or -1 with r->errstr set. */
int rconn_connect(struct rconn *r);

/* Runs one command, retried as the table above says (by its name).
 * Returns the reply, which the caller frees with freeReplyObject(), or
 * NULL with r->errstr set on a connection failure or when Redis answered
 * with an error reply. */
redisReply *rconn_command(struct rconn *r, int argc, const char **argv,
                          const size_t *argvlen);
redisReply *rconn_commandf(struct rconn *r, const char *fmt, ...);
redisReply *rconn_vcommandf(struct rconn *r, const char *fmt, va_list ap);

/* Connects if need be (rconn_connect).  Returns 1 when connected to a
 * master on which a WAIT for RCONN_WAIT_ALL can succeed, 0 when there is
 * no master, or when a replica reports a master's role (the connection is
 * then dropped, so that the next call asks a Sentinel again). */
int rconn_writable(struct rconn *r);

/* rconn_wait's replicas: every replica the Sentinels listed as up when
 * this connection found its master (r->replicas; 1 when unknown). */
#define RCONN_WAIT_ALL (-1)
/* r->replicas when a replica of the master reports a master's role: a
 * fail-over is under way, and no WAIT on this master makes a write safe. */
#define RCONN_REPLICAS_MOVING (-2)

/* WAIT replicas ms on the connection as it is, never on a new one: WAIT
 * counts the replicas that acknowledged this connection's own writes, so
 * on another connection it would vouch for nothing.  No connect, no
 * retry; the deadline is ms plus r->timeout_ms.  When fewer than asked
 * acknowledge, the connection is dropped, so that the next command finds
 * the master (and, for RCONN_WAIT_ALL, its replicas) again.  Returns 1
 * when the replicas asked for (0 of them: no WAIT) acknowledged, 0 when
 * not (r->errstr says how many did), or -1 with r->errstr set (no
 * connection, an I/O failure, which drops it, or an error reply). */
int rconn_wait(struct rconn *r, int replicas, long ms);

/* 1 when the command named name (len bytes, any case) may be sent again
 * after a read failure: it only reads, or doing it twice leaves what
 * doing it once leaves (DEL, ZREM, SCRIPT LOAD...). */
int rconn_command_safe(const char *name, size_t len);

/* 1 when a Redis error reply (its text) means this connection is to a
 * server that cannot serve us now (READONLY, LOADING, MASTERDOWN, NOAUTH
 * after a restart with a password): the connection is then dropped and
 * the command, which Redis did not run, may be sent again. */
int rconn_error_needs_reconnect(const char *err);

/* Runs Lua script number idx (0 <= idx < RCONN_MAX_SCRIPTS, source src)
 * with no KEYS and argc ARGV strings (lengths in argvlen, or NULL),
 * loading it with SCRIPT LOAD the first time and again after Redis forgot
 * it (NOSCRIPT).  safe: the script may be sent again after a read failure
 * (see above).  Returns like rconn_command(). */
redisReply *rconn_evalv(struct rconn *r, int idx, const char *src, int argc,
                        const char **argv, const size_t *argvlen, int safe);

/* Opens r->ctx to host:port, or to the unix socket path when path is not
 * NULL, under r->timeout_ms, and authenticates.  With r->check_open, a
 * TCP server is first sent PING without AUTH: one that answers it is
 * open to every local user, workers included, and is refused (-1 with
 * r->open_refused set) or, with r->allow_open, used with a warning
 * logged once per process.  Returns 0, or -1 with r->errstr set and
 * r->ctx NULL. */
int rconn_open(struct rconn *r, const char *host, int port, const char *path);

/* rconn_sentinel.c.  With Sentinels: asks them in turn for the master,
 * opens it (rconn_open) and checks with ROLE that it is a master; r->addr
 * names it.  Returns 0, or -1 with r->errstr set and r->ctx NULL. */
int rconn_sentinel_connect(struct rconn *r);
/* For a connection in use: asks a Sentinel (under timeout_ms, capped by
 * r->timeout_ms) whether the master is still r->addr.  Returns 1 when it
 * names another one, else 0 (a Sentinel that does not answer changes
 * nothing). */
int rconn_sentinel_moved(struct rconn *r, long timeout_ms);

/* A read found nothing where something was expected (a GET or DELETE of
 * an unknown session): with Sentinels, asks one now (under
 * RCONN_SENTINEL_TIMEOUT_MS, at most every RCONN_RECHECK_MISS_MS)
 * whether the master moved, and drops the connection when it did, since
 * an old master that Sentinel has not yet turned into a replica still
 * answers as a master for up to its next check (seconds), with data the
 * new master has moved past; a busy machine can let the periodic
 * re-check (RCONN_SENTINEL_RECHECK_TIMEOUT_MS) time out that long.
 * Returns 1 when the connection was dropped (the caller asks again), 0
 * otherwise. */
int rconn_recheck(struct rconn *r);

#endif
