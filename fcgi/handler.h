/*
 * handler.h - the request handlers of steel-fcgi.
 *
 * A struct handler is one accept thread's private context: its Redis
 * connection and its HTTP client to workers.  Handlers keep nothing between
 * requests; every decision is an atomic operation in Redis (store.h).
 * Handlers take a struct request and fill a struct response; they never
 * touch libfcgi.
 */
#ifndef STEEL_HANDLER_H
#define STEEL_HANDLER_H

#include "conf.h"
#include "metrics.h"
#include "rconn.h"
#include "store.h"
#include "request.h"
#include "response.h"
#include "router.h"
#include "whttp.h"

/* POSTs one create may have in flight at once: the first worker and the
 * ones that race it when it is slow (create.c). */
#define CREATE_RACE_MAX 3

struct handler {
    const struct conf *conf; /* shared, read-only */
    struct rconn redis;
    struct whttp http;
    struct whttp race[CREATE_RACE_MAX - 1]; /* more workers of a create */
    CURLM *multi;           /* runs a create's POSTs side by side */
    struct metrics metrics; /* counted since the last flush */
    struct buf scratch;     /* packing metrics, building keys */
};

/* Returns 0, or -1 (logged) when the HTTP client cannot be made. */
int handler_init(struct handler *h, const struct conf *conf);
void handler_release(struct handler *h);

/* Routes rq, checks access, runs the handler; r always ends up with a
 * complete answer.  Returns the route that ran (ROUTE_COUNT for none). */
enum route_id handler_serve(struct handler *h, struct request *rq,
                            struct response *r);

/* Adds what this thread counted to P:stats (one Redis call; failures are
 * logged and the counts kept for the next try). */
void handler_flush_metrics(struct handler *h);

/* Route handlers (sessions.c, admin.c). */
void handle_session_create(struct handler *h, struct request *rq,
                           struct response *r);
void handle_session_list(struct handler *h, struct request *rq,
                         struct response *r);
void handle_session_get(struct handler *h, const char *sid,
                        struct response *r);
void handle_session_delete(struct handler *h, struct request *rq,
                           const char *sid, struct response *r);
void handle_health(struct handler *h, struct response *r);
void handle_status(struct handler *h, struct response *r);
void handle_workers(struct handler *h, struct response *r);
void handle_metrics(struct handler *h, struct response *r);

/* Claims a worker (waiting in line up to create_wait) and creates the
 * session on it, hedging onto a second worker when the first is slow and
 * trying up to create_attempts workers (create.c).  r always gets the
 * answer; losers of a race are cleaned after it was sent
 * (rq->reply_early).  Returns 1 when r holds a session, 0 otherwise. */
int create_session(struct handler *h, struct request *rq, struct response *r);

/* The delay after which a create also tries a second worker, from the
 * recent create latencies of this process; -1 when hedging is off. */
long create_hedge_delay(const struct conf *c);

/* Constant-time comparison of a presented bearer token with want; 1 when
 * they are equal.  Exposed for the tests. */
int token_equal(const char *presented, const char *want);

#endif
